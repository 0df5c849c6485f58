import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { App, Fn, TerraformOutput, TerraformStack } from "cdktf";
import { literal } from "../../constructs/terraform-text";
import { terraformBinary } from "../tools";

/** Texts that reach Terraform as literal values: dashboards, scripts, configs, hostile input. */
const TEXTS = {
  grafana: '{"datasource": {"uid": "${datasource}"}, "legend": "{{service}}"}',
  directive: "%{if x}yes%{endif}, 100%{",
  shell: 'exec redis-server --requirepass "$(cat /run/secrets/x)" ${EXTRA:-}',
  alreadyEscaped: "$${x} and %%{y} and $$${z}",
  multiline: 'line 1\nline "2"\ttab\\n not a newline',
};

/** Applies a JSON configuration of outputs with real Terraform and returns the values it read. */
function terraformReads(outputs: Record<string, string>): Record<string, string> | undefined {
  const terraform = terraformBinary();
  if (!terraform) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "literal-"));
  try {
    writeFileSync(join(dir, "main.tf.json"), JSON.stringify({ output: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, { value: v }])) }));
    const env = { ...process.env, TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1", TF_CLI_CONFIG_FILE: "/dev/null" };
    for (const args of [["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]]) {
      const r: ReturnType<typeof spawnSync> = spawnSync(terraform, args, { cwd: dir, encoding: "utf8", env });
      assert.equal(r.status, 0, `terraform ${args[0]}: ${r.stdout}${r.stderr}`);
    }
    const out = spawnSync(terraform, ["output", "-json"], { cwd: dir, encoding: "utf8", env });
    return Object.fromEntries(Object.entries(JSON.parse(out.stdout) as Record<string, { value: string }>).map(([k, v]) => [k, v.value]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("literal() against Terraform's own template parser", () => {
  it("every text comes back from Terraform exactly as written", (t) => {
    const read = terraformReads(Object.fromEntries(Object.entries(TEXTS).map(([k, v]) => [k, literal(v)])));
    if (!read) return t.skip("terraform not found (set TERRAFORM or put it on PATH); .ci/run builds it");
    assert.deepEqual(read, TEXTS);
  });

  it("without escaping, Terraform evaluates the directive instead of keeping it", (t) => {
    const text = "%{ if false }this text vanishes%{ endif }";
    const read = terraformReads({ raw: text, escaped: literal(text) });
    if (!read) return t.skip("terraform not found (set TERRAFORM or put it on PATH); .ci/run builds it");
    assert.deepEqual(read, { raw: "", escaped: text });
  });

  it("cdktf's Fn.rawString is not a substitute: it corrupts newlines and quotes and leaves %{ alone", (t) => {
    const app = new App({ outdir: mkdtempSync(join(tmpdir(), "raw-")), stackTraces: false });
    const stack = new TerraformStack(app, "s");
    new TerraformOutput(stack, "multiline", { value: Fn.rawString(TEXTS.multiline) });
    new TerraformOutput(stack, "directive", { value: Fn.rawString("%{if true}x%{endif}") });
    const json = stack.toTerraform() as { output: Record<string, { value: string }> };
    rmSync(app.outdir, { recursive: true, force: true });
    const read = terraformReads({ multiline: json.output.multiline!.value, directive: json.output.directive!.value });
    if (!read) return t.skip("terraform not found (set TERRAFORM or put it on PATH); .ci/run builds it");
    assert.notEqual(read.multiline, TEXTS.multiline);
    assert.equal(read.multiline, 'line 1\\nline \\"2\\"\ttab\\n not a newline');
    assert.equal(read.directive, "x");
  });
});

/**
 * `terraform validate` on every synthesized stack, in one of two depths, and says which:
 *
 * - **with provider schemas** (TF_PROVIDERS_DIR names a filesystem mirror holding the providers the
 *   stacks pin): `terraform init` from the mirror, then validate. Terraform decodes every resource
 *   body against its schema and every string as a template: unknown attributes, wrong types,
 *   invalid references and interpolations are all errors. This is the check that proves a stack
 *   Terraform will plan.
 * - **without** (no mirror): Terraform decodes the configuration's structure only (syntax,
 *   depends_on, variables and their validation blocks, backend) and never looks inside resource
 *   bodies — so it cannot see an unescaped `${…}` in a ConfigMap, a misspelled attribute or a wrong
 *   type. The only diagnostics allowed are "Missing required provider". This is partial, and the
 *   script prints that it is.
 *
 * Each stack is copied into a scratch directory first, so cdktf.out never gets Terraform files.
 * Usage: node dist/scripts/terraform-validate.js <terraform> <cdktf.out> [environment ...]
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { missingFromMirror, providersDir, requiredProviders, writeCliConfig } from "./terraform-providers";

interface Diagnostic {
  readonly severity: string;
  readonly summary: string;
  readonly detail?: string;
  readonly range?: { filename: string; start: { line: number } };
}

function main(): number {
  const [terraform, outdir, ...requested] = process.argv.slice(2);
  if (!terraform || !outdir) {
    process.stderr.write("usage: terraform-validate.js <terraform> <cdktf.out> [environment ...]\n");
    return 2;
  }
  const stacksDir = join(outdir, "stacks");
  const environments = requested.length > 0 ? requested : readdirSync(stacksDir).sort();
  const mirror = providersDir();
  const scratch = mkdtempSync(join(tmpdir(), "tf-validate-"));
  const cliConfig = join(scratch, "terraformrc");
  let ok = true;
  try {
    for (const environment of environments) {
      const started = process.hrtime.bigint();
      const stackFile = join(stacksDir, environment, "cdk.tf.json");
      const stack = JSON.parse(readFileSync(stackFile, "utf8"));
      const missing = mirror ? missingFromMirror(mirror, requiredProviders(stack)) : ["(TF_PROVIDERS_DIR unset)"];
      const full = missing.length === 0;
      writeCliConfig(cliConfig, full ? mirror : undefined);
      const dir = join(scratch, environment);
      mkdirSync(dir);
      copyFileSync(stackFile, join(dir, "cdk.tf.json"));
      const env = { ...process.env, TF_CLI_CONFIG_FILE: cliConfig, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1", TF_DATA_DIR: join(dir, ".terraform") };
      if (full) {
        const init = spawnSync(terraform, ["init", "-backend=false", "-input=false", "-no-color"], { cwd: dir, encoding: "utf8", env });
        if (init.error) throw new Error(`cannot run ${terraform}: ${init.error.message}`);
        if (init.status !== 0) {
          process.stdout.write(`terraform validate ${environment}: terraform init from ${mirror} failed:\n${init.stdout}${init.stderr}\n`);
          ok = false;
          continue;
        }
      }
      const result = spawnSync(terraform, ["validate", "-json", "-no-color"], { cwd: dir, encoding: "utf8", env });
      if (result.error) throw new Error(`cannot run ${terraform}: ${result.error.message}`);
      const report = JSON.parse(result.stdout) as { valid: boolean; diagnostics: Diagnostic[] };
      const allowed = (d: Diagnostic) => !full && d.summary === "Missing required provider";
      const errors = report.diagnostics.filter((d) => d.severity === "error" && !allowed(d));
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const verdict =
        errors.length > 0
          ? `${errors.length} error(s)`
          : full
            ? "valid against the provider schemas"
            : `PARTIAL: structure only, resource bodies not checked (no provider schemas: ${mirror ? `missing from ${mirror}: ${missing.join(", ")}` : "TF_PROVIDERS_DIR unset"})`;
      process.stdout.write(`terraform validate ${environment}: ${verdict}, ${seconds.toFixed(1)} s\n`);
      for (const e of errors) {
        const where = e.range ? ` (${e.range.filename}:${e.range.start.line})` : "";
        process.stdout.write(`  ${e.summary}${where}: ${(e.detail ?? "").replace(/\s+/g, " ")}\n`);
      }
      if (errors.length > 0) ok = false;
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return ok ? 0 : 1;
}

process.exitCode = main();

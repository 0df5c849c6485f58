/**
 * `terraform validate` on every synthesized stack.
 *
 * With the providers at hand (TF_PROVIDERS_DIR holding terraform-provider-kubernetes and
 * terraform-provider-helm binaries, used through a CLI config `dev_overrides` block), this is the
 * full validation against the providers' schemas. Without them — the Go module proxy reachable
 * from our CI does not serve the providers' sources — Terraform still decodes and checks the whole
 * configuration (syntax, references, depends_on, variables, backend) before it asks for provider
 * schemas; then the only diagnostics allowed are "Missing required provider".
 *
 * Usage: node dist/scripts/terraform-validate.js <terraform> <cdktf.out> [environment ...]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

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
  const providers = process.env.TF_PROVIDERS_DIR ? resolve(process.env.TF_PROVIDERS_DIR) : undefined;
  const full =
    !!providers &&
    ["terraform-provider-kubernetes", "terraform-provider-helm"].every((p) => existsSync(join(providers, p)));
  const scratch = mkdtempSync(join(tmpdir(), "tf-validate-"));
  const cliConfig = join(scratch, "terraformrc");
  writeFileSync(
    cliConfig,
    full
      ? `provider_installation {\n  dev_overrides {\n    "hashicorp/kubernetes" = "${providers}"\n    "hashicorp/helm" = "${providers}"\n  }\n  direct {}\n}\n`
      : "",
  );
  process.stdout.write(
    full
      ? `terraform validate with the providers from ${providers}\n`
      : `terraform validate without provider schemas (no provider binaries in ${providers ?? "TF_PROVIDERS_DIR (unset)"}): configuration decoding only\n`,
  );
  let ok = true;
  try {
    for (const environment of environments) {
      const started = process.hrtime.bigint();
      const result = spawnSync(terraform, ["validate", "-json", "-no-color"], {
        cwd: join(stacksDir, environment),
        encoding: "utf8",
        env: { ...process.env, TF_CLI_CONFIG_FILE: cliConfig, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" },
      });
      if (result.error) throw new Error(`cannot run ${terraform}: ${result.error.message}`);
      const report = JSON.parse(result.stdout) as { valid: boolean; diagnostics: Diagnostic[] };
      const allowed = (d: Diagnostic) => !full && d.summary === "Missing required provider";
      const errors = report.diagnostics.filter((d) => d.severity === "error" && !allowed(d));
      const missing = report.diagnostics.filter(allowed).length;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const verdict = errors.length === 0 ? (full ? "valid" : `configuration valid (${missing} provider schema(s) unavailable)`) : `${errors.length} error(s)`;
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

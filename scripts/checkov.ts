/**
 * Runs checkov (`--framework terraform_json`) over every synthesized stack and applies the skips
 * declared next to the resources (constructs/suppressions.ts → the resource's `//.suppressions`).
 *
 * Why a wrapper: checkov's terraform_json runner does not read inline `checkov:skip` comments
 * (it scans every entity with an empty skip list; checkov 3.3.x, terraform_json/runner.py), and
 * `--skip-check` would skip a check for every resource. Here a failed check counts as skipped
 * only on a resource that declares that check id with a reason; any other failure fails the run,
 * and so does a declared skip that excuses nothing (stale).
 *
 * Usage: node dist/scripts/checkov.js <checkov executable> <cdktf.out> [environment ...]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

interface CheckRecord {
  readonly check_id: string;
  readonly resource: string;
}

interface StackReport {
  readonly environment: string;
  readonly passed: number;
  readonly failed: CheckRecord[];
  readonly skipped: (CheckRecord & { reason: string })[];
  readonly stale: string[];
  readonly seconds: number;
}

/**
 * The stack as checkov reads it, in a scratch directory: checkov 3.3.30's terraform_json parser
 * raises "this method receives only dicts" on a scalar in the `terraform` block
 * (`required_version`, which S3 stacks set) and then scans nothing. That block holds no resource,
 * so its scalars are left out of the copy; the resources are byte for byte the stack's.
 */
function scanCopy(dir: string): string {
  const stack = JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8"));
  if (stack.terraform && typeof stack.terraform === "object") {
    stack.terraform = Object.fromEntries(Object.entries(stack.terraform).filter(([, v]) => v !== null && typeof v === "object"));
  }
  const scratch = mkdtempSync(join(tmpdir(), "checkov-stack-"));
  writeFileSync(join(scratch, "cdk.tf.json"), JSON.stringify(stack));
  return scratch;
}

function runStack(checkov: string, dir: string, environment: string): StackReport {
  const started = process.hrtime.bigint();
  const scratch = scanCopy(dir);
  const result = spawnSync(
    checkov,
    ["-d", scratch, "--framework", "terraform_json", "--skip-download", "--quiet", "--compact", "-o", "json"],
    { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: { ...process.env, BC_SKIP_MAPPING: "TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2: "false" } },
  );
  if (result.error) throw new Error(`cannot run ${checkov}: ${result.error.message}`);
  // checkov exits 1 when a check fails; anything else without JSON is a crash.
  let parsed: any;
  try {
    parsed = JSON.parse(result.stdout);
  } catch {
    throw new Error(`checkov produced no JSON for ${environment} (exit ${result.status}):\n${result.stderr.slice(-2000)}`);
  }
  rmSync(scratch, { recursive: true, force: true });
  const report = Array.isArray(parsed) ? parsed.find((r) => r.check_type === "terraform_json") : parsed;
  const failedChecks: CheckRecord[] = report?.results?.failed_checks ?? [];
  const passed = report?.summary?.passed ?? 0;
  // A file checkov cannot parse is scanned as nothing, and "passed 0, failed 0" would pass.
  const parsingErrors = Number(report?.summary?.parsing_errors ?? 0);
  if (parsingErrors > 0 || passed + failedChecks.length === 0) {
    throw new Error(`checkov scanned nothing in ${environment} (parsing errors: ${parsingErrors}, checks run: ${passed + failedChecks.length}):\n${result.stderr.slice(-2000)}`);
  }

  const stack = JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8"));
  const declared = new Map<string, { rule: string; reason: string }[]>();
  for (const byId of Object.values(stack.resource ?? {}) as Record<string, any>[]) {
    for (const [id, body] of Object.entries(byId)) {
      const list = ((body["//"]?.suppressions ?? []) as { rule: string; reason: string }[]).filter((s) => s.rule.startsWith("CKV_"));
      if (list.length > 0) declared.set(`resource.${id}`, list);
    }
  }
  const failed: CheckRecord[] = [];
  const skipped: (CheckRecord & { reason: string })[] = [];
  for (const f of failedChecks) {
    const skip = declared.get(f.resource)?.find((s) => s.rule === f.check_id);
    if (skip) skipped.push({ check_id: f.check_id, resource: f.resource, reason: skip.reason });
    else failed.push({ check_id: f.check_id, resource: f.resource });
  }
  const stale: string[] = [];
  for (const [resource, list] of declared) {
    for (const s of list) {
      if (!skipped.some((k) => k.resource === resource && k.check_id === s.rule)) stale.push(`${resource}: ${s.rule} is declared skipped but passes`);
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { environment, passed, failed, skipped, stale, seconds };
}

function main(): number {
  const [checkov, outdir, ...requested] = process.argv.slice(2);
  if (!checkov || !outdir) {
    process.stderr.write("usage: checkov.js <checkov executable> <cdktf.out> [environment ...]\n");
    return 2;
  }
  const stacksDir = join(outdir, "stacks");
  const environments = requested.length > 0 ? requested : existsSync(stacksDir) ? readdirSync(stacksDir).sort() : [];
  if (environments.length === 0) {
    process.stderr.write(`no synthesized stacks under ${stacksDir}\n`);
    return 1;
  }
  let ok = true;
  for (const environment of environments) {
    const r = runStack(checkov, join(stacksDir, environment), environment);
    const byCheck = new Map<string, number>();
    for (const s of r.skipped) byCheck.set(s.check_id, (byCheck.get(s.check_id) ?? 0) + 1);
    const skippedText = [...byCheck].map(([id, n]) => `${id} x${n}`).join(", ");
    process.stdout.write(
      `checkov ${environment}: passed ${r.passed}, failed ${r.failed.length}, skipped ${r.skipped.length}${skippedText ? ` (${skippedText})` : ""}, ${r.seconds.toFixed(1)} s\n`,
    );
    for (const f of r.failed) process.stdout.write(`  FAILED ${f.check_id} on ${f.resource}\n`);
    for (const s of r.stale) process.stdout.write(`  STALE ${s}\n`);
    if (r.failed.length > 0 || r.stale.length > 0) ok = false;
  }
  return ok ? 0 : 1;
}

process.exitCode = main();

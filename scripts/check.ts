/**
 * The project's pre-deploy checks on a synthesized environment (scripts/deploy.sh runs them after
 * the synth, before anything reaches a cluster):
 * - no secret-looking environment variable carries a literal value;
 * - the alert rules pass `promtool check rules` and the Alertmanager config `amtool check-config`
 *   (Debian packages prometheus and prometheus-alertmanager), where the environment alerts.
 * Usage: node dist/scripts/check.js <cdktf.out> <environment>
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?|_PASS$|_AUTH$)/;

function literalSecrets(node: unknown, path: string, found: string[]): void {
  if (Array.isArray(node)) node.forEach((item, i) => literalSecrets(item, `${path}[${i}]`, found));
  else if (node && typeof node === "object") {
    const record = node as Record<string, unknown>;
    // *_FILE variables hold a path to a mounted Secret file, not the secret.
    const name = record.name;
    if (typeof name === "string" && "value" in record && SECRET_NAME.test(name) && !name.endsWith("_FILE")) found.push(`${path} (${name})`);
    for (const [key, value] of Object.entries(record)) literalSecrets(value, `${path}.${key}`, found);
  }
}

function runTool(tool: string, args: string[], problems: string[]): void {
  const result = spawnSync(tool, args, { encoding: "utf8" });
  if (result.error) {
    problems.push(`${tool} is not installed (apt-get install ${tool === "promtool" ? "prometheus" : "prometheus-alertmanager"}); it checks ${args.at(-1)}`);
  } else if (result.status !== 0) {
    problems.push(`${tool} ${args.join(" ")} failed:\n${result.stdout}${result.stderr}`);
  } else {
    process.stdout.write(`ok: ${tool} ${args.join(" ")}\n`);
  }
}

function main(outdir: string | undefined, environment: string | undefined): number {
  if (!outdir || !environment) {
    process.stderr.write("usage: check <cdktf.out> <environment>\n");
    return 2;
  }
  const problems: string[] = [];
  const stackFile = join(outdir, "stacks", environment, "cdk.tf.json");
  if (!existsSync(stackFile)) {
    process.stderr.write(`check: no synthesized stack at ${stackFile}\n`);
    return 1;
  }
  const found: string[] = [];
  literalSecrets(JSON.parse(readFileSync(stackFile, "utf8")), "stack", found);
  for (const f of found) problems.push(`a secret-looking variable has a literal value at ${f}: read it from a Secret`);
  if (found.length === 0) process.stdout.write("ok: no literal secret values in the stack\n");

  const monitoring = join(outdir, "monitoring", environment);
  if (existsSync(join(monitoring, "prometheus-rules.yaml"))) runTool("promtool", ["check", "rules", join(monitoring, "prometheus-rules.yaml")], problems);
  if (existsSync(join(monitoring, "alertmanager.yaml"))) runTool("amtool", ["check-config", join(monitoring, "alertmanager.yaml")], problems);

  if (problems.length > 0) {
    process.stderr.write(`check: ${problems.length} problem(s) in ${environment}:\n${problems.map((p) => `  - ${p}`).join("\n")}\n`);
    return 1;
  }
  return 0;
}

process.exitCode = main(process.argv[2], process.argv[3]);

/**
 * The project's pre-deploy checks on a synthesized environment (scripts/deploy.sh runs them after
 * the synth, before anything reaches a cluster):
 * - no secret-looking literal in an env value or a ConfigMap, nor anywhere else in the stack or
 *   its monitoring files (config/secrets.ts, the same rule set synth's policy gate applies);
 * - no unescaped template sequence (stacks/interpolation-guard.ts, as synth checks it);
 * - the alert rules pass `promtool check rules` and the Alertmanager config `amtool check-config`
 *   (Debian packages prometheus and prometheus-alertmanager), where the environment alerts.
 * Usage: node dist/scripts/check.js <cdktf.out> <environment>
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describeTemplateFinding, findTemplateInjections } from "../stacks/interpolation-guard";
import { secretLiterals, secretStrings } from "../stacks/secret-scan";

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
  const stack = JSON.parse(readFileSync(stackFile, "utf8"));
  const secrets = secretLiterals(stack);
  for (const f of secrets) problems.push(`${f.path} (${f.resource}): ${f.where} has a literal value and ${f.reason}: keep it in a Secret and mount it as a file`);
  if (secrets.length === 0) process.stdout.write("ok: no secret-looking literal in env values or ConfigMaps\n");
  const monitoringDir = join(outdir, "monitoring", environment);
  const files = existsSync(monitoringDir)
    ? Object.fromEntries(
        (readdirSync(monitoringDir, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
          .filter((e) => e.isFile())
          .map((e) => {
            const path = join(e.parentPath, e.name);
            return [relative(monitoringDir, path), readFileSync(path, "utf8")];
          }),
      )
    : {};
  const strings = secretStrings(stack, files);
  for (const f of strings) problems.push(`${f.where} ${f.reason}: keep it in a Secret and read it from a mounted file`);
  if (strings.length === 0) process.stdout.write("ok: no secret-looking string anywhere else in the stack or its monitoring files\n");
  const templates = findTemplateInjections(stack);
  for (const f of templates) problems.push(describeTemplateFinding(f));
  if (templates.length === 0) process.stdout.write("ok: every ${…} in the stack is a reference Terraform can resolve\n");

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

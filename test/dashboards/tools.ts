/** Runs Debian's promtool and amtool on files the tests write; both must be installed (.ci/run does). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { RATE } from "../../dashboards/common";

export function tool(name: "promtool" | "amtool", args: string[], cwd?: string, input?: string): { status: number; output: string } {
  assert.ok(existsSync(`/usr/bin/${name}`), `${name} is not installed (Debian package ${name === "promtool" ? "prometheus" : "prometheus-alertmanager"}; .ci/run installs it)`);
  const result = spawnSync(name, args, { cwd, encoding: "utf8", input });
  return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}

/** Writes files into a fresh temporary directory and returns it. */
export function writeFiles(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "monitoring-check-"));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

/** `promtool check rules` on a rule file holding `groups`. */
export function checkRules(groups: unknown): { status: number; output: string } {
  const dir = writeFiles({ "rules.yaml": stringify({ groups }) });
  try {
    return tool("promtool", ["check", "rules", "rules.yaml"], dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A dashboard query with Grafana's variables replaced by values Prometheus accepts, as Grafana does before querying. */
export function concrete(expr: string): string {
  return expr.split(RATE).join("5m").replace(/"\$service"/g, '".*"');
}

/** `promtool check rules` over dashboard queries, each as a recording rule (promtool's PromQL parser). */
export function checkDashboardExpressions(exprs: readonly string[]): { status: number; output: string } {
  return checkRules([{ name: "dashboard-expressions", rules: exprs.map((expr, i) => ({ record: `dashboard:check:${i}`, expr: concrete(expr) })) }]);
}

/** Runs Debian's promtool and amtool on files the tests write; both must be installed (.ci/run does). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function tool(name: "promtool" | "amtool", args: string[], cwd?: string): { status: number; output: string } {
  assert.ok(existsSync(`/usr/bin/${name}`), `${name} is not installed (Debian package ${name === "promtool" ? "prometheus" : "prometheus-alertmanager"}; .ci/run installs it)`);
  const result = spawnSync(name, args, { cwd, encoding: "utf8" });
  return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}

/** Writes files into a fresh temporary directory and returns it. */
export function writeFiles(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "monitoring-check-"));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

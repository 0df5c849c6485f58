/**
 * Does what README.md's "Adding a service" tells a reader to do, to a copy of the project, from
 * the README itself: every snippet there is preceded by a marker comment (invisible when rendered)
 * that says where the reader puts it,
 *
 *   <!-- add-service: add config/services.ts . -->                  the entry, into the catalogue
 *   <!-- add-service: append config/services.ts agent-orchestrator.calls -->   the name, to a list
 *   <!-- add-service: add config/local.ts services -->              the settings, per environment
 *   <!-- add-service: run -->                                       commands, such as a doc's refresh
 *
 * and the fenced code block after the marker is the snippet, applied as written (a `run` block's
 * lines are run one by one with bash in the project's root, and must succeed)
 * (scripts/config-source.ts edits the file at that property path, keeping the rest byte for
 * byte). `.ci/run` runs it on a copy and then `npm test` there: the README's example keeps the
 * suite green, or CI fails.
 *
 *   node dist/scripts/add-service-from-readme.js <project copy>
 *
 * Prints one line per edit and, last, `service: <name>`; exits 1 with the reason when the README
 * has no such section, a marker has no snippet, a path is not in the file or a command fails.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { addProperties, appendToArray, keysAt } from "./config-source";

const SECTION = "## Adding a service";

export interface Step {
  readonly action: "add" | "append" | "run";
  /** Relative to the project: `config/services.ts` (empty for `run`). */
  readonly file: string;
  /** Property path, `[]` for the exported object itself (empty for `run`). */
  readonly path: readonly string[];
  readonly snippet: string;
}

/** The steps of README.md's "Adding a service", in order. */
export function readmeSteps(readme: string): Step[] {
  const start = readme.indexOf(`\n${SECTION}\n`);
  if (start < 0) throw new Error(`README.md has no "${SECTION}" section`);
  const next = readme.indexOf("\n## ", start + SECTION.length + 1);
  const section = readme.slice(start, next < 0 ? readme.length : next);
  const steps: Step[] = [];
  const marker = /<!-- add-service: (?:(add|append) (\S+) (\S+)|run) -->\n/g;
  for (let m = marker.exec(section); m; m = marker.exec(section)) {
    const fence = /^[ \t]*(```+)[^\n]*\n([\s\S]*?)\n[ \t]*\1[ \t]*$/m.exec(section.slice(m.index + m[0].length));
    const between = fence ? section.slice(m.index + m[0].length, m.index + m[0].length + fence.index) : "";
    if (!fence || /```/.test(between)) throw new Error(`README.md: the marker "${m[0].trim()}" has no code block after it`);
    // The block as the reader sees it, without the indentation a list item gives it.
    const lines = fence[2]!.split("\n");
    const indent = Math.min(...lines.filter((l) => l.trim() !== "").map((l) => /^[ \t]*/.exec(l)![0].length));
    const snippet = lines.map((l) => l.slice(indent)).join("\n");
    if (!m[1]) steps.push({ action: "run", file: "", path: [], snippet });
    else steps.push({ action: m[1] as Step["action"], file: m[2]!, path: m[3] === "." ? [] : m[3]!.split("."), snippet });
  }
  if (steps.length === 0) throw new Error(`README.md's "${SECTION}" has no <!-- add-service: … --> markers`);
  return steps;
}

/** Applies the steps to the project at `root`; returns what it did, one line each, and the new service's name. */
export function applySteps(root: string, steps: readonly Step[]): { done: string[]; service: string } {
  const done: string[] = [];
  let service: string | undefined;
  for (const step of steps) {
    if (step.action === "run") {
      for (const command of step.snippet.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"))) {
        const ran = spawnSync("bash", ["-c", command], { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
        if (ran.status !== 0) throw new Error(`README.md's command failed (exit ${ran.status}): ${command}\n${`${ran.stdout}${ran.stderr}`.trim().split("\n").slice(-20).join("\n")}`);
        done.push(`ran: ${command}`);
      }
      continue;
    }
    if (!/^config\/[a-z-]+\.ts$/.test(step.file)) throw new Error(`README.md names ${step.file}: only files under config/ are edited`);
    const file = join(root, step.file);
    const before = readFileSync(file, "utf8");
    const where = step.path.join(".") || "the exported object";
    let after: string;
    try {
      if (step.action === "append") after = appendToArray(before, step.path, step.snippet.trim());
      else {
        const had = new Set(keysAt(before, step.path));
        after = addProperties(before, step.path, step.snippet);
        const added = keysAt(after, step.path).filter((k) => !had.has(k));
        if (step.file === "config/services.ts" && step.path.length === 0) service = added[0];
        done.push(`${step.file}: added ${added.join(", ")} to ${where}`);
      }
    } catch (error) {
      throw new Error(`README.md's step for ${step.file} (${where}): ${(error as Error).message}`);
    }
    if (step.action === "append") done.push(`${step.file}: appended ${step.snippet.trim()} to ${where}`);
    writeFileSync(file, after);
  }
  if (!service) throw new Error("README.md's steps add no service to config/services.ts");
  return { done, service };
}

function main(root: string | undefined): number {
  if (!root) {
    process.stderr.write("usage: node dist/scripts/add-service-from-readme.js <project copy>\n");
    return 2;
  }
  try {
    const { done, service } = applySteps(root, readmeSteps(readFileSync(join(root, "README.md"), "utf8")));
    process.stdout.write(`${done.join("\n")}\nservice: ${service}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`add-service-from-readme: ${(error as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) process.exitCode = main(process.argv[2]);

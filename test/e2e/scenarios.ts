/**
 * The scenarios that run on an applied stack, after the lifecycle checks of run.ts: which ones
 * (E2E_SCENARIOS, or per stack in E2E_STACKS), the order they share the cluster in, and the
 * per-stack table they report.
 *
 *   E2E_STACKS=production/autoscaling-on                      every scenario of that stack
 *   E2E_STACKS=production/autoscaling-on:scaling              one scenario
 *   E2E_STACKS=staging/autoscaling-on:drain+node-failure      two
 *   E2E_SCENARIOS=drain,node-failure                          those, for every selected stack
 *   E2E_SCENARIOS=none                                        the lifecycle checks only
 *
 * By default the autoscaling-on stacks run every scenario and the autoscaling-off stacks none.
 * With `scaling`, drains and the node failure happen at the peak (every service at its maximum);
 * without it, at rest.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { runDrains, runNodeFailure } from "./disruption";
import { Observer } from "./observe";
import { runScaling } from "./scaling";
import { SCENARIOS, type ScenarioContext, type ScenarioName, type StackScenarioReport } from "./scenario-context";

export type { ScenarioContext } from "./scenario-context";

/** A stack's label and, when the entry names them, its scenarios. */
export interface StackSelection {
  readonly stacks?: readonly string[];
  readonly scenarios: (label: string) => ReadonlySet<ScenarioName>;
}

function parseScenarios(text: string, source: string): Set<ScenarioName> {
  const names = text
    .split(/[,+]/)
    .map((x) => x.trim())
    .filter(Boolean);
  if (names.length === 1 && names[0] === "none") return new Set();
  if (names.length === 1 && names[0] === "all") return new Set(SCENARIOS);
  const unknown = names.filter((n) => !(SCENARIOS as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`${source}: unknown scenario ${unknown.map((u) => JSON.stringify(u)).join(", ")}; known: ${SCENARIOS.join(", ")}, all, none`);
  return new Set(names as ScenarioName[]);
}

/** Reads E2E_STACKS and E2E_SCENARIOS. */
export function selection(env: NodeJS.ProcessEnv): StackSelection {
  const perStack = new Map<string, Set<ScenarioName>>();
  const stacks = env.E2E_STACKS?.split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const [stack, scenarios] = entry.split(":");
      if (scenarios !== undefined) perStack.set(stack!, parseScenarios(scenarios, `E2E_STACKS entry ${JSON.stringify(entry)}`));
      return stack!;
    });
  const global = env.E2E_SCENARIOS !== undefined ? parseScenarios(env.E2E_SCENARIOS, "E2E_SCENARIOS") : undefined;
  return {
    stacks,
    scenarios: (label) => {
      const env = label.split("/")[0]!;
      const named = perStack.get(label) ?? perStack.get(env);
      if (named) return named;
      if (global) return global;
      return label.endsWith("/autoscaling-on") ? new Set(SCENARIOS) : new Set();
    },
  };
}

/** The programs the scenarios start, from the environment and PATH. */
export function hostTools(env: NodeJS.ProcessEnv, metricsServer: string, kubectl: string): ScenarioContext["tools"] {
  const which = (name: string) => spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim() || undefined;
  const adapter = env.PROMETHEUS_ADAPTER_BIN;
  return {
    metricsServer: existsSync(metricsServer) ? metricsServer : undefined,
    prometheus: env.PROMETHEUS_BIN ?? which("prometheus"),
    prometheusAdapter: adapter && existsSync(adapter) ? adapter : undefined,
    // The control plane's own version first (build-control-plane.sh), else whichever is on PATH.
    kubectl: env.KUBECTL ?? (existsSync(kubectl) ? kubectl : which("kubectl")),
  };
}

/** Runs the selected scenarios on one applied stack. */
export async function runScenarios(s: Omit<ScenarioContext, "observer">): Promise<StackScenarioReport | undefined> {
  if (s.scenarios.size === 0) return undefined;
  const started = Date.now();
  const out: StackScenarioReport = { label: s.label, scaling: [], drains: [], seconds: 0, skipped: [] };
  const observer = new Observer(s.cp, s.namespace);
  observer.start();
  const ctx: ScenarioContext = { ...s, observer };
  await observer.until(() => true, 10_000);
  let background: Promise<void> = Promise.resolve();
  let disrupted = false;
  const disruptions = async () => {
    if (disrupted) return;
    disrupted = true;
    if (s.scenarios.has("drain")) await runDrains(ctx, out);
    if (s.scenarios.has("node-failure")) background = (await runNodeFailure(ctx, out)).background;
  };
  try {
    s.report.note(`scenarios: ${[...s.scenarios].join(", ")}`);
    if (s.scenarios.has("scaling") || s.scenarios.has("custom-metrics")) await runScaling(ctx, out, disruptions);
    // At rest, when the scaling scenario is not selected or stopped before its peak.
    await disruptions();
    await background;
  } catch (error) {
    s.report.check(s.label, "the scenarios", false, (error as Error).message);
    await background.catch(() => undefined);
  } finally {
    await observer.stop();
    out.seconds = Math.round((Date.now() - started) / 1000);
    s.report.note(`observer: one sample a second, longest gap ${Math.round(observer.longestGap / 1000)} s, ${observer.errors} failed samples`);
  }
  return out;
}

/** The tables docs/validation.md shows: one per stack. */
export function scenarioTables(reports: readonly StackScenarioReport[]): string {
  const lines: string[] = [];
  const s = (x?: number) => (x === undefined ? "-" : `${x} s`);
  for (const r of reports) {
    lines.push("", `${r.label} (scenarios ${r.seconds} s)`, "");
    if (r.scaling.length > 0) {
      lines.push("| workload | min → max (reached) | resource metrics: up / down | drove it | custom metrics: up / down | drove it |", "|---|---|---|---|---|---|");
      for (const w of r.scaling) {
        lines.push(
          `| ${w.workload} | ${w.min} → ${w.max} (${w.reached}) | ${s(w.upSeconds)} / ${s(w.downSeconds)} | ${w.drivers.join(", ") || "-"} | ${w.customUpSeconds === undefined ? "-" : `${s(w.customUpSeconds)} / ${s(w.customDownSeconds)}`} | ${w.customDrivers.join(", ") || "-"} |`,
        );
      }
    }
    if (r.peak) lines.push("", `peak: ${r.peak}`);
    if (r.drains.length > 0) {
      lines.push("", "| drain | evictions | time | lowest availability (ready/desired) |", "|---|---|---|---|");
      for (const d of r.drains) lines.push(`| ${d.node} | ${d.evictions} | ${d.seconds} s | ${d.lowest} |`);
    }
    if (r.nodeFailure) {
      const f = r.nodeFailure;
      lines.push("", `node failure (${f.node}, ${f.pods} pods): Deployments fully ready after ${s(f.statelessSeconds)}, data tier after ${s(f.dataTierSeconds)}`);
    }
    for (const k of r.skipped) lines.push(`skipped: ${k}`);
  }
  return lines.join("\n");
}

import type { PlatformConfig } from "../config/load";
import { formatCpu, formatMemory } from "../config/quantity";
import type { SuppressedFinding } from "./policy";
import { connectionBudget, environmentCapacity, type Totals } from "../config/capacity";

/** Plain-text tables, one per environment, for the human who reads the synth's output. */
export function renderSummary(
  configs: readonly PlatformConfig[],
  suppressions: readonly { readonly environment: string; readonly finding: SuppressedFinding }[] = [],
): string {
  const text = configs.map(renderEnvironment).join("\n");
  if (suppressions.length === 0) return text;
  // Grouped by rule and reason: one line per distinct exception, with where it applies.
  const groups = new Map<string, { rule: string; reason: string; where: string[] }>();
  for (const { environment, finding } of suppressions) {
    const key = `${finding.rule}\u0000${finding.reason}`;
    const group = groups.get(key) ?? { rule: finding.rule, reason: finding.reason, where: [] };
    group.where.push(`${environment}:${finding.path.split("/").slice(1, -1).join("/")}`);
    groups.set(key, group);
  }
  const lines = [...groups.values()].map((g) => `  ${g.rule} on ${g.where.length} resource(s) (${g.where.join(", ")}): ${g.reason}`);
  return `${text}\nPolicy suppressions (declared next to the resources; see README "Policy gate"):\n${lines.join("\n")}\n`;
}

function renderEnvironment(config: PlatformConfig): string {
  const capacity = environmentCapacity(config);
  const header = ["service", "pods", "cpu request/limit", "memory request/limit", "disruption budget"];
  const rows = config.services.map((service, i) => {
    const c = capacity.services[i]!;
    const d = service.disruption;
    return [
      service.name,
      `${c.autoscaled ? `${c.minPods}-${c.maxPods} (HPA)` : `${c.minPods}`}${c.tracks > 1 ? " blue+green" : ""}`,
      `${formatCpu(c.cpuRequestMillis)} / ${formatCpu(c.cpuLimitMillis)}`,
      `${formatMemory(c.memoryRequestBytes)} / ${formatMemory(c.memoryLimitBytes)}`,
      d.minAvailable !== undefined ? `minAvailable ${d.minAvailable}` : `maxUnavailable ${d.maxUnavailable}`,
    ];
  });
  const totals = (label: string, t: Totals) =>
    `${label}: ${t.pods} pods, requests ${formatCpu(t.cpuRequestMillis)} CPU / ${formatMemory(t.memoryRequestBytes)}, ` +
    `limits ${formatCpu(t.cpuLimitMillis)} CPU / ${formatMemory(t.memoryLimitBytes)}`;
  const title = `${config.environment} (namespace ${config.namespace}, context ${config.cluster.context}, autoscaling ${
    config.autoscalingEnabled ? "on" : "off"
  })`;
  return [title, ...table([header, ...rows]), totals("  at minimum scale", capacity.min), totals("  at maximum scale", capacity.max), `  database connections: ${connectionBudget(config).arithmetic}`, ""].join(
    "\n",
  );
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  return rows.map((r) => `  ${r.map((cell, col) => cell.padEnd(widths[col]!)).join("  ")}`.trimEnd());
}

import type { PlatformConfig } from "../config/load";
import { formatCpu, formatMemory } from "../config/quantity";
import { connectionBudget, environmentCapacity, type Totals } from "../config/capacity";

/** Plain-text tables, one per environment, for the human who reads the synth's output. */
export function renderSummary(configs: readonly PlatformConfig[]): string {
  return configs.map(renderEnvironment).join("\n");
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

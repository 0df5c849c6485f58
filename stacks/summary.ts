/**
 * The summary synth prints (and `npm run summary` prints without synthesizing): per environment,
 * everything that runs — services, data tier, pooler, migration Job, monitoring components as the
 * chart values size them — at minimum and maximum scale and at the rollout peak, the namespace's
 * quota against that need, the connection budget, where critical alerts go and who serves the
 * HPAs' metrics. No cdktf here: a failing config never loads it.
 */
import { environmentCapacity, namespaceQuota, type QuotaAmounts, type Resources, type Totals, connectionBudget } from "../config/capacity";
import { formatCpu, formatMemory } from "../config/quantity";
import { redactText } from "../config/secrets";
import { terminalSafe } from "../config/text";
import type { PlatformConfig } from "../config/types";
import { chartWorkloads, monitoringInputs, monitoringValues } from "../constructs/monitoring-values";
import { destinationPath, endpointUrl } from "../constructs/postgres-cluster-values";
import { CNPG_OPERATOR_REPLICAS, SIZES } from "../config/sizes";
import type { SuppressedFinding } from "./policy";

const res = (r: Resources) => `requests ${formatCpu(r.cpuRequestMillis)} CPU / ${formatMemory(r.memoryRequestBytes)}, limits ${formatCpu(r.cpuLimitMillis)} CPU / ${formatMemory(r.memoryLimitBytes)}`;
const totals = (label: string, t: Totals) => `  ${label}: ${t.pods} pods, ${res(t.resources)}`;

/** Plain-text tables, one per environment, for the human who reads the synth's output. */
export function renderSummary(
  configs: readonly PlatformConfig[],
  suppressions: readonly { readonly environment: string; readonly finding: SuppressedFinding }[] = [],
): string {
  // Redacted like every message (config/secrets.ts): the configuration is checked for secrets
  // before it gets here, and this is the last line of defence whatever a later change prints.
  const text = redactText(configs.map(renderEnvironment).join("\n"));
  if (suppressions.length === 0) return text;
  // Grouped by rule and reason: one line per distinct exception, with where it applies.
  const groups = new Map<string, { rule: string; reason: string; where: string[] }>();
  for (const { environment, finding } of suppressions) {
    const key = `${finding.rule}\u0000${finding.reason}`;
    const group = groups.get(key) ?? { rule: finding.rule, reason: finding.reason, where: [] };
    group.where.push(`${environment}:${finding.path.split("/").slice(1, -1).join("/")}`);
    groups.set(key, group);
  }
  const lines = [...groups.values()].map((g) => `  ${g.rule} on ${g.where.length} resource(s) (${g.where.join(", ")}): ${terminalSafe(g.reason, 300)}`);
  return `${text}\nPolicy suppressions (declared next to the resources; see docs/validation.md, "Policy gate"):\n${lines.join("\n")}\n`;
}

function renderEnvironment(config: PlatformConfig): string {
  const capacity = environmentCapacity(config);
  const mode = config.autoscalingEnabled ? "on" : "off";
  const disruption = new Map(config.services.map((s) => [s.name, s.disruption]));
  const header = ["workload", "kind", "pods", "+surge", "per pod cpu req/limit", "memory req/limit", "disruption budget"];
  const rows = capacity.workloads.map((w) => {
    const range = w.pods[mode];
    const service = w.name.replace(/-(blue|green)$/, "");
    const d = w.component === "service" ? disruption.get(service) : undefined;
    return [
      w.name,
      w.kind,
      range.min === range.max ? `${range.max}` : `${range.min}-${range.max} (HPA)`,
      range.surge > 0 ? `+${range.surge}` : "",
      `${formatCpu(w.perPod.cpuRequestMillis)} / ${formatCpu(w.perPod.cpuLimitMillis)}`,
      `${formatMemory(w.perPod.memoryRequestBytes)} / ${formatMemory(w.perPod.memoryLimitBytes)}`,
      w.kind === "Job"
        ? "(per release)"
        : w.kind === "Cluster"
          ? // The operator's budgets: the primary is switched over before its node drains.
            `operator's: primary 1${range.max >= 3 ? `, standbys minAvailable ${range.max - 2}` : ""}`
          : d
            ? d.minAvailable !== undefined
              ? `minAvailable ${d.minAvailable}`
              : `maxUnavailable ${d.maxUnavailable}`
            : "maxUnavailable 1",
    ];
  });
  const quota = namespaceQuota(config);
  const q = (need: number, hard: number, show: (n: number) => string) => `${show(hard)} (need ${show(need)})`;
  const quotaLine = (n: QuotaAmounts, h: QuotaAmounts) =>
    `  quota (need at the peak + ${config.quota.headroomPercent}%): requests ${q(n.requestsCpuMillis, h.requestsCpuMillis, formatCpu)} CPU / ${q(n.requestsMemoryBytes, h.requestsMemoryBytes, formatMemory)}, ` +
    `limits ${q(n.limitsCpuMillis, h.limitsCpuMillis, formatCpu)} CPU / ${q(n.limitsMemoryBytes, h.limitsMemoryBytes, formatMemory)}, pods ${q(n.pods, h.pods, String)}, ` +
    `claims ${h.claims} / ${formatMemory(h.storageBytes)}`;

  const values = monitoringValues(monitoringInputs(config));
  const charts = chartWorkloads(values);
  const chartRows = charts.map((w) => [
    w.name,
    w.perNode ? "1 per node" : `${w.pods}`,
    w.containers.map((c) => c.name).join(" + "),
    `${formatCpu(w.perPod.cpuRequestMillis)} / ${formatCpu(w.perPod.cpuLimitMillis)}`,
    `${formatMemory(w.perPod.memoryRequestBytes)} / ${formatMemory(w.perPod.memoryLimitBytes)}`,
  ]);
  const fixed = charts.filter((w) => !w.perNode);
  const chartTotal: Totals = fixed.reduce(
    (t, w) => ({
      pods: t.pods + w.pods,
      resources: {
        cpuRequestMillis: t.resources.cpuRequestMillis + w.pods * w.perPod.cpuRequestMillis,
        memoryRequestBytes: t.resources.memoryRequestBytes + w.pods * w.perPod.memoryRequestBytes,
        cpuLimitMillis: t.resources.cpuLimitMillis + w.pods * w.perPod.cpuLimitMillis,
        memoryLimitBytes: t.resources.memoryLimitBytes + w.pods * w.perPod.memoryLimitBytes,
      },
    }),
    { pods: 0, resources: { cpuRequestMillis: 0, memoryRequestBytes: 0, cpuLimitMillis: 0, memoryLimitBytes: 0 } } as Totals,
  );
  const perNode = charts.filter((w) => w.perNode).map((w) => `, plus ${w.name} on every node (${res(w.perPod)})`).join("");

  const budget = connectionBudget(config);
  const m = config.monitoring;
  const critical = !m.alerting
    ? "alerting is off (no Alertmanager)"
    : m.pagerduty.enabled
      ? `PagerDuty (routing key from Secret ${config.monitoringNamespace}/${m.pagerduty.routingKeySecret!.name}, key ${m.pagerduty.routingKeySecret!.key})`
      : `nobody is paged: ${terminalSafe(m.criticalAlertsUnrouted ?? "", 300)}`;
  const warnings = !m.alerting
    ? "alerting is off (no Alertmanager)"
    : m.warnings?.to === "pagerduty"
      ? "PagerDuty, with severity warning (the same routing key)"
      : m.warnings?.to === "slack"
        ? `Slack ${m.warnings.channel} (webhook URL from Secret ${config.monitoringNamespace}/${m.warnings.webhookSecret.name}, key ${m.warnings.webhookSecret.key})`
        : "nowhere: no receiver with an integration takes them; they show only in Alertmanager and Grafana (set monitoring.warnings to route them)";
  const apis = Object.entries(values.plan.needs)
    .filter(([, needs]) => needs.length > 0)
    .map(([api, needs]) => `${api} (${needs.join(", ")}) by ${values.plan.providers[api as keyof typeof values.plan.providers].join(" and ") || "nobody"}`);

  const title = `${config.environment} (namespace ${config.namespace}, context ${terminalSafe(config.cluster.context)}, autoscaling ${mode})`;
  return [
    title,
    ...table([header, ...rows]),
    totals(`namespace ${config.namespace} at minimum scale`, capacity.min),
    totals(`namespace ${config.namespace} at maximum scale`, capacity.max),
    totals("peak (every workload at its maximum and rolling, either autoscaling mode)", capacity.peak),
    quotaLine(quota.need, quota.hard),
    `  monitoring (namespace ${config.monitoringNamespace}, as the chart values size it):`,
    ...table([["component", "pods", "containers", "per pod cpu req/limit", "memory req/limit"], ...chartRows]).map((l) => `  ${l}`),
    `  monitoring total: ${chartTotal.pods} pods, ${res(chartTotal.resources)}${perNode}`,
    ...databaseLines(config),
    ...budget.layers.map((l) => `  database connections, ${l.label}: ${l.arithmetic}`),
    `  critical alerts: ${critical}`,
    `  warning alerts: ${warnings}`,
    `  HPA metrics: ${apis.length > 0 ? apis.join("; ") : "none (no HPAs)"}`,
    "",
  ].join("\n");
}

/** The database's topology, failover and backups, and the operator's pods outside the namespace. */
function databaseLines(config: PlatformConfig): string[] {
  const t = config.postgres.topology;
  if (t.kind !== "cloudnative-pg") return ["  database: one Postgres pod (StatefulSet), no replica, no backup"];
  const sync = t.synchronous
    ? `synchronous ${t.synchronous.method.toUpperCase()} ${t.synchronous.number} (${t.synchronous.dataDurability}${t.synchronous.failoverQuorum ? ", failover quorum" : ""})`
    : "asynchronous replication";
  const spread = t.zones ? `one per zone (${t.zones.join(", ")})` : "one per node";
  const backup = t.backup
    ? `WAL and base backups to ${destinationPath(t)} (${terminalSafe(endpointUrl(t) ?? "")}), schedule '${t.backup.schedule}', retention ${t.backup.retention}`
    : "no backups";
  const operator = SIZES.cnpgOperator;
  const plugin = SIZES.barmanCloudPlugin;
  const pods = (label: string, n: number, r: { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } }) =>
    `${label} ${n} pod(s) (requests ${r.requests.cpu} CPU / ${r.requests.memory}, limits ${r.limits.cpu} CPU / ${r.limits.memory})`;
  return [
    `  database: CloudNativePG cluster ${t.name}, ${t.instances} instance(s) ${spread}, ${sync}; clients reach ${t.name}-rw, which follows the primary`,
    `  database backups: ${backup}`,
    `  database operator (namespace ${t.operatorNamespace}): ${pods("operator", CNPG_OPERATOR_REPLICAS, operator)}${t.backup ? `, ${pods("Barman Cloud plugin", 1, plugin)}` : ""}`,
  ];
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  return rows.map((r) => `  ${r.map((cell, col) => cell.padEnd(widths[col]!)).join("  ")}`.trimEnd());
}

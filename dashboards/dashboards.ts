/**
 * The platform's Grafana dashboards, each a function of config with a fixed uid (links and
 * bookmarks survive every deploy). Metric names come from the metrics contract.
 */
import { type Dashboard, type DashboardContext, ns, RATE, svc, timeseries } from "./common";
import { DATABASE_METRICS, METRICS, POOLER_METRICS } from "../config/metrics";

const M = METRICS;
const D = DATABASE_METRICS;
const by = (labels: string) => `sum by (${labels})`;

export function serviceOverview(ctx: DashboardContext): Dashboard {
  const s = svc(ctx);
  const quantile = (q: number) => ({
    expr: `histogram_quantile(${q}, ${by("service, le")} (rate(${M.httpDuration.name}_bucket{${s}}[${RATE}])))`,
    legend: `{{service}} p${Math.round(q * 100)}`,
  });
  return {
    uid: "agent-platform-overview",
    title: "Agent platform / Service overview",
    panels: [
      timeseries("Requests per second", "reqps", [{ expr: `${by("service")} (rate(${M.httpRequests.name}{${s}}[${RATE}]))`, legend: "{{service}}" }]),
      timeseries("Error ratio (5xx)", "percentunit", [
        {
          expr: `${by("service")} (rate(${M.httpRequests.name}{${s},status=~"5.."}[${RATE}])) / ${by("service")} (rate(${M.httpRequests.name}{${s}}[${RATE}]))`,
          legend: "{{service}}",
        },
      ]),
      timeseries("Latency p50 / p95 / p99", "s", [quantile(0.5), quantile(0.95), quantile(0.99)], 24),
    ],
  };
}

export function resources(ctx: DashboardContext): Dashboard {
  const n = ns(ctx);
  const container = `${n},container!="",container!="POD"`;
  return {
    uid: "agent-platform-resources",
    title: "Agent platform / Resources",
    panels: [
      timeseries("CPU used vs requested and limit (cores)", "short", [
        { expr: `${by("pod")} (rate(container_cpu_usage_seconds_total{${container}}[${RATE}]))`, legend: "{{pod}} used" },
        { expr: `${by("pod")} (kube_pod_container_resource_requests{${n},resource="cpu"})`, legend: "{{pod}} request" },
        { expr: `${by("pod")} (kube_pod_container_resource_limits{${n},resource="cpu"})`, legend: "{{pod}} limit" },
      ]),
      timeseries("Memory working set vs requested and limit", "bytes", [
        { expr: `${by("pod")} (container_memory_working_set_bytes{${container}})`, legend: "{{pod}} used" },
        { expr: `${by("pod")} (kube_pod_container_resource_requests{${n},resource="memory"})`, legend: "{{pod}} request" },
        { expr: `${by("pod")} (kube_pod_container_resource_limits{${n},resource="memory"})`, legend: "{{pod}} limit" },
      ]),
      timeseries("Replicas vs HPA bounds", "short", [
        { expr: `${by("deployment")} (kube_deployment_status_replicas_available{${n}})`, legend: "{{deployment}} available" },
        { expr: `${by("horizontalpodautoscaler")} (kube_horizontalpodautoscaler_spec_min_replicas{${n}})`, legend: "{{horizontalpodautoscaler}} min" },
        { expr: `${by("horizontalpodautoscaler")} (kube_horizontalpodautoscaler_spec_max_replicas{${n}})`, legend: "{{horizontalpodautoscaler}} max" },
      ], 24),
    ],
  };
}

export function businessKpis(ctx: DashboardContext): Dashboard {
  const n = ns(ctx);
  return {
    uid: "agent-platform-business",
    title: "Agent platform / Business KPIs",
    panels: [
      timeseries("Agent runs per minute by status", "short", [{ expr: `${by("status")} (rate(${M.agentRuns.name}{${n}}[${RATE}])) * 60`, legend: "{{status}}" }]),
      timeseries("Agent run success ratio", "percentunit", [
        { expr: `sum (rate(${M.agentRuns.name}{${n},status="succeeded"}[${RATE}])) / sum (rate(${M.agentRuns.name}{${n}}[${RATE}]))`, legend: "succeeded" },
      ]),
      timeseries("Model calls per minute by provider and model", "short", [
        { expr: `${by("provider, model")} (rate(${M.modelCalls.name}{${n}}[${RATE}])) * 60`, legend: "{{provider}}/{{model}}" },
      ]),
      timeseries("Tool invocations per minute by tool", "short", [{ expr: `${by("tool")} (rate(${M.toolInvocations.name}{${n}}[${RATE}])) * 60`, legend: "{{tool}}" }]),
    ],
  };
}

export function rateLimiting(ctx: DashboardContext): Dashboard {
  const s = svc(ctx);
  return {
    uid: "agent-platform-rate-limits",
    title: "Agent platform / Rate limiting",
    panels: [
      timeseries("Decisions per second by tier", "reqps", [
        { expr: `${by("service, tier, decision")} (rate(${M.rateLimitDecisions.name}{${s}}[${RATE}]))`, legend: "{{service}} {{tier}} {{decision}}" },
      ], 24),
      timeseries("Rejection ratio", "percentunit", [
        {
          expr: `${by("service")} (rate(${M.rateLimitDecisions.name}{${s},decision="rejected"}[${RATE}])) / ${by("service")} (rate(${M.rateLimitDecisions.name}{${s}}[${RATE}]))`,
          legend: "{{service}}",
        },
      ], 24),
    ],
  };
}

export function databasePool(ctx: DashboardContext): Dashboard {
  const s = svc(ctx);
  const n = ns(ctx);
  return {
    uid: "agent-platform-db-pool",
    title: "Agent platform / Database pool",
    panels: [
      timeseries("Connections in use vs pool maximum", "short", [
        { expr: `${by("service")} (${M.dbPoolConnections.name}{${s},state="in_use"})`, legend: "{{service}} in use" },
        { expr: `${by("service")} (${M.dbPoolMax.name}{${s}})`, legend: "{{service}} max" },
      ]),
      timeseries("Acquisition wait p95", "s", [
        { expr: `histogram_quantile(0.95, ${by("service, le")} (rate(${M.dbPoolWait.name}_bucket{${s}}[${RATE}])))`, legend: "{{service}}" },
      ]),
      timeseries("Acquisition timeouts per second", "short", [{ expr: `${by("service")} (rate(${M.dbPoolTimeouts.name}{${s}}[${RATE}]))`, legend: "{{service}}" }]),
      ctx.database?.kind === "cloudnative-pg"
        ? timeseries("Postgres backends vs max_connections, per instance", "short", [
            { expr: `sum by (pod) (${D.backends.name}{${n}})`, legend: "{{pod}} backends" },
            { expr: `max (${D.setting.name}{${n},name="max_connections"})`, legend: "max_connections" },
          ])
        : timeseries("Postgres backends vs max_connections", "short", [
            { expr: `sum (pg_stat_database_numbackends{${n}})`, legend: "backends" },
            { expr: `max (pg_settings_max_connections{${n}})`, legend: "max_connections" },
          ]),
      ...(ctx.pooler ? poolerRow(ctx) : []),
    ],
  };
}

/** PgBouncer's pools: clients served and waiting, server connections in use and idle, waits. */
function poolerRow(ctx: DashboardContext) {
  const n = ns(ctx);
  const P = POOLER_METRICS;
  return [
    timeseries("PgBouncer clients: active vs waiting", "short", [
      { expr: `sum by (database) (${P.clientActive.name}{${n}})`, legend: "{{database}} active" },
      { expr: `sum by (database) (${P.clientWaiting.name}{${n}})`, legend: "{{database}} waiting" },
    ]),
    timeseries("PgBouncer server connections: active vs idle", "short", [
      { expr: `sum by (database) (${P.serverActive.name}{${n}})`, legend: "{{database}} active" },
      { expr: `sum by (database) (${P.serverIdle.name}{${n}})`, legend: "{{database}} idle" },
    ]),
    timeseries("PgBouncer client wait", "s", [
      { expr: `max by (database) (${P.clientMaxWait.name}{${n}})`, legend: "{{database}} oldest waiting" },
      { expr: `sum by (database) (rate(${P.clientWaitTime.name}{${n}}[${RATE}]))`, legend: "{{database}} wait s/s" },
    ]),
    timeseries("PgBouncer transactions per second", "ops", [{ expr: `sum by (database) (rate(${P.transactions.name}{${n}}[${RATE}]))`, legend: "{{database}}" }]),
  ];
}

export function redisCache(ctx: DashboardContext): Dashboard {
  const s = svc(ctx);
  const n = ns(ctx);
  return {
    uid: "agent-platform-redis-cache",
    title: "Agent platform / Redis cache",
    panels: [
      timeseries("Hit ratio by service and key class", "percentunit", [
        {
          expr: `${by("service, class")} (rate(${M.cacheRequests.name}{${s},result="hit"}[${RATE}])) / ${by("service, class")} (rate(${M.cacheRequests.name}{${s}}[${RATE}]))`,
          legend: "{{service}} {{class}}",
        },
      ], 24),
      timeseries("Redis memory used vs maxmemory", "bytes", [
        { expr: `max (redis_memory_used_bytes{${n}})`, legend: "used" },
        { expr: `max (redis_memory_max_bytes{${n}})`, legend: "maxmemory" },
      ]),
      timeseries("Redis commands per second", "ops", [{ expr: `sum (rate(redis_commands_processed_total{${n}}[${RATE}]))`, legend: "commands" }]),
    ],
  };
}

/**
 * A CloudNativePG cluster: who is primary (a failover shows as a role change), replication lag in
 * time and bytes, synchronous standbys, WAL archiving, and backup freshness (the recovery window).
 */
export function database(ctx: DashboardContext): Dashboard {
  const n = ns(ctx);
  const backups = ctx.database?.kind === "cloudnative-pg" && ctx.database.backups;
  return {
    uid: "agent-platform-database",
    title: "Agent platform / Database (CloudNativePG)",
    panels: [
      timeseries("Primary (1) and standbys (0) per instance", "short", [{ expr: `1 - max by (pod) (${D.inRecovery.name}{${n}})`, legend: "{{pod}}" }]),
      timeseries("Failovers and switchovers (role changes, 1h)", "short", [{ expr: `sum by (pod) (changes(${D.inRecovery.name}{${n}}[1h]))`, legend: "{{pod}}" }]),
      timeseries("Replication lag (replay, seconds)", "s", [{ expr: `max by (pod) (${D.replicationLag.name}{${n}})`, legend: "{{pod}}" }]),
      timeseries("Replication lag (bytes not replayed, per standby)", "bytes", [{ expr: `max by (application_name) (${D.replayLagBytes.name}{${n}})`, legend: "{{application_name}}" }]),
      timeseries("Synchronous standbys: expected vs observed", "short", [
        { expr: `max by (value) (${D.syncReplicas.name}{${n},value=~"expected|observed"})`, legend: "{{value}}" },
        { expr: `max (${D.streamingReplicas.name}{${n}})`, legend: "streaming" },
      ]),
      ...(backups
        ? [
            timeseries("WAL archived and failed per minute", "short", [
              { expr: `sum (rate(${D.archived.name}{${n}}[${RATE}])) * 60`, legend: "archived" },
              { expr: `sum (rate(${D.archiveFailures.name}{${n}}[${RATE}])) * 60`, legend: "failed" },
            ]),
            timeseries("WAL waiting to be archived (segments)", "short", [{ expr: `max by (pod) (${D.walAwaitingArchive.name}{${n},value="ready"})`, legend: "{{pod}}" }]),
            timeseries("Backup freshness: age of the last base backup, and of the recovery window's start", "s", [
              { expr: `time() - max (${D.lastBackup.name}{${n}})`, legend: "last base backup" },
              { expr: `time() - max (${D.firstRecoverabilityPoint.name}{${n}})`, legend: "earliest restorable point" },
            ]),
          ]
        : []),
    ],
  };
}

/** Every dashboard the platform provisions, in display order. */
export function platformDashboards(ctx: DashboardContext): Dashboard[] {
  const all = [serviceOverview, resources, businessKpis, rateLimiting, databasePool, redisCache].map((d) => d(ctx));
  return ctx.database?.kind === "cloudnative-pg" ? [...all, database(ctx)] : all;
}

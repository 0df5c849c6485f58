/**
 * The metrics contract: every metric name and label the dashboards, alerts and HPAs read, defined
 * once. Services expose these on `GET /metrics` of their `http` port (Prometheus text format);
 * the scrape adds `namespace`, `service` and `pod`. The metrics table in docs/design.md is this list.
 */

export interface MetricDefinition {
  readonly name: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly labels: readonly string[];
  readonly help: string;
  /** Histogram buckets, seconds. */
  readonly buckets?: readonly number[];
}

export const METRICS = {
  httpRequests: {
    name: "http_requests_total",
    type: "counter",
    labels: ["method", "route", "status"],
    help: "HTTP requests served, by route template (not raw path) and status code.",
  },
  httpDuration: {
    name: "http_request_duration_seconds",
    type: "histogram",
    labels: ["method", "route"],
    help: "Time from request received to response sent.",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  },
  rateLimitDecisions: {
    name: "rate_limit_decisions_total",
    type: "counter",
    labels: ["tier", "decision"],
    help: "Rate-limit decisions; decision is allowed or rejected.",
  },
  dbPoolConnections: {
    name: "db_pool_connections",
    type: "gauge",
    labels: ["state"],
    help: "Connections in this process's pool; state is in_use or idle.",
  },
  dbPoolMax: { name: "db_pool_max_connections", type: "gauge", labels: [], help: "The pool's maximum (PLATFORM_DATABASE_POOL_MAX)." },
  dbPoolWait: {
    name: "db_pool_wait_seconds",
    type: "histogram",
    labels: [],
    help: "Time spent waiting to acquire a connection.",
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
  },
  dbPoolTimeouts: { name: "db_pool_timeouts_total", type: "counter", labels: [], help: "Acquisitions that hit the pool timeout." },
  cacheRequests: {
    name: "cache_requests_total",
    type: "counter",
    labels: ["class", "result"],
    help: "Cache lookups by key class; result is hit or miss.",
  },
  queueLength: { name: "queue_length", type: "gauge", labels: ["queue"], help: "Work items waiting in this pod's queue." },
  agentRuns: { name: "agent_runs_total", type: "counter", labels: ["status"], help: "Agent runs finished; status is succeeded or failed." },
  modelCalls: { name: "model_calls_total", type: "counter", labels: ["provider", "model", "status"], help: "Calls to model providers." },
  toolInvocations: { name: "tool_invocations_total", type: "counter", labels: ["tool", "status"], help: "Tool invocations." },
} as const satisfies Record<string, MetricDefinition>;

/**
 * prometheus-adapter rules for the custom metrics API, one per metric an HPA may name. Each is a
 * `Pods` metric: the adapter averages it per pod of the HPA's target.
 * @see https://github.com/kubernetes-sigs/prometheus-adapter/blob/master/docs/config.md
 */
export interface AdapterRule {
  readonly seriesQuery: string;
  readonly resources: { readonly overrides: Record<string, { readonly resource: string }> };
  readonly name: { readonly matches: string; readonly as: string };
  readonly metricsQuery: string;
}

const podResources = { overrides: { namespace: { resource: "namespace" }, pod: { resource: "pod" } } };

export const HPA_METRIC_RULES: Readonly<Record<string, AdapterRule>> = {
  queue_length: {
    seriesQuery: `${METRICS.queueLength.name}{namespace!="",pod!=""}`,
    resources: podResources,
    name: { matches: `^${METRICS.queueLength.name}$`, as: "queue_length" },
    metricsQuery: "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
  },
  http_requests_per_second: {
    seriesQuery: `${METRICS.httpRequests.name}{namespace!="",pod!=""}`,
    resources: podResources,
    name: { matches: `^${METRICS.httpRequests.name}$`, as: "http_requests_per_second" },
    metricsQuery: "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)",
  },
  http_request_duration_seconds_p95: {
    seriesQuery: `${METRICS.httpDuration.name}_bucket{namespace!="",pod!=""}`,
    resources: podResources,
    name: { matches: `^${METRICS.httpDuration.name}_bucket$`, as: "http_request_duration_seconds_p95" },
    metricsQuery: "histogram_quantile(0.95, sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (le, <<.GroupBy>>))",
  },
};

/** Metric names the custom metrics API serves once the adapter runs with these rules. */
export const SERVED_HPA_METRICS: readonly string[] = Object.keys(HPA_METRIC_RULES);

/** A metric the PgBouncer exporter derives from PgBouncer's admin console. */
export interface PoolerMetricDefinition extends MetricDefinition {
  /** `SHOW POOLS` or `SHOW STATS`, and the column the value comes from. */
  readonly source: { readonly command: "SHOW POOLS" | "SHOW STATS"; readonly column: string };
}

/**
 * Pool statistics: what prometheus-community's pgbouncer_exporter (pinned in config/versions.ts)
 * exposes, each from one column of PgBouncer's admin console. The real-server tests read these
 * columns from Debian's pgbouncer; the dashboard row and the alert read these names.
 * @see https://www.pgbouncer.org/usage.html#show-pools
 */
export const POOLER_METRICS = {
  clientActive: {
    name: "pgbouncer_pools_client_active_connections",
    type: "gauge",
    labels: ["database", "user"],
    help: "Client connections linked to a server connection and able to run queries.",
    source: { command: "SHOW POOLS", column: "cl_active" },
  },
  clientWaiting: {
    name: "pgbouncer_pools_client_waiting_connections",
    type: "gauge",
    labels: ["database", "user"],
    help: "Client connections that sent a query and wait for a server connection.",
    source: { command: "SHOW POOLS", column: "cl_waiting" },
  },
  serverActive: {
    name: "pgbouncer_pools_server_active_connections",
    type: "gauge",
    labels: ["database", "user"],
    help: "Server connections linked to a client.",
    source: { command: "SHOW POOLS", column: "sv_active" },
  },
  serverIdle: {
    name: "pgbouncer_pools_server_idle_connections",
    type: "gauge",
    labels: ["database", "user"],
    help: "Server connections idle and ready for a client's query.",
    source: { command: "SHOW POOLS", column: "sv_idle" },
  },
  clientMaxWait: {
    name: "pgbouncer_pools_client_maxwait_seconds",
    type: "gauge",
    labels: ["database", "user"],
    help: "Age of the oldest unserved client connection.",
    source: { command: "SHOW POOLS", column: "maxwait" },
  },
  clientWaitTime: {
    name: "pgbouncer_stats_client_wait_seconds_total",
    type: "counter",
    labels: ["database"],
    help: "Time clients spent waiting for a server connection.",
    source: { command: "SHOW STATS", column: "total_wait_time" },
  },
  transactions: {
    name: "pgbouncer_stats_sql_transactions_pooled_total",
    type: "counter",
    labels: ["database"],
    help: "SQL transactions pooled.",
    source: { command: "SHOW STATS", column: "total_xact_count" },
  },
} as const satisfies Record<string, PoolerMetricDefinition>;

/** The metrics APIs an HPA reads from. */
export const METRICS_APIS = ["metrics.k8s.io", "custom.metrics.k8s.io", "external.metrics.k8s.io"] as const;
export type MetricsApi = (typeof METRICS_APIS)[number];

export interface MetricsApiPlan {
  /** What reads each API: `cpu`, `memory` and the custom metric names. */
  readonly needs: Readonly<Record<MetricsApi, readonly string[]>>;
  /** Who serves each API: the cluster (declared in config) and the stack's own releases. */
  readonly providers: Readonly<Record<MetricsApi, readonly string[]>>;
  /** The stack installs metrics-server (metrics.k8s.io). */
  readonly metricsServer: boolean;
  /** The stack installs prometheus-adapter with custom rules (custom.metrics.k8s.io only). */
  readonly adapter: boolean;
}

/**
 * Who serves the metrics every HPA reads. Every HPA reads CPU and memory (metrics.k8s.io):
 * metrics-server serves them, unless the cluster already does (a managed metrics-server).
 * Custom metrics (custom.metrics.k8s.io) need prometheus-adapter with this contract's rules,
 * which nothing else has; where the cluster declares its own custom metrics API, the two cannot
 * both be registered. The adapter registers no external metrics API (its external rules are
 * empty), so KEDA's stays the only one.
 */
export function metricsApiPlan(input: { readonly autoscaling: boolean; readonly customMetrics: readonly string[]; readonly clusterApis: readonly MetricsApi[] }): MetricsApiPlan {
  const cluster = new Set(input.clusterApis);
  const custom = input.autoscaling ? [...new Set(input.customMetrics)].sort() : [];
  const metricsServer = input.autoscaling && !cluster.has("metrics.k8s.io");
  const adapter = custom.length > 0;
  const byCluster = (api: MetricsApi) => (cluster.has(api) ? ["the cluster"] : []);
  return {
    needs: { "metrics.k8s.io": input.autoscaling ? ["cpu", "memory"] : [], "custom.metrics.k8s.io": custom, "external.metrics.k8s.io": [] },
    providers: {
      "metrics.k8s.io": [...byCluster("metrics.k8s.io"), ...(metricsServer ? ["metrics-server"] : [])],
      "custom.metrics.k8s.io": [...byCluster("custom.metrics.k8s.io"), ...(adapter ? ["prometheus-adapter"] : [])],
      "external.metrics.k8s.io": byCluster("external.metrics.k8s.io"),
    },
    metricsServer,
    adapter,
  };
}

/** A CloudNativePG metric, with where its value comes from. */
export interface DatabaseMetricDefinition extends MetricDefinition {
  /**
   * `query <name>.<column>`: one of the operator's default monitoring queries (its chart's
   * `cnpg-default-monitoring` ConfigMap), exposed as `cnpg_<name>_<column>`; `collector`: the
   * instance manager's own; `plugin`: the Barman Cloud plugin's, through the instance manager.
   */
  readonly source: string;
}

/**
 * What every CloudNativePG instance exposes on its metrics port (9187), as the database alerts and
 * dashboard read it; the pod monitor adds `namespace` and `pod`. Names as CloudNativePG 1.30 and
 * plugin-barman-cloud 0.13 define them (pkg/management/postgres/webserver/metricserver,
 * internal/cnpgi/instance/metrics.go).
 */
export const DATABASE_METRICS = {
  replicationLag: {
    name: "cnpg_pg_replication_lag",
    type: "gauge",
    labels: [],
    help: "Seconds this standby's replay is behind the last transaction it received (0 on the primary and on a caught-up standby).",
    source: "query pg_replication.lag",
  },
  inRecovery: { name: "cnpg_pg_replication_in_recovery", type: "gauge", labels: [], help: "1 on a standby, 0 on the primary.", source: "query pg_replication.in_recovery" },
  streamingReplicas: {
    name: "cnpg_pg_replication_streaming_replicas",
    type: "gauge",
    labels: [],
    help: "Standbys streaming from this instance (the primary's count).",
    source: "query pg_replication.streaming_replicas",
  },
  replayLagBytes: {
    name: "cnpg_pg_stat_replication_replay_diff_bytes",
    type: "gauge",
    labels: ["application_name"],
    help: "Bytes of WAL the primary wrote that a standby (application_name) has not replayed.",
    source: "query pg_stat_replication.replay_diff_bytes",
  },
  syncReplicas: {
    name: "cnpg_collector_sync_replicas",
    type: "gauge",
    labels: ["value"],
    help: "Synchronous standbys: value=expected (configured) and observed (in synchronous_standby_names).",
    source: "collector",
  },
  archived: { name: "cnpg_pg_stat_archiver_archived_count", type: "counter", labels: [], help: "WAL files archived (the primary's).", source: "query pg_stat_archiver.archived_count" },
  archiveFailures: { name: "cnpg_pg_stat_archiver_failed_count", type: "counter", labels: [], help: "Failed attempts to archive a WAL file.", source: "query pg_stat_archiver.failed_count" },
  lastArchivedTime: {
    name: "cnpg_pg_stat_archiver_last_archived_time",
    type: "gauge",
    labels: [],
    help: "Unix time of the last WAL file archived (-1: never).",
    source: "query pg_stat_archiver.last_archived_time",
  },
  lastFailedTime: {
    name: "cnpg_pg_stat_archiver_last_failed_time",
    type: "gauge",
    labels: [],
    help: "Unix time of the last failed archiving attempt (-1: never).",
    source: "query pg_stat_archiver.last_failed_time",
  },
  walAwaitingArchive: {
    name: "cnpg_collector_pg_wal_archive_status",
    type: "gauge",
    labels: ["value"],
    help: "WAL segments in pg_wal/archive_status: value=ready (waiting to be archived) or done.",
    source: "collector",
  },
  backends: { name: "cnpg_backends_total", type: "gauge", labels: ["datname", "usename", "application_name", "state"], help: "Server connections.", source: "query backends.total" },
  setting: { name: "cnpg_pg_settings_setting", type: "gauge", labels: ["name"], help: "A numeric setting (name=max_connections, …).", source: "query pg_settings.setting" },
  lastBackup: {
    name: "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp",
    type: "gauge",
    labels: [],
    help: "Unix time of the last successful base backup in the object store (0: none).",
    source: "plugin",
  },
  firstRecoverabilityPoint: {
    name: "barman_cloud_cloudnative_pg_io_first_recoverability_point",
    type: "gauge",
    labels: [],
    help: "Unix time of the earliest point the cluster can be restored to (0: none).",
    source: "plugin",
  },
  lastFailedBackup: {
    name: "barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp",
    type: "gauge",
    labels: [],
    help: "Unix time of the last failed base backup (0: none).",
    source: "plugin",
  },
} as const satisfies Record<string, DatabaseMetricDefinition>;

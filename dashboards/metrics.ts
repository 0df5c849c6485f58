/**
 * The metrics contract: every metric name and label the dashboards, alerts and HPAs read, defined
 * once. Services expose these on `GET /metrics` of their `http` port (Prometheus text format);
 * the scrape adds `namespace`, `service` and `pod`. The README's metrics table is this list.
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

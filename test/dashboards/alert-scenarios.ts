/**
 * One firing and one quiet scenario per platform alert, at production's thresholds, and the
 * promtool unit tests built from them. Shared by the alert tests (the rules as this program builds
 * them), the chart tests (the PrometheusRule helm renders) and the e2e (the PrometheusRule the API
 * server admitted and stores): the same scenarios, whatever copy of the rules is under test.
 */
import { rmSync } from "node:fs";
import { stringify } from "yaml";
import type { AlertName } from "../../dashboards/alerts";
import { tool, writeFiles } from "./tools";

export interface Series {
  readonly series: string;
  readonly values: string;
}
export interface Scenario {
  readonly alert: AlertName;
  readonly evalTime: string;
  /** Labels the firing alert carries besides alertname. */
  readonly labels: Record<string, string>;
  readonly firing: Series[];
  readonly quiet: Series[];
}

/**
 * One scenario per alert, for the rules of `config`'s namespace at production's thresholds (the
 * series name two of its services).
 */
export function alertScenarios(config: { readonly namespace: string; readonly services: readonly { readonly name: string }[] }): Scenario[] {
  const NS = config.namespace;
  const n = `namespace="${NS}"`;
  /** Label values of the scenarios' series: two services of the catalogue (the rules select by namespace, not by name). */
  const SERVICE = config.services[0]!.name;
  const OTHER = config.services[config.services.length - 1]!.name;
  const gw = `${n},service="${SERVICE}"`;

  return [
    {
      alert: "AgentPlatformHighErrorRatio",
      evalTime: "15m",
      labels: { severity: "critical", namespace: NS, service: SERVICE },
      firing: [
        { series: `http_requests_total{${gw},status="500"}`, values: "0+10x30" },
        { series: `http_requests_total{${gw},status="200"}`, values: "0+90x30" },
      ],
      quiet: [
        { series: `http_requests_total{${gw},status="500"}`, values: "0+1x30" },
        { series: `http_requests_total{${gw},status="200"}`, values: "0+99x30" },
      ],
    },
    {
      alert: "AgentPlatformHighLatencyP95",
      evalTime: "20m",
      labels: { severity: "warning", namespace: NS, service: SERVICE },
      firing: [
        { series: `http_request_duration_seconds_bucket{${gw},le="1"}`, values: "0x30" },
        { series: `http_request_duration_seconds_bucket{${gw},le="2.5"}`, values: "0x30" },
        { series: `http_request_duration_seconds_bucket{${gw},le="5"}`, values: "0+10x30" },
        { series: `http_request_duration_seconds_bucket{${gw},le="+Inf"}`, values: "0+10x30" },
      ],
      quiet: [
        { series: `http_request_duration_seconds_bucket{${gw},le="1"}`, values: "0+10x30" },
        { series: `http_request_duration_seconds_bucket{${gw},le="2.5"}`, values: "0+10x30" },
        { series: `http_request_duration_seconds_bucket{${gw},le="5"}`, values: "0+10x30" },
        { series: `http_request_duration_seconds_bucket{${gw},le="+Inf"}`, values: "0+10x30" },
      ],
    },
    {
      alert: "AgentPlatformPodCrashLooping",
      evalTime: "16m",
      labels: { severity: "warning", namespace: NS, pod: `${SERVICE}-7d9f`, container: "app" },
      firing: [{ series: `kube_pod_container_status_restarts_total{${n},pod="${SERVICE}-7d9f",container="app"}`, values: "0+1x30" }],
      quiet: [{ series: `kube_pod_container_status_restarts_total{${n},pod="${SERVICE}-7d9f",container="app"}`, values: "0x30" }],
    },
    {
      alert: "AgentPlatformReplicasUnavailable",
      evalTime: "15m",
      labels: { severity: "warning", namespace: NS, deployment: SERVICE },
      firing: [{ series: `kube_deployment_status_replicas_unavailable{${n},deployment="${SERVICE}"}`, values: "1x30" }],
      quiet: [{ series: `kube_deployment_status_replicas_unavailable{${n},deployment="${SERVICE}"}`, values: "0x30" }],
    },
    {
      alert: "AgentPlatformHpaAtMaxReplicas",
      evalTime: "20m",
      labels: { severity: "warning", namespace: NS, horizontalpodautoscaler: OTHER },
      firing: [
        { series: `kube_horizontalpodautoscaler_status_current_replicas{${n},horizontalpodautoscaler="${OTHER}"}`, values: "12x30" },
        { series: `kube_horizontalpodautoscaler_spec_max_replicas{${n},horizontalpodautoscaler="${OTHER}"}`, values: "12x30" },
      ],
      quiet: [
        { series: `kube_horizontalpodautoscaler_status_current_replicas{${n},horizontalpodautoscaler="${OTHER}"}`, values: "6x30" },
        { series: `kube_horizontalpodautoscaler_spec_max_replicas{${n},horizontalpodautoscaler="${OTHER}"}`, values: "12x30" },
      ],
    },
    {
      alert: "AgentPlatformQueueGrowing",
      evalTime: "40m",
      labels: { severity: "warning", namespace: NS, service: OTHER },
      firing: [{ series: `queue_length{${n},service="${OTHER}",pod="${OTHER}-1",queue="runs"}`, values: "100+5x60" }],
      // Long, but draining: no alert.
      quiet: [{ series: `queue_length{${n},service="${OTHER}",pod="${OTHER}-1",queue="runs"}`, values: "500-2x60" }],
    },
    {
      alert: "AgentPlatformRateLimitRejectionsSurging",
      evalTime: "20m",
      labels: { severity: "warning", namespace: NS, service: SERVICE },
      firing: [
        { series: `rate_limit_decisions_total{${gw},tier="default",decision="rejected"}`, values: "0+30x30" },
        { series: `rate_limit_decisions_total{${gw},tier="default",decision="allowed"}`, values: "0+70x30" },
      ],
      quiet: [
        { series: `rate_limit_decisions_total{${gw},tier="default",decision="rejected"}`, values: "0+5x30" },
        { series: `rate_limit_decisions_total{${gw},tier="default",decision="allowed"}`, values: "0+95x30" },
      ],
    },
    {
      alert: "AgentPlatformPostgresConnectionsNearLimit",
      evalTime: "10m",
      labels: { severity: "warning", namespace: NS },
      firing: [
        { series: `pg_stat_database_numbackends{${n},datname="agent_platform"}`, values: "700x20" },
        { series: `pg_settings_max_connections{${n}}`, values: "800x20" },
      ],
      quiet: [
        { series: `pg_stat_database_numbackends{${n},datname="agent_platform"}`, values: "100x20" },
        { series: `pg_settings_max_connections{${n}}`, values: "800x20" },
      ],
    },
    {
      alert: "AgentPlatformRedisMemoryHigh",
      evalTime: "10m",
      labels: { severity: "warning", namespace: NS },
      firing: [
        { series: `redis_memory_used_bytes{${n}}`, values: "1500000000x20" },
        { series: `redis_memory_max_bytes{${n}}`, values: "1610612736x20" },
      ],
      quiet: [
        { series: `redis_memory_used_bytes{${n}}`, values: "100000000x20" },
        { series: `redis_memory_max_bytes{${n}}`, values: "1610612736x20" },
      ],
    },
    {
      alert: "AgentPlatformPgbouncerClientsWaiting",
      evalTime: "10m",
      labels: { severity: "warning", namespace: NS, database: "agent_platform" },
      firing: [
        { series: `pgbouncer_pools_client_waiting_connections{${n},database="agent_platform",user="agent_platform",pod="pgbouncer-0"}`, values: "12x20" },
        { series: `pgbouncer_pools_client_maxwait_seconds{${n},database="agent_platform",user="agent_platform",pod="pgbouncer-0"}`, values: "3x20" },
      ],
      // Clients queue briefly under load (transaction pooling does that), but nobody waits long.
      quiet: [
        { series: `pgbouncer_pools_client_waiting_connections{${n},database="agent_platform",user="agent_platform",pod="pgbouncer-0"}`, values: "12x20" },
        { series: `pgbouncer_pools_client_maxwait_seconds{${n},database="agent_platform",user="agent_platform",pod="pgbouncer-0"}`, values: "0x20" },
      ],
    },
  ];
}

/** A rule group as promtool reads it. */
export interface RuleGroupLike {
  readonly name: string;
  readonly rules: readonly object[];
}

/** The scenario as promtool unit tests: the alert fires on `firing`, and not on `quiet`. */
export function scenarioTests(s: Scenario): unknown[] {
  const alertTest = (input: Series[], firing: boolean) => ({
    interval: "1m",
    input_series: input,
    alert_rule_test: [{ eval_time: s.evalTime, alertname: s.alert, exp_alerts: firing ? [{ exp_labels: s.labels }] : [] }],
  });
  return [alertTest(s.firing, true), alertTest(s.quiet, false)];
}

/**
 * `promtool test rules` over `groups` (annotations left out: the tests assert expressions,
 * durations and labels) with the given tests.
 */
export function runUnitTests(groups: readonly RuleGroupLike[], tests: unknown[]): { status: number; output: string } {
  const rules = stringify({ groups: groups.map((g) => ({ name: g.name, rules: g.rules.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== "annotations"))) })) });
  const dir = writeFiles({ "rules.yaml": rules, "tests.yaml": stringify({ rule_files: ["rules.yaml"], evaluation_interval: "1m", tests }) });
  try {
    return tool("promtool", ["test", "rules", "tests.yaml"], dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

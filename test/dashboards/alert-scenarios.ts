/**
 * One firing and one quiet scenario per platform alert, at production's thresholds, and the
 * promtool unit tests built from them. Shared by the alert tests (the rules as this program builds
 * them), the chart tests (the PrometheusRule helm renders) and the e2e (the PrometheusRule the API
 * server admitted and stores): the same scenarios, whatever copy of the rules is under test.
 */
import { rmSync } from "node:fs";
import { stringify } from "yaml";
import type { PlatformConfig } from "../../config/types";
import { monitoredDatabase } from "../../constructs/monitoring-values";
import type { AlertName } from "../../dashboards/alerts";
import type { MonitoredDatabase } from "../../dashboards/selectors";
import { tool, writeFiles } from "./tools";

export interface Series {
  readonly series: string;
  readonly values: string;
}
export interface Scenario {
  readonly alert: AlertName;
  /** Between samples. @default 1m */
  readonly interval?: string;
  readonly evalTime: string;
  /** Labels the firing alert carries besides alertname. */
  readonly labels: Record<string, string>;
  readonly firing: Series[];
  readonly quiet: Series[];
}

/**
 * One scenario per alert, for the rules of `config`'s namespace at production's thresholds (the
 * series name two of its services), over `database`: the database alerts read postgres_exporter's
 * metrics beside a StatefulSet and the instances' own in a CloudNativePG cluster, and a cluster
 * has lag, archiving and backup alerts only where it has standbys and backups.
 */
export function alertScenarios(config: PlatformConfig, database: MonitoredDatabase = monitoredDatabase(config)): Scenario[] {
  const NS = config.namespace;
  const t = config.monitoring.thresholds;
  const n = `namespace="${NS}"`;
  /** Label values of the scenarios' series: two services of the catalogue (the rules select by namespace, not by name). */
  const SERVICE = config.services[0]!.name;
  const OTHER = config.services[config.services.length - 1]!.name;
  const gw = `${n},service="${SERVICE}"`;

  const STATEFULSET_CONNECTIONS: Scenario = {
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
  };

  /** The instances' metrics, pod by pod; lag only with standbys, archiving and backups only with backups. */
  function clusterScenarios(db: Extract<MonitoredDatabase, { kind: "cloudnative-pg" }>): Scenario[] {
    const p1 = `${db.cluster}-1`;
    const p2 = `${db.cluster}-2`;
    return [
      {
        alert: "AgentPlatformPostgresConnectionsNearLimit",
        evalTime: "10m",
        labels: { severity: "warning", namespace: NS, pod: p1 },
        firing: [
          { series: `cnpg_backends_total{${n},pod="${p1}",datname="agent_platform",usename="agent_platform",application_name="",state="active"}`, values: "120x20" },
          { series: `cnpg_backends_total{${n},pod="${p1}",datname="agent_platform",usename="agent_platform",application_name="",state="idle"}`, values: "50x20" },
          { series: `cnpg_pg_settings_setting{${n},pod="${p1}",name="max_connections"}`, values: "200x20" },
        ],
        quiet: [
          { series: `cnpg_backends_total{${n},pod="${p1}",datname="agent_platform",usename="agent_platform",application_name="",state="active"}`, values: "100x20" },
          { series: `cnpg_pg_settings_setting{${n},pod="${p1}",name="max_connections"}`, values: "200x20" },
        ],
      },
      ...(db.instances > 1
        ? [
            {
              alert: "AgentPlatformPostgresReplicationLagHigh",
              evalTime: "10m",
              labels: { severity: "warning", namespace: NS, pod: p2 },
              firing: [
                { series: `cnpg_pg_replication_lag{${n},pod="${p2}"}`, values: `${t.replicationLagSeconds + 15}x20` },
                { series: `cnpg_pg_replication_lag{${n},pod="${p1}"}`, values: "0x20" },
              ],
              quiet: [
                { series: `cnpg_pg_replication_lag{${n},pod="${p2}"}`, values: "2x20" },
                { series: `cnpg_pg_replication_lag{${n},pod="${p1}"}`, values: "0x20" },
              ],
            } satisfies Scenario,
          ]
        : []),
      ...(db.backups
        ? [
            {
              alert: "AgentPlatformPostgresWalArchivingFailing",
              evalTime: "12m",
              labels: { severity: "critical", namespace: NS, pod: p1 },
              // Every attempt fails (a wrong credential): failures pile up, the last success stays old.
              firing: [
                { series: `cnpg_pg_stat_archiver_last_failed_time{${n},pod="${p1}"}`, values: "1000+60x20" },
                { series: `cnpg_pg_stat_archiver_last_archived_time{${n},pod="${p1}"}`, values: "900x20" },
                { series: `cnpg_pg_stat_archiver_failed_count{${n},pod="${p1}"}`, values: "0+1x20" },
              ],
              // One failure long ago, archiving fine since.
              quiet: [
                { series: `cnpg_pg_stat_archiver_last_failed_time{${n},pod="${p1}"}`, values: "500x20" },
                { series: `cnpg_pg_stat_archiver_last_archived_time{${n},pod="${p1}"}`, values: "1000+60x20" },
                { series: `cnpg_pg_stat_archiver_failed_count{${n},pod="${p1}"}`, values: "3x20" },
              ],
            } satisfies Scenario,
            {
              alert: "AgentPlatformPostgresBackupStale",
              // time() in promtool starts at 0: hours of samples, evaluated past the threshold.
              interval: "1h",
              evalTime: `${t.backupMaxAgeHours + 2}h`,
              labels: { severity: "critical", namespace: NS },
              // The last successful backup is the one at hour 0.
              firing: [{ series: `barman_cloud_cloudnative_pg_io_last_available_backup_timestamp{${n},pod="${p1}"}`, values: "0x40" }],
              // A backup every hour.
              quiet: [{ series: `barman_cloud_cloudnative_pg_io_last_available_backup_timestamp{${n},pod="${p1}"}`, values: "0+3600x40" }],
            } satisfies Scenario,
          ]
        : []),
    ];
  }

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
    ...(database.kind === "statefulset" ? [STATEFULSET_CONNECTIONS] : clusterScenarios(database)),
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
    interval: s.interval ?? "1m",
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

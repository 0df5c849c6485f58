/**
 * Alert rules, monitoring-mixin style: component-prefixed CamelCase names, a severity, a summary,
 * a description and a runbook URL each; every threshold comes from config (`monitoring.thresholds`).
 * The same groups are delivered through kube-prometheus-stack's `additionalPrometheusRulesMap` and
 * written as a plain rule file that `promtool check rules` / `promtool test rules` read.
 */
import type { AlertThresholds } from "../config/schema";
import { DATABASE_METRICS, METRICS, POOLER_METRICS } from "../config/metrics";
import { type MonitoredDatabase, promString } from "./selectors";

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: "critical" | "warning" };
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook_url: string };
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly AlertRule[];
}

export interface AlertContext {
  /** The platform's namespace; every expression is scoped to it. */
  readonly namespace: string;
  readonly thresholds: AlertThresholds;
  readonly runbookBaseUrl: string;
  /**
   * PgBouncer runs: alert on clients waiting for a server connection.
   * @default false
   */
  readonly pooler?: boolean;
  /**
   * The database, whose metrics differ: postgres_exporter's beside the StatefulSet, the instances'
   * own on CloudNativePG (which adds replication, archiving and backup alerts).
   * @default the StatefulSet
   */
  readonly database?: MonitoredDatabase;
}

/** Every alert name, in the order the rule file lists them. */
export const ALERT_NAMES = [
  "AgentPlatformHighErrorRatio",
  "AgentPlatformHighLatencyP95",
  "AgentPlatformPodCrashLooping",
  "AgentPlatformReplicasUnavailable",
  "AgentPlatformHpaAtMaxReplicas",
  "AgentPlatformPostgresConnectionsNearLimit",
  "AgentPlatformRedisMemoryHigh",
  "AgentPlatformRateLimitRejectionsSurging",
  "AgentPlatformQueueGrowing",
  "AgentPlatformPgbouncerClientsWaiting",
  "AgentPlatformPostgresReplicationLagHigh",
  "AgentPlatformPostgresWalArchivingFailing",
  "AgentPlatformPostgresBackupStale",
] as const;
export type AlertName = (typeof ALERT_NAMES)[number];

const D = DATABASE_METRICS;

export function alertRuleGroups(ctx: AlertContext): RuleGroup[] {
  const t = ctx.thresholds;
  const database = ctx.database ?? { kind: "statefulset" };
  const ns = `namespace=${promString(ctx.namespace)}`;
  const rule = (
    alert: AlertName,
    severity: "critical" | "warning",
    expr: string,
    forDuration: string,
    summary: string,
    description: string,
  ): AlertRule => ({
    alert,
    expr,
    for: forDuration,
    labels: { severity },
    annotations: { summary, description, runbook_url: `${ctx.runbookBaseUrl.replace(/\/+$/, "")}/${alert}` },
  });
  const pct = (ratio: number) => `${Math.round(ratio * 1000) / 10}%`;

  return [
    {
      name: "agent-platform.services",
      rules: [
        rule(
          "AgentPlatformHighErrorRatio",
          "critical",
          `sum by (namespace, service) (rate(${METRICS.httpRequests.name}{${ns},status=~"5.."}[5m]))\n  / sum by (namespace, service) (rate(${METRICS.httpRequests.name}{${ns}}[5m]))\n> ${t.errorRatio}`,
          "5m",
          "{{ $labels.service }} answers more than " + pct(t.errorRatio) + " of requests with 5xx",
          "{{ $labels.service }} in {{ $labels.namespace }} has answered {{ $value | humanizePercentage }} of requests with a 5xx status for 5 minutes.",
        ),
        rule(
          "AgentPlatformHighLatencyP95",
          "warning",
          `histogram_quantile(0.95, sum by (namespace, service, le) (rate(${METRICS.httpDuration.name}_bucket{${ns}}[5m])))\n> ${t.latencyP95Seconds}`,
          "10m",
          `{{ $labels.service }} p95 latency above ${t.latencyP95Seconds}s`,
          "{{ $labels.service }} in {{ $labels.namespace }} has a p95 request latency of {{ $value | humanizeDuration }} for 10 minutes.",
        ),
        rule(
          "AgentPlatformPodCrashLooping",
          "warning",
          `increase(kube_pod_container_status_restarts_total{${ns}}[15m]) >= ${t.crashLoopRestarts}`,
          "0m",
          "{{ $labels.pod }} is crash looping",
          `Container {{ $labels.container }} of {{ $labels.pod }} restarted {{ $value }} times in 15 minutes (threshold ${t.crashLoopRestarts}).`,
        ),
        rule(
          "AgentPlatformReplicasUnavailable",
          "warning",
          `kube_deployment_status_replicas_unavailable{${ns}} > 0`,
          `${t.replicasUnavailableMinutes}m`,
          "{{ $labels.deployment }} is missing replicas",
          `{{ $labels.deployment }} has had {{ $value }} unavailable replicas for ${t.replicasUnavailableMinutes} minutes.`,
        ),
        rule(
          "AgentPlatformHpaAtMaxReplicas",
          "warning",
          `kube_horizontalpodautoscaler_status_current_replicas{${ns}}\n  >= kube_horizontalpodautoscaler_spec_max_replicas{${ns}}`,
          `${t.hpaAtMaxMinutes}m`,
          "{{ $labels.horizontalpodautoscaler }} is pinned at its maximum",
          `{{ $labels.horizontalpodautoscaler }} has run at maxReplicas for ${t.hpaAtMaxMinutes} minutes: load exceeds what the platform may scale to. Raise maxReplicas (and the connection budget) or find the cause.`,
        ),
        rule(
          "AgentPlatformQueueGrowing",
          "warning",
          `sum by (namespace, service) (${METRICS.queueLength.name}{${ns}}) > ${t.queueLength}\nand sum by (namespace, service) (deriv(${METRICS.queueLength.name}{${ns}}[15m])) > 0`,
          "15m",
          "{{ $labels.service }} queue is long and growing",
          `{{ $labels.service }} has more than ${t.queueLength} queued items and the queue has grown for 15 minutes.`,
        ),
        rule(
          "AgentPlatformRateLimitRejectionsSurging",
          "warning",
          `sum by (namespace, service) (rate(${METRICS.rateLimitDecisions.name}{${ns},decision="rejected"}[5m]))\n  / sum by (namespace, service) (rate(${METRICS.rateLimitDecisions.name}{${ns}}[5m]))\n> ${t.rateLimitRejectionRatio}`,
          "10m",
          "{{ $labels.service }} rejects more than " + pct(t.rateLimitRejectionRatio) + " of requests by rate limit",
          "{{ $labels.service }} has rejected {{ $value | humanizePercentage }} of requests by rate limit for 10 minutes: a client misbehaves or a tier is too tight.",
        ),
      ],
    },
    {
      name: "agent-platform.data",
      rules: [
        database.kind === "cloudnative-pg"
          ? rule(
              "AgentPlatformPostgresConnectionsNearLimit",
              "warning",
              `sum by (namespace, pod) (${D.backends.name}{${ns}})\n  / on (namespace, pod) max by (namespace, pod) (${D.setting.name}{${ns},name="max_connections"})\n> ${t.postgresConnectionRatio}`,
              "5m",
              "Postgres connections above " + pct(t.postgresConnectionRatio) + " of max_connections",
              "{{ $value | humanizePercentage }} of max_connections are in use on {{ $labels.pod }} in {{ $labels.namespace }}; new connections will fail once the rest is gone.",
            )
          : rule(
              "AgentPlatformPostgresConnectionsNearLimit",
              "warning",
              `sum by (namespace) (pg_stat_database_numbackends{${ns}})\n  / max by (namespace) (pg_settings_max_connections{${ns}})\n> ${t.postgresConnectionRatio}`,
              "5m",
              "Postgres connections above " + pct(t.postgresConnectionRatio) + " of max_connections",
              "{{ $value | humanizePercentage }} of Postgres' max_connections are in use in {{ $labels.namespace }}; new pods will fail to connect once the rest is gone.",
            ),
        rule(
          "AgentPlatformRedisMemoryHigh",
          "warning",
          `max by (namespace) (redis_memory_used_bytes{${ns}})\n  / max by (namespace) (redis_memory_max_bytes{${ns}} > 0)\n> ${t.redisMemoryRatio}`,
          "5m",
          "Redis memory above " + pct(t.redisMemoryRatio) + " of maxmemory",
          "Redis in {{ $labels.namespace }} uses {{ $value | humanizePercentage }} of maxmemory. With noeviction, cache writes fail when it is full.",
        ),
        ...(ctx.pooler
          ? [
              rule(
                "AgentPlatformPgbouncerClientsWaiting",
                "warning",
                `max by (namespace, database) (${POOLER_METRICS.clientWaiting.name}{${ns}}) > 0\nand max by (namespace, database) (${POOLER_METRICS.clientMaxWait.name}{${ns}}) > ${t.poolerMaxWaitSeconds}`,
                "5m",
                "Clients wait for a PgBouncer server connection",
                `{{ $value }} client(s) of {{ $labels.database }} in {{ $labels.namespace }} have waited more than ${t.poolerMaxWaitSeconds}s for a server connection for 5 minutes: the pool (pgbouncer.defaultPoolSize) is too small for the load, or Postgres is slow.`,
              ),
            ]
          : []),
        ...(database.kind === "cloudnative-pg" ? clusterRules(database) : []),
      ],
    },
  ];

  /** Replication, WAL archiving and backups of a CloudNativePG cluster. */
  function clusterRules(db: Extract<MonitoredDatabase, { kind: "cloudnative-pg" }>): AlertRule[] {
    const hours = t.backupMaxAgeHours;
    return [
      ...(db.instances > 1
        ? [
            rule(
              "AgentPlatformPostgresReplicationLagHigh",
              "warning",
              `max by (namespace, pod) (${D.replicationLag.name}{${ns}}) > ${t.replicationLagSeconds}`,
              "5m",
              `Postgres standby {{ $labels.pod }} lags more than ${t.replicationLagSeconds}s`,
              `Standby {{ $labels.pod }} in {{ $labels.namespace }} has been {{ $value | humanizeDuration }} behind the primary for 5 minutes: it would take that long to catch up if promoted, and without synchronous replication that much would be lost.`,
            ),
          ]
        : []),
      ...(db.backups
        ? [
            rule(
              "AgentPlatformPostgresWalArchivingFailing",
              "critical",
              `max by (namespace, pod) (${D.lastFailedTime.name}{${ns}} - ${D.lastArchivedTime.name}{${ns}}) > 0\nand on (namespace, pod) increase(${D.archiveFailures.name}{${ns}}[10m]) > 0`,
              "5m",
              "Postgres cannot archive WAL from {{ $labels.pod }}",
              "The primary {{ $labels.pod }} in {{ $labels.namespace }} has failed to archive WAL for 5 minutes (its last attempt failed, more recently than its last success): point-in-time recovery stops at the last archived file, and pg_wal grows until the volume is full. Check the object store, its credentials and the plugin.",
            ),
            rule(
              "AgentPlatformPostgresBackupStale",
              "critical",
              `time() - max by (namespace) (${D.lastBackup.name}{${ns}}) > ${hours * 3600}\nor absent(${D.lastBackup.name}{${ns}})`,
              "15m",
              `No successful Postgres base backup for ${hours} hours`,
              `The last successful base backup of {{ $labels.namespace }}'s database is older than ${hours} hours, or none was ever taken (or the instances report no backup status at all): a restore would replay more WAL than planned, or cannot start. Check the ScheduledBackup and the plugin.`,
            ),
          ]
        : []),
    ];
  }
}

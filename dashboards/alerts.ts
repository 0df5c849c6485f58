/**
 * Alert rules, monitoring-mixin style: component-prefixed CamelCase names, a severity, a summary,
 * a description and a runbook URL each; every threshold comes from config (`monitoring.thresholds`).
 * The same groups are delivered through kube-prometheus-stack's `additionalPrometheusRulesMap` and
 * written as a plain rule file that `promtool check rules` / `promtool test rules` read.
 */
import type { AlertThresholds } from "../config/schema";
import { METRICS, POOLER_METRICS } from "../config/metrics";
import { promString } from "./selectors";

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
] as const;
export type AlertName = (typeof ALERT_NAMES)[number];

export function alertRuleGroups(ctx: AlertContext): RuleGroup[] {
  const t = ctx.thresholds;
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
        rule(
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
      ],
    },
  ];
}

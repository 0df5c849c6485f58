/**
 * Alert rules checked by promtool: syntax (`check rules`) and behaviour (`test rules`): every
 * alert fires on its condition and stays quiet otherwise.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { describe, it } from "node:test";
import { stringify } from "yaml";
import { ALERT_NAMES, type AlertName, alertRuleGroups } from "../../dashboards/alerts";
import { loadConfig } from "../helpers";
import { checkRules, tool, writeFiles } from "./tools";

const production = loadConfig("production");
const NS = production.namespace;
const groups = alertRuleGroups({ namespace: NS, thresholds: production.monitoring.thresholds, runbookBaseUrl: production.monitoring.runbookBaseUrl, pooler: !!production.pgbouncer });
const rules = groups.flatMap((g) => g.rules);

interface Series {
  readonly series: string;
  readonly values: string;
}
interface Scenario {
  readonly alert: AlertName;
  readonly evalTime: string;
  /** Labels the firing alert carries besides alertname. */
  readonly labels: Record<string, string>;
  readonly firing: Series[];
  readonly quiet: Series[];
}

const n = `namespace="${NS}"`;
/** Label values of the scenarios' series: two services of the catalogue (the rules select by namespace, not by name). */
const SERVICE = production.services[0]!.name;
const OTHER = production.services[production.services.length - 1]!.name;
const gw = `${n},service="${SERVICE}"`;

/** One scenario per alert, at production's thresholds. */
const scenarios: Scenario[] = [
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

/** The rule file with annotations left out: unit tests assert expressions, durations and labels. */
const ruleFileForTests = stringify({
  groups: groups.map((g) => ({ name: g.name, rules: g.rules.map(({ annotations: _annotations, ...rest }) => rest) })),
});

function runUnitTests(tests: unknown[]): { status: number; output: string } {
  const dir = writeFiles({ "rules.yaml": ruleFileForTests, "tests.yaml": stringify({ rule_files: ["rules.yaml"], evaluation_interval: "1m", tests }) });
  try {
    return tool("promtool", ["test", "rules", "tests.yaml"], dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("alert rules", () => {
  it("pass promtool check rules, templates included", () => {
    const result = checkRules(groups);
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, new RegExp(`SUCCESS: ${ALERT_NAMES.length} rules found`));
  });

  it("cover the issue's list, mixin style: prefixed CamelCase, severity, summary, description, runbook", () => {
    assert.deepEqual(rules.map((r) => r.alert).sort(), [...ALERT_NAMES].sort());
    for (const r of rules) {
      assert.match(r.alert, /^AgentPlatform[A-Z][A-Za-z0-9]+$/);
      assert.ok(["critical", "warning"].includes(r.labels.severity));
      assert.ok(r.annotations.summary.length > 0 && r.annotations.description.length > 0);
      assert.equal(r.annotations.runbook_url, `https://runbooks.berrys-agents.dev/agent-platform/${r.alert}`);
      assert.match(r.expr, new RegExp(`namespace="${NS}"`), `${r.alert} is not scoped to the namespace`);
    }
  });

  it("take every threshold from config", () => {
    const t = production.monitoring.thresholds;
    const expr = (name: AlertName) => rules.find((r) => r.alert === name)!.expr;
    assert.match(expr("AgentPlatformHighErrorRatio"), new RegExp(`> ${t.errorRatio}$`));
    assert.match(expr("AgentPlatformHighLatencyP95"), new RegExp(`> ${t.latencyP95Seconds}$`));
    assert.match(expr("AgentPlatformPostgresConnectionsNearLimit"), new RegExp(`> ${t.postgresConnectionRatio}$`));
    assert.equal(rules.find((r) => r.alert === "AgentPlatformReplicasUnavailable")!.for, `${t.replicasUnavailableMinutes}m`);
  });

  it("leaves the PgBouncer alert out where no PgBouncer runs", () => {
    const local = loadConfig("local");
    const names = alertRuleGroups({ namespace: NS, thresholds: local.monitoring.thresholds, runbookBaseUrl: local.monitoring.runbookBaseUrl, pooler: !!local.pgbouncer })
      .flatMap((g) => g.rules)
      .map((r) => r.alert);
    assert.ok(!names.includes("AgentPlatformPgbouncerClientsWaiting"));
    assert.equal(names.length, ALERT_NAMES.length - 1);
  });

  it("has a scenario for every alert", () => {
    assert.deepEqual(scenarios.map((s) => s.alert).sort(), [...ALERT_NAMES].sort());
  });

  for (const s of scenarios) {
    it(`${s.alert} fires on its condition and stays quiet otherwise (promtool test rules)`, () => {
      const alertTest = (input: Series[], firing: boolean) => ({
        interval: "1m",
        input_series: input,
        alert_rule_test: [{ eval_time: s.evalTime, alertname: s.alert, exp_alerts: firing ? [{ exp_labels: s.labels }] : [] }],
      });
      const result = runUnitTests([alertTest(s.firing, true), alertTest(s.quiet, false)]);
      assert.equal(result.status, 0, result.output);
      assert.match(result.output, /SUCCESS/);
    });
  }

  it("promtool's unit tests can fail: a wrong expectation is reported", () => {
    const s = scenarios[0]!;
    const result = runUnitTests([
      { interval: "1m", input_series: s.quiet, alert_rule_test: [{ eval_time: s.evalTime, alertname: s.alert, exp_alerts: [{ exp_labels: s.labels }] }] },
    ]);
    assert.notEqual(result.status, 0);
    assert.match(result.output, /FAILED/);
  });
});

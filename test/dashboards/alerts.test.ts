/**
 * Alert rules checked by promtool: syntax (`check rules`) and behaviour (`test rules`): every
 * alert fires on its condition and stays quiet otherwise.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ALERT_NAMES, type AlertName, alertRuleGroups } from "../../dashboards/alerts";
import { monitoredDatabase } from "../../constructs/monitoring-values";
import { loadConfig } from "../helpers";
import { alertScenarios, runUnitTests, scenarioTests } from "./alert-scenarios";
import { checkRules } from "./tools";

const production = loadConfig("production");
const NS = production.namespace;
const groups = alertRuleGroups({ namespace: NS, thresholds: production.monitoring.thresholds, runbookBaseUrl: production.monitoring.runbookBaseUrl, pooler: !!production.pgbouncer, database: monitoredDatabase(production) });
const rules = groups.flatMap((g) => g.rules);
/** The same thresholds over a StatefulSet database (postgres_exporter's metrics). */
const statefulSetGroups = alertRuleGroups({ namespace: NS, thresholds: production.monitoring.thresholds, runbookBaseUrl: production.monitoring.runbookBaseUrl, pooler: true, database: { kind: "statefulset" } });

const scenarios = alertScenarios(production);
/** The same alerts' scenarios over a StatefulSet database. */
const statefulSetScenarios = alertScenarios(production, { kind: "statefulset" });
const n = `namespace="${NS}"`;

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

  it("leaves the PgBouncer alert out where no PgBouncer runs, and the cluster's where Postgres is a StatefulSet", () => {
    const local = loadConfig("local");
    const names = alertRuleGroups({ namespace: NS, thresholds: local.monitoring.thresholds, runbookBaseUrl: local.monitoring.runbookBaseUrl, pooler: !!local.pgbouncer, database: monitoredDatabase(local) })
      .flatMap((g) => g.rules)
      .map((r) => r.alert);
    const clusterOnly = ["AgentPlatformPostgresReplicationLagHigh", "AgentPlatformPostgresWalArchivingFailing", "AgentPlatformPostgresBackupStale"];
    assert.deepEqual(names.sort(), ALERT_NAMES.filter((a) => a !== "AgentPlatformPgbouncerClientsWaiting" && !clusterOnly.includes(a)).sort());
    // A single instance has no lag to watch; a cluster without backups no archive.
    const bare = alertRuleGroups({ ...{ namespace: NS, thresholds: local.monitoring.thresholds, runbookBaseUrl: local.monitoring.runbookBaseUrl }, database: { kind: "cloudnative-pg", cluster: "postgres", instances: 1, backups: false } })
      .flatMap((g) => g.rules)
      .map((r) => r.alert);
    assert.ok(clusterOnly.every((a) => !bare.includes(a)));
  });

  it("StatefulSet rules pass promtool check rules too", () => {
    const result = checkRules(statefulSetGroups);
    assert.equal(result.status, 0, result.output);
  });

  it("AgentPlatformPostgresBackupStale also fires when no instance reports a backup at all (promtool test rules)", () => {
    const result = runUnitTests(groups, [
      {
        interval: "1m",
        input_series: [{ series: `cnpg_pg_replication_lag{${n},pod="postgres-1"}`, values: "0x30" }],
        alert_rule_test: [{ eval_time: "20m", alertname: "AgentPlatformPostgresBackupStale", exp_alerts: [{ exp_labels: { severity: "critical", namespace: NS } }] }],
      },
    ]);
    assert.equal(result.status, 0, result.output);
  });

  it("has a scenario for every alert, and for each rule of the rule set it is written for", () => {
    assert.deepEqual([...new Set([...scenarios, ...statefulSetScenarios].map((s) => s.alert))].sort(), [...ALERT_NAMES].sort());
    assert.deepEqual(scenarios.map((s) => s.alert).sort(), rules.map((r) => r.alert).sort());
    assert.deepEqual(statefulSetScenarios.map((s) => s.alert).sort(), statefulSetGroups.flatMap((g) => g.rules.map((r) => r.alert)).sort());
  });

  for (const s of scenarios) {
    it(`${s.alert} fires on its condition and stays quiet otherwise (promtool test rules)`, () => {
      const result = runUnitTests(groups, scenarioTests(s));
      assert.equal(result.status, 0, result.output);
      assert.match(result.output, /SUCCESS/);
    });
  }

  for (const s of statefulSetScenarios.filter((s) => s.alert.startsWith("AgentPlatformPostgres"))) {
    it(`${s.alert} (StatefulSet database) fires on its condition and stays quiet otherwise (promtool test rules)`, () => {
      const result = runUnitTests(statefulSetGroups, scenarioTests(s));
      assert.equal(result.status, 0, result.output);
      assert.match(result.output, /SUCCESS/);
    });
  }

  it("promtool's unit tests can fail: a wrong expectation is reported", () => {
    const s = scenarios[0]!;
    const result = runUnitTests(groups, [
      { interval: "1m", input_series: s.quiet, alert_rule_test: [{ eval_time: s.evalTime, alertname: s.alert, exp_alerts: [{ exp_labels: s.labels }] }] },
    ]);
    assert.notEqual(result.status, 0);
    assert.match(result.output, /FAILED/);
  });
});

/**
 * Alert rules checked by promtool: syntax (`check rules`) and behaviour (`test rules`): every
 * alert fires on its condition and stays quiet otherwise.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ALERT_NAMES, type AlertName, alertRuleGroups } from "../../dashboards/alerts";
import { loadConfig } from "../helpers";
import { alertScenarios, runUnitTests, scenarioTests } from "./alert-scenarios";
import { checkRules } from "./tools";

const production = loadConfig("production");
const NS = production.namespace;
const groups = alertRuleGroups({ namespace: NS, thresholds: production.monitoring.thresholds, runbookBaseUrl: production.monitoring.runbookBaseUrl, pooler: !!production.pgbouncer });
const rules = groups.flatMap((g) => g.rules);

const scenarios = alertScenarios(production);

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
      const result = runUnitTests(groups, scenarioTests(s));
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

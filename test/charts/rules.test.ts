/**
 * Alert rules and dashboards as Prometheus and Grafana will load them: the PrometheusRule objects
 * helm renders from the stacks' values (not the program's own copy of the groups) go through
 * promtool, with the same firing and quiet scenarios as the alert tests; the dashboards are the
 * ConfigMaps Grafana's sidecar finds where it searches. Without HELM_CHARTS_DIR every test here
 * skips and says why. The e2e does the same with the objects the API server admitted.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toGrafanaJson } from "../../dashboards/common";
import { platformDashboards } from "../../dashboards/dashboards";
import { ALERT_NAMES } from "../../dashboards/alerts";
import { monitoredDatabase } from "../../constructs/monitoring-values";
import { alertScenarios, runUnitTests, scenarioTests } from "../dashboards/alert-scenarios";
import { checkDashboardExpressions, checkRules } from "../dashboards/tools";
import { loadConfig } from "../helpers";
import { helmOrSkip, type Json, type RenderedObject } from "./helm";
import { type ClusterView, clusterView } from "./releases";
import { sourceOf } from "./rbac";
import { grafanaSidecars, sidecarConfigMaps } from "./wiring";

/** The PrometheusRules the stack's Prometheus loads: those its ruleSelector picks in the namespaces the operator watches. */
function loadedRules(view: ClusterView): RenderedObject[] {
  const prometheus = view.all.find((o) => o.kind === "Prometheus")!;
  assert.deepEqual(prometheus.spec.ruleSelector, {}, "an empty ruleSelector: every PrometheusRule, whatever its labels");
  assert.deepEqual(prometheus.spec.ruleNamespaceSelector, {}, "in every namespace the operator watches");
  const operator = view.all.find((o) => o.kind === "Deployment" && o.metadata.name === "kps-operator")!;
  const watched = String((operator.spec.template.spec.containers[0].args as string[]).find((a) => a.startsWith("--namespaces="))).slice("--namespaces=".length).split(",");
  return view.all.filter((o) => o.kind === "PrometheusRule" && watched.includes(String(o.metadata.namespace)));
}

const ours = (rules: readonly RenderedObject[]) => rules.filter((r) => r.metadata.name.endsWith("-agent-platform"));

describe("charts: alert rules as Prometheus loads them", () => {
  for (const env of ["staging", "production"] as const) {
    it(`${env}: the platform's PrometheusRule, as helm renders it, passes promtool check rules`, async (t) => {
      const helm = helmOrSkip(t);
      if (!helm) return;
      const config = loadConfig(env);
      const rules = ours(loadedRules(await clusterView(helm, env, true)));
      assert.equal(rules.length, 1, rules.map((r) => r.metadata.name).join(", "));
      const result = checkRules(rules[0]!.spec.groups);
      assert.equal(result.status, 0, result.output);
      assert.match(result.output, new RegExp(`SUCCESS: ${ALERT_NAMES.length - (config.pgbouncer ? 0 : 1)} rules found`));
    });
  }

  it("production: every alert fires on its scenario and stays quiet otherwise, on the rendered PrometheusRule (promtool test rules)", async (t) => {
    const helm = helmOrSkip(t);
    if (!helm) return;
    const production = loadConfig("production");
    const rule = ours(loadedRules(await clusterView(helm, "production", true)))[0]!;
    const scenarios = alertScenarios(production);
    assert.deepEqual(scenarios.map((s) => s.alert).sort(), (rule.spec.groups as Json[]).flatMap((g) => g.rules.map((r: Json) => r.alert)).sort());
    const result = runUnitTests(rule.spec.groups, scenarios.flatMap(scenarioTests));
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /SUCCESS/);
  });

  it("production: the chart's own rules that Prometheus loads with ours pass promtool check rules", async (t) => {
    const helm = helmOrSkip(t);
    if (!helm) return;
    const rules = loadedRules(await clusterView(helm, "production", true));
    assert.ok(rules.length > 10, `${rules.length} PrometheusRules`);
    const groups = rules.flatMap((r) => r.spec.groups as Json[]);
    const result = checkRules(groups);
    assert.equal(result.status, 0, result.output);
  });

  it("local: no platform alert rules load where alerting is off", async (t) => {
    const helm = helmOrSkip(t);
    if (!helm) return;
    assert.deepEqual(loadedRules(await clusterView(helm, "local", false)).map((r) => r.metadata.name), []);
  });
});

describe("charts: dashboards as Grafana's sidecar loads them", () => {
  for (const env of ["local", "staging", "production"] as const) {
    it(`${env}: the sidecar loads exactly the platform's dashboards the dashboard tests check, and uids never collide`, async (t) => {
      const helm = helmOrSkip(t);
      if (!helm) return;
      const config = loadConfig(env);
      const view = await clusterView(helm, env, false);
      const sidecar = grafanaSidecars(view.all).find((c) => c.container === "grafana-sc-dashboard")!;
      const loaded = sidecarConfigMaps(view.all, sidecar).flatMap((cm) => Object.entries((cm.data ?? {}) as Record<string, string>).map(([file, text]) => ({ cm, file, dashboard: JSON.parse(text) as Json })));
      const uids = loaded.map((l) => String(l.dashboard.uid));
      assert.deepEqual(uids.filter((u, i) => uids.indexOf(u) !== i), [], "Grafana loads one of two dashboards with the same uid");
      // Ours: the ConfigMaps of the stack, byte for byte what the dashboard tests check.
      const ctx = { namespace: config.namespace, environment: env, pooler: !!config.pgbouncer, database: monitoredDatabase(config) };
      const expected = platformDashboards(ctx).map((d) => toGrafanaJson(d, ctx));
      const platform = loaded.filter((l) => sourceOf(l.cm).startsWith("kubernetes_config_map_v1."));
      assert.deepEqual(platform.map((l) => l.dashboard), expected);
      const result = checkDashboardExpressions(platform.flatMap((l) => (l.dashboard.panels as Json[]).flatMap((p) => ((p.targets ?? []) as Json[]).map((x) => String(x.expr)))));
      assert.equal(result.status, 0, result.output);
      // The chart's own dashboards load beside ours where the chart's rules do (alerting on).
      assert.equal(loaded.length > platform.length, config.monitoring.alerting);
    });
  }
});

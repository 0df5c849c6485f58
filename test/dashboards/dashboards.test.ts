import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toGrafanaJson } from "../../dashboards/common";
import { platformDashboards } from "../../dashboards/dashboards";
import { METRICS } from "../../config/metrics";
import { monitoredDatabase } from "../../constructs/monitoring-values";
import { unescapeLiteral } from "../../constructs/terraform-text";
import { loadConfig, resources, synthEnvironment } from "../helpers";
import { checkDashboardExpressions, checkRules } from "./tools";

/** Production's dashboards, as production deploys them (its PgBouncer row included). */
const production = loadConfig("production");
const ctx = { namespace: production.namespace, environment: "production", pooler: !!production.pgbouncer, database: monitoredDatabase(production) };
const dashboards = platformDashboards(ctx);
const exprs = dashboards.flatMap((d) => d.panels.flatMap((p) => p.targets.map((t) => ({ uid: d.uid, panel: p.title, expr: t.expr }))));


describe("dashboards", () => {
  it("are the six the platform needs, and the database cluster's where one runs, each with a fixed uid", () => {
    assert.deepEqual(
      dashboards.map((d) => d.uid),
      [
        "agent-platform-overview",
        "agent-platform-resources",
        "agent-platform-business",
        "agent-platform-rate-limits",
        "agent-platform-db-pool",
        "agent-platform-redis-cache",
        "agent-platform-database",
      ],
    );
    assert.ok(!platformDashboards({ ...ctx, database: { kind: "statefulset" } }).some((d) => d.uid === "agent-platform-database"));
    for (const d of dashboards) assert.ok(d.uid.length <= 40, d.uid);
  });

  it("are the very JSON production's dashboard ConfigMaps carry (what Grafana's sidecar loads)", () => {
    const deployed = Object.values(resources(synthEnvironment("production"), "kubernetes_config_map_v1"))
      .filter((c) => c.metadata.labels?.grafana_dashboard === "1")
      .flatMap((c) => Object.values(c.data as Record<string, string>).map((v) => JSON.parse(unescapeLiteral(v))));
    assert.deepEqual(deployed, dashboards.map((d) => toGrafanaJson(d, ctx)));
  });

  it("render the same JSON every time (uids and panel ids stable)", () => {
    const a = JSON.stringify(dashboards.map((d) => toGrafanaJson(d, ctx)));
    const b = JSON.stringify(platformDashboards(ctx).map((d) => toGrafanaJson(d, ctx)));
    assert.equal(a, b);
  });

  it("lay panels out inside Grafana's 24-column grid without overlap", () => {
    for (const d of dashboards) {
      const panels = (toGrafanaJson(d, ctx).panels as { gridPos: { x: number; y: number; w: number; h: number } }[]).map((p) => p.gridPos);
      for (const [i, a] of panels.entries()) {
        assert.ok(a.x + a.w <= 24, d.uid);
        for (const b of panels.slice(i + 1)) {
          const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
          assert.ok(!overlap, `${d.uid}: panels overlap`);
        }
      }
    }
  });

  it("scope every query to the platform's namespace", () => {
    for (const e of exprs) assert.match(e.expr, /namespace="agent-platform"/, `${e.uid} / ${e.panel}`);
  });

  it("show the service overview's requests/s, error ratio and p50/p95/p99", () => {
    const overview = exprs.filter((e) => e.uid === "agent-platform-overview").map((e) => e.expr);
    assert.ok(overview.some((e) => e.startsWith(`sum by (service) (rate(${METRICS.httpRequests.name}`)));
    assert.ok(overview.some((e) => e.includes('status=~"5.."')));
    for (const q of ["0.5", "0.95", "0.99"]) assert.ok(overview.some((e) => e.startsWith(`histogram_quantile(${q},`)), q);
  });

  it("pass promtool's PromQL parser, every expression", () => {
    const result = checkDashboardExpressions(exprs.map((e) => e.expr));
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, new RegExp(`SUCCESS: ${exprs.length} rules found`));
  });

  it("promtool's parser rejects a broken expression (the check can fail)", () => {
    assert.notEqual(checkRules([{ name: "x", rules: [{ record: "x:y", expr: "sum by (service (rate(x[5m]))" }] }]).status, 0);
  });
});

import { unescapeLiteral } from "../../constructs/terraform-text-plain";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PROMETHEUS_RETENTION_SHARE, prometheusRetentionSize } from "../../constructs/monitoring-values";
import { rawEnvironment, resources, synthEnvironment } from "../helpers";
import { parse } from "yaml";

describe("Prometheus deletes old blocks before its volume fills", () => {
  it("sizes retentionSize at 80% of the volume, in Prometheus' base-2 units", () => {
    assert.equal(PROMETHEUS_RETENTION_SHARE, 0.8);
    assert.equal(prometheusRetentionSize("100Gi"), "81920MB");
    assert.equal(prometheusRetentionSize("1Gi"), "819MB");
    assert.equal(prometheusRetentionSize("500G"), `${Math.floor((500e9 * 0.8) / 2 ** 20)}MB`);
    // The operator's CRD pattern for the field.
    for (const size of ["100Gi", "1Gi", "500G", "2Ti"]) assert.match(prometheusRetentionSize(size), /^(0|([0-9]+(\.[0-9]+)?(B|KB|MB|GB|TB|PB|EB)))$/);
  });

  it("sets it wherever Prometheus has a volume, and only there", () => {
    const spec = (json: ReturnType<typeof synthEnvironment>) => {
      const release = Object.values(resources(json, "helm_release")).find((r) => r.chart === "kube-prometheus-stack")!;
      return parse(unescapeLiteral(String(release.values[0]))).prometheus.prometheusSpec;
    };
    const production = rawEnvironment("production");
    assert.ok(production.monitoring.prometheusStorage, "production keeps Prometheus on a volume");
    assert.equal(spec(synthEnvironment("production")).retentionSize, prometheusRetentionSize(production.monitoring.prometheusStorage.size));
    const ephemeral = rawEnvironment("production");
    delete ephemeral.monitoring.prometheusStorage;
    assert.equal(spec(synthEnvironment("production", {}, ephemeral)).retentionSize, undefined);
  });
});

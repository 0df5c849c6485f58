/**
 * The dead-key check (test/charts/dead-keys.ts) on every distinct values document the six stacks
 * hand their charts, and its mutation tests: misspelled keys must be named, and a field a CRD
 * prunes must be caught. Without HELM_CHARTS_DIR every test here skips and says why.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { synthEnvironment } from "../helpers";
import { deadKeys, RUNTIME_ONLY_KEYS, unknownCustomResourceFields } from "./dead-keys";
import { helmOrSkip, type Json, render } from "./helm";
import { clusterApiVersions, STACKS, type StackRelease, stackReleases } from "./releases";

/** Every distinct (chart, values) pair of the six stacks, with the stacks that use it. */
function distinctReleases(): { release: StackRelease; apiVersions: string[]; stacks: string[] }[] {
  const out = new Map<string, { release: StackRelease; apiVersions: string[]; stacks: string[] }>();
  for (const s of STACKS) {
    const releases = stackReleases(synthEnvironment(s.env, { enableAutoscaling: s.autoscaling }));
    for (const r of releases) {
      const key = `${r.chart}\n${r.version}\n${r.namespace}\n${r.values.join("\n---\n")}`;
      const seen = out.get(key);
      if (seen) seen.stacks.push(s.label);
      else out.set(key, { release: r, apiVersions: clusterApiVersions(releases), stacks: [s.label] });
    }
  }
  return [...out.values()];
}

const request = (r: StackRelease, apiVersions: string[]) => ({ chart: r.chart, version: r.version, release: r.name, namespace: r.namespace, apiVersions });

describe("charts: dead keys", () => {
  it("every key of every values document the stacks render is read by its chart", async (t) => {
    const helm = helmOrSkip(t);
    if (!helm) return;
    const reports = await Promise.all(
      distinctReleases().map(async ({ release, apiVersions, stacks }) => {
        assert.equal(release.values.length, 1, `${release.name}: one values document`);
        return { release, stacks, report: await deadKeys(helm, request(release, apiVersions), parse(release.values[0]!) as Json) };
      }),
    );
    for (const { release, stacks, report } of reports) {
      t.diagnostic(`${release.chart} ${release.version} (${stacks.join(", ")}): ${report.keys} keys, ${report.renders} renders, ${report.allowed.length} allow-listed`);
      assert.deepEqual(report.dead.map((d) => `${d.path} = ${JSON.stringify(d.value)}`), [], `${release.chart} for ${stacks.join(", ")}: keys the chart never reads`);
      assert.deepEqual(report.staleAllowances, [], `${release.chart}: allow-listed keys the chart now reads`);
    }
    // Every chart the stacks install was checked.
    assert.deepEqual([...new Set(reports.map((r) => r.release.chart))].sort(), ["cloudnative-pg", "cluster", "kube-prometheus-stack", "metrics-server", "plugin-barman-cloud", "prometheus-adapter"]);
    for (const chart of Object.keys(RUNTIME_ONLY_KEYS)) assert.ok(reports.some((r) => r.release.chart === chart), `allow-list for ${chart}, which no stack installs`);
  });

  it("names misspelled keys: a nested string, a boolean, a list item, in kube-prometheus-stack and the adapter", async (t) => {
    const helm = helmOrSkip(t);
    if (!helm) return;
    const releases = stackReleases(synthEnvironment("production", { enableAutoscaling: true }));
    const apiVersions = clusterApiVersions(releases);
    const kps = releases.find((r) => r.chart === "kube-prometheus-stack")!;
    const values = parse(kps.values[0]!) as Json;
    values.grafana.sidecar.dashboards.serchNamespace = ["monitoring"];
    values.alertmanager.enabeld = true;
    values.prometheus.prometheusSpec.rentention = "30d";
    const report = await deadKeys(helm, request(kps, apiVersions), values);
    assert.deepEqual(report.dead.map((d) => d.path), ["alertmanager.enabeld", "grafana.sidecar.dashboards.serchNamespace[0]", "prometheus.prometheusSpec.rentention"]);

    const adapter = releases.find((r) => r.chart === "prometheus-adapter")!;
    const adapterValues = parse(adapter.values[0]!) as Json;
    adapterValues.podDisruptionBudget.maxUnavailabe = 1;
    const adapterReport = await deadKeys(helm, request(adapter, apiVersions), adapterValues);
    assert.deepEqual(adapterReport.dead.map((d) => d.path), ["podDisruptionBudget.maxUnavailabe"]);
  });

  it("catches a key that reaches a custom resource its CRD does not define (the API server would prune it)", async (t) => {
    const helm = helmOrSkip(t);
    if (!helm) return;
    const releases = stackReleases(synthEnvironment("production"));
    const kps = releases.find((r) => r.chart === "kube-prometheus-stack")!;
    const values = parse(kps.values[0]!) as Json;
    values.prometheus.additionalServiceMonitors[0].endpoints[0].scrapeTimout = "5s";
    values.prometheus.additionalPodMonitors[0].podMetricsEndpoints[0].scrapeTimout = "5s";
    const rendered = await render(helm, { ...request(kps, clusterApiVersions(releases)), values: [stringify(values)] });
    const serviceMonitor = values.prometheus.additionalServiceMonitors[0].name;
    assert.deepEqual(unknownCustomResourceFields(rendered.objects).sort(), [
      "PodMonitor monitoring/agent-platform-services: spec.podMetricsEndpoints[0].scrapeTimout is not in the CRD's schema (the API server prunes it)",
      `ServiceMonitor monitoring/${serviceMonitor}: spec.endpoints[0].scrapeTimout is not in the CRD's schema (the API server prunes it)`,
    ]);
  });
});

/**
 * The control plane is scraped only where the config says it is reachable
 * (`monitoring.controlPlaneTargets`). kube-prometheus-stack scrapes kube-controller-manager,
 * kube-scheduler, etcd and kube-proxy by default and ships critical `...Down` rules for each: on a
 * managed control plane (EKS, GKE, AKS) those targets are unreachable, so the rules fire from the
 * first minute and, in production, page. Checked on what helm renders from the stacks' values.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rawEnvironment, synthEnvironment } from "../helpers";
import { type Helm, helmOrSkip, type RenderedObject, render } from "./helm";
import { clusterApiVersions, stackReleases } from "./releases";

const COMPONENTS = [
  { target: "kube-controller-manager", monitor: "kube-controller-manager", alert: "KubeControllerManagerDown" },
  { target: "kube-scheduler", monitor: "kube-scheduler", alert: "KubeSchedulerDown" },
  { target: "etcd", monitor: "kube-etcd", alert: "etcdMembersDown" },
  { target: "kube-proxy", monitor: "kube-proxy", alert: "KubeProxyDown" },
] as const;

async function renderedStack(helm: Helm, targets: readonly string[]): Promise<readonly RenderedObject[]> {
  const raw = rawEnvironment("production");
  raw.monitoring.controlPlaneTargets = [...targets];
  const stack = synthEnvironment("production", {}, raw);
  const releases = stackReleases(stack).filter((r) => r.chart === "kube-prometheus-stack");
  assert.equal(releases.length, 1);
  const r = releases[0]!;
  return (await render(helm, { chart: r.chart, version: r.version, release: r.name, namespace: r.namespace, values: r.values, apiVersions: clusterApiVersions(releases) })).objects;
}

const monitors = (objects: readonly RenderedObject[]) => objects.filter((o) => o.kind === "ServiceMonitor").map((o) => String(o.metadata.name));
const alerts = (objects: readonly RenderedObject[]) =>
  objects.filter((o) => o.kind === "PrometheusRule").flatMap((o) => (o.spec.groups as { rules: { alert?: string }[] }[]).flatMap((g) => g.rules.map((r) => r.alert).filter(Boolean)));

describe("charts: the control plane is scraped only where it is reachable", () => {
  it("production as shipped: no control-plane ServiceMonitor and none of their Down alerts", async (t) => {
    const helm = helmOrSkip(t);
    if (!helm) return;
    const objects = await renderedStack(helm, []);
    assert.ok(alerts(objects).includes("KubeletDown"), "the chart's default rules are rendered (the kubelet's stay)");
    for (const c of COMPONENTS) {
      assert.ok(!monitors(objects).some((m) => m.endsWith(c.monitor)), `${c.monitor} is scraped: ${monitors(objects).join(", ")}`);
      assert.ok(!alerts(objects).includes(c.alert), `${c.alert} is loaded`);
    }
  });

  it("a listed component gets its ServiceMonitor and its rules back, and only it", async (t) => {
    const helm = helmOrSkip(t);
    if (!helm) return;
    const objects = await renderedStack(helm, ["kube-scheduler", "etcd"]);
    for (const c of COMPONENTS) {
      const listed = c.target === "kube-scheduler" || c.target === "etcd";
      assert.equal(monitors(objects).some((m) => m.endsWith(c.monitor)), listed, `${c.monitor} scraped: ${monitors(objects).join(", ")}`);
      assert.equal(alerts(objects).includes(c.alert), listed, `${c.alert} loaded`);
    }
  });
});

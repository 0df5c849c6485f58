import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { scrapedNodePorts } from "../../constructs/monitoring-network";
import { type Json, rawEnvironment, resources, synthEnvironment } from "../helpers";

/** The monitoring namespace's policies by name. */
function monitoringPolicies(json: Json): Map<string, Json> {
  const id = Object.entries(resources(json, "kubernetes_namespace_v1")).find(([, n]) => n.metadata.name === "monitoring")![0];
  return new Map(
    Object.values(resources(json, "kubernetes_network_policy_v1"))
      .filter((p) => p.metadata.namespace === `\${kubernetes_namespace_v1.${id}.metadata[0].name}`)
      .map((p) => [p.metadata.name, p.spec]),
  );
}
const cidrsOf = (peers: Json[]) => peers.map((p) => p.ip_block?.cidr).filter(Boolean);

describe("monitoring namespace: least-privilege NetworkPolicies", () => {
  const raw = rawEnvironment("production");
  raw.cluster.apiServer = { cidrs: ["10.20.0.5/32", "10.20.1.5/32"], ports: [443] };
  raw.cluster.nodeCidrs = ["10.30.0.0/16"];
  const configured = monitoringPolicies(synthEnvironment("production", { enableAutoscaling: true }, raw));

  it("reaches the API server at its configured addresses and ports only, from every pod but Alertmanager", () => {
    const api = configured.get("allow-apiserver-egress")!;
    assert.deepEqual(api.egress, [{ to: [{ ip_block: { cidr: "10.20.0.5/32" } }, { ip_block: { cidr: "10.20.1.5/32" } }], ports: [{ port: "443", protocol: "TCP" }] }]);
    assert.deepEqual(api.pod_selector, { match_expressions: [{ key: "app.kubernetes.io/name", operator: "NotIn", values: ["alertmanager"] }] });
  });

  it("admits the API server's addresses alone to the aggregated APIs and the operator's webhook, each on its port", () => {
    for (const [name, port] of [
      ["prometheus-adapter", "6443"],
      ["metrics-server", "10250"],
    ] as const) {
      assert.deepEqual(configured.get(name)!.ingress, [{ from: [{ ip_block: { cidr: "10.20.0.5/32" } }, { ip_block: { cidr: "10.20.1.5/32" } }], ports: [{ port, protocol: "TCP" }] }], name);
    }
    const operator = configured.get("prometheus-operator")!;
    assert.deepEqual(cidrsOf(operator.ingress[1].from), ["10.20.0.5/32", "10.20.1.5/32"]);
    assert.deepEqual(operator.ingress[1].ports, [{ port: "10250", protocol: "TCP" }]);
  });

  it("lets Prometheus reach the metrics ports, the nodes' scrape ports, the API server and DNS, and no other address", () => {
    const prometheus = configured.get("prometheus")!;
    for (const rule of prometheus.egress as Json[]) {
      assert.ok((rule.to ?? []).length > 0, "every egress rule names its peers");
      assert.ok((rule.ports ?? []).length > 0, "every egress rule names its ports");
      for (const cidr of cidrsOf(rule.to)) assert.equal(cidr, "10.30.0.0/16", "the only addresses are the nodes'");
    }
    const platform = prometheus.egress.find((r: Json) => r.to[0].namespace_selector?.match_labels?.["kubernetes.io/metadata.name"] === "agent-platform");
    assert.deepEqual(platform.ports, [{ port: "metrics", protocol: "TCP" }]);
    const nodes = prometheus.egress.find((r: Json) => cidrsOf(r.to).length > 0);
    // The kubelet and node-exporter: no control-plane component unless the config lists it.
    assert.deepEqual(nodes.ports.map((p: Json) => p.port), ["9100", "10250"]);
    assert.deepEqual(configured.get("metrics-server")!.egress, [{ to: [{ ip_block: { cidr: "10.30.0.0/16" } }], ports: [{ port: "10250", protocol: "TCP" }] }]);
  });

  it("opens the internet to Alertmanager alone, on 443, where it pages PagerDuty, and to nothing in staging", () => {
    for (const [name, spec] of configured) {
      const all = [...(spec.ingress ?? []).flatMap((r: Json) => r.from ?? []), ...(spec.egress ?? []).flatMap((r: Json) => r.to ?? [])];
      const open = all.filter((p: Json) => p.ip_block?.cidr === "0.0.0.0/0");
      if (name === "alertmanager") {
        assert.deepEqual(spec.egress, [{ to: [{ ip_block: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"] } }], ports: [{ port: "443", protocol: "TCP" }] }]);
      } else assert.deepEqual(open, [], name);
    }
    const staging = monitoringPolicies(synthEnvironment("staging"));
    assert.deepEqual(staging.get("alertmanager")!.egress, [], "staging pages nobody: Alertmanager reaches no address");
  });

  it("takes the default (private ranges) where the config names no addresses", () => {
    const defaults = monitoringPolicies(synthEnvironment("production"));
    assert.deepEqual(cidrsOf(defaults.get("allow-apiserver-egress")!.egress[0].to), ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]);
    assert.deepEqual(defaults.get("allow-apiserver-egress")!.egress[0].ports.map((p: Json) => p.port), ["443", "6443"]);
  });

  it("opens a control-plane component's port only where monitoring.controlPlaneTargets lists it", () => {
    const listed = rawEnvironment("production");
    listed.cluster.nodeCidrs = ["10.30.0.0/16"];
    listed.monitoring.controlPlaneTargets = ["kube-scheduler", "etcd"];
    const policies = monitoringPolicies(synthEnvironment("production", {}, listed));
    const nodes = policies.get("prometheus")!.egress.find((r: Json) => cidrsOf(r.to).length > 0);
    assert.deepEqual(nodes.ports.map((p: Json) => p.port), ["2381", "9100", "10250", "10259"]);
  });

  it("follows the chart values: a scrape turned off closes its node port", () => {
    assert.deepEqual(scrapedNodePorts({}), [2381, 9100, 10249, 10250, 10257, 10259]);
    assert.deepEqual(scrapedNodePorts({ kubeEtcd: { enabled: false }, nodeExporter: { enabled: false } }), [10249, 10250, 10257, 10259]);
    assert.deepEqual(scrapedNodePorts({ kubernetesServiceMonitors: { enabled: false } }), []);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PlatformNamespace } from "../../constructs/platform-namespace";
import { type Json, loadConfig, named, rawEnvironment, resources, synthEnvironment, synthScope } from "../helpers";

function synth(level?: "restricted" | "baseline"): Json {
  return JSON.parse(synthScope((scope) => new PlatformNamespace(scope, "ns", { name: "agent-platform", podSecurityLevel: level })));
}

describe("PlatformNamespace", () => {
  const json = synth();

  it("enforces, audits and warns at the restricted Pod Security level by default", () => {
    const labels = named(json, "kubernetes_namespace_v1", "agent-platform").metadata.labels;
    assert.equal(labels["pod-security.kubernetes.io/enforce"], "restricted");
    assert.equal(labels["pod-security.kubernetes.io/audit"], "restricted");
    assert.equal(labels["pod-security.kubernetes.io/warn"], "restricted");
  });

  it("takes another level when asked", () => {
    assert.equal(named(synth("baseline"), "kubernetes_namespace_v1", "agent-platform").metadata.labels["pod-security.kubernetes.io/enforce"], "baseline");
  });

  it("denies all ingress and egress unless another policy allows it", () => {
    const deny = named(json, "kubernetes_network_policy_v1", "default-deny-all").spec;
    assert.deepEqual(deny, { pod_selector: {}, policy_types: ["Ingress", "Egress"] });
  });

  it("allows DNS to kube-dns for every pod, UDP and TCP", () => {
    const dns = named(json, "kubernetes_network_policy_v1", "allow-dns-egress").spec;
    assert.deepEqual(dns.policy_types, ["Egress"]);
    assert.deepEqual(dns.egress[0].ports, [
      { port: "53", protocol: "UDP" },
      { port: "53", protocol: "TCP" },
    ]);
    assert.deepEqual(dns.egress[0].to[0].pod_selector, { match_labels: { "k8s-app": "kube-dns" } });
  });

  it("places its policies in the namespace it creates", () => {
    for (const policy of Object.values(resources(json, "kubernetes_network_policy_v1"))) {
      assert.match(policy.metadata.namespace, /^\$\{kubernetes_namespace_v1\./);
    }
  });
});

describe("DNS egress", () => {
  it("defaults to kube-system's kube-dns pods, and follows the environment's dns block (NodeLocal DNSCache)", () => {
    const egressTo = (json: Record<string, any>) =>
      Object.values(resources(json, "kubernetes_network_policy_v1"))
        .filter((p) => p.metadata.name === "allow-dns-egress")
        .map((p) => p.spec.egress[0].to);
    for (const to of egressTo(synthEnvironment("production"))) {
      assert.deepEqual(to, [{ namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "kube-system" } }, pod_selector: { match_labels: { "k8s-app": "kube-dns" } } }]);
    }
    const raw = rawEnvironment("production");
    raw.dns = { namespace: "kube-system", podLabels: { "k8s-app": "coredns" }, nodeLocalAddress: "169.254.20.10" };
    const custom = egressTo(synthEnvironment("production", {}, raw));
    // The platform's, the monitoring namespace's, and the database operator's where it runs.
    assert.equal(custom.length, loadConfig("production").postgres.topology.kind === "cloudnative-pg" ? 3 : 2);
    for (const to of custom) {
      assert.deepEqual(to, [
        { namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "kube-system" } }, pod_selector: { match_labels: { "k8s-app": "coredns" } } },
        { ip_block: { cidr: "169.254.20.10/32" } },
      ]);
    }
  });
});

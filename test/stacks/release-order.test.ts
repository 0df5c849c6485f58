import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resources } from "../helpers";
import { VARIANT_MODES } from "../variants";

/**
 * Under an enforcing CNI, a chart's pod that starts after its namespace's default-deny policy and
 * before its allow rules cannot reach the API server or DNS; an atomic release then rolls back. So
 * every Helm release waits for every NetworkPolicy of the namespace it installs into. Read from
 * the synthesized stacks, for whatever releases and policies they hold.
 */
describe("every Helm release waits for its namespace's NetworkPolicies", () => {
  for (const { variant, env, autoscaling, label } of VARIANT_MODES) {
    it(`${variant.label}, ${label}`, () => {
      const json = variant.stack(env, { enableAutoscaling: autoscaling });
      const policies = Object.entries(resources(json, "kubernetes_network_policy_v1"));
      const releases = Object.entries(resources(json, "helm_release"));
      if (releases.length === 0) return;
      let checked = 0;
      for (const [id, release] of releases) {
        const dependsOn = new Set<string>(release.depends_on ?? []);
        const own = policies.filter(([, p]) => p.metadata.namespace === release.namespace);
        for (const [policyId, policy] of own) {
          assert.ok(dependsOn.has(`kubernetes_network_policy_v1.${policyId}`), `helm_release.${id} does not wait for NetworkPolicy ${policy.metadata.name}`);
          checked++;
        }
      }
      assert.ok(checked > 0, "no release shares a namespace with a NetworkPolicy: the check saw nothing");
    });
  }
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deploymentNames } from "../catalogue";
import { containers, type Json, loadConfig, named, resources, synthEnvironment } from "../helpers";
import { VARIANT_MODES, VARIANTS } from "../variants";

describe("PlatformStack", () => {
  for (const { variant, env, autoscaling, label } of VARIANT_MODES) {
    describe(`${label} (${variant.label})`, () => {
      const json = variant.stack(env, { enableAutoscaling: autoscaling });
      const config = variant.config(env, { enableAutoscaling: autoscaling });

      it("meets Pod Security 'restricted' on every container", () => {
        const all = containers(json);
        assert.ok(all.length >= config.services.length, "a container per service at least");
        for (const { owner, container, pod } of all) {
          const sc = container.security_context;
          assert.equal(sc.allow_privilege_escalation, false, owner);
          assert.equal(sc.privileged, false, owner);
          assert.equal(sc.run_as_non_root, true, owner);
          assert.notEqual(Number(sc.run_as_user), 0, owner);
          assert.deepEqual(sc.capabilities.drop, ["ALL"], owner);
          assert.equal(sc.capabilities.add, undefined, owner);
          assert.equal(sc.seccomp_profile.type, "RuntimeDefault", owner);
          assert.equal(sc.read_only_root_filesystem, true, owner);
          assert.equal(pod.security_context.run_as_non_root, true, owner);
          assert.equal(pod.host_network ?? false, false, owner);
          assert.equal(pod.host_pid ?? false, false, owner);
          for (const volume of pod.volume ?? []) {
            const kinds = Object.keys(volume).filter((k) => k !== "name");
            for (const kind of kinds) {
              assert.ok(["config_map", "secret", "empty_dir", "projected", "downward_api", "persistent_volume_claim", "ephemeral", "csi"].includes(kind), `${owner}: ${kind}`);
            }
          }
          assert.ok(container.resources.requests.cpu && container.resources.requests.memory, owner);
          assert.ok(container.resources.limits.cpu && container.resources.limits.memory, owner);
          assert.doesNotMatch(container.image, /:latest$|^[^:@]+$/, owner);
        }
      });

      it("has a PDB per workload that never blocks a node drain", () => {
        for (const service of config.services) {
          for (const name of deploymentNames(service)) {
            const pdb = named(json, "kubernetes_pod_disruption_budget_v1", name).spec;
            const smallest = autoscaling ? service.autoscaling.minReplicas : service.replicas;
            if (pdb.max_unavailable !== undefined) assert.doesNotMatch(String(pdb.max_unavailable), /^0%?$/);
            if (pdb.min_available !== undefined) assert.ok(Number(pdb.min_available) < smallest, name);
            // The budget selects exactly its own Deployment's pods.
            const deployment = named(json, "kubernetes_deployment_v1", name);
            assert.deepEqual(pdb.selector.match_labels, deployment.spec.selector.match_labels, name);
          }
        }
      });

      it(autoscaling ? "emits one HPA per service and no Deployment replicas" : "emits no HPA and fixed replicas", () => {
        const hpas = Object.values(resources(json, "kubernetes_horizontal_pod_autoscaler_v2"));
        // The services' Deployments; PgBouncer's has a fixed size of its own.
        const services = Object.entries(resources(json, "kubernetes_deployment_v1")).filter(([, d]) => d.metadata.labels["app.kubernetes.io/component"] === "service");
        assert.equal(hpas.length, autoscaling ? services.length : 0);
        // Each HPA targets its own Deployment, and every service Deployment has exactly one HPA.
        const targets = hpas.map((h) => /^\$\{kubernetes_deployment_v1\.([^.]+)\.metadata\[0\]\.name\}$/.exec(h.spec.scale_target_ref.name)?.[1]);
        assert.deepEqual([...targets].sort(), autoscaling ? services.map(([id]) => id).sort() : []);
        for (const [, d] of services) assert.equal(d.spec.replicas === undefined, autoscaling, d.metadata.name);
      });

      it("places every namespaced resource in a namespace the stack creates, never default", () => {
        for (const [type, byId] of Object.entries(json.resource as Record<string, Record<string, Json>>)) {
          // Cluster-scoped: no namespace.
          if (["kubernetes_namespace_v1", "kubernetes_cluster_role_v1", "kubernetes_cluster_role_binding_v1"].includes(type)) continue;
          for (const r of Object.values(byId)) {
            const namespace = type === "helm_release" ? r.namespace : r.metadata.namespace;
            assert.match(namespace, /^\$\{kubernetes_namespace_v1\./, type);
          }
        }
      });

      it("selects pods that exist: every Service selector matches a workload's pod labels", () => {
        const podLabels = ["kubernetes_deployment_v1", "kubernetes_stateful_set_v1"].flatMap((type) =>
          Object.values(resources(json, type)).map((d) => d.spec.template.metadata.labels),
        );
        // A selector value that is a variable (the blue-green switch) takes the variable's default.
        const resolve = (value: string) => {
          const variable = /^\$\{var\.([a-z_]+)\}$/.exec(value)?.[1];
          return variable ? json.variable[variable].default : value;
        };
        for (const svc of Object.values(resources(json, "kubernetes_service_v1"))) {
          assert.ok(
            podLabels.some((labels) => Object.entries(svc.spec.selector as Record<string, string>).every(([k, v]) => labels[k] === resolve(v))),
            svc.metadata.name,
          );
        }
      });
    });
  }

  it("reaches the cluster through the configured kubeconfig and context", () => {
    const { cluster } = loadConfig("staging");
    assert.deepEqual(synthEnvironment("staging").provider.kubernetes, [{ config_path: cluster.kubeconfigPath, config_context: cluster.context }]);
  });

  for (const variant of VARIANTS) {
    it(`opens exactly the call graph, in both directions, for every pair of services (${variant.label})`, () => {
      const config = variant.config("production");
      const json = variant.stack("production");
      const names = new Set(config.services.map((s) => s.name));
      assert.ok(config.services.some((s) => s.calls.length > 0), "the catalogue has a call to check");
      /** The services a service's own NetworkPolicy names as peers, ingress or egress. */
      const peers = (name: string, direction: "ingress" | "egress") =>
        named(json, "kubernetes_network_policy_v1", name)
          .spec[direction]?.flatMap((rule: Json) => rule[direction === "ingress" ? "from" : "to"] ?? [])
          .map((peer: Json) => peer.pod_selector?.match_labels?.["app.kubernetes.io/name"])
          .filter((peer: string | undefined) => peer !== undefined && names.has(peer))
          .sort() ?? [];
      for (const s of config.services) {
        const callers = config.services.filter((c) => c.calls.includes(s.name)).map((c) => c.name).sort();
        assert.deepEqual(peers(s.name, "ingress"), callers, `${s.name} admits exactly its callers`);
        assert.deepEqual(peers(s.name, "egress"), [...s.calls].sort(), `${s.name} reaches exactly what it calls`);
      }
    });
  }
});

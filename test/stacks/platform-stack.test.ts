import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ENVIRONMENT_NAMES } from "../../config/schema";
import { containers, type Json, loadConfig, named, resources, synthEnvironment } from "../helpers";

const modes = [false, true] as const;

describe("PlatformStack", () => {
  for (const env of ENVIRONMENT_NAMES) {
    for (const autoscaling of modes) {
      describe(`${env}, autoscaling ${autoscaling ? "on" : "off"}`, () => {
        const json = synthEnvironment(env, { enableAutoscaling: autoscaling });

        it("meets Pod Security 'restricted' on every container", () => {
          const all = containers(json);
          assert.ok(all.length >= 5);
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
          const config = loadConfig(env, { enableAutoscaling: autoscaling });
          for (const service of config.services) {
            const names = service.release.strategy === "blue-green" ? [`${service.name}-blue`, `${service.name}-green`] : [service.name];
            for (const name of names) {
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
            if (type === "kubernetes_namespace_v1") continue;
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
  }

  it("carries the seed's HPA table when ENABLE_AUTOSCALING=true in production", () => {
    const json = synthEnvironment("production", { enableAutoscaling: true });
    const rows = Object.values(resources(json, "kubernetes_horizontal_pod_autoscaler_v2"))
      .map((h) => [
        h.metadata.name,
        h.spec.min_replicas,
        h.spec.max_replicas,
        ...h.spec.metric.map((m: Json) => m.resource?.target.average_utilization ?? m.pods?.metric.name ?? m.external?.metric.name),
      ])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    assert.deepEqual(rows, [
      ["agent-orchestrator", 2, 8, 75, 80, "queue_length"],
      ["api-gateway-blue", 3, 10, 70, 75],
      ["api-gateway-green", 3, 10, 70, 75],
      ["model-orchestration", 3, 12, 70, 75, "queue_length", "http_request_duration_seconds_p95"],
      ["tool-integration", 2, 6, 75, 80],
      ["web-dashboard-blue", 2, 6, 75, 80, "http_requests_per_second"],
      ["web-dashboard-green", 2, 6, 75, 80, "http_requests_per_second"],
    ]);
  });

  it("reaches the cluster through the configured kubeconfig and context", () => {
    const json = synthEnvironment("staging");
    assert.deepEqual(json.provider.kubernetes, [{ config_path: "~/.kube/config", config_context: "agent-platform-staging" }]);
  });

  it("opens exactly the call graph: the gateway reaches the orchestrator, the dashboard does not", () => {
    const json = synthEnvironment("production");
    const ingressFrom = (name: string) =>
      named(json, "kubernetes_network_policy_v1", name)
        .spec.ingress.flatMap((rule: Json) => rule.from)
        .map((peer: Json) => peer.pod_selector?.match_labels?.["app.kubernetes.io/name"])
        .filter((name: string | undefined) => name && name !== "prometheus");
    assert.deepEqual(ingressFrom("agent-orchestrator"), ["api-gateway"]);
    assert.deepEqual(ingressFrom("model-orchestration"), ["api-gateway", "agent-orchestrator"]);
    assert.deepEqual(ingressFrom("api-gateway"), ["ingress-nginx", "web-dashboard"]);
    assert.deepEqual(ingressFrom("web-dashboard"), ["ingress-nginx"]);
  });
});

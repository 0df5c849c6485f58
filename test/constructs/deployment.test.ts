import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ServiceDeployment, type ServiceDeploymentProps } from "../../constructs/deployment";
import { type Json, resources, synthScope } from "../helpers";

const base: ServiceDeploymentProps = {
  namespace: "ns",
  name: "svc",
  labels: {},
  selector: { app: "svc" },
  podLabels: { app: "svc", version: "1" },
  serviceAccountName: "svc",
  image: "registry.example/svc:1.0.0",
  imagePullPolicy: "IfNotPresent",
  port: 8080,
  probes: { liveness: "/live", readiness: "/ready", startup: "/start" },
  resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "200m", memory: "256Mi" } },
  configMapName: "svc-settings",
};

function spec(props: Partial<ServiceDeploymentProps> = {}): Json {
  const json = JSON.parse(synthScope((scope) => new ServiceDeployment(scope, "d", { ...base, ...props })));
  return Object.values(resources(json, "kubernetes_deployment_v1"))[0]!.spec;
}

describe("ServiceDeployment", () => {
  it("omits replicas unless given (an HPA or the API default owns it)", () => {
    assert.equal(spec().replicas, undefined);
    assert.equal(spec({ replicas: 3 }).replicas, "3");
  });
  it("sets no topology spread by default, and a soft one on request", () => {
    assert.equal(spec().template.spec.topology_spread_constraint, undefined);
    assert.equal(spec({ spreadAcrossNodes: true }).template.spec.topology_spread_constraint.length, 2);
  });
  it("leaves a NotReady or unreachable node after 30 s by default, and after the seconds asked", () => {
    const tolerations = spec().template.spec.toleration;
    assert.deepEqual(
      tolerations.map((t: Json) => [t.key, t.operator, t.effect, t.toleration_seconds]),
      [
        ["node.kubernetes.io/not-ready", "Exists", "NoExecute", "30"],
        ["node.kubernetes.io/unreachable", "Exists", "NoExecute", "30"],
      ],
    );
    assert.deepEqual(
      spec({ nodeFailureTolerationSeconds: 120 }).template.spec.toleration.map((t: Json) => t.toleration_seconds),
      ["120", "120"],
    );
  });
  it("fails when the node-failure toleration is not a whole number of seconds up to an hour", () => {
    assert.throws(() => spec({ nodeFailureTolerationSeconds: -1 }), /'nodeFailureTolerationSeconds' \(-1\) must be a whole number of seconds from 0 to 3600/);
    assert.throws(() => spec({ nodeFailureTolerationSeconds: 1.5 }), /'nodeFailureTolerationSeconds' \(1.5\)/);
  });
  it("sizes /tmp at 64Mi by default, and as asked", () => {
    assert.equal(spec().template.spec.volume[0].empty_dir.size_limit, "64Mi");
    assert.equal(spec({ tmpSize: "1Gi" }).template.spec.volume[0].empty_dir.size_limit, "1Gi");
  });
  it("carries pod annotations", () => {
    assert.deepEqual(spec({ podAnnotations: { a: "b" } }).template.metadata.annotations, { a: "b" });
  });
  it("uses the pull policy it is given", () => {
    assert.equal(spec({ imagePullPolicy: "Always" }).template.spec.container[0].image_pull_policy, "Always");
  });
  it("fails when the pod labels miss a selector label", () => {
    assert.throws(() => spec({ podLabels: { version: "1" } }), /'podLabels' must carry selector label app=svc/);
  });
  it("fails when liveness and readiness share an endpoint", () => {
    assert.throws(() => spec({ probes: { liveness: "/h", readiness: "/h", startup: "/s" } }), /liveness and readiness probes must differ/);
  });
  it("fails when replicas is not a whole number of at least 1", () => {
    assert.throws(() => spec({ replicas: 0 }), /'replicas' \(0\)/);
  });
});

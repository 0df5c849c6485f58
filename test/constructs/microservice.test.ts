import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ServiceConfig } from "../../config/load";
import { Microservice, type MicroserviceProps } from "../../constructs/microservice";
import { type Json, loadConfig, named, resources, synthScope } from "../helpers";

const production = loadConfig("production");
const service = (name: string): ServiceConfig => production.services.find((s) => s.name === name)!;

function synth(overrides: Partial<MicroserviceProps> = {}, svc: ServiceConfig = service("agent-orchestrator")): Json {
  const props: MicroserviceProps = {
    namespace: { name: "agent-platform", literalName: "agent-platform" },
    environment: "production",
    service: svc,
    autoscaling: false,
    imagePullPolicy: "Always",
    monitoringNamespace: "monitoring",
    ingressController: { namespace: "ingress-nginx", podLabels: { "app.kubernetes.io/name": "ingress-nginx" } },
    ...overrides,
  };
  return JSON.parse(synthScope((scope) => new Microservice(scope, svc.name, props)));
}

const deployment = (json: Json, name = "agent-orchestrator") => named(json, "kubernetes_deployment_v1", name);

describe("Microservice", () => {
  describe("by default", () => {
    const json = synth();

    it("emits a Deployment, Service, ServiceAccount, ConfigMap, PDB and NetworkPolicy, and no HPA", () => {
      for (const type of [
        "kubernetes_deployment_v1",
        "kubernetes_service_v1",
        "kubernetes_service_account_v1",
        "kubernetes_config_map_v1",
        "kubernetes_pod_disruption_budget_v1",
        "kubernetes_network_policy_v1",
      ]) {
        assert.equal(Object.keys(resources(json, type)).length, 1, type);
      }
      assert.deepEqual(resources(json, "kubernetes_horizontal_pod_autoscaler_v2"), {});
    });

    it("runs the configured replicas with surge-only rolling updates", () => {
      const spec = deployment(json).spec;
      assert.equal(spec.replicas, "2");
      assert.deepEqual(spec.strategy, { type: "RollingUpdate", rolling_update: { max_surge: "25%", max_unavailable: "0" } });
    });

    it("selects pods by name and part-of only, never by version", () => {
      const spec = deployment(json).spec;
      assert.deepEqual(spec.selector.match_labels, { "app.kubernetes.io/name": "agent-orchestrator", "app.kubernetes.io/part-of": "agent-platform" });
      assert.equal(spec.template.metadata.labels["app.kubernetes.io/version"], "1.0.0");
      const svc = named(json, "kubernetes_service_v1", "agent-orchestrator");
      assert.deepEqual(svc.spec.selector, spec.selector.match_labels);
    });

    it("does not mount a service-account token", () => {
      assert.equal(named(json, "kubernetes_service_account_v1", "agent-orchestrator").automount_service_account_token, false);
      assert.equal(deployment(json).spec.template.spec.automount_service_account_token, false);
    });

    it("sets requests, limits, a pinned image and distinct probes", () => {
      const c = deployment(json).spec.template.spec.container[0];
      assert.equal(c.image, "ghcr.io/berrys-agents/agent-orchestrator:1.0.0");
      assert.deepEqual(c.resources, { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } });
      assert.equal(c.liveness_probe.http_get.path, "/health/live");
      assert.equal(c.readiness_probe.http_get.path, "/health/ready");
      assert.equal(c.startup_probe.http_get.path, "/health/startup");
      assert.notDeepEqual(c.liveness_probe, c.readiness_probe);
    });

    it("keeps the root filesystem read-only with a writable /tmp", () => {
      const pod = deployment(json).spec.template.spec;
      assert.equal(pod.container[0].security_context.read_only_root_filesystem, true);
      assert.deepEqual(pod.container[0].volume_mount, [{ name: "tmp", mount_path: "/tmp" }]);
      assert.deepEqual(pod.volume, [{ name: "tmp", empty_dir: { size_limit: "64Mi" } }]);
    });

    it("spreads more than one pod across nodes and zones, softly", () => {
      const spread = deployment(json).spec.template.spec.topology_spread_constraint;
      assert.deepEqual(
        spread.map((s: Json) => [s.topology_key, s.when_unsatisfiable, s.max_skew]),
        [
          ["kubernetes.io/hostname", "ScheduleAnyway", 1],
          ["topology.kubernetes.io/zone", "ScheduleAnyway", 1],
        ],
      );
    });

    it("delivers platform settings and the callees' URLs through the ConfigMap", () => {
      const data = named(json, "kubernetes_config_map_v1", "agent-orchestrator-settings").data;
      assert.deepEqual(data, {
        PLATFORM_ENVIRONMENT: "production",
        PLATFORM_NAMESPACE: "agent-platform",
        PLATFORM_SERVICE_NAME: "agent-orchestrator",
        PORT: "8080",
      });
      const envFrom = deployment(json).spec.template.spec.container[0].env_from;
      assert.equal(envFrom.length, 1);
    });

    it("sets a PDB of maxUnavailable 1", () => {
      const pdb = named(json, "kubernetes_pod_disruption_budget_v1", "agent-orchestrator");
      assert.equal(pdb.spec.max_unavailable, "1");
      assert.equal(pdb.spec.min_available, undefined);
    });

    it("admits only Prometheus' pods, on the metrics port alone, when nothing calls it", () => {
      const policy = named(json, "kubernetes_network_policy_v1", "agent-orchestrator").spec;
      assert.deepEqual(policy.policy_types, ["Ingress", "Egress"]);
      assert.deepEqual(policy.ingress, [
        {
          from: [{ namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "monitoring" } }, pod_selector: { match_labels: { "app.kubernetes.io/name": "prometheus" } } }],
          ports: [{ port: "metrics", protocol: "TCP" }],
        },
      ]);
      assert.deepEqual(policy.egress ?? [], []);
    });
  });

  it("hands the replica count to an HPA when autoscaling is on", () => {
    const json = synth({ autoscaling: true });
    assert.equal(deployment(json).spec.replicas, undefined);
    const hpa = Object.values(resources(json, "kubernetes_horizontal_pod_autoscaler_v2"));
    assert.equal(hpa.length, 1);
    assert.equal(hpa[0]!.spec.min_replicas, 2);
    assert.equal(hpa[0]!.spec.max_replicas, 8);
  });

  it("opens ingress from callers and egress to callees on their ports", () => {
    const json = synth({ callers: ["api-gateway"], callees: [{ name: "model-orchestration", port: 8080 }] });
    const policy = named(json, "kubernetes_network_policy_v1", "agent-orchestrator").spec;
    assert.deepEqual(policy.ingress[0].from, [{ pod_selector: { match_labels: { "app.kubernetes.io/name": "api-gateway", "app.kubernetes.io/part-of": "agent-platform" } } }]);
    assert.deepEqual(policy.egress, [
      {
        to: [{ pod_selector: { match_labels: { "app.kubernetes.io/name": "model-orchestration", "app.kubernetes.io/part-of": "agent-platform" } } }],
        ports: [{ port: "8080", protocol: "TCP" }],
      },
    ]);
    const data = named(json, "kubernetes_config_map_v1", "agent-orchestrator-settings").data;
    assert.equal(data.PLATFORM_MODEL_ORCHESTRATION_URL, "http://model-orchestration.agent-platform.svc.cluster.local");
  });

  it("admits the ingress controller to a public service", () => {
    const json = synth({}, service("api-gateway"));
    const policy = named(json, "kubernetes_network_policy_v1", "api-gateway").spec;
    assert.deepEqual(policy.ingress[0].from, [
      {
        namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "ingress-nginx" } },
        pod_selector: { match_labels: { "app.kubernetes.io/name": "ingress-nginx" } },
      },
    ]);
  });

  it("opens internet HTTPS, but not private ranges, when the catalogue asks for it", () => {
    const json = synth({}, service("model-orchestration"));
    const egress = named(json, "kubernetes_network_policy_v1", "model-orchestration").spec.egress;
    assert.equal(egress.length, 1);
    assert.equal(egress[0].to[0].ip_block.cidr, "0.0.0.0/0");
    assert.ok(egress[0].to[0].ip_block.except.includes("10.0.0.0/8"));
    assert.ok(egress[0].to[0].ip_block.except.includes("169.254.0.0/16"));
    assert.deepEqual(egress[0].ports, [{ port: "443", protocol: "TCP" }]);
  });

  it("runs one pod without topology spread", () => {
    const json = synth({}, { ...service("tool-integration"), replicas: 1 });
    assert.equal(deployment(json, "tool-integration").spec.template.spec.topology_spread_constraint, undefined);
  });

  it("pins an image by digest when one is given", () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const json = synth({}, { ...service("tool-integration"), image: { digest } });
    assert.equal(deployment(json, "tool-integration").spec.template.spec.container[0].image, `ghcr.io/berrys-agents/tool-integration@${digest}`);
  });

  it("rolls the pods when a setting changes, and only then", () => {
    const checksum = (json: Json) => deployment(json, "tool-integration").spec.template.metadata.annotations["agent-platform/settings-sha256"];
    const base = service("tool-integration");
    const a = checksum(synth({}, base));
    assert.equal(checksum(synth({}, base)), a);
    assert.notEqual(checksum(synth({}, { ...base, env: { FEATURE_X: "on" } })), a);
  });

  it("fails when a public service has no ingress controller", () => {
    assert.throws(() => synth({ ingressController: undefined }, service("api-gateway")), /api-gateway: a public service needs 'ingressController'/);
  });

  it("fails when a setting would override a platform one", () => {
    assert.throws(() => synth({ platformSettings: { FEATURE: "x" } }, { ...service("tool-integration"), env: { FEATURE: "y" } }), /env.FEATURE is set by the platform/);
  });

  describe("with a blue-green release", () => {
    const blueGreen: ServiceConfig = {
      ...service("api-gateway"),
      image: { tag: "1.1.0" },
      release: { strategy: "blue-green", active: "green", previous: { tag: "1.0.0" } },
    };

    it("runs a Deployment per track: the active one on the new image, the other on the previous", () => {
      const json = synth({}, blueGreen);
      const blue = named(json, "kubernetes_deployment_v1", "api-gateway-blue").spec;
      const green = named(json, "kubernetes_deployment_v1", "api-gateway-green").spec;
      assert.equal(green.template.spec.container[0].image, "ghcr.io/berrys-agents/api-gateway:1.1.0");
      assert.equal(blue.template.spec.container[0].image, "ghcr.io/berrys-agents/api-gateway:1.0.0");
      assert.equal(blue.selector.match_labels["agent-platform/track"], "blue");
      assert.equal(green.template.metadata.labels["agent-platform/track"], "green");
    });

    it("routes the Service to the track a variable names, defaulting to the config's active", () => {
      const json = synth({}, blueGreen);
      const selector = named(json, "kubernetes_service_v1", "api-gateway").spec.selector;
      assert.equal(selector["agent-platform/track"], "${var.active_track_api_gateway}");
      assert.equal(json.variable.active_track_api_gateway.default, "green");
      assert.match(json.variable.active_track_api_gateway.validation[0].condition, /contains\(\["blue", "green"\]/);
    });

    it("gives each track its own PDB and, with autoscaling, its own HPA", () => {
      const json = synth({ autoscaling: true }, blueGreen);
      for (const track of ["blue", "green"]) {
        assert.equal(named(json, "kubernetes_pod_disruption_budget_v1", `api-gateway-${track}`).spec.selector.match_labels["agent-platform/track"], track);
        assert.equal(named(json, "kubernetes_horizontal_pod_autoscaler_v2", `api-gateway-${track}`).spec.max_replicas, 10);
      }
    });

    it("keeps a rolling service's Terraform addresses (no track level in its construct ids)", () => {
      const json = synth();
      assert.deepEqual(Object.keys(resources(json, "kubernetes_deployment_v1")).map((id) => id.replace(/_[0-9A-F]{8}$/, "")), ["agent-orchestrator_deployment_resource"]);
    });
  });
});

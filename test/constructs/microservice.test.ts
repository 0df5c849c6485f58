import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ServiceConfig } from "../../config/load";
import { CONFIG_CHECKSUM_ANNOTATION } from "../../constructs/config-checksum";
import { Microservice, type MicroserviceProps } from "../../constructs/microservice";
import { isInternal, publicService, serviceWhere } from "../catalogue";
import { type Json, loadConfig, named, resources, synthScope } from "../helpers";

const production = loadConfig("production");
/**
 * A service of the catalogue, picked by what it is (test/catalogue.ts), with the props these tests
 * are about set here rather than read from config/production.ts: editing a config file changes
 * which values a service has, not what the construct must do with them.
 */
const pinned = (s: ServiceConfig): ServiceConfig => ({
  ...s,
  image: { tag: "1.0.0" },
  replicas: 2,
  resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } },
  env: {},
  autoscaling: { ...s.autoscaling, minReplicas: 2, maxReplicas: 8 },
  disruption: { maxUnavailable: 1 },
  release: { strategy: "rolling" },
});
/** Internal, no internet egress: the default subject. */
const INTERNAL = pinned(serviceWhere(production, "an internal service without internet egress", (s) => isInternal(s) && !s.internetEgress));
const PUBLIC = pinned(publicService(production));
const EGRESS = pinned(serviceWhere(production, "a service with internet egress", (s) => s.internetEgress));
/** Two other services, to call and be called by. */
const others = production.services.filter((s) => s.name !== INTERNAL.name).map((s) => s.name);
const [CALLER, CALLEE] = [others[0]!, others[others.length - 1]!];

function synth(overrides: Partial<MicroserviceProps> = {}, svc: ServiceConfig = INTERNAL): Json {
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

const deployment = (json: Json, name = INTERNAL.name) => named(json, "kubernetes_deployment_v1", name);

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
      assert.deepEqual(spec.selector.match_labels, { "app.kubernetes.io/name": INTERNAL.name, "app.kubernetes.io/part-of": "agent-platform" });
      assert.equal(spec.template.metadata.labels["app.kubernetes.io/version"], "1.0.0");
      const svc = named(json, "kubernetes_service_v1", INTERNAL.name);
      assert.deepEqual(svc.spec.selector, spec.selector.match_labels);
    });

    it("does not mount a service-account token", () => {
      assert.equal(named(json, "kubernetes_service_account_v1", INTERNAL.name).automount_service_account_token, false);
      assert.equal(deployment(json).spec.template.spec.automount_service_account_token, false);
    });

    it("sets requests, limits, a pinned image and distinct probes", () => {
      const c = deployment(json).spec.template.spec.container[0];
      assert.equal(c.image, `${INTERNAL.imageRepository}:1.0.0`);
      assert.deepEqual(c.resources, { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } });
      assert.equal(c.liveness_probe.http_get.path, INTERNAL.probes.liveness);
      assert.equal(c.readiness_probe.http_get.path, INTERNAL.probes.readiness);
      assert.equal(c.startup_probe.http_get.path, INTERNAL.probes.startup);
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
      const data = named(json, "kubernetes_config_map_v1", `${INTERNAL.name}-settings`).data;
      assert.deepEqual(data, {
        PLATFORM_ENVIRONMENT: "production",
        PLATFORM_NAMESPACE: "agent-platform",
        PLATFORM_SERVICE_NAME: INTERNAL.name,
        PORT: String(INTERNAL.port),
      });
      const envFrom = deployment(json).spec.template.spec.container[0].env_from;
      assert.equal(envFrom.length, 1);
    });

    it("sets a PDB of maxUnavailable 1", () => {
      const pdb = named(json, "kubernetes_pod_disruption_budget_v1", INTERNAL.name);
      assert.equal(pdb.spec.max_unavailable, "1");
      assert.equal(pdb.spec.min_available, undefined);
    });

    it("admits only Prometheus' pods, on the metrics port alone, when nothing calls it", () => {
      const policy = named(json, "kubernetes_network_policy_v1", INTERNAL.name).spec;
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
    const json = synth({ callers: [CALLER], callees: [{ name: CALLEE, port: 8080 }] });
    const policy = named(json, "kubernetes_network_policy_v1", INTERNAL.name).spec;
    assert.deepEqual(policy.ingress[0].from, [{ pod_selector: { match_labels: { "app.kubernetes.io/name": CALLER, "app.kubernetes.io/part-of": "agent-platform" } } }]);
    assert.deepEqual(policy.egress, [
      {
        to: [{ pod_selector: { match_labels: { "app.kubernetes.io/name": CALLEE, "app.kubernetes.io/part-of": "agent-platform" } } }],
        ports: [{ port: "8080", protocol: "TCP" }],
      },
    ]);
    const data = named(json, "kubernetes_config_map_v1", `${INTERNAL.name}-settings`).data;
    assert.equal(data[`PLATFORM_${CALLEE.toUpperCase().replace(/-/g, "_")}_URL`], `http://${CALLEE}.agent-platform.svc.cluster.local`);
  });

  it("admits the ingress controller to a public service", () => {
    const json = synth({}, PUBLIC);
    const policy = named(json, "kubernetes_network_policy_v1", PUBLIC.name).spec;
    assert.deepEqual(policy.ingress[0].from, [
      {
        namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "ingress-nginx" } },
        pod_selector: { match_labels: { "app.kubernetes.io/name": "ingress-nginx" } },
      },
    ]);
  });

  it("opens internet HTTPS, but not private ranges, when the catalogue asks for it", () => {
    const json = synth({}, EGRESS);
    const egress = named(json, "kubernetes_network_policy_v1", EGRESS.name).spec.egress;
    assert.equal(egress.length, 1);
    assert.equal(egress[0].to[0].ip_block.cidr, "0.0.0.0/0");
    assert.ok(egress[0].to[0].ip_block.except.includes("10.0.0.0/8"));
    assert.ok(egress[0].to[0].ip_block.except.includes("169.254.0.0/16"));
    assert.deepEqual(egress[0].ports, [{ port: "443", protocol: "TCP" }]);
  });

  it("runs one pod without topology spread", () => {
    const json = synth({}, { ...INTERNAL, replicas: 1 });
    assert.equal(deployment(json).spec.template.spec.topology_spread_constraint, undefined);
  });

  it("pins an image by digest when one is given", () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const json = synth({}, { ...INTERNAL, image: { digest } });
    assert.equal(deployment(json).spec.template.spec.container[0].image, `${INTERNAL.imageRepository}@${digest}`);
  });

  it("rolls the pods when a setting changes, and only then", () => {
    const checksum = (json: Json) => deployment(json).spec.template.metadata.annotations[CONFIG_CHECKSUM_ANNOTATION];
    const base = INTERNAL;
    const a = checksum(synth({}, base));
    assert.equal(checksum(synth({}, base)), a);
    assert.notEqual(checksum(synth({}, { ...base, env: { FEATURE_X: "on" } })), a);
  });

  it("fails when a public service has no ingress controller", () => {
    assert.throws(() => synth({ ingressController: undefined }, PUBLIC), new RegExp(`${PUBLIC.name}: a public service needs 'ingressController'`));
  });

  it("fails when a setting would override a platform one", () => {
    assert.throws(() => synth({ platformSettings: { FEATURE: "x" } }, { ...INTERNAL, env: { FEATURE: "y" } }), /env.FEATURE is set by the platform/);
  });

  describe("with a blue-green release", () => {
    const blueGreen: ServiceConfig = {
      ...PUBLIC,
      image: { tag: "1.1.0" },
      release: { strategy: "blue-green", active: "green", previous: { tag: "1.0.0" } },
    };

    it("runs a Deployment per track: the active one on the new image, the other on the previous", () => {
      const json = synth({}, blueGreen);
      const blue = named(json, "kubernetes_deployment_v1", `${PUBLIC.name}-blue`).spec;
      const green = named(json, "kubernetes_deployment_v1", `${PUBLIC.name}-green`).spec;
      assert.equal(green.template.spec.container[0].image, `${PUBLIC.imageRepository}:1.1.0`);
      assert.equal(blue.template.spec.container[0].image, `${PUBLIC.imageRepository}:1.0.0`);
      assert.equal(blue.selector.match_labels["agent-platform/track"], "blue");
      assert.equal(green.template.metadata.labels["agent-platform/track"], "green");
    });

    it("routes the Service to the track a variable names, defaulting to the config's active", () => {
      const json = synth({}, blueGreen);
      const selector = named(json, "kubernetes_service_v1", PUBLIC.name).spec.selector;
      const variable = `active_track_${PUBLIC.name.replace(/-/g, "_")}`;
      assert.equal(selector["agent-platform/track"], `\${var.${variable}}`);
      assert.equal(json.variable[variable].default, "green");
      assert.match(json.variable[variable].validation[0].condition, /contains\(\["blue", "green"\]/);
    });

    it("gives each track its own PDB and, with autoscaling, its own HPA", () => {
      const json = synth({ autoscaling: true }, blueGreen);
      for (const track of ["blue", "green"]) {
        assert.equal(named(json, "kubernetes_pod_disruption_budget_v1", `${PUBLIC.name}-${track}`).spec.selector.match_labels["agent-platform/track"], track);
        assert.equal(named(json, "kubernetes_horizontal_pod_autoscaler_v2", `${PUBLIC.name}-${track}`).spec.max_replicas, 8);
      }
    });

    it("keeps a rolling service's Terraform addresses (no track level in its construct ids)", () => {
      const json = synth();
      assert.deepEqual(Object.keys(resources(json, "kubernetes_deployment_v1")).map((id) => id.replace(/_[0-9A-F]{8}$/, "")), [`${INTERNAL.name}_deployment_resource`]);
    });
  });
});

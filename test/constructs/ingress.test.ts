/**
 * Ingress for the public services, from config, and the local walkthrough's pieces: the kind
 * cluster config and the stand-in image's nginx configuration, run by Debian's nginx.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { renderStandInConf, STAND_IN_COMMAND, STAND_IN_DIR } from "../../constructs/stand-in";
import { unescapeLiteral } from "../../constructs/terraform-text";
import { deploymentNames, internalService, publicService } from "../catalogue";
import { type Json, loadConfig, named, rawEnvironment, resources, synthEnvironment } from "../helpers";
import { VARIANT_ENVIRONMENTS } from "../variants";

const PROJECT = resolve(__dirname, "..", "..", "..");

describe("Ingress", () => {
  for (const { variant, env } of VARIANT_ENVIRONMENTS) {
    it(`routes every public service of ${env}, and no internal one, through ${loadConfig(env).ingress.className} (${variant.label})`, () => {
      const config = variant.config(env);
      const json = variant.stack(env);
      const ingresses = Object.values(resources(json, "kubernetes_ingress_v1"));
      const services = Object.entries(resources(json, "kubernetes_service_v1"));
      const routed = ingresses
        .filter((i) => !String(i.metadata.namespace).includes("monitoring"))
        .map((i) => {
          const backend = i.spec.rule[0].http.path[0].backend.service;
          return services.find(([id]) => backend.name === `\${kubernetes_service_v1.${id}.metadata[0].name}`)![1].metadata.name;
        });
      assert.deepEqual(routed.sort(), config.services.filter((s) => s.exposure === "public").map((s) => s.name).sort());
      for (const i of ingresses) {
        assert.equal(i.spec.ingress_class_name, config.ingress.className);
        if (env === "local") assert.equal(i.spec.tls, undefined);
        else assert.deepEqual(i.spec.tls, [{ hosts: [i.spec.rule[0].host], secret_name: `${i.metadata.name}-tls` }]);
      }
      const routedService = publicService(config).name;
      const gateway = named(json, "kubernetes_ingress_v1", routedService);
      assert.equal(gateway.spec.rule[0].host, config.ingress.routes[routedService]!.host);
      assert.deepEqual(gateway.spec.rule[0].http.path[0].backend.service.port, { name: "http" });
      if (config.ingress.tls.mode === "cert-manager") assert.equal(gateway.metadata.annotations["cert-manager.io/cluster-issuer"], config.ingress.tls.clusterIssuer);
    });
  }

  it("exposes Grafana where the config names a host, and admits the ingress controller to it only then", () => {
    const local = synthEnvironment("local");
    const grafana = named(local, "kubernetes_ingress_v1", "kps-grafana");
    assert.equal(grafana.spec.rule[0].host, loadConfig("local").ingress.grafanaHost);
    const policy = (json: Json) => Object.values(resources(json, "kubernetes_network_policy_v1")).find((p) => p.metadata.name === "grafana")!.spec.ingress;
    assert.equal(policy(local)[0].from[0].namespace_selector.match_labels["kubernetes.io/metadata.name"], "ingress-nginx");
    // Without a host, Grafana admits Prometheus' scrapes and nothing from the ingress controller.
    assert.deepEqual(
      policy(synthEnvironment("production")).flatMap((rule: Json) => rule.from.map((f: Json) => f.namespace_selector ?? f.pod_selector.match_labels)),
      [{ "app.kubernetes.io/name": "prometheus" }],
    );
  });

  it("takes TLS from an existing Secret when the config says so", () => {
    const raw = rawEnvironment("staging");
    raw.ingress.tls = { mode: "secret", secretName: "wildcard-staging-tls" };
    const ingress = named(synthEnvironment("staging", {}, raw), "kubernetes_ingress_v1", publicService(loadConfig("staging")).name);
    assert.equal(ingress.spec.tls[0].secret_name, "wildcard-staging-tls");
    assert.equal(ingress.metadata.annotations, undefined);
  });

  it("refuses a public service without a route, an internal one with a route, and plain HTTP outside local", () => {
    const message = (mutate: (raw: Json) => void, env: "local" | "staging" = "staging") => {
      const raw = rawEnvironment(env);
      mutate(raw);
      try {
        loadConfig(env, {}, raw);
      } catch (error) {
        return (error as Error).message;
      }
      return "";
    };
    const staging = loadConfig("staging");
    const [open, closed] = [publicService(staging).name, internalService(staging).name];
    assert.match(message((r) => delete r.ingress.routes[open]), new RegExp(`ingress\\.routes\\.${open} = \\(missing\\): is required: the service is public`));
    assert.match(message((r) => (r.ingress.routes[closed] = { host: "tools.example.com" })), new RegExp(`ingress\\.routes\\.${closed} = .*: must not exist: the service is internal`));
    assert.match(message((r) => (r.ingress.tls = { mode: "none" })), /ingress\.tls\.mode = "none": must be secret or cert-manager outside local/);
    assert.match(message((r) => (r.ingress.routes[open] = { host: "API.Example.com" })), new RegExp(`ingress\\.routes\\.${open}\\.host = "API\\.Example\\.com": must be a host name`));
    assert.match(message((r) => (r.standInImages = true)), /standInImages = true: is for local clusters only/);
  });
});

describe("the local walkthrough", () => {
  it("ships a kind cluster config with the ingress-ready node label and ports 80 and 443 on loopback", () => {
    const kind = parse(readFileSync(join(PROJECT, "scripts", "local", "kind-cluster.yaml"), "utf8"));
    assert.equal(kind.kind, "Cluster");
    // kind names its context kind-<name>: config/local.ts must point there.
    assert.equal(`kind-${kind.name}`, loadConfig("local").cluster.context);
    const node = kind.nodes[0];
    assert.match(node.kubeadmConfigPatches[0], /node-labels: "ingress-ready=true"/);
    assert.deepEqual(
      node.extraPortMappings.map((m: Json) => [m.containerPort, m.hostPort, m.listenAddress]),
      [
        [80, 80, "127.0.0.1"],
        [443, 443, "127.0.0.1"],
      ],
    );
  });

  it("runs every local service from the stand-in image, its config mounted, and the migration as a no-op", () => {
    const local = synthEnvironment("local");
    for (const s of loadConfig("local").services) {
      const pod = named(local, "kubernetes_deployment_v1", deploymentNames(s)[0]!).spec.template.spec;
      assert.equal(pod.container[0].image, "nginxinc/nginx-unprivileged:1.27.0-alpine");
      assert.deepEqual(pod.container[0].command, STAND_IN_COMMAND);
      assert.ok(pod.container[0].volume_mount.some((m: Json) => m.mount_path === STAND_IN_DIR && m.read_only));
      assert.equal(unescapeLiteral(named(local, "kubernetes_config_map_v1", `${s.name}-stand-in`).data["nginx.conf"]), renderStandInConf(s));
    }
    assert.match(Object.values(resources(local, "kubernetes_job_v1"))[0]!.spec.template.spec.container[0].command.join(" "), /no migrations/);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { suppress } from "../../constructs/suppressions";
import { PlatformStack } from "../../stacks/platform-stack";
import { describeFinding, evaluatePolicy, POLICY_RULES, type PolicyRuleId } from "../../stacks/policy";
import { deploymentNames, internalService, publicService, serviceWhere } from "../catalogue";
import { type Json, loadConfig, synthChecked, synthEnvironment, testApp } from "../helpers";
import { VARIANT_MODES } from "../variants";
import type { PlatformConfig } from "../../config/types";

const production = synthEnvironment("production", { enableAutoscaling: true });
// What the mutations break, picked from the config (test/catalogue.ts): the first service, its
// first Deployment (a track, if it is released blue-green), a public and an internal service, the
// migration Job.
const config = loadConfig("production", { enableAutoscaling: true });
const FIRST = config.services[0]!;
const DEPLOYMENT = deploymentNames(FIRST)[0]!;
const PUBLIC = publicService(config);
const INTERNAL = internalService(config);
/** A service without internet egress: a policy of its opened to every address is not excused. */
const CONFINED = serviceWhere(config, "a service without internet egress", (s) => !s.internetEgress);
const JOB = (Object.values(production.resource.kubernetes_job_v1) as Json[])[0]!.metadata.name as string;

/**
 * Where the diff identity must read Secrets: the platform's namespace in variable mode (Secrets
 * Terraform manages, by name), and every namespace a Helm release is installed in (its release
 * records): the monitoring stack's and, with a CloudNativePG cluster, the operator's, which holds
 * the cluster's release too. Never the platform's namespace in existing mode: its Secrets are the
 * database's and Redis' passwords.
 */
function secretReadingNamespaces(config: PlatformConfig): Set<string> {
  const topology = config.postgres.topology;
  return new Set([
    ...(config.secrets.mode === "variable" ? [config.namespace] : []),
    config.monitoringNamespace,
    ...(topology.kind === "cloudnative-pg" ? [topology.operatorNamespace] : []),
  ]);
}

function objectStoreWithoutAddresses(config: PlatformConfig): boolean {
  const topology = config.postgres.topology;
  return topology.kind === "cloudnative-pg" && topology.backup !== undefined && topology.backup.objectStore.cidrs === undefined;
}

/** The first resource of a type whose name matches. */
function find(json: Json, type: string, name: string): Json {
  return Object.values(json.resource[type] as Record<string, Json>).find((r) => r.metadata.name === name)!;
}

/** One mutation per rule: break the production stack, expect exactly that rule to fire there. */
const mutations: { rule: PolicyRuleId; on: string; mutate: (json: Json) => void; alsoFires?: PolicyRuleId[] }[] = [
  { rule: "PSS-PRIVILEGE-ESCALATION", on: DEPLOYMENT, mutate: (j) => (find(j, "kubernetes_deployment_v1", DEPLOYMENT).spec.template.spec.container[0].security_context.allow_privilege_escalation = true) },
  { rule: "PSS-PRIVILEGED", on: "redis", mutate: (j) => (find(j, "kubernetes_stateful_set_v1", "redis").spec.template.spec.container[0].security_context.privileged = true) },
  { rule: "PSS-RUN-AS-NON-ROOT", on: "redis", mutate: (j) => (find(j, "kubernetes_stateful_set_v1", "redis").spec.template.spec.container[1].security_context.run_as_user = "0") },
  { rule: "PSS-SECCOMP", on: JOB, mutate: (j) => {
    const pod = find(j, "kubernetes_job_v1", JOB).spec.template.spec;
    delete pod.container[0].security_context.seccomp_profile;
    delete pod.security_context.seccomp_profile;
  } },
  { rule: "PSS-CAPABILITIES", on: DEPLOYMENT, mutate: (j) => (find(j, "kubernetes_deployment_v1", DEPLOYMENT).spec.template.spec.container[0].security_context.capabilities.add = ["NET_ADMIN"]) },
  { rule: "PSS-HOST-NAMESPACES", on: DEPLOYMENT, mutate: (j) => (find(j, "kubernetes_deployment_v1", DEPLOYMENT).spec.template.spec.host_network = true) },
  { rule: "PSS-VOLUMES", on: DEPLOYMENT, mutate: (j) => find(j, "kubernetes_deployment_v1", DEPLOYMENT).spec.template.spec.volume.push({ name: "host", host_path: { path: "/var/run" } }) },
  { rule: "KS-RESOURCES", on: "redis", mutate: (j) => delete find(j, "kubernetes_stateful_set_v1", "redis").spec.template.spec.container[1].resources.limits },
  { rule: "KS-PROBES", on: "redis", mutate: (j) => {
    const c = find(j, "kubernetes_stateful_set_v1", "redis").spec.template.spec.container[0];
    c.liveness_probe = c.readiness_probe;
  } },
  { rule: "KS-IMAGE", on: DEPLOYMENT, mutate: (j) => (find(j, "kubernetes_deployment_v1", DEPLOYMENT).spec.template.spec.container[0].image = `${FIRST.imageRepository}:latest`) },
  { rule: "KS-READ-ONLY-ROOT", on: JOB, mutate: (j) => (find(j, "kubernetes_job_v1", JOB).spec.template.spec.container[0].security_context.read_only_root_filesystem = false) },
  { rule: "KS-SERVICE-ACCOUNT-TOKEN", on: "redis", mutate: (j) => delete find(j, "kubernetes_stateful_set_v1", "redis").spec.template.spec.automount_service_account_token },
  { rule: "KS-NAMESPACE", on: `${FIRST.name}-settings`, mutate: (j) => (find(j, "kubernetes_config_map_v1", `${FIRST.name}-settings`).metadata.namespace = "default") },
  { rule: "KS-SECRET-MOUNT", on: "pgbouncer", mutate: (j) => {
    // The auth-file init container's volume gains a key its script never names.
    const volume = find(j, "kubernetes_deployment_v1", "pgbouncer").spec.template.spec.volume.find((v: Json) => v.name === "secrets");
    volume.projected[0].sources.push({ secret: [{ name: "postgres-backup-s3", items: [{ key: "ACCESS_SECRET_KEY", path: "object-store-key" }] }] });
  } },
  { rule: "KS-SECRET-LITERAL", on: JOB, mutate: (j) => (find(j, "kubernetes_job_v1", JOB).spec.template.spec.container[0].command = ["sh", "-c", "PGPASSWORD=hunter2hunter2 alembic upgrade head"]) },
  { rule: "KS-SECRET-ENV", on: JOB, mutate: (j) => find(j, "kubernetes_job_v1", JOB).spec.template.spec.container[0].env.push({ name: "POSTGRES_PASSWORD", value: "hunter2hunter2" }) },
  { rule: "KS-REPLICAS", on: DEPLOYMENT, mutate: (j) => (find(j, "kubernetes_horizontal_pod_autoscaler_v2", DEPLOYMENT).spec.min_replicas = 1) },
  { rule: "KS-HPA-REPLICAS", on: DEPLOYMENT, mutate: (j) => (find(j, "kubernetes_deployment_v1", DEPLOYMENT).spec.replicas = "3") },
  { rule: "KS-SPREAD", on: DEPLOYMENT, mutate: (j) => delete find(j, "kubernetes_deployment_v1", DEPLOYMENT).spec.template.spec.topology_spread_constraint },
  { rule: "KS-PDB", on: DEPLOYMENT, mutate: (j) => (find(j, "kubernetes_pod_disruption_budget_v1", DEPLOYMENT).spec.max_unavailable = "0") },
  { rule: "KS-NETWORK-POLICY", on: DEPLOYMENT, mutate: (j) => {
    // Without the namespace-wide policies (default deny, DNS egress), the service's own policy
    // must cover egress too.
    const policies = j.resource.kubernetes_network_policy_v1 as Record<string, Json>;
    for (const name of ["default-deny-all", "allow-dns-egress"]) delete policies[Object.keys(policies).find((id) => policies[id]!.metadata.name === name)!];
    find(j, "kubernetes_network_policy_v1", FIRST.name).spec.policy_types = ["Ingress"];
  }, alsoFires: ["KS-NAMESPACE-DEFAULT-DENY"] },
  { rule: "KS-NETWORK-POLICY-ANY-ADDRESS", on: "pgbouncer", mutate: (j) => (find(j, "kubernetes_network_policy_v1", "pgbouncer").spec.ingress = [{}]) },
  { rule: "KS-NETWORK-POLICY-ANY-ADDRESS", on: CONFINED.name, mutate: (j) => find(j, "kubernetes_network_policy_v1", CONFINED.name).spec.egress.push({ to: [{ ip_block: { cidr: "0.0.0.0/0", except: ["169.254.169.254/32"] } }], ports: [{ port: "443", protocol: "TCP" }] }) },
  { rule: "KS-NETWORK-POLICY-ANY-ADDRESS", on: "prometheus", mutate: (j) => find(j, "kubernetes_network_policy_v1", "prometheus").spec.egress.push({ to: [{ ip_block: { cidr: "::/0" } }] }) },
  // An internal service: a public one's Ingress would then route to no pod, a second finding.
  { rule: "KS-SERVICE-SELECTOR", on: INTERNAL.name, mutate: (j) => (find(j, "kubernetes_service_v1", INTERNAL.name).spec.selector["app.kubernetes.io/name"] = `${INTERNAL.name}-misspelt`) },
  { rule: "KS-ROLLING-UPDATE", on: DEPLOYMENT, mutate: (j) => (find(j, "kubernetes_deployment_v1", DEPLOYMENT).spec.strategy = { type: "Recreate" }) },
  { rule: "KS-STABLE-API", on: "legacy", mutate: (j) => (j.resource.kubernetes_deployment = { legacy: { metadata: { name: "legacy", namespace: "agent-platform" }, spec: {} } }) },
  { rule: "KS-RBAC-SECRETS", on: "kps-grafana-configmaps", mutate: (j) => find(j, "kubernetes_role_v1", "kps-grafana-configmaps").rule[0].resources.push("secrets") },
  { rule: "KS-NAMESPACE-DEFAULT-DENY", on: "monitoring-node-exporter", mutate: (j) => {
    const policies = j.resource.kubernetes_network_policy_v1 as Record<string, Json>;
    delete policies[Object.keys(policies).find((id) => String(policies[id]!.metadata.namespace).includes("node-exporter-namespace"))!];
  } },
  { rule: "KS-INGRESS-ROUTE", on: PUBLIC.name, mutate: (j) => {
    const ingresses = j.resource.kubernetes_ingress_v1 as Record<string, Json>;
    delete ingresses[Object.keys(ingresses).find((id) => ingresses[id]!.metadata.name === PUBLIC.name)!];
  } },
  { rule: "KS-INGRESS-TLS", on: PUBLIC.name, mutate: (j) => delete find(j, "kubernetes_ingress_v1", PUBLIC.name).spec.tls },
  { rule: "HELM-RESOURCES", on: "kube-prometheus-stack", mutate: (j) => {
    const kps = Object.values(j.resource.helm_release as Record<string, Json>).find((h) => h.chart === "kube-prometheus-stack")!;
    kps.values = [kps.values[0].replace(/grafana:\n  admin:/, "grafana:\n  resources: {}\n  admin:").replace(/\n  resources:\n    requests:\n      cpu: 100m\n      memory: 256Mi\n    limits:\n      cpu: 500m\n      memory: 512Mi\n  containerSecurityContext/, "\n  containerSecurityContext")];
  } },
  { rule: "KS-RBAC-SECRETS", on: "kube-prometheus-stack", mutate: (j) => {
    const kps = Object.values(j.resource.helm_release as Record<string, Json>).find((h) => h.chart === "kube-prometheus-stack")!;
    kps.values = [kps.values[0].replace("grafana:\n  fullnameOverride: kps-grafana\n  admin:", "grafana:\n  fullnameOverride: kps-grafana\n  rbac:\n    create: true\n  admin:").replace("  rbac:\n    create: false\n  serviceAccount:", "  serviceAccount:")];
  } },
  { rule: "KS-RBAC-SECRETS", on: "kube-prometheus-stack's operator", mutate: (j) => {
    const kps = Object.values(j.resource.helm_release as Record<string, Json>).find((h) => h.chart === "kube-prometheus-stack")!;
    kps.values = [kps.values[0].replace("global:\n  rbac:\n    create: false", "global:\n  rbac:\n    create: true")];
  } },
  { rule: "KS-RBAC-SECRETS", on: "kube-state-metrics' collectors", mutate: (j) => {
    const kps = Object.values(j.resource.helm_release as Record<string, Json>).find((h) => h.chart === "kube-prometheus-stack")!;
    kps.values = [kps.values[0].replace("    - services\n", "    - secrets\n    - services\n")];
  } },
  { rule: "HELM-SECRETS", on: "kube-prometheus-stack", mutate: (j) => {
    const kps = Object.values(j.resource.helm_release as Record<string, Json>).find((h) => h.chart === "kube-prometheus-stack")!;
    kps.values = [`${kps.values[0]}\nextra:\n  adminPassword: prom-operator\n`];
  } },
  { rule: "HELM-PINNED", on: "prometheus-adapter", mutate: (j) => delete Object.values(j.resource.helm_release as Record<string, Json>).find((h) => h.chart === "prometheus-adapter")!.version },
  // The CloudNativePG cluster, whose pods only the operator creates: checked on its release.
  { rule: "KS-PDB", on: "the cluster's release", mutate: (j) => {
    const cluster = Object.values(j.resource.helm_release as Record<string, Json>).find((h) => h.chart === "cluster")!;
    cluster.values = [cluster.values[0].replace("enablePDB: true", "enablePDB: false")];
  } },
  { rule: "KS-PDB", on: "a budget of our own over the cluster's pods", mutate: (j) => {
    const pdb = structuredClone(find(j, "kubernetes_pod_disruption_budget_v1", "pgbouncer"));
    pdb.metadata.name = "postgres";
    pdb.spec.selector.match_labels = { "cnpg.io/cluster": "postgres" };
    (j.resource.kubernetes_pod_disruption_budget_v1 as Record<string, Json>).extra = pdb;
  } },
  { rule: "KS-NETWORK-POLICY", on: "the cluster's pods", mutate: (j) => {
    // Without the platform namespace's default deny, the cluster's own policy must cover egress.
    const policies = j.resource.kubernetes_network_policy_v1 as Record<string, Json>;
    for (const id of Object.keys(policies).filter((id) => /^namespace_(default-deny|allow-dns)_/.test(id))) delete policies[id];
    find(j, "kubernetes_network_policy_v1", "postgres").spec.policy_types = ["Ingress"];
  }, alsoFires: ["KS-NAMESPACE-DEFAULT-DENY"] },
  { rule: "HELM-RESOURCES", on: "the cluster's backup sidecar", mutate: (j) => {
    const cluster = Object.values(j.resource.helm_release as Record<string, Json>).find((h) => h.chart === "cluster")!;
    cluster.values = [cluster.values[0].replace(/instanceSidecarConfiguration:\n    resources:\n/, "instanceSidecarConfiguration:\n    unused:\n")];
  } },
  { rule: "HELM-SECRETS", on: "the cluster's object store", mutate: (j) => {
    const cluster = Object.values(j.resource.helm_release as Record<string, Json>).find((h) => h.chart === "cluster")!;
    cluster.values = [cluster.values[0].replace("  s3:\n", "  s3:\n    secretKey: wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY\n")];
    // The key's name is HELM-SECRETS; its AWS-shaped value is the secret walk's (KS-SECRET-LITERAL).
  }, alsoFires: ["KS-SECRET-LITERAL"] },
];

describe("policy gate", () => {
  for (const { variant, env, autoscaling } of VARIANT_MODES) {
    it(`passes ${env} with autoscaling ${autoscaling ? "on" : "off"}, with only the declared suppressions (${variant.label})`, () => {
      const result = evaluatePolicy(variant.stack(env, { enableAutoscaling: autoscaling }), { environment: env, ingressControllerNamespace: variant.config(env).ingressController.namespace });
      assert.deepEqual(result.violations.map(describeFinding), []);
      const config = variant.config(env);
      assert.deepEqual(
        [...new Set(result.suppressed.map((s) => `${s.rule} ${s.path}`))].sort(),
        [
          // The catalogue's internetEgress services, and Alertmanager where it pages PagerDuty.
          ...config.services.filter((x) => x.internetEgress).map((x) => `KS-NETWORK-POLICY-ANY-ADDRESS ${env}/${x.name}/network-policy`),
          ...(config.monitoring.alerting && config.monitoring.pagerduty?.enabled ? [`KS-NETWORK-POLICY-ANY-ADDRESS ${env}/monitoring/network-policy-alertmanager`] : []),
          // A database cluster whose object store has no named addresses reaches it on 443 anywhere.
          ...(objectStoreWithoutAddresses(config) ? [`KS-NETWORK-POLICY-ANY-ADDRESS ${env}/postgres-cluster/network-policy`] : []),
          // The diff identity reads the Secrets a plan must (those Terraform manages, in variable
          // mode; Helm's release records, where a chart is), in Roles of their own.
          ...[...secretReadingNamespaces(config)].map((ns) => `KS-RBAC-SECRETS ${env}/diff-identity/${ns}/secrets-role`),
          // kube-prometheus-stack's operator and webhook Jobs, in the monitoring namespace only.
          `KS-RBAC-SECRETS ${env}/monitoring/chart-rbac/operator-role`,
          `KS-RBAC-SECRETS ${env}/monitoring/chart-rbac/admission-role`,
        ].sort(),
      );
    });
  }

  it("has a mutation for every rule", () => {
    assert.deepEqual([...new Set(mutations.map((m) => m.rule))].sort(), Object.keys(POLICY_RULES).sort());
  });

  for (const m of mutations) {
    it(`fails ${m.rule} on ${m.on}, naming the resource, the rule and the fix`, () => {
      const json = structuredClone(production);
      m.mutate(json);
      const { violations } = evaluatePolicy(json, { environment: "production", ingressControllerNamespace: "ingress-nginx" });
      const hit = violations.filter((v) => v.rule === m.rule);
      assert.ok(hit.length > 0, `${m.rule} did not fire; got ${violations.map(describeFinding).join("\n")}`);
      const message = describeFinding(hit[0]!);
      assert.match(message, new RegExp(`${m.rule} `));
      assert.match(message, /Fix: /);
      assert.match(message, /\((kubernetes|helm)_[a-z_0-9]+\./);
      // Nothing else broke.
      assert.deepEqual([...new Set(violations.map((v) => v.rule))].sort(), [m.rule, ...(m.alsoFires ?? [])].sort());
    });
  }

  it("fails synth: a raw Deployment that breaks the rules is refused with its path", () => {
    const app = testApp();
    const stack = new PlatformStack(app, { config: loadConfig("staging") });
    new DeploymentV1(stack, "rogue", {
      metadata: { name: "rogue", namespace: loadConfig("staging").namespace },
      spec: {
        selector: { matchLabels: { app: "rogue" } },
        template: { metadata: { labels: { app: "rogue" } }, spec: { container: [{ name: "rogue", image: "busybox" }] } },
      },
    });
    assert.throws(
      () => synthChecked(stack),
      (error: Error) => {
        assert.match(error.message, /staging\/rogue \(kubernetes_deployment_v1\.rogue\): PSS-RUN-AS-NON-ROOT/);
        assert.match(error.message, /KS-IMAGE .*busybox has no explicit tag/);
        assert.match(error.message, /KS-PDB/);
        assert.match(error.message, /KS-NETWORK-POLICY/);
        return true;
      },
    );
  });

  it("honours a suppression with a reason, and reports it", () => {
    const app = testApp();
    const stack = new PlatformStack(app, { config: loadConfig("local") });
    const deployment = stack.services[0]!.tracks[0]!.deployment.resource;
    deployment.addOverride("spec.template.spec.container.0.security_context.read_only_root_filesystem", false);
    assert.throws(() => synthChecked(stack), /KS-READ-ONLY-ROOT/);
    suppress(deployment, "KS-READ-ONLY-ROOT", "the legacy gateway image writes its PID file next to its binary");
    synthChecked(stack);
    const result = evaluatePolicy(stack.toTerraform(), { environment: "local" });
    assert.deepEqual(result.violations, []);
    assert.equal(result.suppressed[0]!.reason, "the legacy gateway image writes its PID file next to its binary");
  });

  it("reports a stale suppression that excuses nothing", () => {
    const app = testApp();
    const stack = new PlatformStack(app, { config: loadConfig("local") });
    suppress(stack.services[0]!.tracks[0]!.deployment.resource, "KS-PROBES", "kept from an old image that had no readiness endpoint");
    assert.throws(() => synthChecked(stack), /KS-PROBES .*is suppressed here but the rule passes: remove the stale suppression/);
  });

  it("refuses a suppression without a real reason or with an unknown rule id", () => {
    const app = testApp();
    const stack = new PlatformStack(app, { config: loadConfig("local") });
    const resource = stack.services[0]!.tracks[0]!.deployment.resource;
    assert.throws(() => suppress(resource, "KS-PROBES", "n/a"), /give a reason of at least 20 characters/);
    assert.throws(() => suppress(resource, "probes", "because we said so, really"), /not a policy rule id/);
  });

  it("declares checkov skips next to the resource, one checkov:skip line each", () => {
    const local = synthEnvironment("local");
    const deployment = (json: Json, name: string) => Object.values(json.resource.kubernetes_deployment_v1 as Record<string, Json>).find((d) => d.metadata.name === name)!;
    assert.deepEqual(
      deployment(local, deploymentNames(loadConfig("local").services[0]!)[0]!)["//"].checkov.map((line: string) => line.replace(/:[^:]*$/, "")),
      ["checkov:skip=CKV_K8S_43", "checkov:skip=CKV_K8S_15"],
    );
    assert.deepEqual(deployment(production, DEPLOYMENT)["//"].suppressions.map((s: Json) => s.rule), ["CKV_K8S_43"]);
  });
});

/**
 * The policy gate: the rules of the Pod Security Standards (restricted), kube-score and Polaris
 * (REFERENCE §3), applied at synth to every Kubernetes resource the program emits — StatefulSets,
 * Jobs and the Helm releases' values included, which checkov does not cover. A violation fails
 * synth with the resource, the rule and the fix; a declared suppression (constructs/suppressions.ts)
 * excuses one rule on one resource and is reported.
 *
 * The rules read the stack's Terraform JSON (snake_case, references as `${...}`), so the same
 * function checks a stack being synthesized and one already written.
 */
import { parse } from "yaml";
import { parseCidr } from "../config/network";
import { unescapeLiteral } from "../constructs/terraform-text-plain";
import { secretLiterals, secretStrings } from "./secret-scan";
import { configMapLookup, secretMountFindings } from "./secret-mounts";

type Json = Record<string, any>;

export interface PolicyRule {
  readonly id: string;
  readonly title: string;
  readonly fix: string;
}

/** Every rule, by id. Ids are stable: suppressions and the README refer to them. */
export const POLICY_RULES = {
  "PSS-PRIVILEGE-ESCALATION": { id: "PSS-PRIVILEGE-ESCALATION", title: "containers must not allow privilege escalation", fix: "set securityContext.allowPrivilegeEscalation: false" },
  "PSS-PRIVILEGED": { id: "PSS-PRIVILEGED", title: "containers must not be privileged", fix: "remove securityContext.privileged or set it false" },
  "PSS-RUN-AS-NON-ROOT": { id: "PSS-RUN-AS-NON-ROOT", title: "containers must run as a non-root user", fix: "set runAsNonRoot: true and a runAsUser other than 0" },
  "PSS-SECCOMP": { id: "PSS-SECCOMP", title: "containers need a RuntimeDefault or Localhost seccomp profile", fix: "set securityContext.seccompProfile.type: RuntimeDefault" },
  "PSS-CAPABILITIES": { id: "PSS-CAPABILITIES", title: "containers must drop ALL capabilities and add none but NET_BIND_SERVICE", fix: "set capabilities.drop: [ALL] and remove other added capabilities" },
  "PSS-HOST-NAMESPACES": { id: "PSS-HOST-NAMESPACES", title: "pods must not use the host's network, PID or IPC namespace, or host ports", fix: "remove hostNetwork, hostPID, hostIPC and hostPort" },
  "PSS-VOLUMES": { id: "PSS-VOLUMES", title: "volumes must be configMap, secret, emptyDir, projected, downwardAPI, PVC, ephemeral or CSI", fix: "replace the volume (hostPath is never allowed)" },
  "KS-RESOURCES": { id: "KS-RESOURCES", title: "containers need CPU and memory requests and limits", fix: "set resources.requests and resources.limits for cpu and memory" },
  "KS-PROBES": { id: "KS-PROBES", title: "long-running containers need readiness and liveness probes that differ", fix: "add both probes, on different endpoints" },
  "KS-IMAGE": { id: "KS-IMAGE", title: "images need an explicit tag or digest (not latest) and a pull policy", fix: "pin the image in config and set imagePullPolicy" },
  "KS-READ-ONLY-ROOT": { id: "KS-READ-ONLY-ROOT", title: "containers need a read-only root filesystem", fix: "set readOnlyRootFilesystem: true and mount an emptyDir where the process writes" },
  "KS-SERVICE-ACCOUNT-TOKEN": { id: "KS-SERVICE-ACCOUNT-TOKEN", title: "pods must not mount a service-account token they do not use", fix: "set automountServiceAccountToken: false" },
  "KS-NAMESPACE": { id: "KS-NAMESPACE", title: "resources must live in a namespace of their own, not default", fix: "set metadata.namespace to the platform's namespace" },
  "KS-SECRET-ENV": { id: "KS-SECRET-ENV", title: "secrets must reach containers as files, never as env values or ConfigMap data", fix: "keep the value in a Secret, mount the key as a file (projected volume) and pass its path" },
  "KS-SECRET-MOUNT": { id: "KS-SECRET-MOUNT", title: "a container mounts only the Secret keys it uses (its command, args, env or ConfigMaps name the file), never a whole Secret", fix: "give each container its own projected volume listing only the keys (items) whose files it names" },
  "KS-SECRET-LITERAL": { id: "KS-SECRET-LITERAL", title: "no secret-looking literal anywhere in the stack: commands, args, annotations, chart values, provider and backend settings", fix: "keep the value in a Secret and have the program read it from a mounted file; the configuration never holds it" },
  "KS-REPLICAS": { id: "KS-REPLICAS", title: "production Deployments need at least 2 replicas", fix: "raise replicas (or the HPA's minReplicas) to 2 or more" },
  "KS-HPA-REPLICAS": { id: "KS-HPA-REPLICAS", title: "a Deployment an HPA scales must not set replicas", fix: "omit spec.replicas when autoscaling is on" },
  "KS-SPREAD": { id: "KS-SPREAD", title: "workloads that may run several pods need topology spread or anti-affinity", fix: "add topologySpreadConstraints over kubernetes.io/hostname" },
  "KS-PDB": { id: "KS-PDB", title: "every Deployment and StatefulSet needs a PodDisruptionBudget that allows a drain", fix: "add a PDB selecting its pods with maxUnavailable >= 1" },
  "KS-NETWORK-POLICY": { id: "KS-NETWORK-POLICY", title: "every pod must be selected by NetworkPolicies for both ingress and egress", fix: "add a NetworkPolicy selecting the pods with policyTypes Ingress and Egress" },
  "KS-NETWORK-POLICY-ANY-ADDRESS": {
    id: "KS-NETWORK-POLICY-ANY-ADDRESS",
    title: "a NetworkPolicy must not admit or reach every address (0.0.0.0/0, ::/0, or a rule that names no peer) unless it declares why",
    fix: "name the peers (pods, namespaces, the cluster's addresses from config), or declare the reason with declareInternetEgress (constructs/network.ts)",
  },
  "KS-SERVICE-SELECTOR": { id: "KS-SERVICE-SELECTOR", title: "a Service's selector must match some workload's pod labels", fix: "align the Service selector with the pod template labels" },
  "KS-ROLLING-UPDATE": { id: "KS-ROLLING-UPDATE", title: "Deployments must roll with an explicit RollingUpdate strategy", fix: "set strategy.type: RollingUpdate" },
  "KS-STABLE-API": { id: "KS-STABLE-API", title: "Kubernetes resources must use the stable, versioned resource types", fix: "use the *_v1 / *_v2 resource of the provider" },
  "KS-RBAC-SECRETS": { id: "KS-RBAC-SECRETS", title: "no Role or ClusterRole may grant reading Secrets (a chart's included)", fix: "grant only the resources the component reads; for Grafana keep rbac.create false and bind a ConfigMap-only Role; for kube-prometheus-stack keep global.rbac.create false (MonitoringRbac) and kube-state-metrics' collectors without secrets" },
  "KS-NAMESPACE-DEFAULT-DENY": { id: "KS-NAMESPACE-DEFAULT-DENY", title: "every namespace the stack creates needs a default-deny NetworkPolicy for ingress and egress", fix: "add a NetworkPolicy with an empty podSelector and policyTypes Ingress and Egress" },
  "KS-INGRESS-ROUTE": { id: "KS-INGRESS-ROUTE", title: "every public Service (its pods admit the ingress controller) has an Ingress route, and no other Service has one", fix: "add the service to ingress.routes in config/<env>.ts, or remove the route of an internal service" },
  "KS-INGRESS-TLS": { id: "KS-INGRESS-TLS", title: "outside local, every Ingress host is served over TLS", fix: "set ingress.tls to secret or cert-manager in config/<env>.ts" },
  "HELM-RESOURCES": { id: "HELM-RESOURCES", title: "workloads a chart installs need CPU and memory requests and limits in its values", fix: "set the chart's resources value for the workload" },
  "HELM-SECRETS": { id: "HELM-SECRETS", title: "chart values must not carry secret values", fix: "reference an existing Secret (existingSecret, *_file) instead" },
  "HELM-PINNED": { id: "HELM-PINNED", title: "charts must be pinned to a version", fix: "set the chart version in config/versions.ts" },
} as const satisfies Record<string, PolicyRule>;

export type PolicyRuleId = keyof typeof POLICY_RULES;

export interface Finding {
  readonly rule: PolicyRuleId;
  /** `kubernetes_deployment_v1.api-gateway_deployment_resource_67F4BF40` */
  readonly resource: string;
  /** Construct path, `production/api-gateway/deployment/resource`. */
  readonly path: string;
  readonly detail: string;
}

export interface SuppressedFinding extends Finding {
  readonly reason: string;
}

export interface PolicyResult {
  readonly violations: readonly Finding[];
  readonly suppressed: readonly SuppressedFinding[];
}

export interface PolicyOptions {
  readonly environment: string;
  /**
   * The ingress controller's namespace: Services whose pods admit it are public.
   * @default none (no Ingress rules are checked)
   */
  readonly ingressControllerNamespace?: string;
  /**
   * The values objects of the stack's Helm releases, by release name, as the constructs rendered
   * them: the gate reads these instead of parsing the YAML it would find in the JSON. Releases not
   * listed (a JSON read back from disk) are parsed from their YAML.
   */
  readonly helmValues?: Readonly<Record<string, Record<string, unknown>>>;
}

/** Resource types with no namespace. */
const CLUSTER_SCOPED = new Set(["kubernetes_namespace_v1", "kubernetes_cluster_role_v1", "kubernetes_cluster_role_binding_v1", "kubernetes_persistent_volume_v1", "kubernetes_storage_class_v1", "kubernetes_ingress_class_v1", "kubernetes_priority_class_v1"]);
const WORKLOADS = ["kubernetes_deployment_v1", "kubernetes_stateful_set_v1", "kubernetes_job_v1"];
const ALLOWED_VOLUMES = new Set(["config_map", "secret", "empty_dir", "projected", "downward_api", "persistent_volume_claim", "ephemeral", "csi"]);

/** Chart value paths of the workloads each chart installs, and whether they apply. */
const HELM_WORKLOADS: Record<string, { path: string; when?: (values: Json) => boolean }[]> = {
  "kube-prometheus-stack": [
    { path: "prometheus.prometheusSpec.resources" },
    { path: "prometheusOperator.resources" },
    { path: "grafana.resources" },
    { path: "kube-state-metrics.resources" },
    { path: "alertmanager.alertmanagerSpec.resources", when: (v) => v.alertmanager?.enabled !== false },
    { path: "prometheus-node-exporter.resources", when: (v) => v.nodeExporter?.enabled !== false },
  ],
  "prometheus-adapter": [{ path: "resources" }],
  "cloudnative-pg": [{ path: "resources" }],
  "plugin-barman-cloud": [{ path: "resources" }],
  cluster: [
    { path: "cluster.resources" },
    { path: "backups.instanceSidecarConfiguration.resources", when: (v) => v.backups?.enabled === true },
  ],
};

/** Applies every rule to a stack's Terraform JSON. */
export function evaluatePolicy(stack: Json, options: PolicyOptions): PolicyResult {
  const findings: Finding[] = [];
  const resources = (stack.resource ?? {}) as Record<string, Record<string, Json>>;
  const variables = (stack.variable ?? {}) as Record<string, Json>;
  const all = Object.entries(resources).flatMap(([type, byId]) => Object.entries(byId).map(([id, body]) => ({ type, id, body })));
  const add = (r: { type: string; id: string; body: Json }, rule: PolicyRuleId, detail: string) =>
    findings.push({ rule, resource: `${r.type}.${r.id}`, path: r.body["//"]?.metadata?.path ?? `${r.type}.${r.id}`, detail });

  /** `${var.x}` → x's default, so selectors that name a variable can be matched. */
  const resolve = (value: unknown) => {
    const name = typeof value === "string" ? /^\$\{var\.([A-Za-z0-9_-]+)\}$/.exec(value)?.[1] : undefined;
    return name ? variables[name]?.default : value;
  };
  const selects = (selector: Json | undefined, labels: Json) =>
    !!selector && Object.entries(selector).every(([k, v]) => labels?.[k] === resolve(v));

  const workloads = all.filter((r) => WORKLOADS.includes(r.type));
  /** Selectors only reach objects in their own namespace. */
  const sameNamespace = (a: { body: Json }, b: { body: Json }) => a.body.metadata?.namespace === b.body.metadata?.namespace;
  /** A namespace as written (a name, or a reference to a namespace the stack creates) as its name. */
  const namespaceName = (v: unknown): unknown => {
    const id = typeof v === "string" ? /^\$\{kubernetes_namespace_v1\.([^.]+)\.metadata\[0\]\.name\}$/.exec(v)?.[1] : undefined;
    return id === undefined ? v : (resources.kubernetes_namespace_v1?.[id]?.metadata?.name ?? v);
  };
  const podLabels = (w: { body: Json }) => (w.body.spec?.template?.metadata?.labels ?? {}) as Json;

  for (const r of all) {
    if (r.type.startsWith("kubernetes_") && !/_v\d+$/.test(r.type)) add(r, "KS-STABLE-API", `${r.type} is an unversioned resource type`);
    if (r.type.startsWith("kubernetes_") && !CLUSTER_SCOPED.has(r.type)) {
      const ns = r.body.metadata?.namespace;
      if (!ns || ns === "default") add(r, "KS-NAMESPACE", `namespace is ${ns ? '"default"' : "not set"}`);
    }
  }

  for (const w of workloads) checkPodTemplate(w, add);
  for (const w of workloads) {
    const configMaps = configMapLookup(stack, w.body.metadata?.namespace);
    for (const detail of secretMountFindings(w.body.spec?.template?.spec ?? {}, configMaps)) add(w, "KS-SECRET-MOUNT", detail);
  }

  const hpas = all.filter((r) => r.type === "kubernetes_horizontal_pod_autoscaler_v2");
  const hpaFor = (w: { type: string; id: string }) =>
    hpas.find((h) => h.body.spec?.scale_target_ref?.name === `\${${w.type}.${w.id}.metadata[0].name}`);
  const pdbs = all.filter((r) => r.type === "kubernetes_pod_disruption_budget_v1");
  const policies = all.filter((r) => r.type === "kubernetes_network_policy_v1");

  for (const w of workloads) {
    const labels = podLabels(w);
    const hpa = w.type === "kubernetes_deployment_v1" ? hpaFor(w) : undefined;
    const replicas = w.body.spec?.replicas === undefined ? undefined : Number(w.body.spec.replicas);
    if (w.type === "kubernetes_deployment_v1") {
      if (hpa && replicas !== undefined) add(w, "KS-HPA-REPLICAS", `spec.replicas is ${replicas} while ${hpa.body.metadata?.name} scales it`);
      const floor = hpa ? Number(hpa.body.spec.min_replicas ?? 1) : (replicas ?? 1);
      if (options.environment === "production" && floor < 2) add(w, "KS-REPLICAS", `runs ${floor} pod(s) at the least`);
      const most = hpa ? Number(hpa.body.spec.max_replicas) : (replicas ?? 1);
      const spread = w.body.spec?.template?.spec?.topology_spread_constraint ?? w.body.spec?.template?.spec?.affinity?.pod_anti_affinity;
      if (most > 1 && !spread) add(w, "KS-SPREAD", `may run ${most} pods with no topology spread or anti-affinity`);
      if (w.body.spec?.strategy?.type !== "RollingUpdate") add(w, "KS-ROLLING-UPDATE", `strategy is ${w.body.spec?.strategy?.type ?? "not set"}`);
    }
    if (w.type !== "kubernetes_job_v1") {
      const pdb = pdbs.find((p) => sameNamespace(p, w) && selects(p.body.spec?.selector?.match_labels, labels));
      if (!pdb) add(w, "KS-PDB", "no PodDisruptionBudget selects its pods");
      else {
        const max = pdb.body.spec.max_unavailable;
        const min = pdb.body.spec.min_available;
        const smallest = hpa ? Number(hpa.body.spec.min_replicas ?? 1) : (replicas ?? 1);
        if (max !== undefined && /^0%?$/.test(String(max))) add(w, "KS-PDB", `${pdb.body.metadata?.name} has maxUnavailable ${max}: drains block`);
        if (min !== undefined && !String(min).endsWith("%") && Number(min) >= smallest) add(w, "KS-PDB", `${pdb.body.metadata?.name} has minAvailable ${min} >= ${smallest} pods: drains block`);
      }
    }
    const covering = policies.filter((p) => {
      if (!sameNamespace(p, w)) return false;
      const sel = p.body.spec?.pod_selector?.match_labels;
      return sel === undefined ? p.body.spec?.pod_selector !== undefined : selects(sel, labels);
    });
    const types = new Set(covering.flatMap((p) => p.body.spec?.policy_types ?? []));
    if (!types.has("Ingress") || !types.has("Egress")) add(w, "KS-NETWORK-POLICY", `NetworkPolicies cover ${[...types].join(" and ") || "nothing"}`);
  }

  for (const p of policies) checkOpenPeers(p, add);

  for (const s of all.filter((r) => r.type === "kubernetes_service_v1")) {
    if (!workloads.some((w) => sameNamespace(s, w) && selects(s.body.spec?.selector, podLabels(w)))) add(s, "KS-SERVICE-SELECTOR", `selector ${JSON.stringify(s.body.spec?.selector)} matches no pod template`);
  }

  for (const h of all.filter((r) => r.type === "helm_release")) checkHelmRelease(h, options.helmValues?.[h.body.name], add);

  // CloudNativePG clusters: their pods are the operator's, not in this JSON; their budget and
  // policy are checked on the release.
  for (const h of all.filter((r) => r.type === "helm_release" && r.body.chart === "cluster")) {
    const values = options.helmValues?.[h.body.name] ?? parseValues(h.body);
    const name = String(values.fullnameOverride ?? h.body.name);
    // The operator's own budgets (primary never evicted, one standby at a time) are the only ones:
    // a pod under two budgets cannot be evicted at all.
    if (values.cluster?.enablePDB === false) add(h, "KS-PDB", `cluster ${name} disables the operator's PodDisruptionBudgets (cluster.enablePDB false)`);
    // The chart puts the Cluster in namespaceOverride where set, else in the release's namespace.
    const clusterNamespace = typeof values.namespaceOverride === "string" && values.namespaceOverride !== "" ? values.namespaceOverride : namespaceName(h.body.namespace);
    const inRelease = (x: { body: Json }) => namespaceName(x.body.metadata?.namespace) === clusterNamespace;
    for (const p of pdbs.filter((x) => inRelease(x) && x.body.spec?.selector?.match_labels?.["cnpg.io/cluster"] !== undefined)) {
      add(p, "KS-PDB", `${p.body.metadata?.name} selects the pods of a CloudNativePG cluster, which the operator already budgets: a pod under two budgets cannot be evicted, so drains block`);
    }
    const covered = new Set(
      policies
        .filter((p) => inRelease(p) && (p.body.spec?.pod_selector === undefined ? false : p.body.spec.pod_selector.match_labels === undefined || p.body.spec.pod_selector.match_labels["cnpg.io/cluster"] === name))
        .flatMap((p) => p.body.spec?.policy_types ?? []),
    );
    if (!covered.has("Ingress") || !covered.has("Egress")) add(h, "KS-NETWORK-POLICY", `the pods of cluster ${name} (cnpg.io/cluster=${name}) are covered for ${[...covered].join(" and ") || "nothing"}`);
  }

  // Ingress: public Services have routes, internal ones none; TLS outside local.
  const ingresses = all.filter((r) => r.type === "kubernetes_ingress_v1");
  if (options.ingressControllerNamespace !== undefined) {
    const admitsController = (labels: Json, service: { body: Json }) =>
      policies.some(
        (p) =>
          sameNamespace(p, service) &&
          selects(p.body.spec?.pod_selector?.match_labels, labels) &&
          (p.body.spec?.ingress ?? []).some((rule: Json) =>
            (rule.from ?? []).some((f: Json) => f.namespace_selector?.match_labels?.["kubernetes.io/metadata.name"] === options.ingressControllerNamespace),
          ),
      );
    const routedTo = new Set(
      ingresses.flatMap((i) => (i.body.spec?.rule ?? []).flatMap((r: Json) => (r.http?.path ?? []).map((p: Json) => String(p.backend?.service?.name)))),
    );
    for (const s of all.filter((r) => r.type === "kubernetes_service_v1")) {
      const selector = s.body.spec?.selector ?? {};
      const resolved = Object.fromEntries(Object.entries(selector).map(([k, v]) => [k, resolve(v)]));
      const isPublic = admitsController(resolved, s);
      const ref = `\${kubernetes_service_v1.${s.id}.metadata[0].name}`;
      const routed = routedTo.has(ref) || routedTo.has(String(s.body.metadata?.name));
      if (isPublic && !routed) add(s, "KS-INGRESS-ROUTE", `Service ${s.body.metadata?.name} admits the ingress controller but no Ingress routes to it`);
      if (!isPublic && routed) add(s, "KS-INGRESS-ROUTE", `Service ${s.body.metadata?.name} is internal (its pods do not admit the ingress controller) but an Ingress routes to it`);
    }
  }
  if (options.environment !== "local") {
    for (const i of ingresses) {
      const hosts: string[] = (i.body.spec?.rule ?? []).map((r: Json) => r.host);
      const covered = new Set((i.body.spec?.tls ?? []).flatMap((t: Json) => t.hosts ?? []));
      const bare = hosts.filter((h) => !covered.has(h));
      if (bare.length > 0) add(i, "KS-INGRESS-TLS", `hosts ${bare.join(", ")} have no TLS`);
    }
  }

  // RBAC: nothing the stack creates may read Secrets.
  for (const r of all.filter((x) => x.type === "kubernetes_role_v1" || x.type === "kubernetes_cluster_role_v1")) {
    for (const rule of (r.body.rule ?? []) as Json[]) {
      const res: string[] = rule.resources ?? [];
      const core = (rule.api_groups ?? []).some((g: string) => g === "" || g === "*");
      if (core && (res.includes("secrets") || res.includes("*"))) add(r, "KS-RBAC-SECRETS", `${r.type === "kubernetes_role_v1" ? "Role" : "ClusterRole"} ${r.body.metadata?.name} grants ${JSON.stringify(rule.verbs)} on ${JSON.stringify(res)}`);
    }
  }

  // Every namespace the stack creates denies by default.
  for (const n of all.filter((x) => x.type === "kubernetes_namespace_v1")) {
    const ref = `\${kubernetes_namespace_v1.${n.id}.metadata[0].name}`;
    const deny = policies.some(
      (p) =>
        (p.body.metadata?.namespace === ref || p.body.metadata?.namespace === n.body.metadata?.name) &&
        p.body.spec?.pod_selector !== undefined &&
        Object.keys(p.body.spec.pod_selector.match_labels ?? {}).length === 0 &&
        ["Ingress", "Egress"].every((t) => (p.body.spec.policy_types ?? []).includes(t)) &&
        (p.body.spec.ingress ?? []).length === 0 &&
        (p.body.spec.egress ?? []).length === 0,
    );
    if (!deny) add(n, "KS-NAMESPACE-DEFAULT-DENY", `namespace ${n.body.metadata?.name} has no default-deny NetworkPolicy`);
  }

  // Secret-looking literals in env values and ConfigMaps (config/secrets.ts, the one rule set).
  for (const f of secretLiterals(stack)) {
    const [type, id] = [f.resource.slice(0, f.resource.indexOf(".")), f.resource.slice(f.resource.indexOf(".") + 1)];
    add({ type, id, body: resources[type]![id]! }, "KS-SECRET-ENV", `${f.where} has a literal value that ${f.reason.replace(/^its /, "is secret-looking: its ")}`);
  }

  // Every other string of the stack, by shape (the same rule set).
  for (const f of secretStrings(stack)) {
    const at = /^stack\.resource\.([^.]+)\.([^.]+)\./.exec(f.where);
    const where = f.where.replace(/^stack\./, "");
    if (at && resources[at[1]!]?.[at[2]!]) add({ type: at[1]!, id: at[2]!, body: resources[at[1]!]![at[2]!]! }, "KS-SECRET-LITERAL", `${where} ${f.reason}`);
    else findings.push({ rule: "KS-SECRET-LITERAL", resource: where.split(/[.[]/)[0]!, path: where, detail: `${where} ${f.reason}` });
  }

  // Apply suppressions declared in each resource's `//` block.
  const violations: Finding[] = [];
  const suppressed: SuppressedFinding[] = [];
  for (const f of findings) {
    const [type, id] = [f.resource.slice(0, f.resource.indexOf(".")), f.resource.slice(f.resource.indexOf(".") + 1)];
    const s = ((resources[type]?.[id]?.["//"]?.suppressions ?? []) as { rule: string; reason: string }[]).find((x) => x.rule === f.rule);
    if (s) suppressed.push({ ...f, reason: s.reason });
    else violations.push(f);
  }
  // A suppression that excuses nothing is stale: report it so it gets removed.
  for (const r of all) {
    for (const s of (r.body["//"]?.suppressions ?? []) as { rule: string; reason: string }[]) {
      if (s.rule.startsWith("CKV_")) continue;
      if (!suppressed.some((f) => f.resource === `${r.type}.${r.id}` && f.rule === s.rule)) {
        violations.push({ rule: s.rule as PolicyRuleId, resource: `${r.type}.${r.id}`, path: r.body["//"]?.metadata?.path ?? r.id, detail: "is suppressed here but the rule passes: remove the stale suppression" });
      }
    }
  }
  return { violations, suppressed };
}

type Add = (r: { type: string; id: string; body: Json }, rule: PolicyRuleId, detail: string) => void;

/**
 * The pod-level rules (Pod Security, resources, probes, image pinning, service-account token,
 * secrets in env) on one workload in the provider's shape (snake_case, singular blocks): the
 * chart checks run them on the workloads helm renders (test/charts/).
 */
export function podTemplateFindings(workload: { type: string; id: string; body: Json }): { rule: PolicyRuleId; detail: string }[] {
  const out: { rule: PolicyRuleId; detail: string }[] = [];
  checkPodTemplate(workload, (_, rule, detail) => out.push({ rule, detail }));
  return out;
}

function checkPodTemplate(w: { type: string; id: string; body: Json }, add: Add): void {
  const pod = w.body.spec?.template?.spec ?? {};
  const podSc = pod.security_context ?? {};
  if (pod.host_network || pod.host_pid || pod.host_ipc) add(w, "PSS-HOST-NAMESPACES", "uses a host namespace");
  if (pod.automount_service_account_token !== false) add(w, "KS-SERVICE-ACCOUNT-TOKEN", "automountServiceAccountToken is not false");
  for (const v of pod.volume ?? []) {
    for (const kind of Object.keys(v).filter((k) => k !== "name")) {
      if (!ALLOWED_VOLUMES.has(kind)) add(w, "PSS-VOLUMES", `volume ${v.name} is ${kind}`);
    }
  }
  const longRunning = w.type !== "kubernetes_job_v1";
  const initContainers = new Set<Json>(pod.init_container ?? []);
  for (const c of [...(pod.container ?? []), ...(pod.init_container ?? [])] as Json[]) {
    const where = `container ${c.name}`;
    const sc = c.security_context ?? {};
    if (sc.allow_privilege_escalation !== false) add(w, "PSS-PRIVILEGE-ESCALATION", `${where} allows it`);
    if (sc.privileged === true) add(w, "PSS-PRIVILEGED", `${where} is privileged`);
    const nonRoot = sc.run_as_non_root ?? podSc.run_as_non_root;
    const user = sc.run_as_user ?? podSc.run_as_user;
    if (nonRoot !== true || String(user) === "0") add(w, "PSS-RUN-AS-NON-ROOT", `${where}: runAsNonRoot ${nonRoot}, runAsUser ${user}`);
    const seccomp = sc.seccomp_profile?.type ?? podSc.seccomp_profile?.type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") add(w, "PSS-SECCOMP", `${where}: seccomp ${seccomp ?? "not set"}`);
    const drop: string[] = sc.capabilities?.drop ?? [];
    const added: string[] = sc.capabilities?.add ?? [];
    if (!drop.includes("ALL") || added.some((a) => a !== "NET_BIND_SERVICE")) add(w, "PSS-CAPABILITIES", `${where}: drop ${JSON.stringify(drop)}, add ${JSON.stringify(added)}`);
    if ((c.port ?? []).some((p: Json) => p.host_port)) add(w, "PSS-HOST-NAMESPACES", `${where} binds a host port`);
    const res = c.resources ?? {};
    if (!res.requests?.cpu || !res.requests?.memory || !res.limits?.cpu || !res.limits?.memory) add(w, "KS-RESOURCES", `${where} lacks ${JSON.stringify(res)}`);
    if (sc.read_only_root_filesystem !== true) add(w, "KS-READ-ONLY-ROOT", `${where} has a writable root filesystem`);
    const image = String(c.image ?? "");
    const lastSegment = image.slice(image.lastIndexOf("/") + 1);
    if (!image.includes("@sha256:") && (!lastSegment.includes(":") || image.endsWith(":latest"))) add(w, "KS-IMAGE", `${where} image ${image || "(none)"} has no explicit tag`);
    if (!c.image_pull_policy) add(w, "KS-IMAGE", `${where} sets no imagePullPolicy`);
    // Init containers run to completion before the pod starts: Kubernetes allows them no probes.
    if (longRunning && !initContainers.has(c)) {
      if (!c.readiness_probe || !c.liveness_probe) add(w, "KS-PROBES", `${where} lacks ${!c.readiness_probe ? "a readiness" : "a liveness"} probe`);
      else if (JSON.stringify(c.readiness_probe) === JSON.stringify(c.liveness_probe)) add(w, "KS-PROBES", `${where}: readiness and liveness probes are identical`);
    }
    for (const e of c.env ?? []) {
      if (e.value_from?.secret_key_ref) add(w, "KS-SECRET-ENV", `${where}: ${e.name} reads Secret ${e.value_from.secret_key_ref.name} as an env var`);

    }
  }
}

/**
 * A rule that names no peer admits (or reaches) every address and every pod; an ipBlock of prefix
 * 0 every address. Either must be declared (KS-NETWORK-POLICY-ANY-ADDRESS), whatever its ports.
 */
function checkOpenPeers(p: { type: string; id: string; body: Json }, add: Add): void {
  for (const [direction, key] of [
    ["ingress", "from"],
    ["egress", "to"],
  ] as const) {
    ((p.body.spec?.[direction] ?? []) as Json[]).forEach((rule, i) => {
      const ports = (rule?.ports ?? []).map((x: Json) => `${x.port ?? "any"}/${x.protocol ?? "TCP"}`).join(", ") || "every port";
      const peers = (rule?.[key] ?? []) as Json[];
      if (peers.length === 0) add(p, "KS-NETWORK-POLICY-ANY-ADDRESS", `${direction}[${i}] names no peer: it ${direction === "ingress" ? "admits" : "reaches"} every address and pod on ${ports}`);
      for (const peer of peers) {
        const cidr = peer?.ip_block?.cidr;
        if (typeof cidr !== "string") continue;
        const parsed = parseCidr(cidr);
        if (!("error" in parsed) && parsed.prefix === 0) add(p, "KS-NETWORK-POLICY-ANY-ADDRESS", `${direction}[${i}] ${direction === "ingress" ? "admits" : "reaches"} ${cidr}${peer.ip_block.except?.length ? ` except ${peer.ip_block.except.join(", ")}` : ""} on ${ports}`);
      }
    });
  }
}

/** A release's values, parsed back from the YAML in the JSON. */
const parseValues = (body: Json): Json => (body.values ?? []).map((v: string) => parse(unescapeLiteral(v)) as Json).reduce((a: Json, b: Json) => ({ ...a, ...b }), {});

function checkHelmRelease(h: { type: string; id: string; body: Json }, rendered: Json | undefined, add: Add): void {
  if (!h.body.version) add(h, "HELM-PINNED", `chart ${h.body.chart} has no version`);
  const values = rendered ?? parseValues(h.body);
  for (const workload of HELM_WORKLOADS[h.body.chart] ?? []) {
    if (workload.when && !workload.when(values)) continue;
    const res = workload.path.split(".").reduce<any>((node, key) => node?.[key], values);
    if (!res?.requests?.cpu || !res?.requests?.memory || !res?.limits?.cpu || !res?.limits?.memory) add(h, "HELM-RESOURCES", `${workload.path} is ${JSON.stringify(res ?? null)}`);
  }
  if (h.body.chart === "kube-prometheus-stack") {
    // The grafana chart's RBAC: a ClusterRole (not namespaced) or a Role that both grant Secrets.
    const rbac = values.grafana?.rbac ?? {};
    if (rbac.create !== false) add(h, "KS-RBAC-SECRETS", `grafana.rbac.create is ${rbac.create ?? "true (the chart's default)"}: the chart's ${rbac.namespaced ? "Role" : "ClusterRole"} grants get/list/watch on Secrets`);
    // The operator's ClusterRole (the chart's only RBAC for it) grants `*` on every Secret.
    const globalRbac = values.global?.rbac?.create;
    if (globalRbac !== false) add(h, "KS-RBAC-SECRETS", `global.rbac.create is ${globalRbac ?? "true (the chart's default)"}: the chart's operator ClusterRole grants * on configmaps and secrets in every namespace`);
    // kube-state-metrics' `secrets` collector (a default) needs list/watch on every Secret.
    const collectors = values["kube-state-metrics"]?.collectors;
    if (values.kubeStateMetrics?.enabled !== false && (!Array.isArray(collectors) || collectors.includes("secrets"))) {
      add(h, "KS-RBAC-SECRETS", `kube-state-metrics.collectors ${Array.isArray(collectors) ? "includes" : "is the chart's default, which includes"} secrets: its ClusterRole lists and watches every Secret`);
    }
  }
  const walk = (node: unknown, path: string) => {
    if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${path}[${i}]`));
    else if (node && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        if (typeof v === "string" && v !== "" && /^(password|adminPassword|token|secret|routing_key|service_key|api_key|accessKey|secretKey)$/i.test(k)) add(h, "HELM-SECRETS", `${path}.${k} holds a literal value`);
        walk(v, `${path}.${k}`);
      }
    }
  };
  walk(values, "values");
}

/** The message a violation fails synth with: resource, rule, detail, fix. */
export function describeFinding(f: Finding): string {
  const rule = POLICY_RULES[f.rule] as PolicyRule | undefined;
  return `${f.path} (${f.resource}): ${f.rule} ${rule?.title ?? ""}: ${f.detail}. Fix: ${rule?.fix ?? "see stacks/policy.ts"}`;
}

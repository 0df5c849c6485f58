/**
 * Wiring between the objects a stack puts in the cluster, its charts' and its own: what Grafana's
 * sidecars search and may read, what each ServiceMonitor and PodMonitor scrapes, which series the
 * adapter's rules name, where the aggregated APIs and our Ingresses and NetworkPolicies point.
 */
import { parse } from "yaml";
import { HPA_METRIC_RULES, METRICS, POOLER_METRICS } from "../../config/metrics";
import type { Json, RenderedObject } from "./helm";
import { cnpgInstanceLabels } from "../network/stand-ins";
import { mayServiceAccount, sourceOf } from "./rbac";

type Obj = RenderedObject;

const POD_CONTROLLERS = new Set(["Deployment", "DaemonSet", "StatefulSet", "Job"]);

/** Every label of `matchLabels` matches, every `matchExpressions` term holds. */
export function selectorMatches(selector: Json | undefined, labels: Json | undefined): boolean {
  if (!selector) return false;
  const l = (labels ?? {}) as Record<string, string>;
  const match = (selector.matchLabels ?? (selector.matchExpressions ? {} : selector)) as Record<string, string>;
  if (!Object.entries(match).every(([k, v]) => l[k] === v)) return false;
  return ((selector.matchExpressions ?? []) as Json[]).every((e) => {
    const has = Object.hasOwn(l, e.key);
    switch (e.operator) {
      case "In":
        return has && e.values.includes(l[e.key]);
      case "NotIn":
        return !has || !e.values.includes(l[e.key]);
      case "Exists":
        return has;
      case "DoesNotExist":
        return !has;
      default:
        return false;
    }
  });
}

/**
 * Pods the operators create at runtime (not rendered): Prometheus' and Alertmanager's, and a
 * CloudNativePG Cluster's instances, by their labels.
 */
export function operatorPods(objects: readonly Obj[]): { namespace: string; labels: Json; name: string }[] {
  const monitoring = objects
    .filter((o) => o.kind === "Prometheus" || o.kind === "Alertmanager")
    .map((o) => ({
      name: `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`,
      namespace: String(o.metadata.namespace),
      // The operator's pod labels (pkg/prometheus/statefulset.go, pkg/alertmanager/statefulset.go).
      labels: { "app.kubernetes.io/name": o.kind.toLowerCase(), "app.kubernetes.io/managed-by": "prometheus-operator", "app.kubernetes.io/instance": o.metadata.name, [o.kind.toLowerCase()]: o.metadata.name, ...((o.spec?.podMetadata?.labels ?? {}) as Json) },
    }));
  // CloudNativePG's instance pods (pkg/specs/pods.go), plus the Cluster's inherited labels.
  const instances = objects
    .filter((o) => o.kind === "Cluster" && String(o.apiVersion).startsWith("postgresql.cnpg.io/"))
    .flatMap((o) =>
      Array.from({ length: Number(o.spec?.instances ?? 1) }, (_, i) => ({
        name: `Cluster ${o.metadata.namespace}/${o.metadata.name} instance ${i + 1}`,
        namespace: String(o.metadata.namespace),
        labels: { ...((o.spec?.inheritedMetadata?.labels ?? {}) as Json), ...cnpgInstanceLabels(String(o.metadata.name), i + 1) },
      })),
    );
  return [...monitoring, ...instances];
}

/** Pod templates of every controller, with the namespace they run in. */
export function podTemplates(objects: readonly Obj[]): { owner: Obj; namespace: string; labels: Json; spec: Json }[] {
  return objects
    .filter((o) => POD_CONTROLLERS.has(o.kind))
    .map((o) => ({ owner: o, namespace: String(o.metadata.namespace), labels: (o.spec?.template?.metadata?.labels ?? {}) as Json, spec: (o.spec?.template?.spec ?? {}) as Json }));
}

// ------------------------------------------------------------------------------------------------
// Grafana's sidecars
// ------------------------------------------------------------------------------------------------

export interface Sidecar {
  readonly container: string;
  readonly deployment: string;
  readonly serviceAccount: { name: string; namespace: string };
  /** Namespaces searched; `["*"]` for ALL. */
  readonly namespaces: readonly string[];
  readonly resources: readonly ("configmaps" | "secrets")[];
  readonly label: string;
  readonly labelValue?: string;
  /** What the sidecar's env says, as rendered. */
  readonly env: Readonly<Record<string, string>>;
}

/** Grafana's k8s-sidecar containers (dashboards, datasources) as the render configures them. */
export function grafanaSidecars(objects: readonly Obj[]): Sidecar[] {
  const out: Sidecar[] = [];
  for (const t of podTemplates(objects)) {
    for (const c of [...(t.spec.initContainers ?? []), ...(t.spec.containers ?? [])] as Json[]) {
      if (!/kiwigrid\/k8s-sidecar/.test(c.image)) continue;
      const env = Object.fromEntries(((c.env ?? []) as Json[]).filter((e) => typeof e.value === "string").map((e) => [e.name, e.value as string]));
      const ns = env.NAMESPACE;
      const namespaces = ns === undefined ? [t.namespace] : ns === "ALL" ? ["*"] : ns.split(",").map((n: string) => n.trim());
      const resources = env.RESOURCE === "both" ? (["configmaps", "secrets"] as const) : env.RESOURCE === "secret" ? (["secrets"] as const) : (["configmaps"] as const);
      out.push({
        container: c.name,
        deployment: `${t.owner.kind} ${t.namespace}/${t.owner.metadata.name}`,
        serviceAccount: { name: t.spec.serviceAccountName ?? "default", namespace: t.namespace },
        namespaces,
        resources: [...resources],
        label: env.LABEL ?? "",
        ...(env.LABEL_VALUE !== undefined ? { labelValue: env.LABEL_VALUE } : {}),
        env,
      });
    }
  }
  return out;
}

/** What a sidecar cannot do: list or watch its resources in a namespace it searches. */
export function sidecarRefusals(objects: readonly Obj[], sidecar: Sidecar): string[] {
  const out: string[] = [];
  for (const ns of sidecar.namespaces) {
    for (const resource of sidecar.resources) {
      for (const verb of ["list", "watch"]) {
        if (!mayServiceAccount(objects, sidecar.serviceAccount, verb, resource, ns)) {
          out.push(`${sidecar.deployment} container ${sidecar.container} (NAMESPACE=${sidecar.env.NAMESPACE ?? "unset"}) searches ${ns === "*" ? "every namespace" : `namespace ${ns}`} but service account ${sidecar.serviceAccount.namespace}/${sidecar.serviceAccount.name} may not ${verb} ${resource} ${ns === "*" ? "cluster-wide" : `there`}`);
        }
      }
    }
  }
  return out;
}

/** The ConfigMaps a sidecar loads: labelled for it, in a namespace it searches. */
export function sidecarConfigMaps(objects: readonly Obj[], sidecar: Sidecar): Obj[] {
  return objects.filter(
    (o) =>
      o.kind === "ConfigMap" &&
      (sidecar.namespaces.includes("*") || sidecar.namespaces.includes(String(o.metadata.namespace))) &&
      Object.hasOwn(o.metadata.labels ?? {}, sidecar.label) &&
      (sidecar.labelValue === undefined || o.metadata.labels[sidecar.label] === sidecar.labelValue),
  );
}

// ------------------------------------------------------------------------------------------------
// ServiceMonitors
// ------------------------------------------------------------------------------------------------

/**
 * Services that exist in every cluster or are made at runtime, which ServiceMonitors may select:
 * the API server's `default/kubernetes`, and the kubelet Service the operator maintains
 * (`--kubelet-service`, with the ports and labels its kubelet controller gives it).
 */
export function runtimeServices(objects: readonly Obj[]): Obj[] {
  const out: Obj[] = [
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "kubernetes", namespace: "default", labels: { component: "apiserver", provider: "kubernetes" } },
      spec: { ports: [{ name: "https", port: 443 }] },
    },
  ];
  for (const t of podTemplates(objects)) {
    for (const c of (t.spec.containers ?? []) as Json[]) {
      const arg = ((c.args ?? []) as string[]).find((a) => a.startsWith("--kubelet-service="));
      if (!arg) continue;
      const [namespace, name] = arg.slice("--kubelet-service=".length).split("/");
      out.push({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, namespace, labels: { "app.kubernetes.io/name": "kubelet", "app.kubernetes.io/managed-by": "prometheus-operator", "k8s-app": "kubelet" } },
        spec: { ports: [{ name: "https-metrics", port: 10250 }, { name: "http-metrics", port: 10255 }, { name: "cadvisor", port: 4194 }] },
      });
    }
  }
  return out;
}

/** A ServiceMonitor endpoint with no Service to scrape, or a port its Services lack. */
export function serviceMonitorProblems(objects: readonly Obj[]): { monitor: string; problem: string; targets: string[] }[] {
  const services = [...objects.filter((o) => o.kind === "Service"), ...runtimeServices(objects)];
  const out: { monitor: string; problem: string; targets: string[] }[] = [];
  for (const m of objects.filter((o) => o.kind === "ServiceMonitor")) {
    const name = `ServiceMonitor ${m.metadata.namespace}/${m.metadata.name} (${sourceOf(m)})`;
    const nsSel = (m.spec.namespaceSelector ?? {}) as Json;
    const inScope = (ns: string) => nsSel.any === true || (nsSel.matchNames ? nsSel.matchNames.includes(ns) : ns === m.metadata.namespace);
    const selected = services.filter((s) => inScope(String(s.metadata.namespace)) && selectorMatches(m.spec.selector, s.metadata.labels));
    const targets = selected.map((s) => `${s.metadata.namespace}/${s.metadata.name}`);
    if (selected.length === 0) {
      out.push({ monitor: name, problem: `selects no Service (selector ${JSON.stringify(m.spec.selector)}, namespaces ${JSON.stringify(nsSel)})`, targets });
      continue;
    }
    for (const e of (m.spec.endpoints ?? []) as Json[]) {
      if (e.port === undefined) continue;
      const lacking = selected.filter((s) => !((s.spec.ports ?? []) as Json[]).some((p) => p.name === e.port));
      if (lacking.length > 0) out.push({ monitor: name, problem: `endpoint port ${e.port} is not a port of ${lacking.map((s) => `${s.metadata.namespace}/${s.metadata.name}`).join(", ")}`, targets });
    }
  }
  return out;
}

/**
 * A PodMonitor endpoint with no pod to scrape, or a port a selected pod template lacks (named
 * ports of any container: the operator keeps targets whose container port has that name).
 */
export function podMonitorProblems(objects: readonly Obj[]): { monitor: string; problem: string; targets: string[] }[] {
  // A CloudNativePG Cluster's instances run no template of ours: the operator makes them, with
  // the instance container's named ports (pkg/specs/pods.go: postgresql 5432, metrics 9187,
  // status 8000).
  const instances = operatorPods(objects)
    .filter((p) => p.name.startsWith("Cluster "))
    .map((p) => ({
      owner: { kind: "Pod", metadata: { name: p.name } } as Obj,
      namespace: p.namespace,
      labels: p.labels,
      spec: { containers: [{ name: "postgres", ports: [{ name: "postgresql", containerPort: 5432 }, { name: "metrics", containerPort: 9187 }, { name: "status", containerPort: 8000 }] }] } as Json,
    }));
  const templates = [...podTemplates(objects), ...instances];
  const out: { monitor: string; problem: string; targets: string[] }[] = [];
  for (const m of objects.filter((o) => o.kind === "PodMonitor")) {
    const name = `PodMonitor ${m.metadata.namespace}/${m.metadata.name} (${sourceOf(m)})`;
    const nsSel = (m.spec.namespaceSelector ?? {}) as Json;
    const inScope = (ns: string) => nsSel.any === true || (nsSel.matchNames ? nsSel.matchNames.includes(ns) : ns === m.metadata.namespace);
    const selected = templates.filter((t) => inScope(t.namespace) && selectorMatches(m.spec.selector, t.labels));
    const targets = selected.map((t) => `${t.namespace}/${t.owner.kind}/${t.owner.metadata.name}`);
    if (selected.length === 0) {
      out.push({ monitor: name, problem: `selects no pod (selector ${JSON.stringify(m.spec.selector)}, namespaces ${JSON.stringify(nsSel)})`, targets });
      continue;
    }
    for (const e of (m.spec.podMetricsEndpoints ?? []) as Json[]) {
      if (e.port === undefined) continue;
      const lacking = selected.filter((t) => !((t.spec.containers ?? []) as Json[]).some((c) => ((c.ports ?? []) as Json[]).some((p) => p.name === e.port)));
      if (lacking.length > 0) out.push({ monitor: name, problem: `endpoint port ${e.port} is not a container port of ${lacking.map((t) => `${t.namespace}/${t.owner.metadata.name}`).join(", ")}`, targets });
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// prometheus-adapter and the aggregated APIs
// ------------------------------------------------------------------------------------------------

/** Series names the metrics contract defines: counters and gauges by name, histograms' three series. */
export function contractSeries(): Set<string> {
  const out = new Set<string>();
  for (const m of [...Object.values(METRICS), ...Object.values(POOLER_METRICS)]) {
    if (m.type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) out.add(`${m.name}${s}`);
    else out.add(m.name);
  }
  return out;
}

/** The metric names a PromQL series selector names: `name{...}` or `{__name__="name"}`. */
export function seriesNames(selector: string): string[] {
  const names = [...selector.matchAll(/(?:^|[\s(,])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g)].map((m) => m[1]!);
  for (const m of selector.matchAll(/__name__\s*(=~?)\s*"([^"]*)"/g)) names.push(m[1] === "=~" ? `~${m[2]}` : m[2]!);
  return [...new Set(names)];
}

/** The adapter's configuration, from its rendered ConfigMap. */
export function adapterConfig(objects: readonly Obj[]): { source: string; config: Json } | undefined {
  const cm = objects.find((o) => o.kind === "ConfigMap" && typeof o.data?.["config.yaml"] === "string" && /seriesQuery|rules:/.test(o.data["config.yaml"]) && sourceOf(o).startsWith("prometheus-adapter/"));
  if (!cm) return undefined;
  return { source: `ConfigMap ${cm.metadata.namespace}/${cm.metadata.name} (${sourceOf(cm)})`, config: parse(cm.data["config.yaml"]) as Json };
}

/** Problems with the adapter's rules: series outside the contract, metrics the HPAs read that no rule serves. */
export function adapterProblems(config: Json, hpaMetrics: readonly string[]): string[] {
  const out: string[] = [];
  const contract = contractSeries();
  const rules = (config.rules ?? []) as Json[];
  for (const r of [...rules, ...((config.externalRules ?? []) as Json[])]) {
    for (const name of seriesNames(String(r.seriesQuery))) {
      if (!contract.has(name)) out.push(`seriesQuery ${JSON.stringify(r.seriesQuery)} names ${name}, which config/metrics.ts does not define`);
    }
  }
  if ((config.externalRules ?? []).length > 0) out.push(`${config.externalRules.length} external rule(s): the adapter must not register external.metrics.k8s.io`);
  if (config.resourceRules && Object.keys(config.resourceRules).length > 0) out.push("resource rules present: metrics.k8s.io is metrics-server's");
  const served = rules.map((r) => String(r.name?.as ?? ""));
  for (const m of hpaMetrics) {
    const n = served.filter((s) => s === m).length;
    if (n !== 1) out.push(`the HPAs read ${m}, which ${n === 0 ? "no rule serves" : `${n} rules serve`}`);
  }
  for (const s of served) if (!Object.hasOwn(HPA_METRIC_RULES, s)) out.push(`rule serves ${s}, which is not in HPA_METRIC_RULES`);
  return out;
}

/** An APIService whose Service is missing, lacks the port, or selects no pod serving the target port. */
export function apiServiceProblems(objects: readonly Obj[]): { apiService: string; problem?: string; service?: string }[] {
  const out: { apiService: string; problem?: string; service?: string }[] = [];
  for (const a of objects.filter((o) => o.kind === "APIService")) {
    const ref = a.spec.service as Json | undefined;
    const name = `APIService ${a.metadata.name} (${sourceOf(a)})`;
    if (!ref) {
      out.push({ apiService: name, problem: "names no Service (a local API)" });
      continue;
    }
    const port = Number(ref.port ?? 443);
    const svc = objects.find((o) => o.kind === "Service" && o.metadata.name === ref.name && o.metadata.namespace === ref.namespace);
    if (!svc) {
      out.push({ apiService: name, problem: `points at Service ${ref.namespace}/${ref.name}, which nothing creates` });
      continue;
    }
    const sp = ((svc.spec.ports ?? []) as Json[]).find((p) => Number(p.port) === port);
    if (!sp) {
      out.push({ apiService: name, problem: `Service ${ref.namespace}/${ref.name} has no port ${port}` });
      continue;
    }
    const pods = podTemplates(objects).filter((t) => t.namespace === ref.namespace && selectorMatches(svc.spec.selector, t.labels));
    const serving = pods.filter((t) => ((t.spec.containers ?? []) as Json[]).some((c) => ((c.ports ?? []) as Json[]).some((p) => p.name === sp.targetPort || Number(p.containerPort) === Number(sp.targetPort ?? sp.port))));
    if (serving.length === 0) out.push({ apiService: name, problem: `Service ${ref.namespace}/${ref.name} port ${port} → ${sp.targetPort ?? sp.port} reaches no container port of the pods it selects (${pods.length} pod templates)` });
    else out.push({ apiService: name, service: `${ref.namespace}/${ref.name}:${port} → ${serving.map((t) => `${t.owner.kind} ${t.owner.metadata.name}`).join(", ")}` });
  }
  return out;
}

/** Our Ingresses' backends that are a chart's Service: they exist, with the port. */
export function ingressBackendProblems(objects: readonly Obj[]): string[] {
  const out: string[] = [];
  for (const i of objects.filter((o) => o.kind === "Ingress")) {
    for (const rule of (i.spec.rules ?? []) as Json[]) {
      for (const p of (rule.http?.paths ?? []) as Json[]) {
        const b = p.backend?.service as Json;
        const svc = objects.find((o) => o.kind === "Service" && o.metadata.name === b.name && o.metadata.namespace === i.metadata.namespace);
        const port = b.port?.number ?? b.port?.name;
        if (!svc) out.push(`Ingress ${i.metadata.namespace}/${i.metadata.name} routes to Service ${b.name}, which does not exist`);
        else if (!((svc.spec.ports ?? []) as Json[]).some((x) => x.port === Number(port) || x.name === port)) out.push(`Ingress ${i.metadata.namespace}/${i.metadata.name} routes to port ${port} of Service ${b.name}, which has ${JSON.stringify(svc.spec.ports)}`);
      }
    }
  }
  return out;
}

/** Our NetworkPolicies that name pods (a non-empty podSelector) but select none the stack runs. */
export function idleNetworkPolicies(objects: readonly Obj[]): string[] {
  const pods = [...podTemplates(objects).map((t) => ({ namespace: t.namespace, labels: t.labels })), ...operatorPods(objects)];
  return objects
    .filter((o) => o.kind === "NetworkPolicy" && Object.keys(o.spec.podSelector?.matchLabels ?? {}).length + (o.spec.podSelector?.matchExpressions ?? []).length > 0)
    .filter((p) => !pods.some((pod) => pod.namespace === p.metadata.namespace && selectorMatches(p.spec.podSelector, pod.labels)))
    .map((p) => `NetworkPolicy ${p.metadata.namespace}/${p.metadata.name} selects ${JSON.stringify(p.spec.podSelector)}, which no pod of the stack or its charts carries`);
}

/**
 * The traffic matrix's model (test/network/model.ts) against a real apply: the labels and named
 * ports the engine was fed for each workload are those its pods carry in the cluster, every pod in
 * the stack's namespaces is one the model knows, the namespaces carry the labels the engine saw,
 * and every NetworkPolicy the API server admitted holds exactly the spec the engine evaluated (so
 * the model's reading of the provider's expansion is checked against the provider itself).
 *
 * With the charts installed (HELM_CHARTS_DIR), their pods are compared with the chart stand-ins
 * too. What it cannot check: the stand-ins of pods kwok never runs (the operator's Prometheus and
 * Alertmanager, the cluster's ingress controller and DNS), and enforcement (no CNI).
 */
import type { PlatformConfig } from "../../config/load";
import { buildModel, type Endpoint, type KubernetesNetworkPolicy } from "../network/model";
import type { ControlPlane } from "./control-plane";

type Json = Record<string, any>;

export interface NetworkReport {
  check(stack: string, name: string, ok: boolean, detail?: string): boolean;
  note(text: string): void;
}

/**
 * Labels the cluster adds to the pods, which no pod template carries: the controllers' own, and the
 * node's zone and region (the PodTopologyLabelsAdmission plugin, beta and on since 1.35, copies
 * them at binding). No policy here selects on them.
 */
const CLUSTER_ADDED_LABELS = new Set([
  "topology.kubernetes.io/zone",
  "topology.kubernetes.io/region",
  "pod-template-hash",
  "controller-revision-hash",
  "statefulset.kubernetes.io/pod-name",
  "apps.kubernetes.io/pod-index",
  "batch.kubernetes.io/controller-uid",
  "batch.kubernetes.io/job-name",
  "controller-uid",
  "job-name",
]);

/** Keys in a stable order, so two objects compare by content. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") return Object.fromEntries(Object.keys(value as Json).sort().map((k) => [k, canonical((value as Json)[k])]));
  return value;
}
const same = (a: unknown, b: unknown) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

/** The pods a workload of the model made, by the names its controller gives them. */
function podsOf(workload: Endpoint, pods: Json[]): Json[] {
  // The charts' stand-ins that run on kwok are all Deployments.
  const type = workload.standIn ? "kubernetes_deployment_v1" : workload.source.slice(0, workload.source.indexOf("."));
  const name = workload.id.slice(workload.id.indexOf("/") + 1);
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern =
    type === "kubernetes_deployment_v1" ? new RegExp(`^${escaped}-[a-z0-9]+-[a-z0-9]{5}$`) : type === "kubernetes_stateful_set_v1" ? new RegExp(`^${escaped}-[0-9]+$`) : new RegExp(`^${escaped}-[a-z0-9]{5}$`);
  return pods.filter((p) => pattern.test(p.metadata.name));
}

/** A pod's declared ports, as the model lists them. */
function portsOf(pod: Json): string[] {
  return [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])]
    .flatMap((c: Json) => (c.ports ?? []).map((p: Json) => `${p.name ?? ""}:${p.containerPort}/${p.protocol ?? "TCP"}`))
    .sort();
}

/** The API server's defaults on a NetworkPolicy's ports (protocol TCP), so a spec compares with the model's. */
function withDefaults(spec: KubernetesNetworkPolicy["spec"]): KubernetesNetworkPolicy["spec"] {
  const ports = (list?: { port?: number | string; protocol?: string }[]) => list?.map((p) => ({ ...p, protocol: p.protocol ?? "TCP" }));
  return {
    ...spec,
    ...(spec.ingress ? { ingress: spec.ingress.map((r) => ({ ...r, ...(r.ports ? { ports: ports(r.ports) } : {}) })) } : {}),
    ...(spec.egress ? { egress: spec.egress.map((r) => ({ ...r, ...(r.ports ? { ports: ports(r.ports) } : {}) })) } : {}),
  };
}

/**
 * Roles of the chart stand-ins that no pod answers to in the e2e even with the charts installed:
 * the pods kube-prometheus-stack's operator would make (kwok runs no operator) and its webhook's
 * certificate Jobs (the webhook is off there, test/e2e/charts.ts); the database instances and
 * Jobs CloudNativePG's operator would make. The operator's and the plugin's own pods run (kwok).
 */
const NOT_ON_KWOK = new Set(["prometheus", "alertmanager", "admission-job", "postgres", "postgres-job"]);

export async function checkNetworkModel(cp: ControlPlane, report: NetworkReport, label: string, stack: Json, config: PlatformConfig, chartsInstalled = false): Promise<void> {
  const model = buildModel(stack, config);
  const managed = [...model.managedNamespaces].sort();

  // Namespaces: the labels the engine matched namespace selectors against.
  const nsProblems: string[] = [];
  for (const ns of managed) {
    const real = (await cp.api("GET", `/api/v1/namespaces/${ns}`)).body?.metadata?.labels ?? {};
    if (!same(real, model.namespaces[ns])) nsProblems.push(`${ns}: cluster ${JSON.stringify(real)}, model ${JSON.stringify(model.namespaces[ns])}`);
  }
  report.check(label, "the engine's namespace labels are the cluster's (kubernetes.io/metadata.name included)", nsProblems.length === 0, nsProblems.join("; ") || managed.join(", "));

  // Pods: every workload's pods carry the model's labels and ports (less what the cluster adds);
  // no pod is unknown to the model.
  // With the charts installed, their pods are compared with the stand-ins the engine was fed.
  const workloads = model.pods.filter((p) => !p.standIn || (chartsInstalled && model.managedNamespaces.has(p.namespace ?? "") && !NOT_ON_KWOK.has(p.role)));
  const podProblems: string[] = [];
  const claimed = new Set<string>();
  let compared = 0;
  for (const ns of managed) {
    const pods = await cp.list(`/api/v1/namespaces/${ns}/pods`);
    for (const w of workloads.filter((x) => x.namespace === ns)) {
      const mine = podsOf(w, pods);
      if (mine.length === 0) podProblems.push(`${w.id}: no pod in the cluster`);
      for (const pod of mine) {
        claimed.add(`${ns}/${pod.metadata.name}`);
        compared++;
        const labels = Object.fromEntries(Object.entries((pod.metadata.labels ?? {}) as Record<string, string>).filter(([k]) => !CLUSTER_ADDED_LABELS.has(k)));
        if (!same(labels, w.labels)) podProblems.push(`${ns}/${pod.metadata.name}: labels ${JSON.stringify(labels)}, model ${JSON.stringify(w.labels)}`);
        const modelPorts = w.ports.map((p) => `${p.name ?? ""}:${p.port}/${p.protocol}`).sort();
        if (!same(portsOf(pod), modelPorts)) podProblems.push(`${ns}/${pod.metadata.name}: ports ${portsOf(pod).join(" ")}, model ${modelPorts.join(" ")}`);
      }
    }
    for (const pod of pods) {
      if (claimed.has(`${ns}/${pod.metadata.name}`)) continue;
      // Host-network pods (node-exporter) are the node's traffic, outside any NetworkPolicy.
      if (chartsInstalled && pod.spec?.hostNetwork === true) continue;
      podProblems.push(`${ns}/${pod.metadata.name}: a pod the model does not know`);
    }
  }
  report.check(label, "the labels and named ports the engine was fed are those the pods carry", podProblems.length === 0 && compared > 0, podProblems.slice(0, 8).join("; ") || `${compared} pods of ${workloads.length} workloads`);
  const unseen = model.pods.filter((p) => p.standIn && !workloads.includes(p)).map((p) => p.id);
  report.note(`not compared (${chartsInstalled ? "not run on kwok, or outside the stack's namespaces" : "no chart is installed here"}): ${unseen.join(", ")}`);

  // Policies: admitted, and holding the spec the engine evaluated.
  const policyProblems: string[] = [];
  const ours = model.policies.filter((p) => model.managedNamespaces.has(p.metadata.namespace));
  for (const p of ours) {
    const res = await cp.api("GET", `/apis/networking.k8s.io/v1/namespaces/${p.metadata.namespace}/networkpolicies/${p.metadata.name}`);
    if (res.status !== 200) policyProblems.push(`${p.metadata.namespace}/${p.metadata.name}: ${res.status}`);
    else if (!same(res.body.spec, withDefaults(p.spec))) policyProblems.push(`${p.metadata.namespace}/${p.metadata.name}: cluster ${JSON.stringify(res.body.spec)}, engine ${JSON.stringify(p.spec)}`);
  }
  for (const ns of managed) {
    for (const real of await cp.list(`/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`)) {
      if (!ours.some((p) => p.metadata.namespace === ns && p.metadata.name === real.metadata.name)) policyProblems.push(`${ns}/${real.metadata.name}: in the cluster, not in the engine's input`);
    }
  }
  report.check(label, "the API server admitted every NetworkPolicy, and holds the spec the engine evaluated", policyProblems.length === 0 && ours.length > 0, policyProblems.slice(0, 5).join("; ") || `${ours.length} policies`);
}

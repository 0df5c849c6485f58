/**
 * A synthesized stack as the chart checks see it: its Helm releases (chart, pinned version,
 * namespace and the exact values documents Terraform hands to helm), rendered with real helm, and
 * the Kubernetes objects the stack itself manages, in Kubernetes' own shape, so chart objects and
 * ours are checked together (a Role of ours binds a chart's service account, a chart's
 * ServiceMonitor selects a Service of ours).
 */
import { unescapeLiteral } from "../../constructs/terraform-text";
import type { EnvironmentName } from "../../config/schema";
import { synthEnvironment } from "../helpers";
import { type Helm, type Json, render, type RenderedObject } from "./helm";

/** One `helm_release` of a stack. */
export interface StackRelease {
  /** Terraform address: `helm_release.<id>`. */
  readonly address: string;
  readonly name: string;
  readonly namespace: string;
  readonly chart: string;
  readonly version: string;
  /** The values documents, exactly as Terraform passes them to helm. */
  readonly values: readonly string[];
}

/** Every environment in both autoscaling modes: the six stacks the e2e applies. */
export const STACKS: readonly { readonly env: EnvironmentName; readonly autoscaling: boolean; readonly label: string }[] = (["local", "staging", "production"] as const).flatMap((env) =>
  [false, true].map((autoscaling) => ({ env, autoscaling, label: `${env}/autoscaling-${autoscaling ? "on" : "off"}` })),
);

/** `${<type>.<id>.metadata[0].name}` (a namespace, a Role) → that resource's name; text as it is. */
export function resolveName(stack: Json, value: string): string {
  const ref = /^\$\{([a-z0-9_]+)\.([^.]+)\.metadata\[0\]\.name\}$/.exec(value);
  const name = ref ? stack.resource?.[ref[1]!]?.[ref[2]!]?.metadata?.name : undefined;
  return typeof name === "string" ? name : value;
}

export function stackReleases(stack: Json): StackRelease[] {
  return Object.entries((stack.resource?.helm_release ?? {}) as Record<string, Json>).map(([id, r]) => ({
    address: `helm_release.${id}`,
    name: r.name,
    namespace: resolveName(stack, r.namespace),
    chart: r.chart,
    version: r.version,
    values: (r.values ?? []).map((v: string) => unescapeLiteral(v)),
  }));
}

/** API versions a release's render may assume: the CRDs kube-prometheus-stack installs first. */
export function clusterApiVersions(releases: readonly StackRelease[]): string[] {
  return releases.some((r) => r.chart === "kube-prometheus-stack") ? ["monitoring.coreos.com/v1", "monitoring.coreos.com/v1alpha1"] : [];
}

/** A release's objects, as helm renders them with the stack's values. */
export interface RenderedRelease extends StackRelease {
  readonly objects: readonly RenderedObject[];
}

/** A stack with its releases rendered and its own objects, all in Kubernetes' shape. */
export interface ClusterView {
  readonly label: string;
  readonly stack: Json;
  readonly releases: readonly RenderedRelease[];
  /** Objects the stack manages itself (Terraform resources), converted to Kubernetes' shape. */
  readonly own: readonly RenderedObject[];
  /** Both, every object the stack would put in the cluster. */
  readonly all: readonly RenderedObject[];
}

const views = new Map<string, Promise<ClusterView>>();

/** The synthesized stack of `env` and mode, its releases rendered (cached per stack). */
export function clusterView(helm: Helm, env: EnvironmentName, autoscaling: boolean): Promise<ClusterView> {
  const label = `${env}/autoscaling-${autoscaling ? "on" : "off"}`;
  let view = views.get(label);
  if (!view) {
    view = (async () => {
      const stack = synthEnvironment(env, { enableAutoscaling: autoscaling });
      const releases = stackReleases(stack);
      const apiVersions = clusterApiVersions(releases);
      const rendered = await Promise.all(
        releases.map(async (r) => ({ ...r, objects: (await render(helm, { chart: r.chart, version: r.version, release: r.name, namespace: r.namespace, values: r.values, apiVersions })).objects })),
      );
      const own = terraformObjects(stack);
      return { label, stack, releases: rendered, own, all: [...own, ...rendered.flatMap((r) => r.objects)] };
    })();
    views.set(label, view);
  }
  return view;
}

const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** Keys whose values are maps of user text (labels, selectors, data): never renamed. */
const TEXT_MAPS = new Set(["labels", "annotations", "match_labels", "selector", "data", "node_selector"]);

/** Terraform's blocks that Kubernetes spells in the plural. */
const PLURAL: Record<string, string> = {
  container: "containers",
  init_container: "initContainers",
  volume: "volumes",
  volume_mount: "volumeMounts",
  port: "ports",
  rule: "rules",
  subject: "subjects",
  env: "env",
  topology_spread_constraint: "topologySpreadConstraints",
  match_expressions: "matchExpressions",
  ingress: "ingress",
  egress: "egress",
  path: "paths",
  tls: "tls",
  non_resource_urls: "nonResourceURLs",
};

/**
 * A Terraform resource body (as cdktf writes it: single blocks as objects, repeated blocks as
 * lists) as Kubernetes spells it: camelCase keys, plural list names, text maps untouched.
 */
export function kubernetesShape(value: unknown, key = "", inList = false): unknown {
  if (Array.isArray(value)) return value.map((v) => kubernetesShape(v, key, true));
  if (value && typeof value === "object") {
    // A map of user text (a Service's selector); a Deployment's `selector` block is a list item.
    if (TEXT_MAPS.has(key) && !(key === "selector" && ("match_labels" in value || "match_expressions" in value)) && !inList) return { ...(value as Json) };
    const out: Json = {};
    for (const [k, v] of Object.entries(value as Json)) {
      if (k === "//" || k === "depends_on" || k === "lifecycle" || k === "wait_for_rollout" || k === "wait_for_completion" || k === "timeouts") continue;
      out[(Array.isArray(v) ? PLURAL[k] : undefined) ?? camel(k)] = kubernetesShape(v, k);
    }
    return out;
  }
  return value;
}

const KINDS: Record<string, { apiVersion: string; kind: string }> = {
  kubernetes_namespace_v1: { apiVersion: "v1", kind: "Namespace" },
  kubernetes_service_v1: { apiVersion: "v1", kind: "Service" },
  kubernetes_config_map_v1: { apiVersion: "v1", kind: "ConfigMap" },
  kubernetes_service_account_v1: { apiVersion: "v1", kind: "ServiceAccount" },
  kubernetes_role_v1: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role" },
  kubernetes_role_binding_v1: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding" },
  kubernetes_cluster_role_v1: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole" },
  kubernetes_cluster_role_binding_v1: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding" },
  kubernetes_network_policy_v1: { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy" },
  kubernetes_ingress_v1: { apiVersion: "networking.k8s.io/v1", kind: "Ingress" },
  kubernetes_deployment_v1: { apiVersion: "apps/v1", kind: "Deployment" },
  kubernetes_stateful_set_v1: { apiVersion: "apps/v1", kind: "StatefulSet" },
  kubernetes_job_v1: { apiVersion: "batch/v1", kind: "Job" },
};

/**
 * The stack's own Kubernetes objects (the kinds the chart checks read) as the cluster receives
 * them: references to other resources' names resolved, literal text unescaped.
 */
export function terraformObjects(stack: Json): RenderedObject[] {
  const out: RenderedObject[] = [];
  for (const [type, meta] of Object.entries(KINDS)) {
    for (const [id, body] of Object.entries((stack.resource?.[type] ?? {}) as Record<string, Json>)) {
      const shaped = kubernetesShape(body) as Json;
      const resolveDeep = (v: unknown): unknown =>
        typeof v === "string" ? unescapeLiteral(resolveName(stack, v)) : Array.isArray(v) ? v.map(resolveDeep) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveDeep(x)])) : v;
      const object = { ...meta, ...(resolveDeep(shaped) as Json) } as unknown as RenderedObject;
      Object.defineProperty(object, "source", { value: `${type}.${id}`, enumerable: false });
      // The policy gate's declared suppressions on the resource (constructs/suppressions.ts).
      Object.defineProperty(object, "suppressions", { value: (body["//"]?.suppressions ?? []) as { rule: string; reason: string }[], enumerable: false });
      out.push(object);
    }
  }
  return out;
}

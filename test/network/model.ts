/**
 * What the policy engine is fed for one synthesized stack: its namespaces with their labels, its
 * NetworkPolicies as the Kubernetes objects the provider creates, the pods its workloads run
 * (labels and named ports from the pod templates, both blue-green tracks), the pods its Helm
 * charts and the cluster run (test/network/stand-ins.ts), and the addresses outside the pod
 * network: the API server, a node, the internet, the cloud metadata address.
 *
 * Everything is read from the Terraform JSON, never from the constructs that wrote it, so a new
 * workload (a StatefulSet, a Job, a chart) enters the matrix as soon as the stack emits it.
 */
import { parse } from "yaml";
import { addressInCidr, type Cidr, cidrContains, cidrIncludes, DEFAULT_API_SERVER, DEFAULT_NODE_CIDRS, parseCidr } from "../../config/network";
import type { PlatformConfig } from "../../config/load";
import { unescapeLiteral } from "../../constructs/terraform-text-plain";
import { CHART_PODS, clusterPods, type PodPort, type StandInPod } from "./stand-ins";

type Json = Record<string, any>;

/** A label selector as the API holds it. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** networking.k8s.io/v1 NetworkPolicy, as the provider sends it to the API server. */
export interface KubernetesNetworkPolicy {
  apiVersion: "networking.k8s.io/v1";
  kind: "NetworkPolicy";
  metadata: { name: string; namespace: string };
  spec: {
    podSelector: LabelSelector;
    ingress?: { from?: Peer[]; ports?: PolicyPort[] }[];
    egress?: { to?: Peer[]; ports?: PolicyPort[] }[];
    policyTypes: string[];
  };
}
interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
interface PolicyPort {
  port?: number | string;
  endPort?: number;
  protocol?: string;
}

/** A pod or an address, as a source or destination of traffic. */
export interface Endpoint {
  /** `agent-platform/api-gateway-blue`, `(api-server)`. */
  readonly id: string;
  /** What it is, for the expected matrix: `service:api-gateway`, `postgres`, `prometheus`, `api-server`, … */
  readonly role: string;
  /**
   * Every role it plays: an address inside both the API server's and the nodes' ranges is both
   * (policies tell addresses apart, nothing else), and a connection to it is expected for either.
   */
  readonly roles: readonly string[];
  readonly ip: string;
  /** Absent for an address outside the pod network. */
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** The ports a pod declares; for an address, the ports the matrix probes. */
  readonly ports: readonly PodPort[];
  /** Where it comes from: a resource address, a chart file, or a modelling choice. */
  readonly source: string;
  /** A stand-in's facts (what it talks to, what is scraped), for the expected matrix. */
  readonly standIn?: StandInPod;
}

export interface NetworkModel {
  readonly environment: string;
  /** Namespace name → labels, as the API server holds them (with kubernetes.io/metadata.name). */
  readonly namespaces: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Namespaces the stack creates: traffic that touches none of them is not the stack's. */
  readonly managedNamespaces: ReadonlySet<string>;
  readonly pods: readonly Endpoint[];
  /** The API server, a node, the internet, the metadata address, NodeLocal DNSCache. */
  readonly addresses: readonly Endpoint[];
  readonly policies: readonly KubernetesNetworkPolicy[];
  /** Helm values by release name (parsed from the JSON). */
  readonly helmValues: Readonly<Record<string, Json>>;
  /** The address range pods were given (disjoint from the cluster's configured ranges). */
  readonly podCidr: string;
}

const WORKLOAD_TYPES = ["kubernetes_deployment_v1", "kubernetes_stateful_set_v1", "kubernetes_job_v1", "kubernetes_daemon_set_v1"] as const;

/**
 * Address ranges for the pods, in order of preference: kind's pod network, then two ranges a
 * cluster's own addresses are unlikely to overlap. The first disjoint from every range the config
 * names for the API server and the nodes is used: pods are never the API server or a node.
 */
const POD_CIDR_CHOICES = ["10.244.0.0/16", "100.64.0.0/16", "198.18.0.0/16"];
/** TEST-NET-3 (RFC 5737): a public address no policy names. */
export const INTERNET_ADDRESS = "203.0.113.10";
/** The cloud metadata endpoint (AWS, GCP, Azure, OpenStack). */
export const METADATA_ADDRESS = "169.254.169.254";

/** Resolves `${kubernetes_namespace_v1.<id>.metadata[0].name}` and `${var.<name>}` in the JSON. */
function resolver(stack: Json) {
  const namespaces = (stack.resource?.kubernetes_namespace_v1 ?? {}) as Record<string, Json>;
  const variables = (stack.variable ?? {}) as Record<string, Json>;
  return (value: unknown): string => {
    const text = String(value);
    const ns = /^\$\{kubernetes_namespace_v1\.([^.]+)\.metadata\[0\]\.name\}$/.exec(text);
    if (ns) {
      const target = namespaces[ns[1]!];
      if (!target) throw new Error(`unresolvable namespace reference ${text}`);
      return target.metadata.name;
    }
    const variable = /^\$\{var\.([A-Za-z0-9_-]+)\}$/.exec(text);
    if (variable) {
      const v = variables[variable[1]!];
      if (v?.default === undefined) throw new Error(`unresolvable variable ${text}`);
      return String(v.default);
    }
    if (text.includes("${")) throw new Error(`unresolvable reference ${text}`);
    return unescapeLiteral(text);
  };
}

/** The provider's label selector expansion (structure_label_selector.go, expandLabelSelector). */
function selectorOf(tf: Json | undefined, resolve: (v: unknown) => string): LabelSelector {
  const out: LabelSelector = {};
  if (!tf) return out;
  const labels = tf.match_labels as Record<string, unknown> | undefined;
  if (labels && Object.keys(labels).length > 0) out.matchLabels = Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, resolve(v)]));
  const expressions = tf.match_expressions as Json[] | undefined;
  if (expressions && expressions.length > 0) {
    out.matchExpressions = expressions.map((e) => ({ key: e.key, operator: e.operator, ...(e.values?.length ? { values: e.values.map(resolve) } : {}) }));
  }
  return out;
}

/**
 * A kubernetes_network_policy_v1 resource as the Kubernetes object the provider creates: the
 * expansion of terraform-provider-kubernetes 2.38.0 (kubernetes/structure_network_policy.go,
 * expandNetworkPolicyV1Spec and friends), which drops empty rule lists and parses a port that is
 * all digits as a number (intstr.Parse). The end-to-end run compares this with what the API server
 * holds after a real apply.
 */
export function kubernetesPolicy(tf: Json, resolve: (v: unknown) => string): KubernetesNetworkPolicy {
  const spec = tf.spec as Json;
  const ports = (list: Json[] | undefined): PolicyPort[] | undefined =>
    list && list.length > 0
      ? list.map((p) => ({
          ...(p.port ? { port: /^[0-9]+$/.test(String(p.port)) ? Number(p.port) : String(p.port) } : {}),
          ...(p.end_port ? { endPort: Number(p.end_port) } : {}),
          ...(p.protocol ? { protocol: String(p.protocol) } : {}),
        }))
      : undefined;
  const peers = (list: Json[] | undefined): Peer[] | undefined =>
    list && list.length > 0
      ? list.map((p) => ({
          ...(p?.ip_block ? { ipBlock: { cidr: p.ip_block.cidr, ...(p.ip_block.except?.length ? { except: [...p.ip_block.except] } : {}) } } : {}),
          ...(p?.namespace_selector !== undefined ? { namespaceSelector: selectorOf(p.namespace_selector, resolve) } : {}),
          ...(p?.pod_selector !== undefined ? { podSelector: selectorOf(p.pod_selector, resolve) } : {}),
        }))
      : undefined;
  const rules = <K extends "from" | "to">(list: Json[] | undefined, key: K) =>
    list && list.length > 0
      ? list.map((r) => {
          const rulePorts = ports(r?.ports);
          const rulePeers = peers(r?.[key]);
          return { ...(rulePorts ? { ports: rulePorts } : {}), ...(rulePeers ? { [key]: rulePeers } : {}) };
        })
      : undefined;
  const ingress = rules(spec.ingress, "from");
  const egress = rules(spec.egress, "to");
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: resolve(tf.metadata.name), namespace: resolve(tf.metadata.namespace) },
    spec: {
      podSelector: selectorOf(spec.pod_selector, resolve),
      ...(ingress ? { ingress } : {}),
      ...(egress ? { egress } : {}),
      policyTypes: [...(spec.policy_types ?? [])],
    },
  };
}

/** The pod template of a workload resource (a CronJob's is one level deeper). */
function podTemplate(body: Json): Json | undefined {
  return body.spec?.template ?? body.spec?.job_template?.spec?.template;
}

/**
 * What a workload is in the platform, for the expected matrix: named after the resource, never
 * after its labels (the labels are what the matrix tests).
 */
export function workloadRole(type: string, name: string, config: PlatformConfig): string {
  if (type === "kubernetes_deployment_v1") {
    const service = config.services.find((s) => name === s.name || name === `${s.name}-blue` || name === `${s.name}-green`);
    if (service) return `service:${service.name}`;
    if (name === "pgbouncer") return "pgbouncer";
  }
  if (type === "kubernetes_stateful_set_v1" && (name === "postgres" || name === "redis")) return name;
  if (type === "kubernetes_job_v1" && name.startsWith("db-migrate-")) return "migration";
  return `unknown:${type}/${name}`;
}

/** The cluster's address ranges from config, with the defaults the stack falls back to. */
export function clusterRanges(config: PlatformConfig): { apiServer: { cidrs: string[]; ports: number[] }; nodeCidrs: string[] } {
  return {
    apiServer: { cidrs: [...(config.cluster.apiServer?.cidrs ?? DEFAULT_API_SERVER.cidrs)], ports: [...(config.cluster.apiServer?.ports ?? DEFAULT_API_SERVER.ports)] },
    nodeCidrs: [...(config.cluster.nodeCidrs ?? DEFAULT_NODE_CIDRS)],
  };
}

const cidr = (text: string): Cidr => {
  const parsed = parseCidr(text);
  if ("error" in parsed) throw new Error(`${text}: ${parsed.error}`);
  return parsed;
};
const hostOf = (range: string, n: number) => {
  const c = cidr(range);
  return addressInCidr(c, c.prefix >= (c.family === 4 ? 31 : 127) ? 0 : n);
};

/**
 * Builds the model of one synthesized stack.
 * @param podCidr where pods get their addresses; by default the first of POD_CIDR_CHOICES that
 *   overlaps none of the cluster's configured ranges
 */
export function buildModel(stack: Json, config: PlatformConfig, podCidr?: string): NetworkModel {
  const resolve = resolver(stack);
  const resources = (type: string) => Object.entries((stack.resource?.[type] ?? {}) as Record<string, Json>);

  // Namespaces: the stack's, with the label the API server adds to every namespace (1.21+).
  const namespaces: Record<string, Record<string, string>> = {};
  for (const [, ns] of resources("kubernetes_namespace_v1")) {
    const name = resolve(ns.metadata.name);
    namespaces[name] = { ...Object.fromEntries(Object.entries(ns.metadata.labels ?? {}).map(([k, v]) => [k, resolve(v)])), "kubernetes.io/metadata.name": name };
  }
  const managed = new Set(Object.keys(namespaces));

  const pods: Omit<Endpoint, "ip" | "roles">[] = [];
  const nodeExporterOnHost: string[] = [];
  for (const type of WORKLOAD_TYPES) {
    for (const [id, body] of resources(type)) {
      const template = podTemplate(body);
      if (!template) continue;
      const name = resolve(body.metadata.name);
      if (template.spec?.host_network) {
        nodeExporterOnHost.push(`${type}.${id}`);
        continue;
      }
      const ports: PodPort[] = [];
      for (const c of [...(template.spec?.container ?? []), ...(template.spec?.init_container ?? [])] as Json[]) {
        for (const p of (c.port ?? []) as Json[]) ports.push({ ...(p.name ? { name: String(p.name) } : {}), port: Number(p.container_port), protocol: (p.protocol ?? "TCP") as PodPort["protocol"] });
      }
      pods.push({
        id: `${resolve(body.metadata.namespace)}/${name}`,
        role: workloadRole(type, name, config),
        namespace: resolve(body.metadata.namespace),
        labels: Object.fromEntries(Object.entries(template.metadata?.labels ?? {}).map(([k, v]) => [k, resolve(v)])),
        ports,
        source: `${type}.${id}`,
      });
    }
  }

  // Helm releases: their values, and the pods their charts run.
  const helmValues: Record<string, Json> = {};
  for (const [id, release] of resources("helm_release")) {
    const values = ((release.values ?? []) as string[]).map((v) => parse(unescapeLiteral(v)) as Json).reduce((a, b) => ({ ...a, ...b }), {});
    helmValues[release.name] = values;
    const chartPods = CHART_PODS[release.chart];
    if (!chartPods) throw new Error(`helm_release.${id} installs chart ${release.chart}, which test/network/stand-ins.ts does not model: add its pods to CHART_PODS`);
    for (const pod of chartPods({ name: release.name, namespace: resolve(release.namespace), values })) {
      pods.push({ id: `${pod.namespace}/${pod.name}`, role: pod.role, namespace: pod.namespace, labels: pod.labels, ports: pod.ports, source: pod.source, standIn: pod });
    }
  }
  for (const pod of clusterPods(config.ingressController.namespace, config.dns.namespace)) {
    namespaces[pod.namespace] ??= { "kubernetes.io/metadata.name": pod.namespace };
    pods.push({ id: `${pod.namespace}/${pod.name}`, role: pod.role, namespace: pod.namespace, labels: pod.labels, ports: pod.ports, source: pod.source, standIn: pod });
  }

  // Addresses: pods in a range disjoint from the cluster's own.
  const ranges = clusterRanges(config);
  const taken = [...ranges.apiServer.cidrs, ...ranges.nodeCidrs].map(cidr);
  const podRange = podCidr ?? POD_CIDR_CHOICES.find((c) => !taken.some((t) => cidrContains(t, cidr(c)) || cidrContains(cidr(c), t)));
  if (!podRange) throw new Error(`no pod range disjoint from ${taken.map((t) => t.text).join(", ")}`);
  pods.sort((a, b) => a.id.localeCompare(b.id));
  const placed: Endpoint[] = pods.map((p, i) => ({ ...p, roles: [p.role], ip: hostOf(podRange, i + 10) }));

  const policies = resources("kubernetes_network_policy_v1").map(([, body]) => kubernetesPolicy(body, resolve));

  // The ports probed on an address: every port any policy or pod names, and the usual ones.
  const numbers = new Set<number>([53, 80, 443, 6443, 8443, ...ranges.apiServer.ports]);
  for (const p of policies) {
    for (const rule of [...(p.spec.ingress ?? []), ...(p.spec.egress ?? [])]) for (const port of rule.ports ?? []) if (typeof port.port === "number") numbers.add(port.port);
  }
  for (const p of placed) for (const port of p.ports) numbers.add(port.port);
  const probePorts: PodPort[] = [...numbers].sort((a, b) => a - b).map((port) => ({ port, protocol: "TCP" }));
  probePorts.push({ port: 53, protocol: "UDP" });
  const inRanges = (ip: string, ranges: readonly string[]) => ranges.some((r) => cidrIncludes(cidr(r), ip));
  const address = (id: string, role: string, ip: string, source: string): Endpoint => ({
    id,
    role,
    roles: [role, ...(role !== "api-server" && inRanges(ip, ranges.apiServer.cidrs) ? ["api-server"] : []), ...(role !== "node" && inRanges(ip, ranges.nodeCidrs) ? ["node"] : [])],
    ip,
    ports: probePorts,
    source,
  });
  const addresses: Endpoint[] = [
    address("(api-server)", "api-server", hostOf(ranges.apiServer.cidrs[0]!, 1), `the first address of cluster.apiServer.cidrs (${ranges.apiServer.cidrs.join(", ")})`),
    address("(node)", "node", hostOf(ranges.nodeCidrs[0]!, 2), `an address of cluster.nodeCidrs (${ranges.nodeCidrs.join(", ")}): kubelets and host-network pods${nodeExporterOnHost.length ? ` (${nodeExporterOnHost.join(", ")})` : ""}`),
    address("(internet)", "internet", INTERNET_ADDRESS, "a public address (TEST-NET-3)"),
    address("(metadata)", "metadata", METADATA_ADDRESS, "the cloud metadata endpoint"),
    ...(config.dns.nodeLocalAddress ? [address("(node-local-dns)", "node-local-dns", config.dns.nodeLocalAddress, "dns.nodeLocalAddress")] : []),
  ];
  return { environment: config.environment, namespaces, managedNamespaces: managed, pods: placed, addresses, policies, helmValues, podCidr: podRange };
}

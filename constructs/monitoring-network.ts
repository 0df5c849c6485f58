/**
 * The monitoring namespace's NetworkPolicies: default deny, then exactly what each chart component
 * needs, each peer named by the labels and ports the pinned charts give it.
 *
 * Pod labels and ports, from the charts at the versions config/versions.ts pins:
 * - Prometheus and Alertmanager pods are made by the operator, which labels them
 *   `app.kubernetes.io/name: prometheus|alertmanager` (the CRDs' `podMetadata` documentation in
 *   kube-prometheus-stack 67.8.0, charts/crds/crds/crd-prometheuses.yaml and crd-alertmanagers.yaml);
 *   their web ports are 9090 and 9093, the config reloader's 8080 (values.yaml `portName: http-web`,
 *   templates/prometheus/service.yaml, `reloader-web`).
 * - The operator: `app: kube-prometheus-stack-operator`, `release: <release>` (the chart's own
 *   templates/prometheus-operator/networkpolicy.yaml selects it so), port 10250 (`tls.internalPort`),
 *   which serves both its metrics and the admission webhook.
 * - Grafana (grafana chart 8.8): `app.kubernetes.io/name: grafana`, port 3000.
 * - kube-state-metrics (5.28): `app.kubernetes.io/name: kube-state-metrics`, port 8080.
 * - prometheus-adapter (4.13.0): `app.kubernetes.io/name: prometheus-adapter`, port 6443 (`listenPort`).
 * - metrics-server (3.13.0): `app.kubernetes.io/name: metrics-server`, port 10250 (`containerPort`).
 */
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import type { Construct } from "constructs";
import { namespaceSelector } from "./labels";
import { type ClusterDns, declareInternetEgress, dnsEgressSpec, internetPeer, PROMETHEUS_POD_LABELS } from "./network";

/** Pod labels of the chart components the policies name. */
export const MONITORING_POD_LABELS = {
  prometheus: PROMETHEUS_POD_LABELS,
  alertmanager: { "app.kubernetes.io/name": "alertmanager" },
  grafana: { "app.kubernetes.io/name": "grafana" },
  operator: (release: string) => ({ app: "kube-prometheus-stack-operator", release }),
  kubeStateMetrics: { "app.kubernetes.io/name": "kube-state-metrics" },
  adapter: { "app.kubernetes.io/name": "prometheus-adapter" },
  metricsServer: { "app.kubernetes.io/name": "metrics-server" },
} as const;

/** The ports those components listen on (the charts' defaults, which the values never change). */
export const MONITORING_PORTS = {
  prometheus: 9090,
  alertmanager: 9093,
  configReloader: 8080,
  grafana: 3000,
  operator: 10250,
  kubeStateMetrics: 8080,
  adapter: 6443,
  metricsServer: 10250,
  coreDnsMetrics: 9153,
  kubelet: 10250,
} as const;

/**
 * What kube-prometheus-stack's ServiceMonitors scrape on the nodes' addresses, by the values key
 * that turns each on, with the port its values.yaml (67.8.0) sets: the kubelet (and cAdvisor
 * through it), node-exporter on the host network, kube-proxy, and the control plane's
 * controller-manager, scheduler and etcd (kubeadm-style static pods on the host network).
 */
export const NODE_SCRAPE_TARGETS: readonly { readonly key: string; readonly port: number; readonly enabledByDefault: boolean }[] = [
  { key: "kubelet", port: 10250, enabledByDefault: true },
  { key: "nodeExporter", port: 9100, enabledByDefault: true },
  { key: "kubeProxy", port: 10249, enabledByDefault: true },
  { key: "kubeControllerManager", port: 10257, enabledByDefault: true },
  { key: "kubeScheduler", port: 10259, enabledByDefault: true },
  { key: "kubeEtcd", port: 2381, enabledByDefault: true },
];

/** The node ports Prometheus scrapes under these kube-prometheus-stack values. */
export function scrapedNodePorts(stackValues: Record<string, unknown>): number[] {
  const values = stackValues as Record<string, { enabled?: boolean } | undefined>;
  if (values.kubernetesServiceMonitors?.enabled === false) return [];
  const on = (key: string, byDefault: boolean) => values[key]?.enabled ?? byDefault;
  return [...new Set(NODE_SCRAPE_TARGETS.filter((t) => on(t.key, t.enabledByDefault)).map((t) => t.port))].sort((a, b) => a - b);
}

/** Whether kube-prometheus-stack scrapes CoreDNS's metrics port under these values. */
export function scrapesCoreDns(stackValues: Record<string, unknown>): boolean {
  const values = stackValues as Record<string, { enabled?: boolean } | undefined>;
  return values.kubernetesServiceMonitors?.enabled !== false && (values.coreDns?.enabled ?? true);
}

export interface MonitoringNetworkProps {
  /** The monitoring namespace, as a reference (the policies depend on it). */
  readonly namespace: string;
  readonly labels: Record<string, string>;
  /** kube-prometheus-stack's release name: the operator's pods carry it. */
  readonly release: string;
  /** The platform's namespace, by name: Prometheus scrapes its pods' `metrics` ports. */
  readonly platformNamespace: string;
  readonly dns: ClusterDns;
  /** The API server's endpoint addresses and ports (config `cluster.apiServer`). */
  readonly apiServer: { readonly cidrs: readonly string[]; readonly ports: readonly number[] };
  /** The nodes' addresses (config `cluster.nodeCidrs`). */
  readonly nodeCidrs: readonly string[];
  /** kube-prometheus-stack's values: which components run and what Prometheus scrapes. */
  readonly stackValues: Record<string, unknown>;
  readonly alertmanager: boolean;
  /** Alertmanager notifies PagerDuty, on the internet. */
  readonly pagerduty: boolean;
  readonly adapter: boolean;
  readonly metricsServer: boolean;
  /** The ingress controller, where Grafana is exposed through it. */
  readonly grafanaIngressFrom?: { readonly namespace: string; readonly podLabels: Record<string, string> };
}

type Peer = Record<string, unknown>;

/**
 * Default deny in the monitoring namespace, then exactly what each component needs:
 * - every pod resolves names; every pod but Alertmanager reaches the API server's addresses on
 *   its ports (service discovery, the operator, the sidecars, the admission Jobs), nothing else
 *   there;
 * - the API server (by address: no label selects it) reaches the operator's webhook and the
 *   aggregated metrics APIs, on their ports only;
 * - Prometheus scrapes the platform's `metrics` ports, the components here on their metrics
 *   ports, CoreDNS's metrics port, the nodes on the ports its values scrape, and sends alerts to
 *   Alertmanager; Grafana and the adapter query Prometheus;
 * - Alertmanager reaches the internet on 443 (PagerDuty) only where PagerDuty is on; metrics-server
 *   reaches the kubelets.
 * No pod reaches any other address: not the internet, not the cloud metadata address.
 */
export function monitoringNetworkPolicies(scope: Construct, props: MonitoringNetworkProps): NetworkPolicyV1[] {
  const made: NetworkPolicyV1[] = [];
  const policy = (id: string, spec: Record<string, unknown>) => {
    const p = new NetworkPolicyV1(scope, `network-policy-${id}`, { metadata: { name: id, namespace: props.namespace, labels: props.labels }, spec: spec as any });
    made.push(p);
    return p;
  };
  const tcp = (...ports: (number | string)[]) => ports.map((port) => ({ port: String(port), protocol: "TCP" }));
  const pods = (matchLabels: Record<string, string>): Peer => ({ podSelector: { matchLabels: { ...matchLabels } } });
  const blocks = (cidrs: readonly string[]): Peer[] => cidrs.map((cidr) => ({ ipBlock: { cidr } }));
  const P = MONITORING_POD_LABELS;
  const port = MONITORING_PORTS;
  const operator = P.operator(props.release);
  const apiServer = blocks(props.apiServer.cidrs);
  const prometheus = pods(P.prometheus);

  policy("default-deny-all", { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
  policy("allow-dns-egress", dnsEgressSpec(props.dns));
  // Alertmanager alone has no use for the API server; every other pod here watches it.
  policy("allow-apiserver-egress", {
    podSelector: { matchExpressions: [{ key: "app.kubernetes.io/name", operator: "NotIn", values: [P.alertmanager["app.kubernetes.io/name"]] }] },
    policyTypes: ["Egress"],
    egress: [{ to: apiServer, ports: tcp(...props.apiServer.ports) }],
  });

  const nodePorts = scrapedNodePorts(props.stackValues);
  policy("prometheus", {
    ...prometheus,
    policyTypes: ["Ingress", "Egress"],
    ingress: [
      { from: [pods(P.grafana), ...(props.adapter ? [pods(P.adapter)] : [])], ports: tcp(port.prometheus) },
      // Its own ServiceMonitor: the web port and the config reloader's.
      { from: [prometheus], ports: tcp(port.prometheus, port.configReloader) },
    ],
    egress: [
      { to: [{ namespaceSelector: namespaceSelector(props.platformNamespace) }], ports: tcp("metrics") },
      { to: [prometheus], ports: tcp(port.prometheus, port.configReloader) },
      ...(props.alertmanager ? [{ to: [pods(P.alertmanager)], ports: tcp(port.alertmanager, port.configReloader) }] : []),
      { to: [pods(P.grafana)], ports: tcp(port.grafana) },
      { to: [pods(operator)], ports: tcp(port.operator) },
      { to: [pods(P.kubeStateMetrics)], ports: tcp(port.kubeStateMetrics) },
      ...(scrapesCoreDns(props.stackValues)
        ? [{ to: [{ namespaceSelector: namespaceSelector(props.dns.namespace), podSelector: { matchLabels: { ...props.dns.podLabels } } }], ports: tcp(port.coreDnsMetrics) }]
        : []),
      ...(nodePorts.length > 0 ? [{ to: blocks(props.nodeCidrs), ports: tcp(...nodePorts) }] : []),
    ],
  });
  policy("grafana", {
    ...pods(P.grafana),
    policyTypes: ["Ingress", "Egress"],
    ingress: [
      ...(props.grafanaIngressFrom
        ? [{ from: [{ namespaceSelector: namespaceSelector(props.grafanaIngressFrom.namespace), podSelector: { matchLabels: { ...props.grafanaIngressFrom.podLabels } } }], ports: tcp(port.grafana) }]
        : []),
      { from: [prometheus], ports: tcp(port.grafana) },
    ],
    egress: [{ to: [prometheus], ports: tcp(port.prometheus) }],
  });
  policy("prometheus-operator", {
    ...pods(operator),
    policyTypes: ["Ingress"],
    // Its metrics, and the admission webhook the API server calls, share the one port.
    ingress: [
      { from: [prometheus], ports: tcp(port.operator) },
      { from: apiServer, ports: tcp(port.operator) },
    ],
  });
  policy("kube-state-metrics", { ...pods(P.kubeStateMetrics), policyTypes: ["Ingress"], ingress: [{ from: [prometheus], ports: tcp(port.kubeStateMetrics) }] });
  if (props.alertmanager) {
    const alertmanager = policy("alertmanager", {
      ...pods(P.alertmanager),
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: [prometheus], ports: tcp(port.alertmanager, port.configReloader) }],
      egress: props.pagerduty ? [{ to: [internetPeer()], ports: tcp(443) }] : [],
    });
    if (props.pagerduty) {
      declareInternetEgress(alertmanager, "Alertmanager sends critical alerts to PagerDuty's Events API on the internet: 443 only, private, shared and link-local ranges excepted");
    }
  }
  if (props.adapter) {
    policy("prometheus-adapter", {
      ...pods(P.adapter),
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: apiServer, ports: tcp(port.adapter) }],
      egress: [{ to: [prometheus], ports: tcp(port.prometheus) }],
    });
  }
  if (props.metricsServer) {
    policy("metrics-server", {
      ...pods(P.metricsServer),
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: apiServer, ports: tcp(port.metricsServer) }],
      // Every kubelet's resource metrics.
      egress: [{ to: blocks(props.nodeCidrs), ports: tcp(port.kubelet) }],
    });
  }
  return made;
}

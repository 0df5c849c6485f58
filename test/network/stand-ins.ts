/**
 * The pods the traffic matrix cannot read from the stack's own workloads: what the Helm charts run
 * (by chart, from the release's name and values in the synthesized JSON), and what the cluster
 * runs (the ingress controller, the cluster DNS). Every label and port is the chart's, with the
 * file that sets it; none is taken from the policies under test (constructs/monitoring-network.ts
 * keeps its own), so a selector that misses the real pod shows as a closed path.
 *
 * Sources, at the versions config/versions.ts pins (mirrors of the chart repositories):
 * - kube-prometheus-stack 67.8.0 (prometheus-community/helm-charts, tag kube-prometheus-stack-67.8.0):
 *   templates/prometheus-operator/_prometheus-operator.tpl and admission-webhooks/_prometheus-operator-webhook.tpl
 *   (the operator's and the admission Jobs' labels), templates/_helpers.tpl ("kube-prometheus-stack.labels"),
 *   deployment.yaml (`https` on `tls.internalPort` 10250), admission-webhooks/job-patch/job-createSecret.yaml and
 *   job-patchWebhook.yaml (`app: <name>-admission-create|patch`, Helm pre-install/pre-upgrade hooks),
 *   charts/crds/crds/crd-prometheuses.yaml and crd-alertmanagers.yaml (`podMetadata`: the labels the operator
 *   puts on Prometheus and Alertmanager pods, less `app.kubernetes.io/version`, which no selector
 *   here reads), values.yaml (`portName: http-web`, `reloaderWebPort: 8080`,
 *   ServiceMonitors on `http-web` and `reloader-web`, `grafana.serviceMonitor.enabled: true`,
 *   `coreDns.service.port: 9153`, the node scrape targets below).
 * - grafana 8.8.2 (grafana/helm-charts, tag grafana-8.8.2; the 8.8.x current when 67.8.0 was released):
 *   templates/_helpers.tpl ("grafana.selectorLabels"), templates/_pod.tpl (ports `grafana` 3000,
 *   `gossip-tcp`/`gossip-udp` 9094, `profiling` 6060).
 * - kube-state-metrics 5.28.0: templates/_helpers.tpl ("kube-state-metrics.selectorLabels"),
 *   templates/deployment.yaml (`http` 8080).
 * - prometheus-node-exporter 4.43.1: values.yaml (`hostNetwork: true`, port 9100): on the nodes'
 *   addresses, so a node peer, not a pod.
 * - prometheus-adapter 4.13.0: templates/_helpers.tpl ("k8s-prometheus-adapter.selectorLabels"),
 *   templates/deployment.yaml (`https` on `listenPort` 6443).
 * - metrics-server 3.13.0 (kubernetes-sigs/metrics-server, tag metrics-server-helm-chart-3.13.0):
 *   templates/_helpers.tpl ("metrics-server.selectorLabels"), values.yaml (`containerPort: 10250`).
 * - ingress-nginx (kubernetes/ingress-nginx, charts/ingress-nginx/templates/_helpers.tpl
 *   "ingress-nginx.selectorLabels", plus `app.kubernetes.io/component: controller` on the controller;
 *   kind's deploy manifest uses the same labels).
 * - CoreDNS as kubeadm and kind deploy it: `k8s-app: kube-dns` (the selector kube-prometheus-stack's
 *   templates/exporters/core-dns/service.yaml uses), ports `dns` 53/UDP, `dns-tcp` 53/TCP, `metrics` 9153.
 *
 * - cloudnative-pg 0.29.0 (cloudnative-pg/charts): templates/_helpers.tpl ("cloudnative-pg.selectorLabels"),
 *   templates/deployment.yaml (`metrics` 8080, `webhook-server` on webhook.port 9443, `replicaCount`).
 * - plugin-barman-cloud 0.7.0: templates/_helpers.tpl ("plugin-barman-cloud.selectorLabels"),
 *   templates/deployment.yaml (an unnamed 9090).
 * - cluster 0.8.1: the pods the CloudNativePG operator (1.30.0) makes for the Cluster: instances
 *   `<cluster>-<n>` (pkg/specs/pods.go: `cnpg.io/cluster`, `cnpg.io/instanceName`,
 *   `cnpg.io/podRole: instance`, the `app.kubernetes.io/*` labels; ports `postgresql` 5432,
 *   `metrics` 9187, `status` 8000) and its initdb/join/recovery Jobs (pkg/specs/jobs.go:
 *   `cnpg.io/cluster`, `cnpg.io/jobRole`, no ports).
 *
 * Adding a chart: add its release's pods to CHART_PODS under the chart's name, with the file each
 * label and port comes from, and what the component talks to (`talksTo`), and the matrix covers it.
 */

export type Protocol = "TCP" | "UDP" | "SCTP";

export interface PodPort {
  readonly name?: string;
  readonly port: number;
  readonly protocol: Protocol;
}

/** A port Prometheus scrapes (a ServiceMonitor of the chart points at it). */
export interface StandInPort extends PodPort {
  readonly scraped?: boolean;
  /** The API server calls it (an aggregated API or an admission webhook). */
  readonly calledByApiServer?: boolean;
}

/** A pod a chart or the cluster runs, as the matrix models it. */
export interface StandInPod {
  /** Its role in the expected matrix (`prometheus`, `grafana`, `ingress-controller`, …). */
  readonly role: string;
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ports: readonly StandInPort[];
  /** It reads or watches the API server. */
  readonly usesApiServer: boolean;
  /** Other roles it connects to, by port name or number. */
  readonly talksTo?: readonly { readonly role: string; readonly port: string | number }[];
  /** Where its labels and ports come from. */
  readonly source: string;
}

/** What a chart's release runs, from the release's name and values. */
export type ChartPods = (release: { readonly name: string; readonly namespace: string; readonly values: Record<string, any> }) => StandInPod[];

const tcp = (name: string, port: number, flags: Partial<StandInPort> = {}): StandInPort => ({ name, port, protocol: "TCP", ...flags });

/** kube-prometheus-stack's common labels ("kube-prometheus-stack.labels"), for its own templates. */
function kpsLabels(release: string): Record<string, string> {
  return {
    "app.kubernetes.io/managed-by": "Helm",
    "app.kubernetes.io/instance": release,
    "app.kubernetes.io/version": "67.8.0",
    "app.kubernetes.io/part-of": "kube-prometheus-stack",
    chart: "kube-prometheus-stack-67.8.0",
    release,
    heritage: "Helm",
  };
}

/** The CloudNativePG operator's labels on an instance or Job of `cluster` (pkg/specs). */
export function cnpgLabels(cluster: string): Record<string, string> {
  return {
    "cnpg.io/cluster": cluster,
    "app.kubernetes.io/name": "postgresql",
    "app.kubernetes.io/instance": cluster,
    "app.kubernetes.io/component": "database",
    "app.kubernetes.io/managed-by": "cloudnative-pg",
  };
}

/** An instance pod's labels (the first is the primary at bootstrap, the others replicas). */
export function cnpgInstanceLabels(cluster: string, ordinal: number): Record<string, string> {
  const role = ordinal === 1 ? "primary" : "replica";
  return { ...cnpgLabels(cluster), "cnpg.io/instanceName": `${cluster}-${ordinal}`, "cnpg.io/podRole": "instance", "cnpg.io/instanceRole": role, role };
}

/** The CloudNativePG charts: the operator, the Barman Cloud plugin, and a Cluster's pods. */
export const CNPG_CHART_PODS: Readonly<Record<string, ChartPods>> = {
  // One stand-in for the Deployment's replicas: they carry the same labels and ports.
  "cloudnative-pg": ({ name: release, namespace, values }) => [
    {
      role: "cnpg-operator",
      name: values.fullnameOverride ?? `${release}-cloudnative-pg`,
      namespace,
      labels: { "app.kubernetes.io/name": "cloudnative-pg", "app.kubernetes.io/instance": release },
      ports: [tcp("metrics", 8080), tcp("webhook-server", values.webhook?.port ?? 9443, { calledByApiServer: true })],
      usesApiServer: true,
      // It polls every instance's status endpoint, and calls the plugin.
      talksTo: [
        { role: "postgres", port: "status" },
        { role: "barman-cloud-plugin", port: 9090 },
      ],
      source: "cloudnative-pg 0.29.0: templates/_helpers.tpl (selectorLabels), templates/deployment.yaml (ports)",
    },
  ],
  "plugin-barman-cloud": ({ name: release, namespace, values }) => [
    {
      role: "barman-cloud-plugin",
      name: values.fullnameOverride ?? `${release}-plugin-barman-cloud`,
      namespace,
      labels: { "app.kubernetes.io/name": "plugin-barman-cloud", "app.kubernetes.io/instance": release },
      ports: [{ port: 9090, protocol: "TCP" }],
      usesApiServer: true,
      source: "plugin-barman-cloud 0.7.0: templates/_helpers.tpl (selectorLabels), templates/deployment.yaml (containerPort 9090)",
    },
  ],
  cluster: ({ name: release, namespace: releaseNamespace, values }) => {
    const cluster: string = values.fullnameOverride ?? release;
    // The chart's objects go to namespaceOverride where set (the release's record stays in its own).
    const namespace: string = values.namespaceOverride || releaseNamespace;
    const instances: number = values.cluster?.instances ?? 3;
    const pods: StandInPod[] = Array.from({ length: instances }, (_, i) => ({
      role: "postgres",
      name: `${cluster}-${i + 1}`,
      namespace,
      labels: cnpgInstanceLabels(cluster, i + 1),
      ports: [tcp("postgresql", 5432), tcp("metrics", 9187), tcp("status", 8000)],
      usesApiServer: true,
      // Streaming replication and the standbys' instance managers, to the primary.
      talksTo: [{ role: "postgres", port: "postgresql" }],
      source: "cloudnative-pg 1.30.0: pkg/specs/pods.go (labels, ports)",
    }));
    pods.push({
      role: "postgres-job",
      name: `${cluster}-${instances}-join`,
      namespace,
      labels: { ...cnpgLabels(cluster), "cnpg.io/instanceName": `${cluster}-${instances}`, "cnpg.io/jobRole": "join" },
      ports: [],
      usesApiServer: true,
      // pg_basebackup from the primary.
      talksTo: [{ role: "postgres", port: "postgresql" }],
      source: "cloudnative-pg 1.30.0: pkg/specs/jobs.go (labels)",
    });
    return pods;
  },
};

/** The charts the stacks install, by chart name. */
export const CHART_PODS: Readonly<Record<string, ChartPods>> = {
  "kube-prometheus-stack": ({ name: release, namespace, values }) => {
    const fullname = values.fullnameOverride ?? `${release}-kube-prometheus-stack`;
    const KPS = "kube-prometheus-stack 67.8.0";
    const pods: StandInPod[] = [
      {
        role: "prometheus",
        name: `prometheus-${fullname}-prometheus-0`,
        namespace,
        labels: {
          "app.kubernetes.io/name": "prometheus",
          "app.kubernetes.io/instance": `${fullname}-prometheus`,
          "app.kubernetes.io/managed-by": "prometheus-operator",
          prometheus: `${fullname}-prometheus`,
          "operator.prometheus.io/name": `${fullname}-prometheus`,
          "operator.prometheus.io/shard": "0",
        },
        ports: [tcp("http-web", 9090, { scraped: true }), tcp("reloader-web", 8080, { scraped: true })],
        usesApiServer: true,
        source: `${KPS}: crd-prometheuses.yaml (podMetadata), values.yaml prometheus.prometheusSpec.portName, templates/prometheus/servicemonitor.yaml`,
      },
      {
        role: "operator",
        name: `${fullname}-operator`,
        namespace,
        labels: { ...kpsLabels(release), app: "kube-prometheus-stack-operator", "app.kubernetes.io/name": "kube-prometheus-stack-prometheus-operator", "app.kubernetes.io/component": "prometheus-operator" },
        // deployment.yaml: `https` on tls.internalPort, or `http` 8080 with TLS off (then no webhook).
        ports:
          values.prometheusOperator?.tls?.enabled === false
            ? [tcp("http", 8080, { scraped: true })]
            : [tcp("https", values.prometheusOperator?.tls?.internalPort ?? 10250, { scraped: true, calledByApiServer: true })],
        usesApiServer: true,
        source: `${KPS}: templates/prometheus-operator/_prometheus-operator.tpl, deployment.yaml, servicemonitor.yaml (https)`,
      },
      ...(["create", "patch"] as const).map(
        (job): StandInPod => ({
          role: "admission-job",
          name: `${fullname}-admission-${job}`,
          namespace,
          labels: { ...kpsLabels(release), app: `kube-prometheus-stack-admission-${job}`, "app.kubernetes.io/name": "kube-prometheus-stack-prometheus-operator", "app.kubernetes.io/component": "prometheus-operator-webhook" },
          ports: [],
          usesApiServer: true,
          source: `${KPS}: templates/prometheus-operator/admission-webhooks/job-patch/job-${job === "create" ? "createSecret" : "patchWebhook"}.yaml`,
        }),
      ),
      {
        role: "grafana",
        name: `${values.grafana?.fullnameOverride ?? `${release}-grafana`}`,
        namespace,
        labels: { "app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": release, "app.kubernetes.io/version": "11.4.0", "helm.sh/chart": "grafana-8.8.2" },
        ports: [tcp("grafana", 3000, { scraped: values.grafana?.serviceMonitor?.enabled ?? true }), tcp("gossip-tcp", 9094), { name: "gossip-udp", port: 9094, protocol: "UDP" }, tcp("profiling", 6060)],
        usesApiServer: true,
        talksTo: [{ role: "prometheus", port: "http-web" }],
        source: "grafana 8.8.2: templates/deployment.yaml (the pod's labels: selectorLabels and podLabels), templates/_pod.tpl (ports); the dashboard and datasource sidecars watch ConfigMaps",
      },
      {
        role: "kube-state-metrics",
        name: `${release}-kube-state-metrics`,
        namespace,
        labels: {
          "app.kubernetes.io/name": "kube-state-metrics",
          "app.kubernetes.io/instance": release,
          "app.kubernetes.io/component": "metrics",
          "app.kubernetes.io/part-of": "kube-state-metrics",
          "app.kubernetes.io/managed-by": "Helm",
          "app.kubernetes.io/version": "2.14.0",
          "helm.sh/chart": "kube-state-metrics-5.28.0",
          release,
        },
        ports: [tcp("http", 8080, { scraped: true })],
        usesApiServer: true,
        source: "kube-state-metrics 5.28.0: templates/_helpers.tpl (labels), templates/deployment.yaml (the pod's labels, http)",
      },
    ];
    if (values.alertmanager?.enabled !== false) {
      pods.push({
        role: "alertmanager",
        name: `alertmanager-${fullname}-alertmanager-0`,
        namespace,
        labels: {
          "app.kubernetes.io/name": "alertmanager",
          "app.kubernetes.io/instance": `${fullname}-alertmanager`,
          "app.kubernetes.io/managed-by": "prometheus-operator",
          alertmanager: `${fullname}-alertmanager`,
        },
        ports: [tcp("http-web", 9093, { scraped: true }), tcp("reloader-web", 8080, { scraped: true }), tcp("mesh-tcp", 9094), { name: "mesh-udp", port: 9094, protocol: "UDP" }],
        usesApiServer: false,
        source: `${KPS}: crd-alertmanagers.yaml (podMetadata), values.yaml alertmanager.alertmanagerSpec.portName, templates/alertmanager/servicemonitor.yaml`,
      });
    }
    return pods;
  },
  "prometheus-adapter": ({ name: release, namespace, values }) => [
    {
      role: "prometheus-adapter",
      name: release,
      namespace,
      labels: {
        "app.kubernetes.io/name": "prometheus-adapter",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/component": "metrics",
        "app.kubernetes.io/part-of": "prometheus-adapter",
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/version": "v0.12.0",
        "helm.sh/chart": "prometheus-adapter-4.13.0",
      },
      ports: [tcp("https", values.listenPort ?? 6443, { calledByApiServer: true })],
      usesApiServer: true,
      talksTo: [{ role: "prometheus", port: "http-web" }],
      source: "prometheus-adapter 4.13.0: templates/_helpers.tpl (labels, selectorLabels), templates/deployment.yaml (https on listenPort)",
    },
  ],
  "metrics-server": ({ name: release, namespace, values }) => [
    {
      role: "metrics-server",
      name: release,
      namespace,
      labels: { "app.kubernetes.io/name": "metrics-server", "app.kubernetes.io/instance": release },
      ports: [tcp("https", values.containerPort ?? 10250, { calledByApiServer: true })],
      usesApiServer: true,
      talksTo: [{ role: "node", port: 10250 }],
      source: "metrics-server 3.13.0: templates/_helpers.tpl (selectorLabels), values.yaml (containerPort)",
    },
  ],
  ...CNPG_CHART_PODS,
};

/**
 * What kube-prometheus-stack's ServiceMonitors scrape on the nodes' addresses (values.yaml 67.8.0):
 * the values key that turns each on, its default, and the port.
 */
export const NODE_SCRAPES: readonly { readonly key: string; readonly port: number; readonly byDefault: boolean }[] = [
  { key: "kubelet", port: 10250, byDefault: true }, // kubelet.serviceMonitor: https-metrics, cAdvisor and probes through it
  { key: "nodeExporter", port: 9100, byDefault: true }, // prometheus-node-exporter: hostNetwork, service.port 9100
  { key: "kubeProxy", port: 10249, byDefault: true }, // kubeProxy.service.port
  { key: "kubeControllerManager", port: 10257, byDefault: true }, // templates/exporters/kube-controller-manager/service.yaml, secure port
  { key: "kubeScheduler", port: 10259, byDefault: true }, // templates/exporters/kube-scheduler/service.yaml, secure port
  { key: "kubeEtcd", port: 2381, byDefault: true }, // kubeEtcd.service.port
];

/** The cluster's own pods the platform's policies name: the ingress controller and the cluster DNS. */
export function clusterPods(ingressNamespace: string, dnsNamespace: string): StandInPod[] {
  return [
    {
      role: "ingress-controller",
      name: "ingress-nginx-controller",
      namespace: ingressNamespace,
      labels: { "app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/instance": "ingress-nginx", "app.kubernetes.io/component": "controller" },
      ports: [tcp("http", 80), tcp("https", 443), tcp("webhook", 8443)],
      usesApiServer: true,
      source: "ingress-nginx: charts/ingress-nginx/templates/_helpers.tpl (selectorLabels), controller-deployment.yaml (component: controller)",
    },
    {
      role: "kube-dns",
      name: "coredns",
      namespace: dnsNamespace,
      labels: { "k8s-app": "kube-dns" },
      ports: [{ name: "dns", port: 53, protocol: "UDP" }, tcp("dns-tcp", 53), tcp("metrics", 9153)],
      usesApiServer: true,
      source: "CoreDNS as kubeadm and kind deploy it; kube-prometheus-stack 67.8.0 templates/exporters/core-dns/service.yaml selects k8s-app: kube-dns",
    },
  ];
}

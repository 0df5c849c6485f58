/**
 * The monitoring charts' values and what they run, as pure functions of the environment's config:
 * the Monitoring construct renders these into its Helm releases, and the summary counts the same
 * objects without synthesizing (no cdktf here, so a failing config never loads it).
 */
import { addResources, NO_RESOURCES, type Resources, resourcesOf } from "../config/capacity";
import { HPA_METRIC_RULES, type MetricsApi, type MetricsApiPlan, metricsApiPlan } from "../config/metrics";
import type { MonitoringSettings } from "../config/schema";
import { METRICS_API_REPLICAS, SIZES, type ContainerResources } from "../config/sizes";
import type { PlatformConfig } from "../config/types";
import { alertmanagerConfig, alertmanagerSecrets } from "../dashboards/alertmanager";
import { alertRuleGroups } from "../dashboards/alerts";
import { parseMemoryBytes } from "../config/quantity";
import { type MonitoredDatabase } from "../dashboards/selectors";
import { NAME_LABEL, PART_OF } from "./labels";
import { CLUSTER_LABEL, POD_ROLE_LABEL } from "./postgres-cluster-values";

/** What every chart container runs with (Pod Security `restricted`, read-only root). */
const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

/** Chart probes that ask the same endpoint for liveness and readiness: liveness waits longer. */
const LIVENESS_FAILURE_THRESHOLD = 6;

/**
 * kube-state-metrics' collectors: the chart's defaults (kube-state-metrics 5.28) without
 * `secrets`, so it needs no right to list Secrets anywhere.
 */
export const KUBE_STATE_METRICS_COLLECTORS = [
  "certificatesigningrequests",
  "configmaps",
  "cronjobs",
  "daemonsets",
  "deployments",
  "endpoints",
  "horizontalpodautoscalers",
  "ingresses",
  "jobs",
  "leases",
  "limitranges",
  "mutatingwebhookconfigurations",
  "namespaces",
  "networkpolicies",
  "nodes",
  "persistentvolumeclaims",
  "persistentvolumes",
  "poddisruptionbudgets",
  "pods",
  "replicasets",
  "replicationcontrollers",
  "resourcequotas",
  "services",
  "statefulsets",
  "storageclasses",
  "validatingwebhookconfigurations",
  "volumeattachments",
];

/** Names every chart resource after this, so in-cluster addresses are stable. */
export const STACK_RELEASE = "kps";
export const GRAFANA_NAME = `${STACK_RELEASE}-grafana`;
export const PROMETHEUS_URL = (namespace: string) => `http://${STACK_RELEASE}-prometheus.${namespace}.svc`;
export const GRAFANA_ADMIN_SECRET = "grafana-admin";
/** Grafana's admin login; its password is the Secret's `admin-password`. */
export const GRAFANA_ADMIN_USER = "admin";
/** Where the admin Secret is mounted in Grafana's container. */
const GRAFANA_ADMIN_MOUNT = "/etc/secrets/grafana-admin";


export interface MonitoringInputs {
  /** The platform's namespace, as text. */
  readonly platformNamespace: string;
  /** The monitoring namespace. */
  readonly namespace: string;
  readonly settings: MonitoringSettings;
  /** HPAs exist (autoscaling on): every one reads CPU and memory. */
  readonly autoscaling: boolean;
  /** Custom metrics the HPAs read. */
  readonly hpaMetrics: readonly string[];
  /** PgBouncer runs. */
  readonly pooler: boolean;
  /** Redis runs (it does not where rate limiting is in memory and nothing caches). */
  readonly redis: boolean;
  /** The database: the StatefulSet's exporter, or a CloudNativePG cluster's instances. */
  readonly database: MonitoredDatabase;
}

/** What the monitoring watches of an environment's database. */
export function monitoredDatabase(config: PlatformConfig): MonitoredDatabase {
  const t = config.postgres.topology;
  return t.kind === "cloudnative-pg" ? { kind: "cloudnative-pg", cluster: t.name, instances: t.instances, backups: !!t.backup } : { kind: "statefulset" };
}

export function monitoringInputs(config: PlatformConfig): MonitoringInputs {
  return {
    platformNamespace: config.namespace,
    namespace: config.monitoringNamespace,
    settings: config.monitoring,
    autoscaling: config.autoscalingEnabled,
    hpaMetrics: config.autoscalingEnabled ? [...new Set(config.services.flatMap((s) => s.autoscaling.customMetrics.map((m) => m.metric)))].sort() : [],
    pooler: !!config.pgbouncer,
    redis: !!config.redis,
    database: monitoredDatabase(config),
  };
}

export interface MonitoringValues {
  readonly kubePrometheusStack: Record<string, unknown>;
  /** prometheus-adapter: only when an HPA reads a custom metric. */
  readonly adapter?: Record<string, unknown>;
  /** metrics-server: only when HPAs exist and the cluster does not serve metrics.k8s.io. */
  readonly metricsServer?: Record<string, unknown>;
  /** Who serves what each HPA reads (config/metrics.ts). */
  readonly plan: MetricsApiPlan;
}

export function monitoringValues(m: MonitoringInputs): MonitoringValues {
  const plan = metricsApiPlan({ autoscaling: m.autoscaling, customMetrics: m.hpaMetrics, clusterApis: m.settings.clusterMetricsApis as MetricsApi[] });
  const custom = plan.needs["custom.metrics.k8s.io"].filter((name) => Object.hasOwn(HPA_METRIC_RULES, name));
  const adapter = plan.adapter
    ? {
        prometheus: { url: PROMETHEUS_URL(m.namespace), port: 9090 },
        replicas: METRICS_API_REPLICAS,
        // Both probes ask /healthz: liveness tolerates a slow minute before a restart.
        livenessProbe: { failureThreshold: LIVENESS_FAILURE_THRESHOLD },
        podDisruptionBudget: { enabled: true, maxUnavailable: 1 },
        resources: SIZES.prometheusAdapter,
        // No external or resource rules: the adapter registers custom.metrics.k8s.io only.
        rules: { default: false, custom: custom.map((name) => HPA_METRIC_RULES[name]), external: [], resource: {} },
      }
    : undefined;
  const metricsServer = plan.metricsServer
    ? {
        replicas: METRICS_API_REPLICAS,
        podDisruptionBudget: { enabled: true, maxUnavailable: 1 },
        resources: SIZES.metricsServer,
        ...(m.settings.kubeletInsecureTls ? { args: ["--kubelet-insecure-tls"] } : {}),
      }
    : undefined;
  return { kubePrometheusStack: kubePrometheusStackValues(m), ...(adapter ? { adapter } : {}), ...(metricsServer ? { metricsServer } : {}), plan };
}

/**
 * The share of Prometheus' volume its blocks may fill before the oldest are deleted. Time-based
 * retention alone lets a busier-than-planned week fill the volume, and a full volume stops
 * Prometheus (every alert with it). The write-ahead log and the head block are not counted in
 * `retentionSize`, hence the headroom.
 */
export const PROMETHEUS_RETENTION_SHARE = 0.8;

/** `retentionSize` for a volume of `size`, in Prometheus' base-2 units (MB = 2^20 bytes). */
export function prometheusRetentionSize(size: string): string {
  const bytes = parseMemoryBytes(size);
  if (bytes === undefined) throw new Error(`prometheusStorage.size ${size} is not a quantity`);
  return `${Math.floor((bytes * PROMETHEUS_RETENTION_SHARE) / 2 ** 20)}MB`;
}

/**
 * Every pod of every service, each colour of a blue-green one included, on its `metrics` port.
 * `job` and `service` carry the service's name, as a ServiceMonitor on its Service would set them
 * (dashboards, alerts and the HPAs' adapter rules read them).
 * @see https://github.com/prometheus-operator/prometheus-operator/blob/main/Documentation/api-reference/api.md#monitoring.coreos.com/v1.PodMonitor
 */
export function servicePodMonitor(platformNamespace: string): Record<string, unknown> {
  return {
    name: "agent-platform-services",
    selector: { matchLabels: { "app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/component": "service" } },
    namespaceSelector: { matchNames: [platformNamespace] },
    jobLabel: NAME_LABEL,
    podMetricsEndpoints: [
      {
        port: "metrics",
        path: "/metrics",
        interval: "30s",
        scrapeTimeout: "10s",
        relabelings: [{ sourceLabels: [`__meta_kubernetes_pod_label_${NAME_LABEL.replace(/[^a-zA-Z0-9_]/g, "_")}`], targetLabel: "service" }],
      },
    ],
  };
}

/** kube-prometheus-stack's values. */
export function kubePrometheusStackValues(m: MonitoringInputs): Record<string, unknown> {
  const { settings } = m;
  const monitor = (name: string, matchLabels: Record<string, string>, port: string) => ({
    name,
    selector: { matchLabels },
    namespaceSelector: { matchNames: [m.platformNamespace] },
    endpoints: [{ port, path: "/metrics", interval: "30s", scrapeTimeout: "10s" }],
  });
  const nodeExporterNamespace = `${m.namespace}-node-exporter`;
  return {
    fullnameOverride: STACK_RELEASE,
    crds: { enabled: true },
    // The chart's RBAC would give the operator every ConfigMap and Secret of the cluster; the
    // stack binds the same rules with those two confined to this namespace (MonitoringRbac).
    global: { rbac: { create: false } },
    prometheusOperator: {
      resources: SIZES.prometheusOperator,
      prometheusConfigReloader: { resources: SIZES.prometheusConfigReloader },
      // Watch only the namespaces it manages; Prometheus and Alertmanager (whose Secrets and
      // ConfigMaps it reads and writes) run in this one.
      namespaces: { releaseNamespace: true, ...(settings.alerting ? { additional: [nodeExporterNamespace] } : {}) },
      prometheusInstanceNamespaces: [m.namespace],
      alertmanagerInstanceNamespaces: [m.namespace],
      thanosRulerInstanceNamespaces: [m.namespace],
      // Both probes ask /healthz: liveness tolerates a slow minute before a restart.
      livenessProbe: { failureThreshold: LIVENESS_FAILURE_THRESHOLD },
      admissionWebhooks: { patch: { resources: SIZES.webhookCertgen } },
    },
    "kube-state-metrics": {
      resources: SIZES.kubeStateMetrics,
      // The chart's default collectors minus `secrets`, which needs list/watch on every Secret of
      // the cluster; no rule or dashboard reads kube_secret_*.
      collectors: KUBE_STATE_METRICS_COLLECTORS,
    },
    // node-exporter needs the host's network and PID namespaces: a namespace of its own. Its
    // values only where it runs (the subchart reads none of them when disabled).
    ...(settings.alerting
      ? {
          "prometheus-node-exporter": {
            namespaceOverride: nodeExporterNamespace,
            resources: SIZES.nodeExporter,
            securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
            containerSecurityContext: RESTRICTED_CONTAINER,
            livenessProbe: { failureThreshold: LIVENESS_FAILURE_THRESHOLD },
          },
        }
      : {}),
    // The chart's own Kubernetes alert rules: worth having wherever someone receives alerts.
    defaultRules: { create: settings.alerting },
    // The control plane only where it is reachable (config monitoring.controlPlaneTargets): each
    // switch also drops the chart's rules for that component, which would otherwise page
    // "...Down" forever on a managed control plane.
    kubeControllerManager: { enabled: settings.controlPlaneTargets.includes("kube-controller-manager") },
    kubeScheduler: { enabled: settings.controlPlaneTargets.includes("kube-scheduler") },
    kubeEtcd: { enabled: settings.controlPlaneTargets.includes("etcd") },
    kubeProxy: { enabled: settings.controlPlaneTargets.includes("kube-proxy") },
    nodeExporter: { enabled: settings.alerting },
    alertmanager: settings.alerting
      ? {
          enabled: true,
          config: alertmanagerConfig(settings),
          alertmanagerSpec: {
            ...(alertmanagerSecrets(settings).length > 0 ? { secrets: alertmanagerSecrets(settings) } : {}),
            resources: SIZES.alertmanager,
          },
        }
      : { enabled: false },
    prometheus: {
      prometheusSpec: {
        retention: settings.retention,
        resources: settings.prometheusResources,
        // Pick up monitors and rules that do not carry the chart's release label.
        serviceMonitorSelectorNilUsesHelmValues: false,
        podMonitorSelectorNilUsesHelmValues: false,
        ruleSelectorNilUsesHelmValues: false,
        ...(settings.prometheusStorage
          ? {
              retentionSize: prometheusRetentionSize(settings.prometheusStorage.size),
              storageSpec: {
                volumeClaimTemplate: {
                  spec: {
                    accessModes: ["ReadWriteOnce"],
                    ...(settings.prometheusStorage.storageClass ? { storageClassName: settings.prometheusStorage.storageClass } : {}),
                    resources: { requests: { storage: settings.prometheusStorage.size } },
                  },
                },
              },
            }
          : {}),
      },
      // The services through their pods, not their Service: a blue-green Service selects the
      // active colour only, and an HPA whose custom metric goes unscraped never scales down (it
      // refuses to while a metric is missing), so the idle colour must be scraped too.
      additionalPodMonitors: [
        servicePodMonitor(m.platformNamespace),
        // A CloudNativePG cluster has no metrics Service: its instances are scraped as pods.
        ...(m.database.kind === "cloudnative-pg"
          ? [
              {
                name: "agent-platform-postgres-cluster",
                selector: { matchLabels: { [CLUSTER_LABEL]: m.database.cluster, [POD_ROLE_LABEL]: "instance" } },
                namespaceSelector: { matchNames: [m.platformNamespace] },
                podMetricsEndpoints: [{ port: "metrics", path: "/metrics", interval: "30s", scrapeTimeout: "10s" }],
              },
            ]
          : []),
      ],
      additionalServiceMonitors: [
        ...(m.redis ? [monitor("agent-platform-redis", { "app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": PART_OF }, "metrics")] : []),
        ...(m.database.kind === "statefulset" ? [monitor("agent-platform-postgres", { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": PART_OF }, "metrics")] : []),
        ...(m.pooler ? [monitor("agent-platform-pgbouncer", { "app.kubernetes.io/name": "pgbouncer", "app.kubernetes.io/part-of": PART_OF }, "metrics")] : []),
      ],
    },
    ...(settings.alerting
      ? {
          additionalPrometheusRulesMap: {
            "agent-platform": {
              groups: alertRuleGroups({ namespace: m.platformNamespace, thresholds: settings.thresholds, runbookBaseUrl: settings.runbookBaseUrl, pooler: m.pooler, database: m.database }),
            },
          },
        }
      : {}),
    grafana: {
      fullnameOverride: GRAFANA_NAME,
      // The admin password reaches Grafana as a file (Grafana reads `<setting>__FILE`), never as
      // an env var: with these set, the chart passes no Secret through env, to Grafana or to its
      // sidecars (their dashboard reload calls needed the password; see skipReload below).
      env: { GF_SECURITY_ADMIN_USER: GRAFANA_ADMIN_USER, GF_SECURITY_ADMIN_PASSWORD__FILE: `${GRAFANA_ADMIN_MOUNT}/admin-password` },
      extraSecretMounts: [{ name: GRAFANA_ADMIN_SECRET, secretName: GRAFANA_ADMIN_SECRET, mountPath: GRAFANA_ADMIN_MOUNT, readOnly: true, defaultMode: 0o440 }],
      // No chart RBAC: its Role would grant every Secret (its ClusterRole, every Secret of the
      // cluster). The stack binds a Role that reads ConfigMaps in this namespace only.
      rbac: { create: false },
      serviceAccount: { create: true, name: GRAFANA_NAME },
      resources: settings.grafanaResources,
      containerSecurityContext: RESTRICTED_CONTAINER,
      // Grafana writes its database and plugins to /var/lib/grafana (the chart's emptyDir); these
      // take the rest of what it writes, so its root filesystem stays read-only.
      extraEmptyDirMounts: [
        { name: "tmp", mountPath: "/tmp" },
        { name: "logs", mountPath: "/var/log/grafana" },
      ],
      defaultDashboardsEnabled: settings.alerting,
      sidecar: {
        resources: SIZES.grafanaSidecar,
        securityContext: RESTRICTED_CONTAINER,
        // kube-prometheus-stack's own values search ALL namespaces, which the namespaced Role
        // above refuses: the sidecar would load no dashboard. It searches exactly this one.
        // No reload call (it needs the admin password): Grafana rereads the dashboards folder
        // every 30 s (the chart's provider, updateIntervalSeconds).
        dashboards: { enabled: true, label: "grafana_dashboard", labelValue: "1", resource: "configmap", searchNamespace: [m.namespace], skipReload: true },
        // Datasources are the chart's own and fixed: an init container writes them before Grafana
        // starts (Grafana reads datasources at start only; no reload call needed).
        datasources: { enabled: true, resource: "configmap", initDatasources: true },
      },
    },
  };
}

/** A workload a monitoring chart runs, with its containers as the values size them. */
export interface ChartWorkload {
  readonly name: string;
  /** Pods; `perNode` for a DaemonSet (one per node). */
  readonly pods: number;
  readonly perNode: boolean;
  readonly containers: readonly { readonly name: string; readonly resources: Resources }[];
  readonly perPod: Resources;
}

function chartWorkload(name: string, pods: number, containers: [string, ContainerResources][], perNode = false): ChartWorkload {
  const c = containers.map(([n, r]) => ({ name: n, resources: resourcesOf(r) }));
  return { name, pods, perNode, containers: c, perPod: c.reduce((a, x) => addResources(a, x.resources), NO_RESOURCES) };
}

/**
 * What the monitoring charts run, from their values: Prometheus with its config reloader,
 * Grafana with its dashboard and datasource sidecars, Alertmanager with its reloader, the
 * operator, kube-state-metrics, node-exporter (one per node), prometheus-adapter, metrics-server.
 */
export function chartWorkloads(values: MonitoringValues): ChartWorkload[] {
  const kps = values.kubePrometheusStack as any;
  const reloader = kps.prometheusOperator.prometheusConfigReloader.resources as ContainerResources;
  const out = [
    chartWorkload("prometheus", 1, [["prometheus", kps.prometheus.prometheusSpec.resources], ["config-reloader", reloader]]),
    // The datasources sidecar runs as an init container (initDatasources): it adds nothing to the
    // running pod's size, and its requests are below the running containers' sum.
    chartWorkload("grafana", 1, [["grafana", kps.grafana.resources], ["grafana-sc-dashboard", kps.grafana.sidecar.resources]]),
    chartWorkload("prometheus-operator", 1, [["kube-prometheus-stack", kps.prometheusOperator.resources]]),
    chartWorkload("kube-state-metrics", 1, [["kube-state-metrics", kps["kube-state-metrics"].resources]]),
  ];
  if (kps.alertmanager.enabled) out.push(chartWorkload("alertmanager", 1, [["alertmanager", kps.alertmanager.alertmanagerSpec.resources], ["config-reloader", reloader]]));
  if (kps.nodeExporter.enabled) out.push(chartWorkload("node-exporter", 1, [["node-exporter", kps["prometheus-node-exporter"].resources]], true));
  const adapter = values.adapter as any;
  if (adapter) out.push(chartWorkload("prometheus-adapter", adapter.replicas, [["prometheus-adapter", adapter.resources]]));
  const ms = values.metricsServer as any;
  if (ms) out.push(chartWorkload("metrics-server", ms.replicas, [["metrics-server", ms.resources]]));
  return out;
}

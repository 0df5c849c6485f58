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
import { PART_OF } from "./labels";

/** Names every chart resource after this, so in-cluster addresses are stable. */
export const STACK_RELEASE = "kps";
export const GRAFANA_NAME = `${STACK_RELEASE}-grafana`;
export const PROMETHEUS_URL = (namespace: string) => `http://${STACK_RELEASE}-prometheus.${namespace}.svc`;
export const GRAFANA_ADMIN_SECRET = "grafana-admin";


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
}

export function monitoringInputs(config: PlatformConfig): MonitoringInputs {
  return {
    platformNamespace: config.namespace,
    namespace: config.monitoringNamespace,
    settings: config.monitoring,
    autoscaling: config.autoscalingEnabled,
    hpaMetrics: config.autoscalingEnabled ? [...new Set(config.services.flatMap((s) => s.autoscaling.customMetrics.map((m) => m.metric)))].sort() : [],
    pooler: !!config.pgbouncer,
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

/** kube-prometheus-stack's values. */
export function kubePrometheusStackValues(m: MonitoringInputs): Record<string, unknown> {
  const { settings } = m;
  const monitor = (name: string, matchLabels: Record<string, string>, port: string) => ({
    name,
    selector: { matchLabels },
    namespaceSelector: { matchNames: [m.platformNamespace] },
    endpoints: [{ port, path: "/metrics", interval: "30s", scrapeTimeout: "10s" }],
  });
  return {
    fullnameOverride: STACK_RELEASE,
    crds: { enabled: true },
    prometheusOperator: {
      resources: SIZES.prometheusOperator,
      prometheusConfigReloader: { resources: SIZES.prometheusConfigReloader },
    },
    "kube-state-metrics": { resources: SIZES.kubeStateMetrics },
    // node-exporter needs the host's network and PID namespaces: a namespace of its own.
    "prometheus-node-exporter": { namespaceOverride: `${m.namespace}-node-exporter`, resources: SIZES.nodeExporter },
    // The chart's own Kubernetes alert rules: worth having wherever someone receives alerts.
    defaultRules: { create: settings.alerting },
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
      additionalServiceMonitors: [
        monitor("agent-platform-services", { "app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/component": "service" }, "metrics"),
        monitor("agent-platform-redis", { "app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": PART_OF }, "metrics"),
        monitor("agent-platform-postgres", { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": PART_OF }, "metrics"),
        ...(m.pooler ? [monitor("agent-platform-pgbouncer", { "app.kubernetes.io/name": "pgbouncer", "app.kubernetes.io/part-of": PART_OF }, "metrics")] : []),
      ],
    },
    ...(settings.alerting
      ? {
          additionalPrometheusRulesMap: {
            "agent-platform": {
              groups: alertRuleGroups({ namespace: m.platformNamespace, thresholds: settings.thresholds, runbookBaseUrl: settings.runbookBaseUrl, pooler: m.pooler }),
            },
          },
        }
      : {}),
    grafana: {
      fullnameOverride: GRAFANA_NAME,
      admin: { existingSecret: GRAFANA_ADMIN_SECRET, userKey: "admin-user", passwordKey: "admin-password" },
      // No chart RBAC: its Role would grant every Secret (its ClusterRole, every Secret of the
      // cluster). The stack binds a Role that reads ConfigMaps in this namespace only.
      rbac: { create: false, namespaced: true },
      serviceAccount: { create: true, name: GRAFANA_NAME },
      resources: settings.grafanaResources,
      defaultDashboardsEnabled: settings.alerting,
      sidecar: {
        resources: SIZES.grafanaSidecar,
        dashboards: { enabled: true, label: "grafana_dashboard", labelValue: "1", resource: "configmap" },
        datasources: { enabled: true, resource: "configmap" },
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
    chartWorkload("grafana", 1, [["grafana", kps.grafana.resources], ["grafana-sc-dashboard", kps.grafana.sidecar.resources], ["grafana-sc-datasources", kps.grafana.sidecar.resources]]),
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

import { Release } from "@cdktf/provider-helm/lib/release";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { toYaml } from "./yaml";
import type { MonitoringSettings } from "../config/schema";
import { CHARTS } from "../config/versions";
import { alertmanagerConfig } from "../dashboards/alertmanager";
import { alertRuleGroups } from "../dashboards/alerts";
import { toGrafanaJson } from "../dashboards/common";
import { platformDashboards } from "../dashboards/dashboards";
import { HPA_METRIC_RULES } from "../dashboards/metrics";
import { objectLabels, PART_OF } from "./labels";
import { literal, literalMap } from "./terraform-text";
import type { NamespaceRef } from "./platform-namespace";

/** Names every chart resource after this, so in-cluster addresses are stable. */
export const STACK_RELEASE = "kps";
export const PROMETHEUS_URL = (namespace: string) => `http://${STACK_RELEASE}-prometheus.${namespace}.svc`;
export const GRAFANA_ADMIN_SECRET = "grafana-admin";

export interface MonitoringProps {
  /** The platform's namespace (dashboards' ConfigMaps live here, queries are scoped to it). */
  readonly platformNamespace: NamespaceRef;
  /** Namespace of Prometheus, Grafana, Alertmanager and the adapter; created here. */
  readonly namespace: string;
  readonly environment: string;
  readonly settings: MonitoringSettings;
  /**
   * Custom metrics the HPAs read; when non-empty, prometheus-adapter is installed with rules for
   * exactly these.
   * @default none (no adapter)
   */
  readonly hpaMetrics?: readonly string[];
  /** How Grafana's admin password arrives; see PlatformSecrets. */
  readonly secretsMode: "existing" | "variable";
}

/**
 * Prometheus, Grafana and (where alerting is on) Alertmanager from kube-prometheus-stack, with the
 * platform's ServiceMonitors, alert rules and dashboards; prometheus-adapter for the HPAs' custom
 * metrics. Every custom resource goes through chart values: no `kubernetes_manifest`, so `cdktf
 * diff` needs no CRDs in the cluster.
 */
export class Monitoring extends Construct {
  readonly stack: Release;
  readonly adapter?: Release;
  /** Metric names the custom metrics API will serve. */
  readonly servedMetrics: readonly string[];
  readonly stackValues: Record<string, unknown>;
  /**
   * The alert rules, Alertmanager config and dashboards as plain files (path → content), the very
   * objects that go into the chart values and ConfigMaps; synth writes them to
   * `cdktf.out/monitoring/<env>/` for promtool, amtool and reviewers.
   */
  readonly files: Readonly<Record<string, string>>;
  readonly adapterValues?: Record<string, unknown>;
  /** The values object of each Helm release, by release name, for the policy gate. */
  readonly helmValues: Readonly<Record<string, Record<string, unknown>>>;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const labels = { "app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": "cdktf" };

    // node-exporter needs the host's network and PID namespaces: this namespace cannot be restricted.
    const namespace = new NamespaceV1(this, "namespace", {
      metadata: {
        name: props.namespace,
        labels: {
          ...labels,
          "pod-security.kubernetes.io/enforce": "privileged",
          "pod-security.kubernetes.io/audit": "baseline",
          "pod-security.kubernetes.io/warn": "baseline",
        },
      },
    });

    if (props.secretsMode === "variable") {
      const password = new TerraformVariable(this, "grafana_admin_password", {
        type: "string",
        sensitive: true,
        nullable: false,
        description: "Grafana admin password (TF_VAR_grafana_admin_password)",
      });
      password.overrideLogicalId("grafana_admin_password");
      new SecretV1(this, "grafana-admin", {
        metadata: { name: GRAFANA_ADMIN_SECRET, namespace: namespace.metadata.name, labels },
        data: { "admin-user": "admin", "admin-password": password.stringValue },
      });
    }

    const platformNs = props.platformNamespace.literalName;
    this.stackValues = kubePrometheusStackValues(props, platformNs);
    this.stack = new Release(this, "kube-prometheus-stack", {
      name: STACK_RELEASE,
      namespace: namespace.metadata.name,
      repository: CHARTS.kubePrometheusStack.repository,
      chart: CHARTS.kubePrometheusStack.chart,
      version: CHARTS.kubePrometheusStack.version,
      values: [literal(toYaml(this.stackValues))],
      atomic: true,
      cleanupOnFail: true,
      wait: true,
      timeout: 900,
      maxHistory: 5,
    });

    const wanted = [...new Set(props.hpaMetrics ?? [])].sort();
    const unknown = wanted.filter((m) => !HPA_METRIC_RULES[m]);
    if (unknown.length > 0) {
      throw new Error(`no prometheus-adapter rule serves ${unknown.join(", ")}; served: ${Object.keys(HPA_METRIC_RULES).join(", ")}`);
    }
    this.servedMetrics = wanted;
    if (wanted.length > 0) {
      this.adapterValues = {
        prometheus: { url: PROMETHEUS_URL(props.namespace), port: 9090 },
        replicas: 2,
        podDisruptionBudget: { enabled: true, maxUnavailable: 1 },
        resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "250m", memory: "256Mi" } },
        rules: { default: false, custom: wanted.map((m) => HPA_METRIC_RULES[m]), external: [] },
      };
      this.adapter = new Release(this, "prometheus-adapter", {
        name: "prometheus-adapter",
        namespace: namespace.metadata.name,
        repository: CHARTS.prometheusAdapter.repository,
        chart: CHARTS.prometheusAdapter.chart,
        version: CHARTS.prometheusAdapter.version,
        values: [literal(toYaml(this.adapterValues))],
        atomic: true,
        cleanupOnFail: true,
        wait: true,
        timeout: 600,
        maxHistory: 5,
        dependsOn: [this.stack],
      });
    }

    const files: Record<string, string> = {};
    const values = this.stackValues as { alertmanager: { config?: unknown }; additionalPrometheusRulesMap?: Record<string, unknown> };
    if (values.additionalPrometheusRulesMap) files["prometheus-rules.yaml"] = toYaml(values.additionalPrometheusRulesMap["agent-platform"]);
    if (values.alertmanager.config) files["alertmanager.yaml"] = toYaml(values.alertmanager.config);

    const ctx = { namespace: platformNs, environment: props.environment };
    for (const dashboard of platformDashboards(ctx)) {
      const json = `${JSON.stringify(toGrafanaJson(dashboard, ctx), null, 2)}\n`;
      files[`dashboards/${dashboard.uid}.json`] = json;
      new ConfigMapV1(this, `dashboard-${dashboard.uid}`, {
        metadata: {
          name: `dashboard-${dashboard.uid}`,
          namespace: props.platformNamespace.name,
          labels: { ...objectLabels("grafana-dashboards", "monitoring"), grafana_dashboard: "1" },
        },
        data: literalMap({ [`${dashboard.uid}.json`]: json }),
      });
    }
    this.files = files;
    this.helmValues = { [STACK_RELEASE]: this.stackValues, ...(this.adapterValues ? { "prometheus-adapter": this.adapterValues } : {}) };
  }
}

function kubePrometheusStackValues(props: MonitoringProps, platformNs: string): Record<string, unknown> {
  const { settings } = props;
  const monitor = (name: string, matchLabels: Record<string, string>, port: string) => ({
    name,
    selector: { matchLabels },
    namespaceSelector: { matchNames: [platformNs] },
    endpoints: [{ port, path: "/metrics", interval: "30s", scrapeTimeout: "10s" }],
  });
  const pd = settings.pagerduty.enabled ? settings.pagerduty.routingKeySecret : undefined;
  return {
    fullnameOverride: STACK_RELEASE,
    crds: { enabled: true },
    prometheusOperator: { resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "200m", memory: "256Mi" } } },
    "kube-state-metrics": { resources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { cpu: "100m", memory: "256Mi" } } },
    "prometheus-node-exporter": { resources: { requests: { cpu: "20m", memory: "32Mi" }, limits: { cpu: "200m", memory: "64Mi" } } },
    // The chart's own Kubernetes alert rules: worth having wherever someone receives alerts.
    defaultRules: { create: settings.alerting },
    nodeExporter: { enabled: settings.alerting },
    alertmanager: settings.alerting
      ? {
          enabled: true,
          config: alertmanagerConfig(settings),
          alertmanagerSpec: {
            ...(pd ? { secrets: [pd.name] } : {}),
            resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
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
        monitor("agent-platform-services", { "app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/component": "service" }, "http"),
        monitor("agent-platform-redis", { "app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": PART_OF }, "metrics"),
        monitor("agent-platform-postgres", { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": PART_OF }, "metrics"),
      ],
    },
    ...(settings.alerting
      ? {
          additionalPrometheusRulesMap: {
            "agent-platform": {
              groups: alertRuleGroups({ namespace: platformNs, thresholds: settings.thresholds, runbookBaseUrl: settings.runbookBaseUrl }),
            },
          },
        }
      : {}),
    grafana: {
      admin: { existingSecret: GRAFANA_ADMIN_SECRET, userKey: "admin-user", passwordKey: "admin-password" },
      resources: settings.grafanaResources,
      defaultDashboardsEnabled: settings.alerting,
      sidecar: { dashboards: { enabled: true, label: "grafana_dashboard", labelValue: "1", searchNamespace: "ALL" } },
    },
  };
}

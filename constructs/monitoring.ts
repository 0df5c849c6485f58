import { Release } from "@cdktf/provider-helm/lib/release";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { type ITerraformDependable, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { HPA_METRIC_RULES, type MetricsApiPlan } from "../config/metrics";
import type { MonitoringSettings } from "../config/schema";
import { CHARTS } from "../config/versions";
import { toGrafanaJson } from "../dashboards/common";
import { platformDashboards } from "../dashboards/dashboards";
import type { MonitoredDatabase } from "../dashboards/selectors";
import { chartRelease, type PinnedChart } from "./chart-release";
import { objectLabels, PART_OF } from "./labels";
import { GRAFANA_ADMIN_SECRET, GRAFANA_NAME, monitoringValues, STACK_RELEASE } from "./monitoring-values";
import { monitoringNetworkPolicies } from "./monitoring-network";
import type { ClusterDns } from "./network";
import { MonitoringRbac } from "./monitoring-rbac";
import type { NamespaceRef } from "./platform-namespace";
import { literalMap } from "./terraform-text";
import { toYaml } from "./yaml";

export { GRAFANA_ADMIN_SECRET, GRAFANA_NAME, PROMETHEUS_URL, STACK_RELEASE } from "./monitoring-values";

export interface MonitoringProps {
  /** The platform's namespace: queries and scrape monitors are scoped to it. */
  readonly platformNamespace: NamespaceRef;
  /** Namespace of Prometheus, Grafana, Alertmanager and the metrics APIs; created here. */
  readonly namespace: string;
  readonly environment: string;
  readonly settings: MonitoringSettings;
  /**
   * Whether HPAs exist (autoscaling on): they all read CPU and memory, so the resource metrics
   * API must be served.
   * @default false
   */
  readonly autoscaling?: boolean;
  /**
   * Custom metrics the HPAs read; when non-empty, prometheus-adapter is installed with rules for
   * exactly these.
   * @default none (no adapter)
   */
  readonly hpaMetrics?: readonly string[];
  /** How Grafana's admin password arrives; see PlatformSecrets. */
  readonly secretsMode: "existing" | "variable";
  /**
   * PgBouncer runs: scrape its exporter.
   * @default false
   */
  readonly pooler?: boolean;
  /**
   * Redis runs: scrape its exporter.
   * @default false
   */
  readonly redis?: boolean;
  /**
   * The database: the StatefulSet's exporter, or a CloudNativePG cluster's instances.
   * @default the StatefulSet
   */
  readonly database?: MonitoredDatabase;
  /**
   * The ingress controller, when Grafana is reached through it: its pods are admitted to Grafana.
   * @default none (Grafana reached by port-forward)
   */
  readonly grafanaIngressFrom?: { readonly namespace: string; readonly podLabels: Record<string, string> };
  /** DNS egress target, as the platform namespace's. */
  readonly dns: ClusterDns;
  /**
   * The API server's endpoint addresses and ports: the only API server the namespace reaches,
   * and the only caller admitted to the aggregated APIs and the operator's webhook.
   */
  readonly apiServer: { readonly cidrs: readonly string[]; readonly ports: readonly number[] };
  /** The nodes' addresses: the kubelets and host-network exporters Prometheus and metrics-server read. */
  readonly nodeCidrs: readonly string[];
}

/**
 * Prometheus, Grafana and (where alerting is on) Alertmanager and node-exporter from
 * kube-prometheus-stack; prometheus-adapter for the HPAs' custom metrics and metrics-server for
 * their CPU and memory; the platform's scrape monitors, alert rules and dashboards. Every custom
 * resource goes through chart values: no `kubernetes_manifest`, so `cdktf diff` needs no CRDs.
 *
 * Least privilege: the monitoring namespace enforces Pod Security `baseline` (node-exporter, which
 * needs the host's namespaces, runs in a namespace of its own that is `privileged`), denies all
 * traffic but what each component needs, and Grafana reads ConfigMaps in its own namespace only —
 * never a Secret, never another namespace.
 */
export class Monitoring extends Construct {
  readonly stack: Release;
  readonly adapter?: Release;
  readonly metricsServer?: Release;
  readonly namespaceResource: NamespaceV1;
  /** Namespace of node-exporter (host network and PID): absent where it does not run. */
  readonly nodeExporterNamespace?: NamespaceV1;
  /** Custom metric names the custom metrics API will serve. */
  readonly servedMetrics: readonly string[];
  /** Who serves each metrics API the HPAs read: the stack's own releases and the cluster. */
  readonly metricsApis: MetricsApiPlan;
  readonly stackValues: Record<string, unknown>;
  readonly adapterValues?: Record<string, unknown>;
  readonly metricsServerValues?: Record<string, unknown>;
  /** The values object of each Helm release, by release name, for the policy gate and the summary. */
  readonly helmValues: Readonly<Record<string, Record<string, unknown>>>;
  /**
   * The alert rules, Alertmanager config and dashboards as plain files (path → content), the very
   * objects that go into the chart values and ConfigMaps; synth writes them to
   * `cdktf.out/monitoring/<env>/` for promtool, amtool and reviewers.
   */
  readonly files: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { settings } = props;
    const labels = { "app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": "cdktf" };
    const nodeExporter = settings.alerting;

    this.namespaceResource = new NamespaceV1(this, "namespace", {
      metadata: {
        name: props.namespace,
        labels: {
          ...labels,
          // Baseline: no host namespaces, no privileged containers; restricted is audited and
          // warned, so a chart component that drifts from it shows.
          "pod-security.kubernetes.io/enforce": "baseline",
          "pod-security.kubernetes.io/enforce-version": "latest",
          "pod-security.kubernetes.io/audit": "restricted",
          "pod-security.kubernetes.io/warn": "restricted",
        },
      },
    });
    const namespace = this.namespaceResource.metadata.name;
    if (nodeExporter) {
      // node-exporter reads the host's /proc and /sys with the host's network and PID namespaces:
      // only this namespace, holding only node-exporter, is privileged.
      this.nodeExporterNamespace = new NamespaceV1(this, "node-exporter-namespace", {
        metadata: {
          name: `${props.namespace}-node-exporter`,
          labels: { ...labels, "pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/audit": "privileged", "pod-security.kubernetes.io/warn": "privileged" },
        },
      });
      // Host-network pods are outside NetworkPolicy's reach; a default deny still covers any
      // other pod that lands here.
      new NetworkPolicyV1(this, "node-exporter-default-deny", {
        metadata: { name: "default-deny-all", namespace: this.nodeExporterNamespace.metadata.name, labels },
        spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
      });
    }

    if (props.secretsMode === "variable") {
      const password = new TerraformVariable(this, "grafana_admin_password", {
        type: "string",
        sensitive: true,
        nullable: false,
        description: "Grafana admin password (TF_VAR_grafana_admin_password)",
      });
      password.overrideLogicalId("grafana_admin_password");
      new SecretV1(this, "grafana-admin", {
        metadata: { name: GRAFANA_ADMIN_SECRET, namespace, labels },
        data: { "admin-password": password.stringValue },
      });
    }

    // Grafana's sidecars read ConfigMaps (dashboards, datasources) in this namespace: exactly that,
    // instead of the chart's Role, which also grants every Secret.
    const grafanaRole = new RoleV1(this, "grafana-role", {
      metadata: { name: `${GRAFANA_NAME}-configmaps`, namespace, labels },
      rule: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] }],
    });
    new RoleBindingV1(this, "grafana-role-binding", {
      metadata: { name: `${GRAFANA_NAME}-configmaps`, namespace, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: grafanaRole.metadata.name },
      subject: [{ kind: "ServiceAccount", name: GRAFANA_NAME, namespace }],
    });

    const wanted = [...new Set(props.hpaMetrics ?? [])].sort();
    const unknown = wanted.filter((m) => !Object.hasOwn(HPA_METRIC_RULES, m));
    if (unknown.length > 0) {
      throw new Error(`no prometheus-adapter rule serves ${unknown.join(", ")}; served: ${Object.keys(HPA_METRIC_RULES).join(", ")}`);
    }
    this.servedMetrics = wanted;
    const values = monitoringValues({
      platformNamespace: props.platformNamespace.literalName,
      namespace: props.namespace,
      settings,
      autoscaling: !!props.autoscaling,
      hpaMetrics: wanted,
      pooler: !!props.pooler,
      redis: !!props.redis,
      database: props.database ?? { kind: "statefulset" },
    });
    this.metricsApis = values.plan;
    this.stackValues = values.kubePrometheusStack;
    this.adapterValues = values.adapter;
    this.metricsServerValues = values.metricsServer;
    const release = (id: string, name: string, chart: PinnedChart, values: Record<string, unknown>, dependsOn?: ITerraformDependable[]) =>
      chartRelease(this, id, { name, namespace, chart, values, timeoutSeconds: id === "kube-prometheus-stack" ? 900 : 600, dependsOn });
    // The namespace's policies exist before any chart pod starts: under an enforcing CNI, a pod
    // that starts between default-deny and its allow rules (the webhook Jobs, the operator)
    // cannot reach the API server, and an atomic release rolls back.
    const policies = monitoringNetworkPolicies(this, {
      namespace,
      labels,
      release: STACK_RELEASE,
      platformNamespace: props.platformNamespace.literalName,
      dns: props.dns,
      apiServer: props.apiServer,
      nodeCidrs: props.nodeCidrs,
      stackValues: this.stackValues,
      alertmanager: settings.alerting,
      pagerduty: settings.alerting && settings.pagerduty.enabled,
      adapter: !!this.adapterValues,
      metricsServer: !!this.metricsServerValues,
      grafanaIngressFrom: props.grafanaIngressFrom,
    });

    // The operator's, Prometheus' and the webhook Jobs' RBAC exist before the chart's pods start.
    const chartRbac = new MonitoringRbac(this, "chart-rbac", { namespace, labels });
    this.stack = release("kube-prometheus-stack", STACK_RELEASE, CHARTS.kubePrometheusStack, this.stackValues, [
      ...chartRbac.resources,
      ...(this.nodeExporterNamespace ? [this.nodeExporterNamespace] : []),
      ...policies,
    ]);
    if (this.adapterValues) this.adapter = release("prometheus-adapter", "prometheus-adapter", CHARTS.prometheusAdapter, this.adapterValues, [this.stack, ...policies]);
    if (this.metricsServerValues) this.metricsServer = release("metrics-server", "metrics-server", CHARTS.metricsServer, this.metricsServerValues, policies);

    const files: Record<string, string> = {};
    const stackValues = this.stackValues as { alertmanager: { config?: unknown }; additionalPrometheusRulesMap?: Record<string, unknown> };
    if (stackValues.additionalPrometheusRulesMap) files["prometheus-rules.yaml"] = toYaml(stackValues.additionalPrometheusRulesMap["agent-platform"]);
    if (stackValues.alertmanager.config) files["alertmanager.yaml"] = toYaml(stackValues.alertmanager.config);

    // Dashboards live beside Grafana: its sidecar reads ConfigMaps in its own namespace only.
    const ctx = { namespace: props.platformNamespace.literalName, environment: props.environment, pooler: !!props.pooler, database: props.database ?? { kind: "statefulset" as const } };
    for (const dashboard of platformDashboards(ctx)) {
      const json = `${JSON.stringify(toGrafanaJson(dashboard, ctx), null, 2)}\n`;
      files[`dashboards/${dashboard.uid}.json`] = json;
      new ConfigMapV1(this, `dashboard-${dashboard.uid}`, {
        metadata: {
          name: `dashboard-${dashboard.uid}`,
          namespace,
          labels: { ...objectLabels("grafana-dashboards", "monitoring"), grafana_dashboard: "1" },
        },
        data: literalMap({ [`${dashboard.uid}.json`]: json }),
      });
    }
    this.files = files;
    this.helmValues = {
      [STACK_RELEASE]: this.stackValues,
      ...(this.adapterValues ? { "prometheus-adapter": this.adapterValues } : {}),
      ...(this.metricsServerValues ? { "metrics-server": this.metricsServerValues } : {}),
    };
  }
}

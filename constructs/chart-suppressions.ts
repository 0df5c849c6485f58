/**
 * Declared exceptions to the policy gate's pod-level rules for workloads the Helm charts render,
 * which the synth-time gate never sees (they exist only in helm's output). The chart checks
 * (test/charts/) run the gate's rules on every rendered workload and accept exactly these; one
 * that excuses nothing where its workload renders fails as stale. Listed in docs/validation.md.
 */
import { GRAFANA_NAME, STACK_RELEASE } from "./monitoring-values";
import { OPERATOR_RELEASE, PLUGIN_RELEASE } from "./postgres-cluster-values";

export interface ChartSuppression {
  /** The Helm release (its `name`). */
  readonly release: string;
  readonly kind: "Deployment" | "DaemonSet" | "StatefulSet" | "Job";
  /** The workload's name as the chart renders it. */
  readonly name: string;
  /** A rule id of stacks/policy.ts. */
  readonly rule: string;
  readonly reason: string;
}

/** Workloads that call the Kubernetes API, so the token they mount is one they use. */
const API_CLIENTS: readonly [string, ChartSuppression["kind"], string, string][] = [
  [STACK_RELEASE, "Deployment", `${STACK_RELEASE}-operator`, "the operator watches and writes the monitoring objects through the API"],
  [STACK_RELEASE, "Deployment", `${STACK_RELEASE}-kube-state-metrics`, "kube-state-metrics lists and watches the objects it turns into metrics"],
  [STACK_RELEASE, "Deployment", GRAFANA_NAME, "Grafana's sidecar lists and watches the dashboard ConfigMaps (its init container, the datasource ones)"],
  [STACK_RELEASE, "Job", `${STACK_RELEASE}-admission-create`, "the webhook certificate Job stores the certificate in a Secret through the API"],
  [STACK_RELEASE, "Job", `${STACK_RELEASE}-admission-patch`, "the webhook certificate Job patches the webhook configurations with the CA through the API"],
  ["prometheus-adapter", "Deployment", "prometheus-adapter", "an aggregated API server: it authenticates callers (TokenReview) and reads the pods and namespaces it maps series to"],
  ["metrics-server", "Deployment", "metrics-server", "an aggregated API server: it authenticates callers (TokenReview) and lists the nodes and pods it reads metrics for"],
  [OPERATOR_RELEASE, "Deployment", "cnpg-operator", "the CloudNativePG operator reconciles Clusters through the API: it creates their pods, Services, Secrets and PDBs, and holds its leader lease"],
  [PLUGIN_RELEASE, "Deployment", PLUGIN_RELEASE, "the Barman Cloud plugin reads ObjectStores and their credentials Secrets and writes the backups' status through the API"],
];

export const CHART_SUPPRESSIONS: readonly ChartSuppression[] = [
  ...API_CLIENTS.map(([release, kind, name, reason]) => ({ release, kind, name, rule: "KS-SERVICE-ACCOUNT-TOKEN", reason })),
  {
    release: STACK_RELEASE,
    kind: "DaemonSet",
    name: `${STACK_RELEASE}-prometheus-node-exporter`,
    rule: "PSS-HOST-NAMESPACES",
    reason: "node metrics (network devices, processes) are the host's: node-exporter needs the host's network and PID namespaces; it runs alone in the privileged <monitoring>-node-exporter namespace",
  },
  {
    release: STACK_RELEASE,
    kind: "DaemonSet",
    name: `${STACK_RELEASE}-prometheus-node-exporter`,
    rule: "PSS-VOLUMES",
    reason: "node-exporter reads the host's /proc, /sys and root filesystem through read-only hostPath mounts; it runs alone in the privileged <monitoring>-node-exporter namespace",
  },
  {
    release: STACK_RELEASE,
    kind: "Deployment",
    name: GRAFANA_NAME,
    rule: "KS-PROBES",
    reason: "the dashboard sidecar (kiwigrid/k8s-sidecar 1.28) serves no endpoint to probe; it exits when its watch fails for good and the kubelet restarts it",
  },
  {
    release: OPERATOR_RELEASE,
    kind: "Deployment",
    name: "cnpg-operator",
    rule: "KS-PROBES",
    reason:
      "cloudnative-pg 0.29.0 renders liveness, readiness and startup probes on the one endpoint it has (/readyz of the webhook server) and takes only their initial delays as values; the startup probe (6 x 5 s) covers start-up, and a second replica with leader election covers a restart",
  },
  {
    release: PLUGIN_RELEASE,
    kind: "Deployment",
    name: PLUGIN_RELEASE,
    rule: "KS-PROBES",
    reason:
      "plugin-barman-cloud 0.7.0 renders a TCP readiness probe on its port 9090 and no liveness probe, with no value to add one; a hung plugin fails its readiness, so the operator stops calling it, and the WAL-archiving alert fires",
  },
  {
    release: PLUGIN_RELEASE,
    kind: "Deployment",
    name: PLUGIN_RELEASE,
    rule: "KS-IMAGE",
    reason:
      "plugin-barman-cloud 0.7.0 renders no imagePullPolicy (its values' image.pullPolicy is read by no template); the API server's default for the pinned tag is IfNotPresent",
  },
];

/** A chart's ClusterRole that reads Secrets in every namespace, and why it stays. */
export interface ChartSecretReader {
  /** The chart (as its templates' source names it). */
  readonly chart: string;
  /** The ClusterRole's name as the chart renders it. */
  readonly clusterRole: string;
  readonly reason: string;
}

/**
 * Declared exceptions to the chart-render RBAC check (no Role or ClusterRole reads Secrets outside
 * the namespace its subject serves). kube-prometheus-stack's was replaced by the stack's own RBAC
 * (constructs/monitoring-rbac.ts); the CloudNativePG charts' have no such option yet: a Cluster
 * lives in the platform's namespace, its operator and plugin in their own, and the charts bind
 * cross-namespace rights only through a ClusterRole (`config.clusterWide`). The operator watches
 * the platform's namespace only (WATCH_NAMESPACE in its environment), which narrows what it does, not what RBAC
 * grants. Listed in docs/validation.md; one that matches no rendered ClusterRole fails as stale.
 */
export const CHART_SECRET_READERS: readonly ChartSecretReader[] = [
  {
    chart: "cloudnative-pg",
    clusterRole: "cnpg-operator",
    reason: `the operator (release ${OPERATOR_RELEASE}) creates and rotates each Cluster's Secrets (its CA and server certificates, the replication client certificate, the superuser's) and reads the application and monitoring logins, in the Cluster's namespace`,
  },
  {
    chart: "plugin-barman-cloud",
    clusterRole: PLUGIN_RELEASE,
    reason: `the Barman Cloud plugin (release ${PLUGIN_RELEASE}) reads each ObjectStore's credentials Secret and grants the Cluster's instances a Role on it, in the Cluster's namespace`,
  },
];

/**
 * Declared exceptions to the policy gate's pod-level rules for workloads the Helm charts render,
 * which the synth-time gate never sees (they exist only in helm's output). The chart checks
 * (test/charts/) run the gate's rules on every rendered workload and accept exactly these; one
 * that excuses nothing where its workload renders fails as stale. Listed in docs/validation.md.
 */
import { GRAFANA_NAME, STACK_RELEASE } from "./monitoring-values";

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
];

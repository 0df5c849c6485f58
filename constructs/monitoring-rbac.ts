/**
 * RBAC for kube-prometheus-stack's own components, in place of the chart's
 * (`global.rbac.create: false`). The chart offers the operator one ClusterRole only, and it grants
 * `*` on every ConfigMap and Secret of the cluster; the operator reads and writes them only where
 * Prometheus and Alertmanager run (its `--prometheus-instance-namespaces` and
 * `--alertmanager-instance-namespaces`: the monitoring namespace). So the cluster-wide rules stay
 * cluster-wide and ConfigMaps and Secrets move into a Role of that namespace.
 *
 * The rules are the chart's at the pinned version (templates/prometheus-operator/clusterrole.yaml,
 * templates/prometheus/clusterrole.yaml, templates/prometheus-operator/admission-webhooks/job-patch/);
 * a chart test renders the chart's own RBAC and fails when a chart bump grants something these do
 * not (test/charts/rbac.test.ts).
 * @see https://prometheus-operator.dev/docs/platform/rbac/
 */
import { ClusterRoleBindingV1 } from "@cdktf/provider-kubernetes/lib/cluster-role-binding-v1";
import { ClusterRoleV1 } from "@cdktf/provider-kubernetes/lib/cluster-role-v1";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import type { TerraformResource } from "cdktf";
import { Construct } from "constructs";
import { STACK_RELEASE } from "./monitoring-values";
import { suppress } from "./suppressions";

/** One RBAC rule, as Kubernetes writes it. */
export interface RbacRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
  readonly verbs: readonly string[];
}

const rule = (apiGroups: string[], resources: string[], verbs: string[]): RbacRule => ({ apiGroups, resources, verbs });

/**
 * Every verb of the API's resources: what the chart's `*` grants on them, spelled out (no
 * wildcard, so a verb added to Kubernetes later is not granted unseen; checkov CKV_K8S_49).
 */
export const ALL_VERBS: readonly string[] = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];

/** The operator's cluster-wide rules: the chart's ClusterRole without ConfigMaps and Secrets. */
export const OPERATOR_CLUSTER_RULES: readonly RbacRule[] = [
  rule(
    ["monitoring.coreos.com"],
    [
      "alertmanagers",
      "alertmanagers/finalizers",
      "alertmanagers/status",
      "alertmanagerconfigs",
      "prometheuses",
      "prometheuses/finalizers",
      "prometheuses/status",
      "prometheusagents",
      "prometheusagents/finalizers",
      "prometheusagents/status",
      "thanosrulers",
      "thanosrulers/finalizers",
      "thanosrulers/status",
      "scrapeconfigs",
      "servicemonitors",
      "podmonitors",
      "probes",
      "prometheusrules",
    ],
    [...ALL_VERBS],
  ),
  rule(["apps"], ["statefulsets"], [...ALL_VERBS]),
  rule([""], ["pods"], ["list", "delete"]),
  // The kubelet Service and its Endpoints in kube-system (`--kubelet-service`).
  rule([""], ["services", "services/finalizers", "endpoints"], ["get", "create", "update", "delete"]),
  rule([""], ["nodes"], ["list", "watch"]),
  rule([""], ["namespaces"], ["get", "list", "watch"]),
  rule([""], ["events"], ["patch", "create"]),
  rule(["networking.k8s.io"], ["ingresses"], ["get", "list", "watch"]),
  rule(["storage.k8s.io"], ["storageclasses"], ["get"]),
  rule(["discovery.k8s.io"], ["endpointslices"], ["get", "create", "list", "watch", "update", "delete"]),
];

/** The operator's rules in the namespace Prometheus and Alertmanager run in. */
export const OPERATOR_NAMESPACE_RULES: readonly RbacRule[] = [rule([""], ["configmaps", "secrets"], [...ALL_VERBS])];

/** Prometheus' service discovery and the kubelets' metrics endpoints (the chart's ClusterRole). */
export const PROMETHEUS_CLUSTER_RULES: readonly RbacRule[] = [
  rule([""], ["nodes", "nodes/metrics", "services", "endpoints", "pods"], ["get", "list", "watch"]),
  rule(["discovery.k8s.io"], ["endpointslices"], ["get", "list", "watch"]),
  rule(["networking.k8s.io"], ["ingresses"], ["get", "list", "watch"]),
  { nonResourceURLs: ["/metrics", "/metrics/cadvisor"], verbs: ["get"] },
];

/** The admission webhook's certificate Jobs: patch the webhook configurations with their CA. */
export const ADMISSION_CLUSTER_RULES: readonly RbacRule[] = [rule(["admissionregistration.k8s.io"], ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"], ["get", "update"])];

/** ...and keep the certificate in a Secret of the monitoring namespace. */
export const ADMISSION_NAMESPACE_RULES: readonly RbacRule[] = [rule([""], ["secrets"], ["get", "create"])];

/** Service accounts the chart creates, by the names its templates give them. */
export const CHART_SERVICE_ACCOUNTS = {
  operator: `${STACK_RELEASE}-operator`,
  prometheus: `${STACK_RELEASE}-prometheus`,
  admission: `${STACK_RELEASE}-admission`,
} as const;

export interface MonitoringRbacProps {
  /** The monitoring namespace (a reference to the namespace resource's name). */
  readonly namespace: string;
  readonly labels: Record<string, string>;
}

/** The cluster and namespace RBAC kube-prometheus-stack's operator, Prometheus and webhook Jobs run with. */
export class MonitoringRbac extends Construct {
  /** Every resource here: the release depends on all of them. */
  readonly resources: TerraformResource[] = [];

  constructor(scope: Construct, id: string, props: MonitoringRbacProps) {
    super(scope, id);
    const { namespace, labels } = props;
    const toRules = (rules: readonly RbacRule[]) =>
      rules.map((r) => ({
        ...(r.apiGroups ? { apiGroups: [...r.apiGroups] } : {}),
        ...(r.resources ? { resources: [...r.resources] } : {}),
        ...(r.nonResourceURLs ? { nonResourceUrls: [...r.nonResourceURLs] } : {}),
        verbs: [...r.verbs],
      }));
    const subject = (serviceAccount: string) => [{ kind: "ServiceAccount", name: serviceAccount, namespace }];
    const roleRef = (kind: "Role" | "ClusterRole", name: string) => ({ apiGroup: "rbac.authorization.k8s.io", kind, name });

    const cluster = (cid: string, name: string, serviceAccount: string, rules: readonly RbacRule[]) => {
      const role = new ClusterRoleV1(this, `${cid}-cluster-role`, { metadata: { name, labels }, rule: toRules(rules) });
      const binding = new ClusterRoleBindingV1(this, `${cid}-cluster-role-binding`, {
        metadata: { name, labels },
        roleRef: roleRef("ClusterRole", role.metadata.name),
        subject: subject(serviceAccount),
      });
      this.resources.push(role, binding);
    };
    const namespaced = (cid: string, name: string, serviceAccount: string, rules: readonly RbacRule[], why: string) => {
      const role = new RoleV1(this, `${cid}-role`, {
        metadata: { name, namespace, labels },
        rule: rules.map((r) => ({ apiGroups: [...(r.apiGroups ?? [])], resources: [...(r.resources ?? [])], verbs: [...r.verbs] })),
      });
      // The gate refuses any Role that reads Secrets; these read them in their own namespace only.
      suppress(role, "KS-RBAC-SECRETS", why);
      const binding = new RoleBindingV1(this, `${cid}-role-binding`, {
        metadata: { name, namespace, labels },
        roleRef: roleRef("Role", role.metadata.name),
        subject: subject(serviceAccount),
      });
      this.resources.push(role, binding);
    };

    cluster("operator", CHART_SERVICE_ACCOUNTS.operator, CHART_SERVICE_ACCOUNTS.operator, OPERATOR_CLUSTER_RULES);
    namespaced(
      "operator",
      CHART_SERVICE_ACCOUNTS.operator,
      CHART_SERVICE_ACCOUNTS.operator,
      OPERATOR_NAMESPACE_RULES,
      "the operator writes the configuration Secrets it builds for Prometheus and Alertmanager and reads the Secrets they mount, in the monitoring namespace only (the chart's ClusterRole granted every Secret of the cluster)",
    );
    cluster("prometheus", CHART_SERVICE_ACCOUNTS.prometheus, CHART_SERVICE_ACCOUNTS.prometheus, PROMETHEUS_CLUSTER_RULES);
    cluster("admission", CHART_SERVICE_ACCOUNTS.admission, CHART_SERVICE_ACCOUNTS.admission, ADMISSION_CLUSTER_RULES);
    namespaced(
      "admission",
      CHART_SERVICE_ACCOUNTS.admission,
      CHART_SERVICE_ACCOUNTS.admission,
      ADMISSION_NAMESPACE_RULES,
      "the admission webhook's certificate Job creates and reads the webhook's TLS Secret, in the monitoring namespace only",
    );
  }
}

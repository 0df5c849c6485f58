import { Release } from "@cdktf/provider-helm/lib/release";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { dependable } from "cdktf";
import { Construct } from "constructs";
import { CHARTS } from "../config/versions";
import { chartRelease, type PinnedChart } from "./chart-release";
import { namespaceSelector, PART_OF } from "./labels";
import { type ClusterDns, dnsEgressSpec } from "./network";
import {
  CLUSTER_LABEL,
  OPERATOR_POD_LABELS,
  OPERATOR_RELEASE,
  OPERATOR_WEBHOOK_PORT,
  operatorChartValues,
  PLUGIN_POD_LABELS,
  PLUGIN_PORT,
  PLUGIN_RELEASE,
  pluginChartValues,
  STATUS_PORT,
} from "./postgres-cluster-values";

export interface DatabaseOperatorProps {
  /** The operator's namespace, created here; the plugin must share it. */
  readonly namespace: string;
  /** The namespace whose Clusters the operator manages (and whose instances it polls). */
  readonly platformNamespace: string;
  /** Install the Barman Cloud plugin (where a cluster backs up). */
  readonly plugin: boolean;
  readonly imagePullPolicy: "Always" | "IfNotPresent";
  /** Where pods resolve names. */
  readonly dns: ClusterDns;
  /** The API server's endpoint addresses and ports (config `cluster.apiServer`). */
  readonly apiServer: { readonly cidrs: readonly string[]; readonly ports: readonly number[] };
}

/**
 * The CloudNativePG operator and (where backups run) its Barman Cloud plugin, each from its
 * official chart, in a namespace of their own: Pod Security `restricted` (both charts comply),
 * default deny, then exactly: the API server (by its configured addresses) calls the operator's
 * webhook; the operator calls the API server, every instance's status port and the plugin; the
 * plugin calls the API server.
 * The plugin's certificates come from cert-manager, which must run in the cluster.
 * @see https://cloudnative-pg.io/documentation/current/installation_upgrade/
 */
export class DatabaseOperator extends Construct {
  readonly namespaceResource: NamespaceV1;
  readonly operator: Release;
  readonly plugin?: Release;
  /** The operator namespace's NetworkPolicies: every release installed there waits for them. */
  readonly networkPolicies: readonly NetworkPolicyV1[];
  readonly operatorValues: Record<string, unknown>;
  readonly pluginValues?: Record<string, unknown>;

  constructor(scope: Construct, id: string, props: DatabaseOperatorProps) {
    super(scope, id);
    const labels = { "app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": "cdktf" };
    this.namespaceResource = new NamespaceV1(this, "namespace", {
      metadata: {
        name: props.namespace,
        labels: {
          ...labels,
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/enforce-version": "latest",
          "pod-security.kubernetes.io/audit": "restricted",
          "pod-security.kubernetes.io/warn": "restricted",
        },
      },
    });
    const namespace = this.namespaceResource.metadata.name;

    const policy = (id: string, spec: Record<string, unknown>) =>
      new NetworkPolicyV1(this, `network-policy-${id}`, { metadata: { name: id, namespace, labels }, spec: spec as any });
    const tcp = (...ports: readonly number[]) => ports.map((port) => ({ port: String(port), protocol: "TCP" }));
    const pods = (matchLabels: Record<string, string>) => ({ podSelector: { matchLabels: { ...matchLabels } } });
    const apiServer = props.apiServer.cidrs.map((cidr) => ({ ipBlock: { cidr } }));
    const policies = (this.networkPolicies = [
      policy("default-deny-all", { podSelector: {}, policyTypes: ["Ingress", "Egress"] }),
      policy("allow-dns-egress", dnsEgressSpec(props.dns)),
      // Both watch the API server, at its configured addresses.
      policy("allow-apiserver-egress", { podSelector: {}, policyTypes: ["Egress"], egress: [{ to: apiServer, ports: tcp(...props.apiServer.ports) }] }),
      policy("cnpg-operator", {
        ...pods(OPERATOR_POD_LABELS),
        policyTypes: ["Ingress", "Egress"],
        // The admission webhook, called by the API server.
        ingress: [{ from: apiServer, ports: tcp(OPERATOR_WEBHOOK_PORT) }],
        egress: [
          { to: [{ namespaceSelector: namespaceSelector(props.platformNamespace), podSelector: { matchExpressions: [{ key: CLUSTER_LABEL, operator: "Exists" }] } }], ports: tcp(STATUS_PORT) },
          ...(props.plugin ? [{ to: [pods(PLUGIN_POD_LABELS)], ports: tcp(PLUGIN_PORT) }] : []),
        ],
      }),
      ...(props.plugin ? [policy("barman-cloud-plugin", { ...pods(PLUGIN_POD_LABELS), policyTypes: ["Ingress"], ingress: [{ from: [pods(OPERATOR_POD_LABELS)], ports: tcp(PLUGIN_PORT) }] })] : []),
    ]);

    const release = (id: string, name: string, chart: PinnedChart, values: Record<string, unknown>, dependsOn: Release[]) =>
      chartRelease(this, id, { name, namespace, chart, values, dependsOn });
    this.operatorValues = operatorChartValues(props.platformNamespace, props.imagePullPolicy);
    this.operator = release("operator", OPERATOR_RELEASE, CHARTS.cloudnativePg, this.operatorValues, []);
    // Its pods must be able to reach the API server (and be reached) before the release waits on them.
    this.operator.dependsOn = policies.map((p) => dependable(p));
    if (props.plugin) {
      this.pluginValues = pluginChartValues();
      this.plugin = release("plugin", PLUGIN_RELEASE, CHARTS.barmanCloudPlugin, this.pluginValues, [this.operator]);
      // As the operator's: its pod reaches the API server and is reached by the operator.
      this.plugin.dependsOn = [dependable(this.operator), ...policies.map((p) => dependable(p))];
    }
  }
}

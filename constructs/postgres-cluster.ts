import { Release } from "@cdktf/provider-helm/lib/release";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { Construct } from "constructs";
import { CHARTS } from "../config/versions";
import { chartRelease } from "./chart-release";
import { markDataBearing } from "./data-bearing";
import { objectLabels } from "./labels";
import type { NamespaceRef } from "./platform-namespace";
import { declareInternetEgress } from "./network";
import { type ClusterInputs, type ClusterPeers, clusterChartValues, clusterNetworkPolicySpec, objectStoreEgressReason, readWriteHost } from "./postgres-cluster-values";

export interface PostgresClusterProps extends Omit<ClusterInputs, "namespace"> {
  /** The platform's namespace: the Cluster, its pods, Services and Secrets. */
  readonly namespace: NamespaceRef;
  /**
   * Where Helm keeps the release's record (Secrets labelled `owner=helm`): the operator's
   * namespace, not the platform's. A plan lists Secrets where a release lives, and the diff
   * identity (constructs/diff-identity.ts) may then read every Secret there; in the platform's
   * namespace those are the database's and Redis' passwords.
   */
  readonly releaseNamespace: string;
  readonly peers: ClusterPeers;
}

/**
 * A CloudNativePG `Cluster` from the official `cluster` chart: `instances` pods (a primary and
 * streaming standbys, one per node or zone), synchronous replication and failover by the operator,
 * and, with a backup, the plugin's ObjectStore and a ScheduledBackup. No `kubernetes_manifest`: the
 * chart's objects reach the API server through Helm, so a plan needs no CRD. Around it, the
 * NetworkPolicy of its pods. The release holds the data: it is marked data-bearing (staging and
 * production refuse a plan that deletes or replaces it; scripts/deploy.sh's destroy guard too), and
 * Helm never rolls it back or cleans it up on a failed upgrade (no `atomic`, no `cleanup_on_fail`),
 * since either would delete the Cluster and, with it, its volumes.
 */
export class PostgresCluster extends Construct {
  readonly release: Release;
  readonly values: Record<string, unknown>;
  readonly networkPolicy: NetworkPolicyV1;
  /** The read-write Service's host: it follows the primary. */
  readonly host: string;
  readonly port = 5432;
  readonly name: string;

  constructor(scope: Construct, id: string, props: PostgresClusterProps) {
    super(scope, id);
    const inputs: ClusterInputs = { ...props, namespace: props.namespace.literalName };
    this.name = props.topology.name;
    this.host = readWriteHost(props.topology, props.namespace.literalName);
    this.values = clusterChartValues(inputs);

    this.networkPolicy = new NetworkPolicyV1(this, "network-policy", {
      metadata: { name: this.name, namespace: props.namespace.name, labels: objectLabels(this.name, "database") },
      spec: clusterNetworkPolicySpec(this.name, props.topology, props.peers) as any,
    });
    const internet = objectStoreEgressReason(props.topology);
    if (internet) declareInternetEgress(this.networkPolicy, internet);

    this.release = chartRelease(this, "release", {
      name: this.name,
      namespace: props.releaseNamespace,
      chart: CHARTS.cnpgCluster,
      values: this.values,
      // Helm cannot tell when a Cluster is ready (a custom resource): the migration Job waits for
      // the read-write Service instead.
      waitForReady: false,
    });
    // Deleting the release deletes the Cluster, and the operator deletes its volume claims with it.
    markDataBearing(this.release, `CloudNativePG cluster ${this.name}: the database (every instance's volume claims) and its WAL`);
  }
}

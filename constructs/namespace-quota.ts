import { LimitRangeV1 } from "@cdktf/provider-kubernetes/lib/limit-range-v1";
import { ResourceQuotaV1 } from "@cdktf/provider-kubernetes/lib/resource-quota-v1";
import { Construct } from "constructs";
import type { QuotaAmounts } from "../config/capacity";
import { canonicalQuantity, formatCpuQuantity, formatMemoryQuantity } from "../config/quantity";
import { PART_OF } from "./labels";

export interface NamespaceQuotaProps {
  readonly namespace: string;
  /** The ResourceQuota's `hard` amounts (config/capacity.ts: namespaceQuota). */
  readonly hard: QuotaAmounts;
  /** The smallest node's allocatable CPU and memory: no container may be limited above it. */
  readonly nodeSize: { readonly cpu: string; readonly memory: string };
}

/**
 * A ResourceQuota that caps what the namespace may claim (CPU and memory requests and limits,
 * pods, volume claims and their storage), and a LimitRange that gives a container without
 * resources a small default and refuses one limited above a node.
 * @see https://kubernetes.io/docs/concepts/policy/resource-quotas/
 * @see https://kubernetes.io/docs/concepts/policy/limit-range/
 */
export class NamespaceQuota extends Construct {
  readonly quota: ResourceQuotaV1;
  readonly limitRange: LimitRangeV1;

  constructor(scope: Construct, id: string, props: NamespaceQuotaProps) {
    super(scope, id);
    const labels = { "app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": "cdktf" };
    const h = props.hard;
    this.quota = new ResourceQuotaV1(this, "quota", {
      metadata: { name: "platform-quota", namespace: props.namespace, labels },
      spec: {
        hard: {
          "requests.cpu": formatCpuQuantity(h.requestsCpuMillis),
          "requests.memory": formatMemoryQuantity(h.requestsMemoryBytes),
          "limits.cpu": formatCpuQuantity(h.limitsCpuMillis),
          "limits.memory": formatMemoryQuantity(h.limitsMemoryBytes),
          pods: String(h.pods),
          persistentvolumeclaims: String(h.claims),
          "requests.storage": formatMemoryQuantity(h.storageBytes),
        },
      },
    });
    this.limitRange = new LimitRangeV1(this, "limit-range", {
      metadata: { name: "platform-defaults", namespace: props.namespace, labels },
      spec: {
        limit: [
          {
            type: "Container",
            defaultRequest: { cpu: "50m", memory: "64Mi" },
            default: { cpu: "250m", memory: "256Mi" },
            // In the form the API server stores (`8000m` → `8`): the provider compares this field as
            // text, so a config's own spelling would show as a change on every plan.
            max: { cpu: canonicalQuantity(props.nodeSize.cpu), memory: canonicalQuantity(props.nodeSize.memory) },
          },
        ],
      },
    });
  }
}

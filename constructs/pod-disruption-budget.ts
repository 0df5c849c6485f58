import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import { Construct } from "constructs";

export interface DisruptionBudgetProps {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  /** Labels of the pods the budget protects. */
  readonly selector: Record<string, string>;
  /**
   * The fewest pods the workload runs in any mode: its replica count, or its HPA's minimum.
   * A budget must leave at least one of them evictable, or node drains block forever.
   */
  readonly guaranteedReplicas: number;
  /**
   * Pods a voluntary disruption may take at once. Exactly one of this and `minAvailable`.
   * @default 1
   */
  readonly maxUnavailable?: number | string;
  /** Pods that must stay up during a voluntary disruption; below `guaranteedReplicas`. */
  readonly minAvailable?: number | string;
}

/**
 * A PodDisruptionBudget that never blocks a node drain: `maxUnavailable` of at least one pod, or
 * a `minAvailable` below the workload's smallest size.
 * @see https://kubernetes.io/docs/tasks/run-application/configure-pdb/#think-about-how-your-application-reacts-to-disruptions
 */
export class DisruptionBudget extends Construct {
  readonly resource: PodDisruptionBudgetV1;

  constructor(scope: Construct, id: string, props: DisruptionBudgetProps) {
    super(scope, id);
    const { maxUnavailable, minAvailable, guaranteedReplicas } = props;
    if (maxUnavailable !== undefined && minAvailable !== undefined) {
      throw new Error(`${props.name}: set 'maxUnavailable' (${maxUnavailable}) or 'minAvailable' (${minAvailable}), not both`);
    }
    if (maxUnavailable === 0 || maxUnavailable === "0%") {
      throw new Error(`${props.name}: 'maxUnavailable' (${maxUnavailable}) must allow at least one pod: 0 blocks every node drain`);
    }
    if (typeof minAvailable === "number" && minAvailable >= guaranteedReplicas) {
      throw new Error(
        `${props.name}: 'minAvailable' (${minAvailable}) must be below the workload's smallest size (${guaranteedReplicas}), ` +
          "or node drains block forever; use maxUnavailable: 1",
      );
    }
    if (minAvailable === "100%") {
      throw new Error(`${props.name}: 'minAvailable' (100%) blocks every node drain; use maxUnavailable: 1`);
    }
    const budget = minAvailable === undefined ? { maxUnavailable: String(maxUnavailable ?? 1) } : { minAvailable: String(minAvailable) };

    this.resource = new PodDisruptionBudgetV1(this, "resource", {
      metadata: { name: props.name, namespace: props.namespace, labels: props.labels },
      spec: { ...budget, selector: { matchLabels: props.selector } },
    });
  }
}

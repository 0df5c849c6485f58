import { HorizontalPodAutoscalerV2 } from "@cdktf/provider-kubernetes/lib/horizontal-pod-autoscaler-v2";
import { Construct } from "constructs";
import type { CustomMetric, ScalingRules } from "../config/schema";
import { canonicalQuantity } from "../config/quantity";

export interface ServiceAutoscalerProps {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  /** Name of the Deployment this HPA scales. That Deployment must not set `replicas`. */
  readonly deploymentName: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** Average CPU use as a percentage of the pods' CPU request. */
  readonly targetCpuUtilizationPercent: number;
  /** Average memory use as a percentage of the pods' memory request. */
  readonly targetMemoryUtilizationPercent: number;
  /**
   * Application metrics, served by the custom or external metrics API.
   * @default none
   */
  readonly customMetrics?: readonly CustomMetric[];
  readonly scaleUp: ScalingRules;
  readonly scaleDown: ScalingRules;
}

/**
 * An autoscaling/v2 HorizontalPodAutoscaler on CPU, memory and any custom metrics. With several
 * metrics the HPA computes a replica count for each and takes the largest.
 * @see https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/
 */
export class ServiceAutoscaler extends Construct {
  readonly resource: HorizontalPodAutoscalerV2;
  /** Every metric name this HPA needs from the custom or external metrics API. */
  readonly customMetricNames: readonly string[];

  constructor(scope: Construct, id: string, props: ServiceAutoscalerProps) {
    super(scope, id);
    if (props.minReplicas < 1) throw new Error(`${props.name}: 'minReplicas' (${props.minReplicas}) must be >= 1`);
    if (props.minReplicas > props.maxReplicas) {
      throw new Error(`${props.name}: 'minReplicas' (${props.minReplicas}) must be <= 'maxReplicas' (${props.maxReplicas})`);
    }
    const customMetrics = props.customMetrics ?? [];
    this.customMetricNames = customMetrics.map((m) => m.metric);

    const utilization = (name: "cpu" | "memory", percent: number) => ({
      type: "Resource",
      resource: { name, target: { type: "Utilization", averageUtilization: percent } },
    });
    const custom = customMetrics.map((m) =>
      m.type === "Pods"
        ? { type: "Pods", pods: { metric: { name: m.metric }, target: { type: "AverageValue", averageValue: canonicalQuantity(m.targetAverageValue) } } }
        : {
            type: "External",
            external: {
              metric: { name: m.metric, ...(Object.keys(m.selector).length > 0 ? { selector: [{ matchLabels: m.selector }] } : {}) },
              target: { type: "AverageValue", averageValue: canonicalQuantity(m.targetAverageValue) },
            },
          },
    );
    const rules = (r: ScalingRules) => [
      {
        stabilizationWindowSeconds: r.stabilizationWindowSeconds,
        selectPolicy: r.selectPolicy,
        policy: r.policies.map((p) => ({ type: p.type, value: p.value, periodSeconds: p.periodSeconds })),
      },
    ];

    this.resource = new HorizontalPodAutoscalerV2(this, "resource", {
      metadata: { name: props.name, namespace: props.namespace, labels: props.labels },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: props.deploymentName },
        minReplicas: props.minReplicas,
        maxReplicas: props.maxReplicas,
        metric: [
          utilization("cpu", props.targetCpuUtilizationPercent),
          utilization("memory", props.targetMemoryUtilizationPercent),
          ...custom,
        ],
        behavior: { scaleUp: rules(props.scaleUp), scaleDown: rules(props.scaleDown) },
      },
    });
  }
}

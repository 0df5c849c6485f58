/**
 * Production. Edit this file to change the platform; `cdktf diff production` shows the effect.
 *
 * Replica bounds and utilization targets are the seed's autoscaling table. Autoscaling itself is
 * off unless `autoscaling.enabled` is true here or ENABLE_AUTOSCALING=true at synth time; while
 * off, each service runs `replicas` pods (the table's minimum).
 */
import type { EnvironmentInput, ScalingBehaviorInput } from "./schema";

/** Scale up fast (double, or +4 pods, per minute); scale down slowly after 5 minutes of calm. */
const behavior: ScalingBehaviorInput = {
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: "Max",
    policies: [
      { type: "Percent", value: 100, periodSeconds: 60 },
      { type: "Pods", value: 4, periodSeconds: 60 },
    ],
  },
  scaleDown: {
    stabilizationWindowSeconds: 300,
    selectPolicy: "Min",
    policies: [{ type: "Percent", value: 10, periodSeconds: 60 }],
  },
};

export default {
  name: "production",
  namespace: "agent-platform",
  cluster: { kubeconfigPath: "~/.kube/config", context: "agent-platform-production" },
  autoscaling: { enabled: false },
  imagePullPolicy: "Always",
  ingressController: { namespace: "ingress-nginx", podLabels: { "app.kubernetes.io/name": "ingress-nginx" } },
  monitoringNamespace: "monitoring",
  services: {
    "api-gateway": {
      image: { tag: "1.0.0" },
      replicas: 3,
      resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "1", memory: "1Gi" } },
      autoscaling: {
        minReplicas: 3,
        maxReplicas: 10,
        targetCpuUtilizationPercent: 70,
        targetMemoryUtilizationPercent: 75,
        behavior,
      },
    },
    "agent-orchestrator": {
      image: { tag: "1.0.0" },
      replicas: 2,
      resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } },
      autoscaling: {
        minReplicas: 2,
        maxReplicas: 8,
        targetCpuUtilizationPercent: 75,
        targetMemoryUtilizationPercent: 80,
        customMetrics: [
          // Pending agent tasks per pod.
          { type: "Pods", displayName: "Queue Length", metric: "queue_length", targetAverageValue: "20" },
        ],
        behavior,
      },
    },
    "model-orchestration": {
      image: { tag: "1.0.0" },
      replicas: 3,
      resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } },
      autoscaling: {
        minReplicas: 3,
        maxReplicas: 12,
        targetCpuUtilizationPercent: 70,
        targetMemoryUtilizationPercent: 75,
        customMetrics: [
          // Pending model calls per pod.
          { type: "Pods", displayName: "Queue Length", metric: "queue_length", targetAverageValue: "10" },
          // p95 request latency per pod, seconds (2500m = 2.5 s).
          { type: "Pods", displayName: "Latency", metric: "http_request_duration_seconds_p95", targetAverageValue: "2500m" },
        ],
        behavior,
      },
    },
    "tool-integration": {
      image: { tag: "1.0.0" },
      replicas: 2,
      resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "1", memory: "1Gi" } },
      autoscaling: {
        minReplicas: 2,
        maxReplicas: 6,
        targetCpuUtilizationPercent: 75,
        targetMemoryUtilizationPercent: 80,
        behavior,
      },
    },
    "web-dashboard": {
      image: { tag: "1.0.0" },
      replicas: 2,
      resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
      autoscaling: {
        minReplicas: 2,
        maxReplicas: 6,
        targetCpuUtilizationPercent: 75,
        targetMemoryUtilizationPercent: 80,
        customMetrics: [
          // HTTP requests per second per pod.
          { type: "Pods", displayName: "Requests/Second", metric: "http_requests_per_second", targetAverageValue: "50" },
        ],
        behavior,
      },
    },
  },
} satisfies EnvironmentInput;

/**
 * Staging: production's shape at a smaller scale, so that a change is tried here first.
 * Autoscaling follows the same rules as production when it is switched on.
 */
import type { EnvironmentInput, ScalingBehaviorInput } from "./schema";

const behavior: ScalingBehaviorInput = {
  scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: "Max", policies: [{ type: "Pods", value: 2, periodSeconds: 60 }] },
  scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: "Min", policies: [{ type: "Pods", value: 1, periodSeconds: 60 }] },
};

export default {
  name: "staging",
  namespace: "agent-platform-staging",
  cluster: { kubeconfigPath: "~/.kube/config", context: "agent-platform-staging" },
  autoscaling: { enabled: false },
  imagePullPolicy: "Always",
  ingressController: { namespace: "ingress-nginx", podLabels: { "app.kubernetes.io/name": "ingress-nginx" } },
  monitoringNamespace: "monitoring",
  services: {
    "api-gateway": {
      image: { tag: "1.0.0" },
      replicas: 2,
      resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } },
      autoscaling: { minReplicas: 2, maxReplicas: 4, targetCpuUtilizationPercent: 70, targetMemoryUtilizationPercent: 75, behavior },
    },
    "agent-orchestrator": {
      image: { tag: "1.0.0" },
      replicas: 2,
      resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "1", memory: "1Gi" } },
      autoscaling: {
        minReplicas: 2,
        maxReplicas: 4,
        targetCpuUtilizationPercent: 75,
        targetMemoryUtilizationPercent: 80,
        customMetrics: [{ type: "Pods", displayName: "Queue Length", metric: "queue_length", targetAverageValue: "20" }],
        behavior,
      },
    },
    "model-orchestration": {
      image: { tag: "1.0.0" },
      replicas: 2,
      resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "1", memory: "1Gi" } },
      autoscaling: {
        minReplicas: 2,
        maxReplicas: 4,
        targetCpuUtilizationPercent: 70,
        targetMemoryUtilizationPercent: 75,
        customMetrics: [
          { type: "Pods", displayName: "Queue Length", metric: "queue_length", targetAverageValue: "10" },
          { type: "Pods", displayName: "Latency", metric: "http_request_duration_seconds_p95", targetAverageValue: "2500m" },
        ],
        behavior,
      },
    },
    "tool-integration": {
      image: { tag: "1.0.0" },
      replicas: 2,
      resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
      autoscaling: { minReplicas: 2, maxReplicas: 3, targetCpuUtilizationPercent: 75, targetMemoryUtilizationPercent: 80, behavior },
    },
    "web-dashboard": {
      image: { tag: "1.0.0" },
      replicas: 2,
      resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "250m", memory: "256Mi" } },
      autoscaling: {
        minReplicas: 2,
        maxReplicas: 3,
        targetCpuUtilizationPercent: 75,
        targetMemoryUtilizationPercent: 80,
        customMetrics: [{ type: "Pods", displayName: "Requests/Second", metric: "http_requests_per_second", targetAverageValue: "50" }],
        behavior,
      },
    },
  },
} satisfies EnvironmentInput;

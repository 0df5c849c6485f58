/**
 * Local: one laptop node (kind, k3d or minikube), no cloud dependency, no autoscaling.
 * Every service runs one small pod; the whole platform requests under 1 CPU and 1.5 GiB.
 * Images are side-loaded into the cluster (`kind load docker-image ...`), hence IfNotPresent.
 */
import type { EnvironmentInput, ScalingBehaviorInput } from "./schema";

const behavior: ScalingBehaviorInput = {
  scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: "Max", policies: [{ type: "Pods", value: 1, periodSeconds: 60 }] },
  scaleDown: { stabilizationWindowSeconds: 120, selectPolicy: "Min", policies: [{ type: "Pods", value: 1, periodSeconds: 60 }] },
};

/** If someone turns autoscaling on locally: CPU and memory only, at most two pods. */
const autoscaling = { minReplicas: 1, maxReplicas: 2, targetCpuUtilizationPercent: 80, targetMemoryUtilizationPercent: 80, behavior };
const small = { requests: { cpu: "100m", memory: "192Mi" }, limits: { cpu: "500m", memory: "384Mi" } };

export default {
  name: "local",
  namespace: "agent-platform",
  cluster: { kubeconfigPath: "~/.kube/config", context: "kind-agent-platform" },
  autoscaling: { enabled: false },
  imagePullPolicy: "IfNotPresent",
  ingressController: { namespace: "ingress-nginx", podLabels: { "app.kubernetes.io/name": "ingress-nginx" } },
  monitoringNamespace: "monitoring",
  services: {
    "api-gateway": { image: { tag: "1.0.0" }, replicas: 1, resources: small, autoscaling },
    "agent-orchestrator": { image: { tag: "1.0.0" }, replicas: 1, resources: small, autoscaling },
    "model-orchestration": { image: { tag: "1.0.0" }, replicas: 1, resources: small, autoscaling },
    "tool-integration": { image: { tag: "1.0.0" }, replicas: 1, resources: small, autoscaling },
    "web-dashboard": {
      image: { tag: "1.0.0" },
      replicas: 1,
      resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "250m", memory: "256Mi" } },
      autoscaling,
    },
  },
} satisfies EnvironmentInput;

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ServiceAutoscaler, type ServiceAutoscalerProps } from "../../constructs/horizontal-pod-autoscaler";
import { type Json, resources, synthScope } from "../helpers";

const rules = { stabilizationWindowSeconds: 300, selectPolicy: "Min" as const, policies: [{ type: "Percent" as const, value: 10, periodSeconds: 60 }] };
const base: ServiceAutoscalerProps = {
  namespace: "ns",
  name: "svc",
  labels: {},
  deploymentName: "svc",
  minReplicas: 2,
  maxReplicas: 8,
  targetCpuUtilizationPercent: 75,
  targetMemoryUtilizationPercent: 80,
  scaleUp: { ...rules, stabilizationWindowSeconds: 0, selectPolicy: "Max" },
  scaleDown: rules,
};

function spec(props: Partial<ServiceAutoscalerProps> = {}): Json {
  const json = JSON.parse(synthScope((scope) => new ServiceAutoscaler(scope, "hpa", { ...base, ...props })));
  return Object.values(resources(json, "kubernetes_horizontal_pod_autoscaler_v2"))[0]!.spec;
}

describe("ServiceAutoscaler", () => {
  it("scales a Deployment on CPU and memory utilization by default", () => {
    const s = spec();
    assert.deepEqual(s.scale_target_ref, { api_version: "apps/v1", kind: "Deployment", name: "svc" });
    assert.equal(s.min_replicas, 2);
    assert.equal(s.max_replicas, 8);
    assert.deepEqual(s.metric, [
      { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", average_utilization: 75 } } },
      { type: "Resource", resource: { name: "memory", target: { type: "Utilization", average_utilization: 80 } } },
    ]);
  });
  it("renders scale-up and scale-down behaviour", () => {
    const s = spec();
    assert.deepEqual(s.behavior.scale_down, [{ stabilization_window_seconds: 300, select_policy: "Min", policy: [{ type: "Percent", value: 10, period_seconds: 60 }] }]);
    assert.equal(s.behavior.scale_up[0].stabilization_window_seconds, 0);
  });
  it("adds Pods metrics as per-pod average values", () => {
    const s = spec({ customMetrics: [{ type: "Pods", displayName: "Queue Length", metric: "queue_length", targetAverageValue: "20" }] });
    assert.deepEqual(s.metric[2], { type: "Pods", pods: { metric: { name: "queue_length" }, target: { type: "AverageValue", average_value: "20" } } });
  });
  it("adds External metrics with their selector", () => {
    const s = spec({ customMetrics: [{ type: "External", displayName: "Backlog", metric: "backlog", selector: { queue: "agents" }, targetAverageValue: "5" }] });
    assert.deepEqual(s.metric[2], {
      type: "External",
      external: { metric: { name: "backlog", selector: [{ match_labels: { queue: "agents" } }] }, target: { type: "AverageValue", average_value: "5" } },
    });
  });
  it("names every custom metric it needs served", () => {
    const customMetrics = [
      { type: "Pods" as const, displayName: "Queue Length", metric: "queue_length", targetAverageValue: "10" },
      { type: "Pods" as const, displayName: "Latency", metric: "http_request_duration_seconds_p95", targetAverageValue: "2500m" },
    ];
    let hpa: ServiceAutoscaler | undefined;
    synthScope((scope) => {
      hpa = new ServiceAutoscaler(scope, "hpa", { ...base, customMetrics });
    });
    assert.deepEqual(hpa!.customMetricNames, ["queue_length", "http_request_duration_seconds_p95"]);
  });
  it("fails when minReplicas exceeds maxReplicas", () => {
    assert.throws(() => spec({ minReplicas: 11, maxReplicas: 10 }), /'minReplicas' \(11\) must be <= 'maxReplicas' \(10\)/);
  });
  it("fails when minReplicas is below 1", () => {
    assert.throws(() => spec({ minReplicas: 0 }), /'minReplicas' \(0\) must be >= 1/);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { environmentCapacity } from "../../config/capacity";
import { renderSummary } from "../../stacks/summary";
import { loadConfig } from "../helpers";

describe("environmentCapacity", () => {
  it("counts fixed replicas when autoscaling is off", () => {
    const c = environmentCapacity(loadConfig("production"));
    assert.equal(c.min.pods, 12);
    assert.equal(c.max.pods, 12);
    // 3×500m + 2×500m + 3×1000m + 2×250m + 2×100m
    assert.equal(c.min.cpuRequestMillis, 6200);
  });
  it("counts HPA bounds when autoscaling is on", () => {
    const c = environmentCapacity(loadConfig("production", { enableAutoscaling: true }));
    assert.equal(c.min.pods, 3 + 2 + 3 + 2 + 2);
    assert.equal(c.max.pods, 10 + 8 + 12 + 6 + 6);
    // 10×512Mi + 8×1Gi + 12×1Gi + 6×512Mi + 6×256Mi, in MiB
    assert.equal(c.max.memoryRequestBytes / 2 ** 20, 10 * 512 + 8 * 1024 + 12 * 1024 + 6 * 512 + 6 * 256);
  });
});

describe("renderSummary", () => {
  it("prints a row per service and totals at both scales", () => {
    const text = renderSummary([loadConfig("production", { enableAutoscaling: true })]);
    assert.match(text, /^production \(namespace agent-platform, context agent-platform-production, autoscaling on\)/);
    assert.match(text, /model-orchestration +3-12 \(HPA\) +1 \/ 2 +1Gi \/ 2Gi +maxUnavailable 1/);
    assert.match(text, /at minimum scale: 12 pods, requests 6200m CPU \/ 8Gi/);
    assert.match(text, /at maximum scale: 42 pods/);
    assert.match(text, /database connections: .* = 732 <= max_connections 800$/m);
  });
  it("shows fixed replicas when autoscaling is off", () => {
    assert.match(renderSummary([loadConfig("local")]), /api-gateway +1 +100m \/ 500m +192Mi \/ 384Mi/);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { environmentCapacity } from "../../config/capacity";
import { renderSummary } from "../../stacks/summary";
import { loadConfig } from "../helpers";

describe("environmentCapacity", () => {
  it("counts fixed replicas when autoscaling is off, both tracks of a blue-green service", () => {
    const c = environmentCapacity(loadConfig("production"));
    // api-gateway 3 x 2 tracks, agent-orchestrator 2, model-orchestration 3, tool-integration 2, web-dashboard 2 x 2.
    assert.equal(c.min.pods, 6 + 2 + 3 + 2 + 4);
    assert.equal(c.max.pods, c.min.pods);
    // 6×500m + 2×500m + 3×1000m + 2×250m + 4×100m
    assert.equal(c.min.cpuRequestMillis, 7900);
  });
  it("counts HPA bounds when autoscaling is on", () => {
    const c = environmentCapacity(loadConfig("production", { enableAutoscaling: true }));
    assert.equal(c.min.pods, 2 * 3 + 2 + 3 + 2 + 2 * 2);
    assert.equal(c.max.pods, 2 * 10 + 8 + 12 + 6 + 2 * 6);
    // 20×512Mi + 8×1Gi + 12×1Gi + 6×512Mi + 12×256Mi, in MiB
    assert.equal(c.max.memoryRequestBytes / 2 ** 20, 20 * 512 + 8 * 1024 + 12 * 1024 + 6 * 512 + 12 * 256);
  });
  it("counts one track for a rolling service", () => {
    const c = environmentCapacity(loadConfig("local"));
    assert.ok(c.services.every((s) => s.tracks === 1 && s.minPods === 1));
  });
});

describe("renderSummary", () => {
  it("prints a row per service, totals at both scales and the connection budget", () => {
    const text = renderSummary([loadConfig("production", { enableAutoscaling: true })]);
    assert.match(text, /^production \(namespace agent-platform, context agent-platform-production, autoscaling on\)/);
    assert.match(text, /model-orchestration +3-12 \(HPA\) +1 \/ 2 +1Gi \/ 2Gi +maxUnavailable 1/);
    assert.match(text, /api-gateway +6-20 \(HPA\) blue\+green +500m \/ 1/);
    assert.match(text, /at minimum scale: 17 pods, requests 7900m CPU/);
    assert.match(text, /at maximum scale: 58 pods/);
    assert.match(text, /database connections: .* = 932 <= max_connections 1000$/m);
  });
  it("shows fixed replicas when autoscaling is off", () => {
    assert.match(renderSummary([loadConfig("local")]), /api-gateway +1 +100m \/ 500m +192Mi \/ 384Mi/);
  });
});

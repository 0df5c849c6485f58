/**
 * The one place tests name services: the shipped configuration (config/*.ts as committed) carries
 * the seed's figures — the platform's original description, whose tables docs/configuration.md
 * reproduces (the autoscaling table, the rate-limit tiers, the connection pool of its section 5.3).
 *
 * These tests pin those figures for the seed's five services only: a service added to the
 * catalogue (README.md, "Adding a service") leaves them green; a deliberate change to a seed
 * figure is made here too. Every other test derives its expectations from the loaded catalogue
 * and config (test/catalogue.ts, test/variants.ts).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { type Json, loadConfig, named, resources, synthEnvironment } from "./helpers";

/** The seed's autoscaling table: min, max, CPU %, memory %, custom metrics. */
const SEED_AUTOSCALING: Record<string, [string, number, number, number, number, string]> = {
  "api-gateway": ["API Gateway", 3, 10, 70, 75, "-"],
  "agent-orchestrator": ["Agent Orchestrator", 2, 8, 75, 80, "Queue Length"],
  "model-orchestration": ["Model Orchestration", 3, 12, 70, 75, "Queue Length, Latency"],
  "tool-integration": ["Tool Integration", 2, 6, 75, 80, "-"],
  "web-dashboard": ["Web Dashboard", 2, 6, 75, 80, "Requests/Second"],
};

describe("shipped configuration (config/*.ts as committed)", () => {
  it("carries the seed's autoscaling table in production, for the seed's five services", () => {
    const services = loadConfig("production").services;
    for (const [name, row] of Object.entries(SEED_AUTOSCALING)) {
      const s = services.find((x) => x.name === name);
      assert.ok(s, `${name}, a seed service, is not in the catalogue`);
      assert.deepEqual(
        [s.displayName, s.autoscaling.minReplicas, s.autoscaling.maxReplicas, s.autoscaling.targetCpuUtilizationPercent, s.autoscaling.targetMemoryUtilizationPercent, s.autoscaling.customMetrics.map((m) => m.displayName).join(", ") || "-"],
        row,
        name,
      );
    }
  });

  it("carries the seed's HPA table when ENABLE_AUTOSCALING=true in production (one HPA per blue-green track)", () => {
    const json = synthEnvironment("production", { enableAutoscaling: true });
    const rows = Object.fromEntries(
      Object.values(resources(json, "kubernetes_horizontal_pod_autoscaler_v2")).map((h) => [
        h.metadata.name,
        [h.spec.min_replicas, h.spec.max_replicas, ...h.spec.metric.map((m: Json) => m.resource?.target.average_utilization ?? m.pods?.metric.name ?? m.external?.metric.name)],
      ]),
    );
    const seed: Record<string, unknown[]> = {
      "agent-orchestrator": [2, 8, 75, 80, "queue_length"],
      "api-gateway-blue": [3, 10, 70, 75],
      "api-gateway-green": [3, 10, 70, 75],
      "model-orchestration": [3, 12, 70, 75, "queue_length", "http_request_duration_seconds_p95"],
      "tool-integration": [2, 6, 75, 80],
      "web-dashboard-blue": [2, 6, 75, 80, "http_requests_per_second"],
      "web-dashboard-green": [2, 6, 75, 80, "http_requests_per_second"],
    };
    for (const [name, row] of Object.entries(seed)) assert.deepEqual(rows[name], row, name);
  });

  it("delivers the seed's connection pool (section 5.3) to every database user in production", () => {
    const production = synthEnvironment("production");
    for (const s of loadConfig("production").services.filter((x) => x.usesDatabase)) {
      const d = named(production, "kubernetes_config_map_v1", `${s.name}-settings`).data;
      assert.deepEqual(
        [d.PLATFORM_DATABASE_POOL_MIN, d.PLATFORM_DATABASE_POOL_MAX, d.PLATFORM_DATABASE_POOL_TIMEOUT_SECONDS, d.PLATFORM_DATABASE_POOL_RECYCLE_SECONDS, d.PLATFORM_DATABASE_POOL_PRE_PING],
        ["5", "20", "30", "3600", "true"],
        s.name,
      );
    }
  });

  it("mounts the seed's five rate-limit tiers, and the API Gateway's per-endpoint overrides", () => {
    const production = synthEnvironment("production");
    const limits = parse(named(production, "kubernetes_config_map_v1", "api-gateway-files").data["rate-limits.yaml"]);
    assert.deepEqual(limits.tiers, {
      default: { requests: 100, windowSeconds: 60 },
      low: { requests: 50, windowSeconds: 60 },
      high: { requests: 200, windowSeconds: 60 },
      critical: { requests: 500, windowSeconds: 60 },
      unlimited: { requests: 100000, windowSeconds: 60 },
    });
    assert.equal(limits.defaultTier, "default");
    assert.deepEqual(limits.endpoints[0], { path: "/v1/agents/runs", method: "POST", tier: "low" });
  });

  it("releases the two public services blue-green in staging and production", () => {
    for (const env of ["staging", "production"] as const) {
      const blueGreen = loadConfig(env).services.filter((s) => s.release.strategy === "blue-green").map((s) => s.name);
      assert.deepEqual(blueGreen.filter((n) => n in SEED_AUTOSCALING), ["api-gateway", "web-dashboard"], env);
    }
  });
});

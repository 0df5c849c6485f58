import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { canonicalQuantity } from "../../config/quantity";
import { type Json, rawEnvironment, resources, synthEnvironment } from "../helpers";

/**
 * The API server rewrites some quantities (`8000m` → `8`); where the kubernetes provider compares
 * a field as text (a LimitRange's max, an HPA's averageValue), the stack must emit the stored form
 * or every plan shows a change. The expected forms are apimachinery's own output for 4,911
 * spellings (test/fixtures/quantities.md says how the table was made).
 */
const FIXTURE = join(__dirname, "..", "..", "..", "test", "fixtures", "quantities.json.gz");

describe("quantities as the API server stores them", () => {
  it("equals apimachinery's stored form for every spelling of the table", () => {
    const { quantities } = JSON.parse(gunzipSync(readFileSync(FIXTURE)).toString("utf8")) as { quantities: Record<string, string> };
    const entries = Object.entries(quantities);
    assert.ok(entries.length > 4000, `${entries.length} entries`);
    const wrong = entries.filter(([input, stored]) => canonicalQuantity(input) !== stored);
    assert.deepEqual(wrong.slice(0, 10).map(([input, stored]) => `${input}: apimachinery ${stored}, ours ${canonicalQuantity(input)}`), []);
    // The table holds both kinds: spellings kept as written and spellings rewritten.
    assert.ok(entries.some(([i, s]) => i === s) && entries.some(([i, s]) => i !== s));
  });

  it("is stable: the stored form stores as itself", () => {
    for (const input of ["8000m", "28672Mi", "0.5", "2000", "1.5Gi", "0.125k", "1500000000"]) {
      const stored = canonicalQuantity(input);
      assert.equal(canonicalQuantity(stored), stored, input);
    }
  });

  it("emits the LimitRange's max and the HPAs' custom-metric targets in that form", () => {
    const raw = rawEnvironment("production");
    raw.nodeSize = { cpu: "8000m", memory: "28672Mi" };
    let target: Json | undefined;
    for (const service of Object.values(raw.services as Record<string, Json>)) {
      for (const metric of service.autoscaling?.customMetrics ?? []) {
        metric.targetAverageValue = "0.5";
        target = metric;
      }
    }
    assert.ok(target, "production has a custom-metric target to rewrite");
    const json = synthEnvironment("production", { enableAutoscaling: true }, raw);
    const limitRange = Object.values(resources(json, "kubernetes_limit_range_v1"))[0]!;
    const container = (limitRange.spec.limit as Json[]).find((l) => l.type === "Container")!;
    assert.deepEqual(container.max, { cpu: "8", memory: "28Gi" });
    const averageValues = JSON.stringify(resources(json, "kubernetes_horizontal_pod_autoscaler_v2")).match(/"average_value":"[^"]*"/g) ?? [];
    assert.ok(averageValues.length > 0);
    for (const v of averageValues) assert.equal(v, '"average_value":"500m"');
  });
});

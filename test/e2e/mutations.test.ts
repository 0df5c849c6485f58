import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { synthEnvironment, type Json } from "../helpers";
import { chosenMutation, MUTATIONS } from "./mutations";
import { selection } from "./scenarios";

const stack = () => synthEnvironment("production", { enableAutoscaling: true });
const adapterValues = (json: Json) => parse(String(Object.values(json.resource.helm_release as Record<string, Json>).find((r) => r.chart === "prometheus-adapter")!.values[0])) as Json;
const rule = (json: Json, metric: string): Json | undefined => (adapterValues(json).rules.custom as Json[]).find((r) => r.name.as === metric);

describe("e2e mutations (E2E_MUTATE)", () => {
  it("changes exactly the one thing each names, leaving the rest of the stack as synthesized", () => {
    for (const [name, m] of Object.entries(MUTATIONS)) {
      const original = stack();
      const mutated = stack();
      const what = m.apply(mutated);
      assert.ok(what.length > 0, name);
      const changed = Object.keys(mutated.resource).flatMap((type) =>
        Object.keys(mutated.resource[type]).filter((id) => JSON.stringify(mutated.resource[type][id]) !== JSON.stringify(original.resource[type][id])).map((id) => `${type}.${id}`),
      );
      assert.equal(changed.length, 1, `${name} changed ${changed.join(", ")}`);
      // Each runs with a selection the scenario parser accepts.
      assert.ok(selection({ E2E_STACKS: m.stacks }).scenarios(m.stacks.split(":")[0]!).size > 0, name);
    }
  });

  it("plants the defects the issue names: a rule's name, its pod label, its unit; an HPA target; a PDB that blocks drains", () => {
    const names = stack();
    MUTATIONS["adapter-name"]!.apply(names);
    assert.equal(rule(names, "queue_length"), undefined);
    assert.ok(rule(names, "queue_length_items"));

    const labels = stack();
    MUTATIONS["adapter-labels"]!.apply(labels);
    assert.deepEqual(Object.keys(rule(labels, "http_requests_per_second")!.resources.overrides), ["namespace"]);

    const unit = stack();
    const before = rule(unit, "http_requests_per_second")!.metricsQuery as string;
    MUTATIONS["adapter-unit"]!.apply(unit);
    assert.equal(rule(unit, "http_requests_per_second")!.metricsQuery, before.replace("rate(", "increase("));

    const hpa = stack();
    const target = (json: Json) => (Object.entries(json.resource.kubernetes_horizontal_pod_autoscaler_v2 as Record<string, Json>).sort(([a], [b]) => a.localeCompare(b)).flatMap(([, h]) => h.spec.metric) as Json[]).filter((m) => m.resource?.name === "cpu").map((m) => m.resource.target.average_utilization);
    const cpu = target(hpa);
    MUTATIONS["hpa-target"]!.apply(hpa);
    assert.deepEqual(target(hpa), [cpu[0] + 15, ...cpu.slice(1)]);

    const pdb = stack();
    MUTATIONS.pdb!.apply(pdb);
    const specs = Object.values(pdb.resource.kubernetes_pod_disruption_budget_v1 as Record<string, Json>).map((p) => p.spec);
    assert.equal(specs.filter((s) => s.min_available === "100%" && s.max_unavailable === undefined).length, 1);
  });

  it("fails naming the known mutations when E2E_MUTATE names none of them", () => {
    assert.equal(chosenMutation({}), undefined);
    assert.equal(chosenMutation({ E2E_MUTATE: "pdb" })?.name, "pdb");
    assert.throws(() => chosenMutation({ E2E_MUTATE: "hpa" }), /E2E_MUTATE: unknown mutation "hpa"; known: adapter-name, adapter-labels, adapter-unit, hpa-target, pdb/);
  });
});

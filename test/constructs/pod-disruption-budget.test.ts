import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DisruptionBudget, type DisruptionBudgetProps } from "../../constructs/pod-disruption-budget";
import { type Json, resources, synthScope } from "../helpers";

const base: DisruptionBudgetProps = { namespace: "ns", name: "svc", labels: { a: "b" }, selector: { app: "svc" }, guaranteedReplicas: 3 };

function spec(props: Partial<DisruptionBudgetProps> = {}): Json {
  const json = JSON.parse(synthScope((scope) => new DisruptionBudget(scope, "pdb", { ...base, ...props })));
  return Object.values(resources(json, "kubernetes_pod_disruption_budget_v1"))[0]!.spec;
}

describe("DisruptionBudget", () => {
  it("allows one pod down by default", () => {
    assert.deepEqual(spec(), { max_unavailable: "1", selector: { match_labels: { app: "svc" } } });
  });
  it("takes maxUnavailable as a number or a percentage", () => {
    assert.equal(spec({ maxUnavailable: 2 }).max_unavailable, "2");
    assert.equal(spec({ maxUnavailable: "25%" }).max_unavailable, "25%");
  });
  it("takes a minAvailable below the workload's smallest size", () => {
    const s = spec({ minAvailable: 2 });
    assert.equal(s.min_available, "2");
    assert.equal(s.max_unavailable, undefined);
  });
  it("fails when maxUnavailable is 0", () => {
    assert.throws(() => spec({ maxUnavailable: 0 }), /'maxUnavailable' \(0\) must allow at least one pod/);
    assert.throws(() => spec({ maxUnavailable: "0%" }), /'maxUnavailable' \(0%\)/);
  });
  it("fails when minAvailable would block a drain", () => {
    assert.throws(() => spec({ minAvailable: 3 }), /'minAvailable' \(3\) must be below the workload's smallest size \(3\)/);
    assert.throws(() => spec({ minAvailable: "100%" }), /blocks every node drain/);
  });
  it("fails when both are set", () => {
    assert.throws(() => spec({ minAvailable: 1, maxUnavailable: 1 }), /not both/);
  });
});

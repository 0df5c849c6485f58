import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { budgetMinimum } from "./disruption";
import { selection } from "./scenarios";

const names = (set: ReadonlySet<string>) => [...set].sort();

describe("scenario selection (E2E_STACKS, E2E_SCENARIOS)", () => {
  it("runs every scenario on the autoscaling-on stacks and none on the others by default", () => {
    const s = selection({});
    assert.equal(s.stacks, undefined);
    assert.deepEqual(names(s.scenarios("production/autoscaling-on")), ["custom-metrics", "drain", "node-failure", "scaling"]);
    assert.deepEqual(names(s.scenarios("production/autoscaling-off")), []);
  });

  it("takes a stack's own scenarios after ':', joined by '+', and strips them from the stack list", () => {
    const s = selection({ E2E_STACKS: "production/autoscaling-on:scaling, staging/autoscaling-on:drain+node-failure,local" });
    assert.deepEqual(s.stacks, ["production/autoscaling-on", "staging/autoscaling-on", "local"]);
    assert.deepEqual(names(s.scenarios("production/autoscaling-on")), ["scaling"]);
    assert.deepEqual(names(s.scenarios("staging/autoscaling-on")), ["drain", "node-failure"]);
    assert.deepEqual(names(s.scenarios("local/autoscaling-on")), ["custom-metrics", "drain", "node-failure", "scaling"]);
  });

  it("applies E2E_SCENARIOS to every stack without its own, including the autoscaling-off ones", () => {
    const s = selection({ E2E_SCENARIOS: "drain,node-failure", E2E_STACKS: "local/autoscaling-off,production/autoscaling-on:scaling" });
    assert.deepEqual(names(s.scenarios("local/autoscaling-off")), ["drain", "node-failure"]);
    assert.deepEqual(names(s.scenarios("production/autoscaling-on")), ["scaling"]);
    assert.deepEqual(names(selection({ E2E_SCENARIOS: "none" }).scenarios("production/autoscaling-on")), []);
    assert.deepEqual(names(selection({ E2E_SCENARIOS: "all" }).scenarios("local/autoscaling-off")), ["custom-metrics", "drain", "node-failure", "scaling"]);
  });

  it("fails on an unknown scenario, naming the variable, the value and the known ones", () => {
    assert.throws(() => selection({ E2E_SCENARIOS: "scaling,drian" }), /E2E_SCENARIOS: unknown scenario "drian"; known: scaling, custom-metrics, drain, node-failure, all, none/);
    assert.throws(() => selection({ E2E_STACKS: "production/autoscaling-on:scale" }), /E2E_STACKS entry "production\/autoscaling-on:scale": unknown scenario "scale"/);
  });
});

describe("budgetMinimum (the pods a voluntary disruption must leave)", () => {
  it("subtracts maxUnavailable, rounding a percentage up as Kubernetes does", () => {
    assert.equal(budgetMinimum({ maxUnavailable: 1 }, 10), 9);
    assert.equal(budgetMinimum({ maxUnavailable: "25%" }, 10), 7);
    assert.equal(budgetMinimum({ maxUnavailable: 1 }, 1), 0);
  });
  it("keeps minAvailable, rounding a percentage up", () => {
    assert.equal(budgetMinimum({ minAvailable: 2 }, 10), 2);
    assert.equal(budgetMinimum({ minAvailable: "50%" }, 5), 3);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type HpaModelSpec, HpaModel, perPodDemand, runPhase, settleSeconds, spreadDemand } from "./hpa-model";
import { histogramQuantile } from "./load";
import { behaviorViolations } from "./scaling";

/** Production's behavior (config/production.ts): double or +4 per minute up; 10% per minute down after 300 s. */
const production: HpaModelSpec = {
  minReplicas: 3,
  maxReplicas: 12,
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: "Max",
    policies: [
      { type: "Percent", value: 100, periodSeconds: 60 },
      { type: "Pods", value: 4, periodSeconds: 60 },
    ],
  },
  scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: "Min", policies: [{ type: "Percent", value: 10, periodSeconds: 60 }] },
};

const steps = (model: HpaModel, demand: number, sync = 5) => runPhase(model, 0, [() => demand], sync).steps;

describe("HpaModel (kube-controller-manager's autoscaling/v2 behaviour)", () => {
  it("scales up by the larger policy per period, never past the maximum", () => {
    const s = steps(new HpaModel(production), 40);
    assert.deepEqual(
      s.map((x) => [x.at, x.to]),
      [
        [5, 7],
        [65, 12],
      ],
    );
  });

  it("waits out the scale-down window, then drops 10% per minute, rounding the remainder down", () => {
    const model = new HpaModel(production, 3);
    const up = runPhase(model, 0, [() => 40], 5);
    const down = runPhase(model, up.end, [() => 1], 5).steps;
    assert.deepEqual(
      down.map((x) => x.to),
      [10, 9, 8, 7, 6, 5, 4, 3],
    );
    assert.ok(down[0]!.at >= 300, `first scale-down at ${down[0]!.at} s`);
    for (let i = 1; i < down.length; i++) assert.equal(down[i]!.at - down[i - 1]!.at, 60);
  });

  it("with selectPolicy Min, takes the smaller of the scale-up policies", () => {
    const spec = { ...production, scaleUp: { ...production.scaleUp, selectPolicy: "Min" as const } };
    assert.deepEqual(
      steps(new HpaModel(spec), 40).map((x) => x.to),
      [6, 10, 12],
    );
  });

  it("does not move within the 10% tolerance", () => {
    const model = new HpaModel(production, 10);
    assert.equal(model.evaluate(5, [spreadDemand(10 * 1.05, 1)]), undefined);
    assert.equal(model.evaluate(10, [spreadDemand(10 * 0.95, 1)]), undefined);
  });

  it("settles a spread load on ceil(total / target): the plateau the e2e drives to", () => {
    const model = new HpaModel(production);
    assert.deepEqual(
      runPhase(model, 0, [spreadDemand(5.5 * 350, 350)], 5).steps.map((x) => x.to),
      [6],
    );
  });

  it("scales a per-pod value with the count, so a high latency drives to the maximum, within each period's limit", () => {
    const model = new HpaModel(production);
    // 3 → 6 (1.95 × 3), then 7 (the period's limit, counted from 3), then 12 once the first step left the period (counted from 6).
    assert.deepEqual(
      runPhase(model, 0, [perPodDemand(histogramQuantile(0.95, 5), 2.5)], 5).steps.map((x) => [x.at, x.to]),
      [
        [5, 6],
        [10, 7],
        [65, 12],
      ],
    );
  });

  it("takes the largest demand of several metrics", () => {
    const model = new HpaModel(production);
    assert.deepEqual(
      runPhase(model, 0, [spreadDemand(3.5, 1), spreadDemand(5.5, 1)], 5).steps.map((x) => x.to),
      [6],
    );
  });

  it("counts a phase as settled after its longest window or period", () => {
    assert.equal(settleSeconds(production), 300);
  });
});

describe("histogramQuantile", () => {
  it("interpolates within the bucket holding every observation, as Prometheus does", () => {
    assert.equal(histogramQuantile(0.95, 4), 2.5 + 2.5 * 0.95);
    assert.equal(histogramQuantile(0.95, 0.1), 0.05 + 0.05 * 0.95);
  });
});

describe("behaviorViolations (the configured behavior, judged on observed steps)", () => {
  const at = (s: number) => 1_000_000 + s * 1000;
  const step = (s: number, from: number, to: number) => ({ at: at(s), from, to, reason: "" });
  const prod = { ...production, maxReplicas: 10 };

  it("accepts steps within the policies' limits, a period apart", () => {
    const steps = [step(5, 3, 7), step(66, 7, 10)];
    assert.deepEqual(behaviorViolations(prod, steps, steps, at(0)), []);
  });

  it("flags a scale-up past the policies within one period, and past the maximum", () => {
    const fast = [step(5, 3, 7), step(20, 7, 10)];
    assert.match(behaviorViolations(prod, fast, fast, at(0)).join(), /7→10 at 20 s exceeds the scale-up policies' 7/);
    const jump = [step(5, 3, 11)];
    assert.match(behaviorViolations(prod, jump, jump, at(0)).join(), /3→11 outside \[3, 10\]/);
  });

  it("flags a scale-down inside the stabilization window, and one faster than 10% a minute", () => {
    const early = [step(100, 10, 9)];
    assert.match(behaviorViolations(prod, early, early, at(0)).join(), /inside the 300 s stabilization window/);
    const steep = [step(310, 10, 7)];
    assert.match(behaviorViolations(prod, steep, steep, at(0)).join(), /10→7 at 310 s falls below the scale-down policies' 9/);
    const paced = [step(310, 10, 9), step(371, 9, 8)];
    assert.deepEqual(behaviorViolations(prod, paced, paced, at(0)), []);
  });
});

/**
 * What a HorizontalPodAutoscaler must do, computed from its spec: the replica counts it passes
 * through under a load, step by step, and when. A transcription of kube-controller-manager
 * v1.35's autoscaling/v2 behaviour (pkg/controller/podautoscaler/horizontal.go:
 * stabilizeRecommendationWithBehaviors, convertDesiredReplicasWithBehaviorRate,
 * calculateScaleUpLimitWithScalingRules, calculateScaleDownLimitWithBehaviors; replica_calculator.go
 * for the ±10% tolerance), so the e2e can compare what the real controller did with what the
 * configured `behavior` allows. Time is simulated: one evaluation per sync period.
 */

/** One scaling policy, as in the HPA's `behavior`. */
export interface ScalingPolicy {
  readonly type: "Pods" | "Percent";
  readonly value: number;
  readonly periodSeconds: number;
}

/** One direction of the HPA's `behavior`. */
export interface ScalingRules {
  readonly stabilizationWindowSeconds: number;
  readonly selectPolicy: "Max" | "Min" | "Disabled";
  readonly policies: readonly ScalingPolicy[];
}

export interface HpaModelSpec {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly scaleUp: ScalingRules;
  readonly scaleDown: ScalingRules;
}

/** The controller's default tolerance (`--horizontal-pod-autoscaler-tolerance`). */
export const TOLERANCE = 0.1;

/**
 * Replicas one metric asks for at `current` replicas. `total` load spread evenly over the pods
 * (CPU, memory, queue length, requests per second: each pod sees total / current) converges on
 * ceil(total / target); a per-pod value (a latency) scales with the count.
 */
export type MetricDemand = (current: number) => number;

/** A metric whose total is spread over the ready pods: each pod reports total / current. */
export function spreadDemand(total: number, targetPerPod: number): MetricDemand {
  return (current) => proportional(current, total / current / targetPerPod);
}

/** A metric every pod reports at the same value whatever their number (a latency percentile). */
export function perPodDemand(value: number, target: number): MetricDemand {
  return (current) => proportional(current, value / target);
}

/** replica_calculator.go: the current count when within tolerance, else ceil(ratio × current). */
function proportional(current: number, ratio: number): number {
  if (Math.abs(1 - ratio) <= TOLERANCE) return current;
  return Math.ceil(ratio * current);
}

interface Event {
  readonly at: number;
  readonly change: number;
}

/** One step the model takes: at `at` seconds, from `from` to `to` replicas. */
export interface ModelStep {
  readonly at: number;
  readonly from: number;
  readonly to: number;
}

/**
 * The HPA's state machine. `evaluate` is one sync: the demand of every metric at the current
 * count, stabilised over the recommendation history, limited by the policies over the scale
 * events, clamped to [min, max].
 */
export class HpaModel {
  replicas: number;
  private readonly recommendations: { at: number; value: number }[] = [];
  private readonly upEvents: Event[] = [];
  private readonly downEvents: Event[] = [];

  constructor(
    readonly spec: HpaModelSpec,
    initial = spec.minReplicas,
  ) {
    this.replicas = initial;
  }

  /** One sync at time `now` (seconds); returns the step taken, if any. */
  evaluate(now: number, demands: readonly MetricDemand[]): ModelStep | undefined {
    const current = this.replicas;
    let desired: number;
    if (current > this.spec.maxReplicas) desired = this.spec.maxReplicas;
    else if (current < this.spec.minReplicas) desired = this.spec.minReplicas;
    else {
      desired = Math.max(...demands.map((d) => d(current)));
      desired = this.limit(now, current, this.stabilize(now, current, desired));
    }
    if (desired === current) return undefined;
    (desired > current ? this.upEvents : this.downEvents).push({ at: now, change: Math.abs(desired - current) });
    this.replicas = desired;
    return { at: now, from: current, to: desired };
  }

  /** stabilizeRecommendationWithBehaviors. */
  private stabilize(now: number, current: number, desired: number): number {
    let up = desired;
    let down = desired;
    for (const r of this.recommendations) {
      if (r.at > now - this.spec.scaleUp.stabilizationWindowSeconds) up = Math.min(up, r.value);
      if (r.at > now - this.spec.scaleDown.stabilizationWindowSeconds) down = Math.max(down, r.value);
    }
    this.recommendations.push({ at: now, value: desired });
    let recommendation = current;
    if (recommendation < up) recommendation = up;
    if (recommendation > down) recommendation = down;
    return recommendation;
  }

  /** convertDesiredReplicasWithBehaviorRate. */
  private limit(now: number, current: number, desired: number): number {
    if (desired > current) {
      const limit = Math.max(this.scaleUpLimit(now, current), current);
      return Math.min(desired, this.spec.maxReplicas, limit);
    }
    if (desired < current) {
      const limit = Math.min(this.scaleDownLimit(now, current), current);
      return Math.max(desired, this.spec.minReplicas, limit);
    }
    return desired;
  }

  private periodStart(now: number, current: number, periodSeconds: number): number {
    const inPeriod = (events: Event[]) => events.filter((e) => e.at > now - periodSeconds).reduce((s, e) => s + e.change, 0);
    return current - inPeriod(this.upEvents) + inPeriod(this.downEvents);
  }

  private scaleUpLimit(now: number, current: number): number {
    const rules = this.spec.scaleUp;
    if (rules.selectPolicy === "Disabled") return current;
    const proposals = rules.policies.map((p) => {
      const start = this.periodStart(now, current, p.periodSeconds);
      return p.type === "Pods" ? start + p.value : Math.ceil(start * (1 + p.value / 100));
    });
    return rules.selectPolicy === "Min" ? Math.min(...proposals) : Math.max(...proposals);
  }

  private scaleDownLimit(now: number, current: number): number {
    const rules = this.spec.scaleDown;
    if (rules.selectPolicy === "Disabled") return current;
    const proposals = rules.policies.map((p) => {
      const start = this.periodStart(now, current, p.periodSeconds);
      return p.type === "Pods" ? start - p.value : Math.trunc(start * (1 - p.value / 100));
    });
    // For scaling down, the smallest change ('Min') is the largest count.
    return rules.selectPolicy === "Min" ? Math.max(...proposals) : Math.min(...proposals);
  }
}

/** The longest period or window in a spec: after this long without a change, nothing is pending. */
export function settleSeconds(spec: HpaModelSpec): number {
  const periods = [...spec.scaleUp.policies, ...spec.scaleDown.policies].map((p) => p.periodSeconds);
  return Math.max(spec.scaleUp.stabilizationWindowSeconds, spec.scaleDown.stabilizationWindowSeconds, ...periods);
}

/**
 * Runs one phase of constant load from the model's state until it settles: no step for as long
 * as any window or period lasts. Returns the steps, times relative to `start`.
 */
export function runPhase(model: HpaModel, start: number, demands: readonly MetricDemand[], syncSeconds: number): { steps: ModelStep[]; end: number } {
  const quiet = settleSeconds(model.spec) + syncSeconds;
  const steps: ModelStep[] = [];
  let now = start;
  let lastChange = start;
  // A bound on the phase: every step moves at least one replica.
  const limit = start + (model.spec.maxReplicas + 2) * (quiet + syncSeconds);
  while (now - lastChange <= quiet && now < limit) {
    now += syncSeconds;
    const step = model.evaluate(now, demands);
    if (step) {
      steps.push({ ...step, at: step.at - start });
      lastChange = now;
    }
  }
  return { steps, end: now };
}

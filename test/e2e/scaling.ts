/**
 * Scaling, watched: every HPA of the stack driven by load through the real metrics pipeline, and
 * what its controller did compared with what the configured `behavior` allows (hpa-model.ts).
 *
 * Resource cycle, every HPA (both blue-green colours: the capacity model counts both at their
 * maximum): CPU to a plateau between min and max, then memory past the target to the maximum;
 * at the peak, with every service at its maximum, the peak checks (pods as the capacity model
 * promised, quota use, every PDB able to lose a pod, `terraform plan` clean) and the drain and
 * node-failure scenarios; then calm, back to the minimum through the scale-down window.
 *
 * Custom cycle, every HPA with custom metrics on a track that takes traffic: its first gauge
 * metric to a plateau, its last metric past the target to the maximum, then calm. The current
 * value the HPA reports must be the value the load implies, in the metric's own unit.
 *
 * Expectations come from the config (the intent), never from the cluster: a construct that
 * renders a different target or budget than the config says fails here.
 */
import { type PlatformConfig } from "../../config/load";
import { METRICS } from "../../config/metrics";
import { environmentCapacity, platformWorkloads, serviceWorkloads } from "../../config/capacity";
import { parseCpuMillis, parseMemoryBytes } from "../../config/quantity";
import type { ServiceConfig } from "../../config/types";
import { HPA_SYNC_SECONDS, type HostProcess, sleep } from "./control-plane";
import { type HpaModelSpec, HpaModel, type MetricDemand, type ModelStep, perPodDemand, runPhase, spreadDemand, TOLERANCE } from "./hpa-model";
import { histogramQuantile, type Load, LoadDriver } from "./load";
import { type ApiServiceOwnership, type CustomMetricsStack, METRIC_RESOLUTION_SECONDS, releaseApiService, releaseValues, SCRAPE_INTERVAL_SECONDS, startCustomMetrics, startMetricsServer } from "./metrics-apis";
import type { ReplicaChange, Sample } from "./observe";
import type { ScalingRow, ScenarioContext, StackScenarioReport } from "./scenario-context";

type Json = Record<string, any>;


/** How an HPA metric is driven, and what value the HPA must then report. */
type CustomKind = "spread-gauge" | "spread-rate" | "per-pod-latency";

/** The custom metrics the harness can drive, by the name the HPA reads (config/metrics.ts rules). */
const CUSTOM_KINDS: Record<string, CustomKind> = {
  queue_length: "spread-gauge",
  http_requests_per_second: "spread-rate",
  http_request_duration_seconds_p95: "per-pod-latency",
};

interface CustomTarget {
  readonly metric: string;
  readonly target: number;
  readonly kind: CustomKind;
}

/** One HPA as the config describes it. */
interface Target {
  readonly workload: string;
  readonly service: ServiceConfig;
  /** Takes traffic: a rolling service, or the active colour of a blue-green one. */
  readonly active: boolean;
  readonly spec: HpaModelSpec;
  readonly cpuPerPod: number;
  readonly memoryPerPod: number;
  readonly custom: readonly CustomTarget[];
}

interface Phase {
  readonly name: string;
  readonly cycle: "resource" | "custom";
  /** The metric the HPA's SuccessfulRescale reason must name for every scale-up in this phase. */
  readonly driver?: string;
  readonly load: Load;
  readonly expected: readonly ModelStep[];
  /** A metric value the HPA must report once settled. */
  readonly value?: { readonly metric: string; readonly expect: (replicas: number) => number; readonly tolerance: number; readonly unit: string };
  /** Seconds to hold once settled (no change allowed). */
  readonly hold: number;
  /** The peak barrier follows this phase. */
  readonly peak?: boolean;
}

const RESOURCE_LAG_SECONDS = 2 * METRIC_RESOLUTION_SECONDS + 2 * HPA_SYNC_SECONDS + 30;
/** Scrape, the adapter's query windows (rate over 2 m) and the HPA's sync. */
const CUSTOM_LAG_SECONDS = 150 + 2 * SCRAPE_INTERVAL_SECONDS + 2 * HPA_SYNC_SECONDS;
/** Sampling (1 s) on both ends of an interval, plus the controller's queue jitter. */
const TIMING_SLACK_SECONDS = 3;

const quantityValue = (q: string): number => parseCpuMillis(q)! / 1000;

/** The first scale-up step's ceiling from `n` replicas with no recent events. */
function scaleUpLimitFrom(spec: HpaModelSpec, n: number): number {
  const model = new HpaModel(spec, n);
  const step = model.evaluate(0, [() => spec.maxReplicas * 100]);
  return step ? step.to : n;
}

/**
 * The plateau a spread load holds the HPA at: the smallest count clearly above the minimum (its
 * ratio at the minimum beyond the 10% tolerance) that the first step reaches without the policy
 * biting, so a wrong target shows as a different count; low, so the next phase's climb to the
 * maximum meets the scale-up policy.
 */
function plateauOf(spec: HpaModelSpec): number | undefined {
  const min = spec.minReplicas;
  const p = Math.max(min + 1, Math.ceil((1 + TOLERANCE + 0.05) * min + 0.5));
  return p < spec.maxReplicas && p < scaleUpLimitFrom(spec, min) ? p : undefined;
}

function targetsOf(config: PlatformConfig): Target[] {
  const out: Target[] = [];
  for (const service of config.services) {
    const a = service.autoscaling;
    const spec: HpaModelSpec = { minReplicas: a.minReplicas, maxReplicas: a.maxReplicas, scaleUp: a.behavior.scaleUp, scaleDown: a.behavior.scaleDown };
    const custom = a.customMetrics.map((m) => ({ metric: m.metric, target: quantityValue(m.targetAverageValue), kind: CUSTOM_KINDS[m.metric]!, type: m.type }));
    for (const w of serviceWorkloads(service)) {
      const track = w.name.endsWith("-blue") ? "blue" : w.name.endsWith("-green") ? "green" : undefined;
      out.push({
        workload: w.name,
        service,
        active: service.release.strategy !== "blue-green" || track === service.release.active,
        spec,
        cpuPerPod: (parseCpuMillis(service.resources.requests.cpu)! * a.targetCpuUtilizationPercent) / 100,
        memoryPerPod: (parseMemoryBytes(service.resources.requests.memory)! * a.targetMemoryUtilizationPercent) / 100,
        custom: custom.filter((m) => m.type === "Pods"),
      });
    }
  }
  return out;
}

/** The bucket bound whose p95 is at least `factor` × target. */
function latencyAbove(target: number, factor: number): number {
  const buckets = METRICS.httpDuration.buckets;
  return buckets.find((b) => histogramQuantile(0.95, b) >= factor * target) ?? buckets[buckets.length - 1]!;
}

function customDemand(m: CustomTarget, load: Load): MetricDemand {
  if (m.kind === "spread-gauge") return spreadDemand(load.queue, m.target);
  if (m.kind === "spread-rate") return spreadDemand(load.requestsPerSecond, m.target);
  return perPodDemand(histogramQuantile(0.95, load.latencySeconds), m.target);
}

/** The phases of one HPA, each with the steps the model says it takes. */
/** Calm load: every metric well under its target at the minimum. */
function calmLoad(t: Target): Load {
  const min = t.spec.minReplicas;
  return {
    cpuMillis: t.cpuPerPod * min * 0.3,
    memoryBytes: t.memoryPerPod * min * 0.3,
    queue: 0,
    // Traffic only where the Service sends it; every request fast.
    requestsPerSecond: t.active ? min : 0,
    latencySeconds: 0.1,
  };
}

function phasesOf(t: Target, cycles: { readonly resource: boolean; readonly custom: boolean }): Phase[] {
  const max = t.spec.maxReplicas;
  const calm = calmLoad(t);
  const model = new HpaModel(t.spec);
  let now = 0;
  const phases: Phase[] = [];
  const demands = (load: Load) => [spreadDemand(load.cpuMillis, t.cpuPerPod), spreadDemand(load.memoryBytes, t.memoryPerPod), ...t.custom.map((m) => customDemand(m, load))];
  const add = (p: Omit<Phase, "expected">) => {
    const { steps, end } = runPhase(model, now, demands(p.load), HPA_SYNC_SECONDS);
    now = end;
    phases.push({ ...p, expected: steps });
  };
  const longestPeriod = Math.max(...[...t.spec.scaleUp.policies, ...t.spec.scaleDown.policies].map((p) => p.periodSeconds));
  const hold = longestPeriod + 2 * HPA_SYNC_SECONDS + 5;
  const utilization = (perPodTotal: number, request: number) => (n: number) => Math.trunc((perPodTotal / n / request) * 100);
  const cpuRequest = parseCpuMillis(t.service.resources.requests.cpu)!;
  const memoryRequest = parseMemoryBytes(t.service.resources.requests.memory)!;

  const p = plateauOf(t.spec);
  const cpuLoad = { ...calm, cpuMillis: t.cpuPerPod * (p !== undefined ? p - 0.5 : max + 0.5) };
  if (cycles.resource) {
    add({
      name: p !== undefined ? `CPU to ${p}` : "CPU to max",
      cycle: "resource",
      driver: "cpu resource utilization",
      load: cpuLoad,
      value: { metric: "cpu", expect: utilization(cpuLoad.cpuMillis, cpuRequest), tolerance: 2, unit: "%" },
      hold,
    });
    const memoryLoad = { ...cpuLoad, memoryBytes: t.memoryPerPod * (max + 2.5) };
    add({
      name: "memory to max",
      cycle: "resource",
      driver: "memory resource utilization",
      load: memoryLoad,
      value: { metric: "memory", expect: utilization(memoryLoad.memoryBytes, memoryRequest), tolerance: 2, unit: "%" },
      hold,
      peak: true,
    });
    add({ name: "calm", cycle: "resource", load: calm, hold });
  }

  if (!cycles.custom || !t.active || t.custom.length === 0) return phases;
  const customHold = Math.max(hold, 150);
  const first = t.custom[0]!;
  const last = t.custom[t.custom.length - 1]!;
  const q = plateauOf(t.spec);
  let load = calm;
  if (first.kind === "spread-gauge" && q !== undefined) {
    load = { ...calm, queue: first.target * (q - 0.5) };
    const total = load.queue;
    add({ name: `${first.metric} to ${q}`, cycle: "custom", driver: `pods metric ${first.metric}`, load, value: { metric: first.metric, expect: (n) => total / n, tolerance: 0.02, unit: "" }, hold: customHold });
  }
  const high: Load =
    last.kind === "spread-gauge"
      ? { ...load, queue: last.target * (max + 1.5) }
      : last.kind === "spread-rate"
        ? { ...load, requestsPerSecond: last.target * (max + 1.5) }
        : { ...load, latencySeconds: latencyAbove(last.target, 1.5) };
  const expectHigh =
    last.kind === "spread-gauge"
      ? (n: number) => high.queue / n
      : last.kind === "spread-rate"
        ? (n: number) => high.requestsPerSecond / n
        : () => histogramQuantile(0.95, high.latencySeconds);
  add({
    name: `${last.metric} to max`,
    cycle: "custom",
    driver: `pods metric ${last.metric}`,
    load: high,
    value: { metric: last.metric, expect: expectHigh, tolerance: last.kind === "spread-rate" ? 0.1 : 0.02, unit: "" },
    hold: customHold,
  });
  add({ name: "calm", cycle: "custom", load: calm, hold });
  return phases;
}

/** `New size: 7; reason: cpu resource utilization (percentage of request) above target`. */
async function rescaleEvents(s: ScenarioContext, hpa: string): Promise<{ first: number; last: number; size: number; reason: string }[]> {
  const selector = encodeURIComponent(`involvedObject.name=${hpa},involvedObject.kind=HorizontalPodAutoscaler,reason=SuccessfulRescale`);
  const events = await s.cp.list(`/api/v1/namespaces/${s.namespace}/events?fieldSelector=${selector}`);
  return events.flatMap((e) => {
    const m = /^New size: (\d+); reason: (.*)$/.exec(e.message ?? "");
    if (!m) return [];
    const first = Date.parse(e.firstTimestamp ?? e.eventTime ?? e.lastTimestamp);
    const last = Date.parse(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp);
    return [{ first, last, size: Number(m[1]), reason: m[2]! }];
  });
}

function reasonFor(events: { first: number; last: number; size: number; reason: string }[], change: ReplicaChange): string {
  const near = (t: number) => Math.abs(t - change.at) <= 15_000;
  return events.find((e) => e.size === change.to && (near(e.first) || near(e.last)))?.reason ?? change.reason;
}

const fmtSteps = (steps: readonly { at: number; to: number }[], from: number) =>
  steps.length === 0 ? `stays at ${from}` : `${from}→${steps.map((s) => `${s.to} (${Math.round(s.at)} s)`).join("→")}`;

/** A current metric value from the HPA's status, in the metric's unit (percent for resources). */
function currentValue(sample: Sample, hpa: string, metric: string): number | undefined {
  const status = sample.hpas.get(hpa)?.currentMetrics ?? [];
  for (const m of status) {
    if (m.type === "Resource" && m.resource?.name === metric) return m.resource.current?.averageUtilization;
    if (m.type === "Pods" && m.pods?.metric?.name === metric && m.pods.current?.averageValue) return quantityValue(String(m.pods.current.averageValue));
  }
  return undefined;
}

interface PhaseOutcome {
  readonly phase: Phase;
  readonly ok: boolean;
  readonly changes: ReplicaChange[];
  readonly start: number;
  /** What drove each scale-up (SuccessfulRescale reasons), or, without one, what the HPA computed its count from at the end. */
  readonly drivers: readonly string[];
}

/**
 * Steps the configured behavior forbids, judged on what was observed: a scale-up past what its
 * policies allow over their periods (counted from the scale events before it, as the controller
 * counts them), a scale-down below its policies' floor, a scale-down within the scale-down
 * stabilization window of the phase's start, a count outside [min, max]. Observed times are up to
 * a sampling interval late, so an earlier event counts as within a period only when it is clearly
 * inside it.
 */
export function behaviorViolations(spec: HpaModelSpec, history: readonly ReplicaChange[], steps: readonly ReplicaChange[], phaseStart: number): string[] {
  const out: string[] = [];
  const slackMs = TIMING_SLACK_SECONDS * 1000;
  for (const step of steps) {
    const prior = history.filter((h) => h.at < step.at);
    const start = (periodSeconds: number) => {
      const inPeriod = prior.filter((h) => step.at - h.at < periodSeconds * 1000 - slackMs);
      const added = inPeriod.filter((h) => h.to > h.from).reduce((n, h) => n + h.to - h.from, 0);
      const removed = inPeriod.filter((h) => h.to < h.from).reduce((n, h) => n + h.from - h.to, 0);
      return step.from - added + removed;
    };
    if (step.to > spec.maxReplicas || step.to < spec.minReplicas) out.push(`${step.from}→${step.to} outside [${spec.minReplicas}, ${spec.maxReplicas}]`);
    if (step.to > step.from) {
      const rules = spec.scaleUp;
      const proposals = rules.policies.map((p) => (p.type === "Pods" ? start(p.periodSeconds) + p.value : Math.ceil(start(p.periodSeconds) * (1 + p.value / 100))));
      const limit = rules.selectPolicy === "Disabled" ? step.from : rules.selectPolicy === "Min" ? Math.min(...proposals) : Math.max(...proposals);
      if (step.to > Math.max(limit, step.from)) out.push(`${step.from}→${step.to} at ${Math.round((step.at - phaseStart) / 1000)} s exceeds the scale-up policies' ${limit}`);
    } else {
      const rules = spec.scaleDown;
      const proposals = rules.policies.map((p) => (p.type === "Pods" ? start(p.periodSeconds) - p.value : Math.trunc(start(p.periodSeconds) * (1 - p.value / 100))));
      const floor = rules.selectPolicy === "Disabled" ? step.from : rules.selectPolicy === "Min" ? Math.max(...proposals) : Math.min(...proposals);
      if (step.to < Math.min(floor, step.from)) out.push(`${step.from}→${step.to} at ${Math.round((step.at - phaseStart) / 1000)} s falls below the scale-down policies' ${floor}`);
      if (step.at - phaseStart < rules.stabilizationWindowSeconds * 1000 - slackMs) {
        out.push(`${step.from}→${step.to} ${Math.round((step.at - phaseStart) / 1000)} s into the phase, inside the ${rules.stabilizationWindowSeconds} s stabilization window`);
      }
    }
  }
  return out;
}

/** Runs one phase of one HPA: set the load, watch, compare with the model, hold. */
async function runPhaseOf(s: ScenarioContext, driver: LoadDriver, t: Target, phase: Phase): Promise<PhaseOutcome> {
  const { observer, report, label } = s;
  const start = Date.now();
  const from = observer.latest?.workloads.get(t.workload)?.specReplicas ?? 0;
  driver.set(t.workload, phase.load);
  const final = phase.expected.at(-1)?.to ?? from;
  const lag = phase.cycle === "custom" ? CUSTOM_LAG_SECONDS : RESOURCE_LAG_SECONDS;
  const budget = ((phase.expected.at(-1)?.at ?? 0) + lag) * 1000;
  const changesSince = () => (observer.changes.get(t.workload) ?? []).filter((c) => c.at >= start);
  // Resource metrics reach every pod's value at once (one node scrape each), so the controller
  // must take the model's very steps; a custom metric arrives pod by pod (scrapes are staggered,
  // rates fill their window), so its path may take more, smaller steps to the same end.
  const exact = phase.cycle === "resource";
  const settled = (smp: Sample) => smp.workloads.get(t.workload)?.specReplicas === final && (!exact || changesSince().length >= phase.expected.length);
  const reached = phase.expected.length === 0 ? true : await observer.until(settled, budget);
  // Hold: nothing may move once the model has settled.
  const before = changesSince().length;
  await sleep(phase.hold * 1000);
  const changes = changesSince();
  const held = changes.length === before;
  const name = `${t.workload}: ${phase.name}`;
  const observedText = fmtSteps(
    changes.map((c) => ({ at: (c.at - start) / 1000, to: c.to })),
    from,
  );
  const expectedText = fmtSteps(phase.expected, from);
  const sequenceOk = !exact || JSON.stringify(changes.map((c) => c.to)) === JSON.stringify(phase.expected.map((e) => e.to));
  const endOk = (changes.at(-1)?.to ?? from) === final;
  let ok = report.check(
    label,
    exact ? `${name}: replicas step as the configured behavior allows` : `${name}: replicas reach ${final} as the configured behavior allows`,
    reached && held && sequenceOk && endOk,
    `observed ${observedText}; model ${expectedText}${reached ? "" : `; not settled at ${final} within ${Math.round(budget / 1000)} s`}${held ? "" : "; moved during the hold"}`,
  );
  // Whatever the path: every step within the policies over its period, no scale-down inside the
  // stabilization window, never past the bounds.
  if (changes.length > 0) {
    const history = observer.changes.get(t.workload) ?? [];
    const broken = behaviorViolations(t.spec, history, changes, start);
    ok = report.check(label, `${name}: every step within the configured policies and stabilization windows`, broken.length === 0, broken.join("; ")) && ok;
  }
  let drivers: string[] = [];
  if (phase.driver && changes.some((c) => c.to > c.from)) {
    const events = await rescaleEvents(s, t.workload);
    drivers = changes.filter((c) => c.to > c.from).map((c) => reasonFor(events, c));
    ok = report.check(label, `${name}: every scale-up names ${phase.driver}`, drivers.every((r) => r.includes(phase.driver!)), drivers.join("; ")) && ok;
  } else if (phase.driver) {
    // Already at the maximum: the HPA still says which metric it computed the count from.
    const active = (observer.latest?.hpas.get(t.workload)?.conditions ?? []).find((c) => c.type === "ScalingActive")?.message ?? "";
    drivers = [`${active.replace(/^.* from /, "")} (at max)`];
    ok = report.check(label, `${name}: the HPA computes its count from ${phase.driver}`, active.includes(phase.driver), active) && ok;
  }
  if (phase.value && observer.latest) {
    const replicas = observer.latest.workloads.get(t.workload)?.specReplicas ?? final;
    const want = phase.value.expect(replicas);
    const got = currentValue(observer.latest, t.workload, phase.value.metric);
    const within = got !== undefined && (phase.value.unit === "%" ? Math.abs(got - want) <= phase.value.tolerance : Math.abs(got - want) <= phase.value.tolerance * Math.max(Math.abs(want), 1e-9));
    ok = report.check(label, `${name}: the HPA reads ${phase.value.metric} = ${round(want)}${phase.value.unit} per pod`, within, `HPA status: ${got === undefined ? "no value" : `${round(got)}${phase.value.unit}`}`) && ok;
  }
  return { phase, ok, changes, start, drivers };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** A one-shot gate the HPAs wait at, at their peak. */
class Barrier {
  private arrived = 0;
  private release!: () => void;
  private readonly released = new Promise<void>((r) => (this.release = r));
  private readonly reachedAll: Promise<void>;
  private allArrived!: () => void;

  constructor(private readonly parties: number) {
    this.reachedAll = new Promise<void>((r) => (this.allArrived = r));
    if (parties === 0) this.allArrived();
  }

  /** Arrive and wait for the release. */
  async arrive(): Promise<void> {
    this.arrived++;
    if (this.arrived === this.parties) this.allArrived();
    await this.released;
  }

  whenAllArrived(): Promise<void> {
    return this.reachedAll;
  }

  open(): void {
    this.release();
  }
}

/** Things to do at the peak, while every HPA holds its maximum (drains, node failure). */
export type PeakHook = () => Promise<void>;

/**
 * The scaling scenario for one stack. `atPeak` runs while every service is at its maximum;
 * returns when every HPA is back at its minimum.
 */
export async function runScaling(s: ScenarioContext, out: StackScenarioReport, atPeak: PeakHook): Promise<void> {
  const { cp, report, label, tools } = s;
  if (!s.config.autoscalingEnabled) {
    out.skipped.push("scaling: autoscaling is off in this stack (no HPA)");
    await atPeak();
    return;
  }
  if (!tools.metricsServer) {
    report.note("scaling skipped: no metrics-server binary (build-control-plane.sh builds it)");
    out.skipped.push("scaling: no metrics-server");
    await atPeak();
    return;
  }
  const targets = targetsOf(s.config);
  const hpas = [...(s.observer.latest?.hpas.values() ?? [])];
  for (const t of targets) {
    const hpa = hpas.find((h) => h.name === t.workload);
    report.check(label, `${t.workload}: an HPA scales the Deployment of that name`, hpa?.target === t.workload, hpa ? `scaleTargetRef ${hpa.target}` : "no HPA");
  }
  const unknown = targets.flatMap((t) => t.custom.filter((m) => !m.kind).map((m) => `${t.workload}: ${m.metric}`));
  if (!report.check(label, "every custom metric an HPA reads has a load driver", unknown.length === 0, unknown.join(", "))) return;

  const needsCustom = targets.some((t) => t.custom.length > 0);
  const values = { kubePrometheusStack: releaseValues(s.stack, "kube-prometheus-stack"), adapter: releaseValues(s.stack, "prometheus-adapter") };
  let customReason = "";
  if (!needsCustom) customReason = "no HPA in this stack reads a custom metric";
  else if (!tools.prometheusAdapter) customReason = "PROMETHEUS_ADAPTER_BIN is not set (prometheus-adapter is built from its source, not the Go module proxy)";
  else if (!tools.prometheus) customReason = "no prometheus binary (Debian package prometheus)";
  else if (!values.adapter || !values.kubePrometheusStack) customReason = "the stack renders no prometheus-adapter or kube-prometheus-stack release";
  const customOn = customReason === "";

  const driver = new LoadDriver(cp, s.observer);
  await driver.start();
  let custom: CustomMetricsStack | undefined;
  let metricsServer: { process: HostProcess; ownership: ApiServiceOwnership } | undefined;
  const started = Date.now();
  try {
    const ms = await startMetricsServer(cp, tools.metricsServer);
    metricsServer = ms;
    report.check(label, "metrics-server on the host serves metrics.k8s.io", true, `APIService ${ms.ownership.name} ${ms.ownership.action} (kube-system/e2e-metrics-server → 127.0.0.1)`);
    // Calm load everywhere first, so every series exists before the adapter lists them.
    const cycles = { resource: s.scenarios.has("scaling"), custom: customOn && s.scenarios.has("custom-metrics") };
    const plans = new Map(targets.map((t) => [t.workload, phasesOf(t, cycles)]));
    for (const t of targets) driver.set(t.workload, calmLoad(t));
    if (customOn) {
      try {
        custom = await startCustomMetrics(
          cp,
          `${s.dir}/custom-metrics`,
          { prometheus: tools.prometheus!, adapter: tools.prometheusAdapter! },
          { kubePrometheusStack: values.kubePrometheusStack!, adapter: values.adapter! },
          s.config.monitoringNamespace,
          driver.exporterAddress,
          [METRICS.queueLength.name, METRICS.httpRequests.name, `${METRICS.httpDuration.name}_bucket`],
        );
        report.check(
          label,
          "prometheus-adapter with the stack's own rules serves custom.metrics.k8s.io",
          true,
          `${custom.rules.length} rules from the synthesized helm_release values; APIService ${custom.ownership.name} ${custom.ownership.action} (kube-system/e2e-prometheus-adapter → 127.0.0.1)`,
        );
      } catch (error) {
        report.check(label, "prometheus-adapter with the stack's own rules serves custom.metrics.k8s.io", false, (error as Error).message);
        return;
      }
    } else {
      report.note(`custom-metric part skipped: ${customReason}`);
      out.skipped.push(`custom metrics: ${customReason}`);
    }
    // Every HPA must read every metric before anything moves (an idle colour's too: its HPA
    // cannot scale down while one of its metrics is missing).
    const read = (smp: Sample, t: Target) => smp.hpas.get(t.workload)?.currentMetrics.filter((m) => m.type).length ?? 0;
    const wanted = (t: Target) => 2 + (customOn ? t.custom.length : 0);
    await s.observer.until((smp) => targets.every((t) => read(smp, t) === wanted(t)), 180_000);
    const unread = targets.filter((t) => read(s.observer.latest!, t) !== wanted(t));
    report.check(
      label,
      "every HPA reads every one of its metrics (metrics APIs wired)",
      unread.length === 0,
      unread.map((t) => `${t.workload} reads ${read(s.observer.latest!, t)} of ${wanted(t)}: ${(s.observer.latest?.hpas.get(t.workload)?.conditions ?? []).find((c) => c.type === "ScalingActive")?.message ?? "?"}`).join("; "),
    );
    if (unread.length === targets.length) return;

    const withCustom = cycles.custom;
    // Without the resource cycle there is no peak: the disruptions happen at rest, first.
    if (!cycles.resource) await atPeak();
    const barrier = new Barrier(cycles.resource ? targets.length : 0);
    const outcomes = new Map<string, PhaseOutcome[]>();
    const scripts = targets.map(async (t) => {
      const list: PhaseOutcome[] = [];
      outcomes.set(t.workload, list);
      const canDown = customOn || t.custom.length === 0;
      let arrived = false;
      try {
        for (const phase of plans.get(t.workload)!) {
          if (phase.name === "calm" && phase.cycle === "resource" && !canDown) {
            report.note(`${t.workload}: scale-down not checked: its HPA also reads custom metrics, which need the custom metrics API (${customReason})`);
            continue;
          }
          list.push(await runPhaseOf(s, driver, t, phase));
          if (phase.peak) {
            arrived = true;
            await barrier.arrive();
          }
        }
      } catch (error) {
        report.check(label, `${t.workload}: the scaling script`, false, (error as Error).message);
      } finally {
        if (!arrived && cycles.resource) await barrier.arrive();
      }
    });
    const peak = (async () => {
      if (!cycles.resource) return;
      await barrier.whenAllArrived();
      try {
        out.peak = await peakChecks(s, targets);
        await atPeak();
      } finally {
        barrier.open();
      }
    })();
    await Promise.all([...scripts, peak]);

    // Never above the maximum, and back at the minimum.
    for (const t of targets) {
      const highest = s.observer.highest.get(t.workload) ?? 0;
      report.check(label, `${t.workload}: never above its maximum`, highest <= t.spec.maxReplicas, `highest ${highest}, max ${t.spec.maxReplicas}`);
      const now = s.observer.latest?.workloads.get(t.workload)?.specReplicas;
      if (plans.get(t.workload)!.length > 0 && (customOn || t.custom.length === 0)) report.check(label, `${t.workload}: back at its minimum`, now === t.spec.minReplicas, `${now} (min ${t.spec.minReplicas})`);
      out.scaling.push(row(s, t, outcomes.get(t.workload) ?? []));
    }
    if (withCustom) {
      for (const t of targets.filter((x) => !x.active && x.custom.length > 0)) {
        report.note(`${t.workload}: the idle colour takes no traffic; its custom metrics hold it at its minimum`);
      }
    }
    if (driver.patchErrors > 0) report.note(`load driver: ${driver.patchErrors} annotation patches refused`);
    report.note(`scaling: ${Math.round((Date.now() - started) / 1000)} s`);
  } catch (error) {
    report.check(label, "the scaling scenario", false, (error as Error).message);
  } finally {
    await driver.stop();
    // Processes first, then their APIServices: released, or the stack's namespaces never delete.
    if (custom) {
      await custom.adapter.stop();
      await custom.prometheus.stop();
      custom.discovery.close();
      await releaseApiService(cp, custom.ownership);
    }
    if (metricsServer) {
      await metricsServer.process.stop();
      await releaseApiService(cp, metricsServer.ownership);
    }
  }
}

function row(s: ScenarioContext, t: Target, outcomes: readonly PhaseOutcome[]): ScalingRow {
  // "cpu resource utilization (percentage of request) above target", "pods metric queue_length
  // above target", or at the maximum "the HPA was able to … from pods metric queue_length (at max)".
  const short = (r: string) =>
    r
      .replace(/^the HPA was able to successfully calculate a replica count from /, "")
      .replace(/ \(percentage of request\)/, "")
      .replace(/ resource utilization/, "")
      .replace(/ above target$/, "")
      .replace(/^pods metric /, "");
  const of = (cycle: Phase["cycle"]) => outcomes.filter((o) => o.phase.cycle === cycle).map((o) => ({ o, p: o.phase }));
  const drivers = (cycle: Phase["cycle"]) => [...new Set(of(cycle).flatMap(({ o }) => o.drivers.map(short)))];
  // From the first loaded phase's start to the first step that reached the maximum; from calm's
  // start to the first step that reached the minimum.
  const seconds = (cycle: Phase["cycle"], up: boolean) => {
    const list = of(cycle).filter(({ p }) => (p.name === "calm") !== up);
    const start = list[0]?.o.start;
    const target = up ? t.spec.maxReplicas : t.spec.minReplicas;
    const hit = list.flatMap(({ o }) => o.changes).find((c) => c.to === target);
    return start !== undefined && hit ? Math.round((hit.at - start) / 1000) : undefined;
  };
  return {
    workload: t.workload,
    min: t.spec.minReplicas,
    max: t.spec.maxReplicas,
    reached: s.observer.highest.get(t.workload) ?? 0,
    drivers: drivers("resource"),
    upSeconds: seconds("resource", true),
    downSeconds: seconds("resource", false),
    customUpSeconds: seconds("custom", true),
    customDownSeconds: seconds("custom", false),
    customDrivers: drivers("custom"),
  };
}

/**
 * At the peak: every workload at the pod count the capacity model promised, every pod admitted by
 * the quota (its use reported and equal to the model's requests), every PDB able to lose a pod,
 * and Terraform content with the HPAs' replica counts.
 */
async function peakChecks(s: ScenarioContext, targets: readonly Target[]): Promise<string> {
  const { cp, report, label, config, namespace, observer } = s;
  const capacity = environmentCapacity(config);
  const sample = observer.latest!;
  const wrong: string[] = [];
  let counted = 0;
  let terminalRequests = 0;
  // A CloudNativePG cluster's pods are the operator's to make, and the operator does not run on
  // kwok (charts.ts leaves its releases out): the model counts them, the cluster cannot.
  let absentPods = 0;
  let absentRequests = 0;
  const absent: string[] = [];
  for (const w of platformWorkloads(config)) {
    const want = w.pods.on.max;
    let have: number;
    if (w.kind === "Cluster") {
      absentPods += want;
      absentRequests += want * w.perPod.cpuRequestMillis;
      absent.push(`${w.name} ${want}`);
      continue;
    }
    if (w.kind === "Job") {
      const jobs = (await cp.list(`/apis/batch/v1/namespaces/${namespace}/jobs`)).filter((j) => j.metadata.name.startsWith(w.name));
      have = jobs.reduce((n, j) => n + (j.status?.succeeded ?? 0), 0);
      terminalRequests += have * w.perPod.cpuRequestMillis;
    } else {
      const view = sample.workloads.get(w.name);
      have = view ? observer.podsOf(sample, w.name).filter((p) => p.ready).length : 0;
    }
    counted += have;
    if (have !== want) wrong.push(`${w.name} ${have}/${want}`);
  }
  report.check(
    label,
    `at the peak, every workload runs the pods the capacity model promised (${capacity.max.pods} at maximum scale)`,
    wrong.length === 0 && counted + absentPods === capacity.max.pods,
    `${counted} pods${absent.length ? ` + the database cluster's ${absent.join(", ")} (the operator's pods, not run on kwok)` : ""}${wrong.length ? `; off: ${wrong.join(", ")}` : ""} (HPAs: ${targets.map((t) => `${t.workload} ${sample.workloads.get(t.workload)?.specReplicas}`).join(", ")})`,
  );
  const quota = (await cp.list(`/api/v1/namespaces/${namespace}/resourcequotas`))[0];
  const used = quota?.status?.used ?? {};
  const hard = quota?.status?.hard ?? {};
  const wantCpu = capacity.max.resources.cpuRequestMillis - terminalRequests - absentRequests;
  const usedCpu = parseCpuMillis(String(used["requests.cpu"] ?? "0")) ?? 0;
  const refused = (await cp.list(`/api/v1/namespaces/${namespace}/events?fieldSelector=${encodeURIComponent("reason=FailedCreate")}`)).filter((e) => /exceeded quota/.test(e.message ?? ""));
  const quotaText = quota
    ? `pods ${used.pods}/${hard.pods}, requests.cpu ${used["requests.cpu"]}/${hard["requests.cpu"]}, requests.memory ${used["requests.memory"]}/${hard["requests.memory"]}, limits.cpu ${used["limits.cpu"]}/${hard["limits.cpu"]}, limits.memory ${used["limits.memory"]}/${hard["limits.memory"]}`
    : "no quota";
  report.check(
    label,
    "at the peak, the quota admitted every pod and counts the model's requests",
    !!quota && refused.length === 0 && Number(used.pods) <= Number(hard.pods) && usedCpu === wantCpu,
    `${quotaText}; model requests.cpu ${wantCpu}m${refused.length ? `; refused: ${refused.map((e) => e.message).slice(0, 3).join("; ")}` : ""}`,
  );
  // The disruption controller catches up within seconds of the last pod becoming ready.
  let pdbs: Json[] = [];
  const deadline = Date.now() + 60_000;
  do {
    pdbs = await cp.list(`/apis/policy/v1/namespaces/${namespace}/poddisruptionbudgets`);
    if (pdbs.every((p) => (p.status?.disruptionsAllowed ?? 0) >= 1)) break;
    await sleep(2000);
  } while (Date.now() < deadline);
  const blocked = pdbs.filter((p) => (p.status?.disruptionsAllowed ?? 0) < 1);
  report.check(
    label,
    "at the peak, every PodDisruptionBudget allows at least one disruption",
    pdbs.length > 0 && blocked.length === 0,
    `${pdbs.length} PDBs${blocked.length ? `; blocked: ${blocked.map((p) => `${p.metadata.name} (allowed ${p.status?.disruptionsAllowed ?? 0}, healthy ${p.status?.currentHealthy}/${p.status?.expectedPods})`).join(", ")}` : ""}`,
  );
  const plan = s.plan();
  report.check(label, "at the peak, terraform plan -detailed-exitcode exits 0 (Terraform leaves the HPAs' counts alone)", plan.code === 0, plan.detail);
  return `${counted} pods${absentPods ? ` + ${absentPods} database cluster pods not run on kwok` : ""} (model: ${capacity.max.pods}); quota ${quotaText}`;
}

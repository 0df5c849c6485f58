/**
 * Voluntary and involuntary disruptions, for real: `kubectl drain` of every fake node in turn
 * (evictions through the PodDisruptionBudgets; kwok's pod-delete stage completes them), and a
 * node failing (kwok's node-not-ready chaos stage), with the node lifecycle controller's taints
 * and evictions deciding what moves.
 *
 * Availability is read from the observer's samples (one per second): a workload's ready pods
 * against the minimum its budget in the config guarantees (the intent, not the PDB in the
 * cluster, so a PDB rendered wrong fails here).
 */
import { spawn } from "node:child_process";
import type { DisruptionSettings } from "../../config/schema";
import { platformWorkloads } from "../../config/capacity";
import { NODE_NOT_READY_LABEL, NODES, sleep } from "./control-plane";
import { matches, type Sample } from "./observe";
import type { ScenarioContext, StackScenarioReport } from "./scenario-context";

type Json = Record<string, any>;


/** A drain that takes longer than this never finishes, as far as this check is concerned. */
export const DRAIN_BOUND_SECONDS = 180;
/** Stateless services back on the remaining nodes within this of a node failing. */
export const STATELESS_RECOVERY_BOUND_SECONDS = 180;

/** Pods of `replicas` a budget keeps available during a voluntary disruption (Kubernetes rounds percentages up). */
export function budgetMinimum(budget: DisruptionSettings, replicas: number): number {
  const scaled = (v: number | string) => (typeof v === "number" ? v : Math.ceil((replicas * Number(v.slice(0, -1))) / 100));
  if (budget.minAvailable !== undefined) return scaled(budget.minAvailable);
  return Math.max(0, replicas - scaled(budget.maxUnavailable ?? 1));
}

/** Every workload's voluntary-disruption budget, from the config. */
function budgets(s: ScenarioContext): Map<string, DisruptionSettings> {
  const out = new Map<string, DisruptionSettings>();
  for (const w of platformWorkloads(s.config)) {
    if (w.kind === "Job") continue;
    const service = s.config.services.find((x) => w.name === x.name || w.name.startsWith(`${x.name}-`));
    // The data tier and PgBouncer: maxUnavailable 1 (constructs/stateful-service.ts, pgbouncer.ts).
    out.set(w.name, service ? service.disruption : { maxUnavailable: 1 });
  }
  return out;
}

/** Workloads whose ready pods are fewer than their budget's minimum in this sample. */
function belowBudget(s: ScenarioContext, sample: Sample, budget: Map<string, DisruptionSettings>): { workload: string; ready: number; replicas: number; minimum: number }[] {
  const out: { workload: string; ready: number; replicas: number; minimum: number }[] = [];
  for (const [name, b] of budget) {
    const w = sample.workloads.get(name);
    if (!w) continue;
    const ready = s.observer.podsOf(sample, name).filter((p) => p.ready).length;
    const minimum = budgetMinimum(b, w.specReplicas);
    if (ready < minimum) out.push({ workload: name, ready, replicas: w.specReplicas, minimum });
  }
  return out;
}

/** The workload with the least headroom above its budget in a sample: `api-gateway-blue 9/10`. */
function tightest(s: ScenarioContext, sample: Sample, budget: Map<string, DisruptionSettings>): { text: string; margin: number } {
  let best = { text: "-", margin: Infinity, fraction: 1 };
  for (const [name, b] of budget) {
    const w = sample.workloads.get(name);
    if (!w || w.specReplicas === 0) continue;
    const ready = s.observer.podsOf(sample, name).filter((p) => p.ready).length;
    const margin = ready - budgetMinimum(b, w.specReplicas);
    const fraction = ready / w.specReplicas;
    if (margin < best.margin || (margin === best.margin && fraction < best.fraction)) best = { text: `${name} ${ready}/${w.specReplicas}`, margin, fraction };
  }
  return best;
}

function run(command: string, args: readonly string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, [...args], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/**
 * Every workload of these kinds has all its pods ready on other nodes; with `gone`, none of its
 * pods is left on `node`, not even terminating (a drain waits for that).
 */
function settledOff(s: ScenarioContext, sample: Sample, node: string, kinds: readonly string[], gone = false): boolean {
  for (const w of sample.workloads.values()) {
    if (!kinds.includes(w.kind)) continue;
    if (s.observer.podsOf(sample, w.name).filter((p) => p.ready && p.node !== node).length < w.specReplicas) return false;
    if (gone && sample.pods.some((p) => p.node === node && matches(p.labels, w.selector))) return false;
  }
  return true;
}

/** Per workload, the spread of its pods over the nodes: `api-gateway-blue 4/3/3`. */
function spreadOf(s: ScenarioContext, sample: Sample): { workload: string; counts: number[]; skew: number }[] {
  const out: { workload: string; counts: number[]; skew: number }[] = [];
  for (const w of sample.workloads.values()) {
    if (w.kind !== "Deployment" || w.specReplicas < 2) continue;
    const counts = NODES.map((n) => s.observer.podsOf(sample, w.name).filter((p) => p.node === n.name).length);
    out.push({ workload: w.name, counts, skew: Math.max(...counts) - Math.min(...counts) });
  }
  return out;
}

/** `kubectl drain` of every node in turn, uncordoned after. */
export async function runDrains(s: ScenarioContext, out: StackScenarioReport): Promise<void> {
  const { report, label, cp } = s;
  if (!s.tools.kubectl) {
    report.note("drain skipped: kubectl is not on PATH");
    out.skipped.push("drain: no kubectl");
    return;
  }
  const budget = budgets(s);
  const first = s.observer.latest!;
  // The Deployments ask for a soft spread over hostnames and zones (maxSkew 1, ScheduleAnyway).
  const spread = spreadOf(s, first);
  const skewed = spread.filter((x) => x.skew > 1);
  report.check(
    label,
    `pods are spread over the ${NODES.length} nodes as the Deployments ask (skew <= 1)`,
    skewed.length === 0,
    spread.map((x) => `${x.workload} ${x.counts.join("/")}`).join(", "),
  );
  for (const node of NODES) {
    const before = s.observer.latest!;
    const onNode = before.pods.filter((p) => p.node === node.name && !p.terminating);
    const evicted = onNode.length;
    const violations: string[] = [];
    let low = { text: "-", margin: Infinity };
    const unsubscribe = s.observer.subscribe((sample) => {
      for (const v of belowBudget(s, sample, budget)) violations.push(`${v.workload} ${v.ready}/${v.replicas} < ${v.minimum}`);
      const t = tightest(s, sample, budget);
      if (t.margin < low.margin) low = t;
    });
    const started = Date.now();
    const drain = await run(
      s.tools.kubectl!,
      [`--kubeconfig=${cp.kubeconfig}`, "drain", node.name, "--ignore-daemonsets", "--delete-emptydir-data", `--timeout=${DRAIN_BOUND_SECONDS}s`],
      (DRAIN_BOUND_SECONDS + 30) * 1000,
    );
    const seconds = Math.round((Date.now() - started) / 1000);
    const moved = await s.observer.until((sample) => settledOff(s, sample, node.name, ["Deployment", "StatefulSet"], true), 120_000);
    unsubscribe();
    const evictions = drain.output.split("\n").filter((l) => / evicted$/.test(l.trim())).length;
    report.check(label, `drain ${node.name}: completes within ${DRAIN_BOUND_SECONDS} s`, drain.code === 0 && seconds <= DRAIN_BOUND_SECONDS, `${seconds} s, ${evictions} evictions of ${evicted} pods${drain.code === 0 ? "" : `\n      ${drain.output.trim().split("\n").slice(-4).join("\n      ")}`}`);
    report.check(label, `drain ${node.name}: no workload below its disruption budget's minimum`, violations.length === 0, [...new Set(violations)].slice(0, 6).join("; ") || `lowest: ${low.text}`);
    report.check(label, `drain ${node.name}: every evicted pod's replacement is Ready on another node`, moved, moved ? "" : "not every workload is fully ready off the node within 120 s");
    out.drains.push({ node: node.name, evictions, seconds, lowest: low.text });
    await run(s.tools.kubectl!, [`--kubeconfig=${cp.kubeconfig}`, "uncordon", node.name], 30_000);
  }
}

/**
 * A node fails (kwok's node-not-ready stage: its kubelet reports NotReady). The node lifecycle
 * controller taints it NoExecute; Deployments' pods leave after their toleration (30 s, constructs/
 * scheduling.ts), StatefulSets' after the cluster default (300 s). Returns once the stateless
 * services are back; `background` resolves when the data tier is back and the node restored.
 */
export async function runNodeFailure(s: ScenarioContext, out: StackScenarioReport): Promise<{ background: Promise<void> }> {
  const { report, label, cp, observer } = s;
  const start = observer.latest!;
  // The node that holds a data-tier pod, so the data tier's behaviour is seen too; else the busiest.
  const stateful = [...start.workloads.values()].filter((w) => w.kind === "StatefulSet").flatMap((w) => observer.podsOf(start, w.name));
  const busiest = [...NODES].sort((a, b) => start.pods.filter((p) => p.node === b.name).length - start.pods.filter((p) => p.node === a.name).length)[0]!;
  const node = stateful[0]?.node || busiest.name;
  const victims = start.pods.filter((p) => p.node === node && !p.terminating && p.phase === "Running");
  const statefulVictims = victims.filter((p) => stateful.some((x) => x.name === p.name));
  const lowest = { text: "-", margin: Infinity };
  const budget = budgets(s);
  const unsubscribe = observer.subscribe((sample) => {
    const t = tightest(s, sample, budget);
    if (t.margin < lowest.margin) Object.assign(lowest, t);
  });
  // kwok's node-not-ready stage writes the node's status from its template, which has no
  // addresses: the InternalIP metrics-server scrapes by is gone, and stays gone after recovery
  // (kwok's initialisation stage, which sets it, runs once). A real kubelet reports it again.
  const addresses = ((await cp.api("GET", `/api/v1/nodes/${node}`)).body?.status?.addresses ?? []) as Json[];
  const t0 = Date.now();
  const label0 = await cp.api("PATCH", `/api/v1/nodes/${node}`, { metadata: { labels: { [NODE_NOT_READY_LABEL]: "true" } } }, "application/merge-patch+json");
  if (label0.status !== 200) throw new Error(`labelling ${node} for the node-not-ready stage: ${label0.status}`);
  const notReady = await waitNode(s, node, false, 60_000);
  report.check(label, `node failure: ${node} turns NotReady (kwok node-not-ready stage)`, notReady, `${Math.round((Date.now() - t0) / 1000)} s; ${victims.length} pods on it (${statefulVictims.map((p) => p.name).join(", ") || "no data-tier pod"})`);
  const back = await observer.until((sample) => settledOff(s, sample, node, ["Deployment"]), STATELESS_RECOVERY_BOUND_SECONDS * 1000);
  const statelessSeconds = Math.round((Date.now() - t0) / 1000);
  report.check(
    label,
    `node failure: every Deployment is fully ready on the remaining nodes within ${STATELESS_RECOVERY_BOUND_SECONDS} s`,
    back,
    `${statelessSeconds} s after the failure; lowest availability ${lowest.text}`,
  );
  // The Deployments' pods on the node were evicted (terminating, or already gone), not left there.
  const now = observer.latest!;
  const stayed = victims.filter((v) => !statefulVictims.includes(v) && now.pods.some((p) => p.name === v.name && !p.terminating));
  report.check(label, "node failure: the Deployments' pods on the failed node were evicted", stayed.length === 0, stayed.map((p) => p.name).join(", "));
  const refused = (await cp.list(`/api/v1/namespaces/${s.namespace}/events?fieldSelector=${encodeURIComponent("reason=FailedCreate")}`)).filter(
    (e: Json) => /exceeded quota/.test(e.message ?? "") && Date.parse(e.lastTimestamp ?? e.eventTime) >= t0,
  );
  report.check(label, "node failure: the quota admitted every replacement pod", refused.length === 0, refused.map((e: Json) => e.message).slice(0, 3).join("; "));
  out.nodeFailure = { node, pods: victims.length, statelessSeconds: back ? statelessSeconds : undefined };
  const background = (async () => {
    try {
      if (statefulVictims.length > 0) {
        // The data tier keeps the cluster's default toleration (300 s): its pods leave later.
        const moved = await observer.until((sample) => settledOff(s, sample, node, ["Deployment", "StatefulSet"]), 420_000);
        const dataSeconds = Math.round((Date.now() - t0) / 1000);
        report.check(label, "node failure: the data tier is back, on another node, after its toleration", moved, `${dataSeconds} s after the failure (${statefulVictims.map((p) => p.name).join(", ")})`);
        if (out.nodeFailure) out.nodeFailure = { ...out.nodeFailure, dataTierSeconds: moved ? dataSeconds : undefined };
      }
    } finally {
      unsubscribe();
      await cp.api("PATCH", `/api/v1/nodes/${node}`, { metadata: { labels: { [NODE_NOT_READY_LABEL]: null } } }, "application/merge-patch+json");
      const ready = await waitNode(s, node, true, 120_000);
      const restored = await restoreAddresses(s, node, addresses);
      report.check(label, `node failure: ${node} recovers and takes pods again`, ready && restored.ok, [ready ? "" : "still NotReady after 120 s", restored.detail].filter(Boolean).join("; "));
    }
  })();
  return { background };
}

/**
 * Puts back the addresses a node had before kwok's chaos stage dropped them (see runNodeFailure),
 * as its kubelet would report them on recovery; otherwise the pods scheduled there afterwards
 * have no resource metrics, and every HPA treats them as missing (at target on a scale-down, so
 * scale-downs stall for a stabilization window at a time).
 */
async function restoreAddresses(s: ScenarioContext, node: string, addresses: readonly Json[]): Promise<{ ok: boolean; detail: string }> {
  const has = (list: readonly Json[]) => list.some((a) => a.type === "InternalIP");
  const now = ((await s.cp.api("GET", `/api/v1/nodes/${node}`)).body?.status?.addresses ?? []) as Json[];
  if (has(now) || !has(addresses)) return { ok: has(now), detail: has(now) ? "" : "the node has no InternalIP, before or after" };
  const patch = await s.cp.api("PATCH", `/api/v1/nodes/${node}/status`, { status: { addresses } }, "application/merge-patch+json");
  const after = ((await s.cp.api("GET", `/api/v1/nodes/${node}`)).body?.status?.addresses ?? []) as Json[];
  s.report.note(`node failure: kwok's node-not-ready stage dropped ${node}'s addresses; restored as its kubelet would report them (${patch.status})`);
  if (!has(after)) return { ok: false, detail: `addresses not restored (${patch.status})` };
  // Where metrics-server runs (the scaling scenario), it reads the node again.
  const api = await s.cp.api("GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io");
  const served = (api.body?.status?.conditions ?? []).some((c: Json) => c.type === "Available" && c.status === "True");
  if (!served) return { ok: true, detail: "" };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if ((await s.cp.api("GET", `/apis/metrics.k8s.io/v1beta1/nodes/${node}`)).status === 200) return { ok: true, detail: "metrics-server reads it again" };
    await sleep(2000);
  }
  return { ok: false, detail: "metrics-server has no metrics for it 60 s after its addresses were restored" };
}

async function waitNode(s: ScenarioContext, node: string, ready: boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await s.cp.nodeReady(node)) === ready) {
      if (!ready) return true;
      const n = await s.cp.api("GET", `/api/v1/nodes/${node}`);
      const taints = (n.body?.spec?.taints ?? []) as Json[];
      if (!taints.some((t) => t.key === "node.kubernetes.io/not-ready" || t.key === "node.kubernetes.io/unreachable")) return true;
    }
    await sleep(1000);
  }
  return false;
}

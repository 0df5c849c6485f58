/**
 * The scenarios' eyes: one sample of the platform namespace per second (Deployments,
 * StatefulSets, HPAs, pods, from the API server's watch cache), and for every Deployment the
 * history of its replica count, with the HPA's own account of which metric it scaled on.
 */
import { type ControlPlane, sleep } from "./control-plane";

type Json = Record<string, any>;


/** A pod as the scenarios need it. */
export interface PodView {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly node: string;
  readonly phase: string;
  readonly ready: boolean;
  readonly terminating: boolean;
  readonly owner: string;
  readonly createdAt: number;
}

export interface WorkloadView {
  readonly kind: "Deployment" | "StatefulSet";
  readonly name: string;
  readonly selector: Record<string, string>;
  readonly specReplicas: number;
  readonly readyReplicas: number;
}

export interface HpaView {
  readonly name: string;
  readonly target: string;
  readonly desiredReplicas: number;
  readonly currentReplicas: number;
  readonly currentMetrics: readonly Json[];
  readonly conditions: readonly Json[];
}

export interface Sample {
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly workloads: ReadonlyMap<string, WorkloadView>;
  readonly hpas: ReadonlyMap<string, HpaView>;
  readonly pods: readonly PodView[];
}

/** One change of a Deployment's replica count, as the sampler saw it. */
export interface ReplicaChange {
  readonly at: number;
  readonly from: number;
  readonly to: number;
  /** The HPA's ScalingActive message at that moment: which metric it computed the count from. */
  readonly reason: string;
}

/** Whether labels satisfy an equality selector. */
export const matches = (labels: Record<string, string>, selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

export class Observer {
  latest?: Sample;
  /** Per workload, every change of `spec.replicas` since the observer started. */
  readonly changes = new Map<string, ReplicaChange[]>();
  /** Per workload, the largest `spec.replicas` seen. */
  readonly highest = new Map<string, number>();
  private readonly listeners = new Set<(s: Sample) => void>();
  private running = false;
  private loop?: Promise<void>;
  /** Sampling errors (the API server refused or timed out), counted, not fatal. */
  errors = 0;
  /** The longest time between two samples, ms: how stale a check's view could have been. */
  longestGap = 0;

  constructor(
    private readonly cp: ControlPlane,
    readonly namespace: string,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const started = Date.now();
        try {
          this.record(await this.sample());
        } catch {
          this.errors++;
        }
        await sleep(Math.max(0, 1000 - (Date.now() - started)));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Calls `fn` with every sample until the returned function is called. */
  subscribe(fn: (s: Sample) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Waits for a sample that satisfies `check`; false after `timeoutMs`. */
  async until(check: (s: Sample) => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.latest && check(this.latest)) return true;
      await sleep(500);
    }
    return !!this.latest && check(this.latest);
  }

  /** Pods a workload's selector matches, not terminating. */
  podsOf(sample: Sample, workload: string): PodView[] {
    const w = sample.workloads.get(workload);
    if (!w) return [];
    return sample.pods.filter((p) => !p.terminating && p.phase !== "Succeeded" && p.phase !== "Failed" && matches(p.labels, w.selector));
  }

  async sample(): Promise<Sample> {
    const ns = this.namespace;
    const cached = "?resourceVersion=0";
    const [deployments, statefulSets, hpas, pods] = await Promise.all([
      this.cp.list(`/apis/apps/v1/namespaces/${ns}/deployments${cached}`),
      this.cp.list(`/apis/apps/v1/namespaces/${ns}/statefulsets${cached}`),
      this.cp.list(`/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers${cached}`),
      this.cp.list(`/api/v1/namespaces/${ns}/pods${cached}`),
    ]);
    const workloads = new Map<string, WorkloadView>();
    for (const [kind, items] of [
      ["Deployment", deployments],
      ["StatefulSet", statefulSets],
    ] as const) {
      for (const d of items) {
        workloads.set(d.metadata.name, {
          kind,
          name: d.metadata.name,
          selector: d.spec.selector.matchLabels ?? {},
          specReplicas: d.spec.replicas ?? 0,
          readyReplicas: d.status?.readyReplicas ?? 0,
        });
      }
    }
    const hpaViews = new Map<string, HpaView>();
    for (const h of hpas) {
      hpaViews.set(h.metadata.name, {
        name: h.metadata.name,
        target: h.spec.scaleTargetRef.name,
        desiredReplicas: h.status?.desiredReplicas ?? 0,
        currentReplicas: h.status?.currentReplicas ?? 0,
        currentMetrics: h.status?.currentMetrics ?? [],
        conditions: h.status?.conditions ?? [],
      });
    }
    const podViews: PodView[] = pods.map((p) => ({
      name: p.metadata.name,
      labels: p.metadata.labels ?? {},
      node: p.spec.nodeName ?? "",
      phase: p.status?.phase ?? "",
      ready: (p.status?.conditions ?? []).some((c: Json) => c.type === "Ready" && c.status === "True"),
      terminating: !!p.metadata.deletionTimestamp,
      owner: p.metadata.ownerReferences?.[0]?.name ?? "",
      createdAt: Date.parse(p.metadata.creationTimestamp),
    }));
    return { at: Date.now(), workloads, hpas: hpaViews, pods: podViews };
  }

  private record(sample: Sample): void {
    const previous = this.latest;
    if (previous) this.longestGap = Math.max(this.longestGap, sample.at - previous.at);
    this.latest = sample;
    for (const [name, w] of sample.workloads) {
      if (w.kind !== "Deployment") continue;
      this.highest.set(name, Math.max(this.highest.get(name) ?? 0, w.specReplicas));
      const before = previous?.workloads.get(name)?.specReplicas;
      if (before !== undefined && before !== w.specReplicas) {
        const hpa = [...sample.hpas.values()].find((h) => h.target === name);
        const active = hpa?.conditions.find((c) => c.type === "ScalingActive");
        const list = this.changes.get(name) ?? [];
        list.push({ at: sample.at, from: before, to: w.specReplicas, reason: active?.message ?? "" });
        this.changes.set(name, list);
      }
    }
    for (const fn of this.listeners) fn(sample);
  }
}

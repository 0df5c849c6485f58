/**
 * Load on the fake pods. kwok runs no containers, so the harness plays the traffic: per workload,
 * a total CPU, memory, queue length and request rate spread evenly over its ready pods (as a
 * load balancer spreads requests), and a latency every request takes.
 *
 * - CPU and memory reach metrics-server through kwok: the driver writes each pod's share into the
 *   pod annotations kwok's usage-from-annotation ClusterResourceUsage reads, and kwok serves it on
 *   the node's kubelet resource-metrics endpoint.
 * - Application metrics reach Prometheus through a small exporter on 127.0.0.1, which answers a
 *   scrape for `?namespace=…&pod=…` with that pod's series, named and labelled as the metrics
 *   contract (config/metrics.ts) says the services expose them.
 */
import { createServer, type Server } from "node:http";
import { METRICS } from "../../config/metrics";
import { type ControlPlane, USAGE_ANNOTATIONS } from "./control-plane";
import type { Observer, Sample } from "./observe";

/** The traffic one workload serves. Totals are spread over its ready pods; latency is per request. */
export interface Load {
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  /** Work items waiting, summed over the pods. */
  readonly queue: number;
  readonly requestsPerSecond: number;
  readonly latencySeconds: number;
}

const MI = 2 ** 20;

/** What Prometheus's histogram_quantile returns when every observation falls in one bucket. */
export function histogramQuantile(quantile: number, valueSeconds: number, buckets: readonly number[] = METRICS.httpDuration.buckets): number {
  const upper = buckets.find((b) => valueSeconds <= b);
  if (upper === undefined) return buckets[buckets.length - 1]!;
  const lower = [0, ...buckets][buckets.indexOf(upper)]!;
  return lower + (upper - lower) * quantile;
}

interface PodCounters {
  last: number;
  requests: number;
  /** Observations per bucket (cumulative counts are derived at exposition). */
  inBucket: number[];
  inf: number;
  sum: number;
}

export class LoadDriver {
  private readonly loads = new Map<string, Load>();
  private readonly counters = new Map<string, PodCounters>();
  private readonly written = new Map<string, string>();
  private server?: Server;
  private port = 0;
  private unsubscribe?: () => void;
  private patching = false;
  /** Annotation patches the API server refused (a pod deleted meanwhile is not one). */
  patchErrors = 0;

  constructor(
    private readonly cp: ControlPlane,
    private readonly observer: Observer,
  ) {}

  /** The exporter's address, for Prometheus's scrape configuration. */
  get exporterAddress(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      if (url.pathname !== "/metrics") {
        res.writeHead(404).end();
        return;
      }
      const body = this.exposition(url.searchParams.get("namespace") ?? "", url.searchParams.get("pod") ?? "");
      res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" }).end(body);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
    this.unsubscribe = this.observer.subscribe((s) => void this.drive(s));
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  set(workload: string, load: Load): void {
    this.loads.set(workload, load);
  }

  get(workload: string): Load | undefined {
    return this.loads.get(workload);
  }

  /** Ready pods of a workload: the ones a Service would send traffic to. */
  private readyPods(sample: Sample, workload: string) {
    return this.observer.podsOf(sample, workload).filter((p) => p.ready && p.phase === "Running");
  }

  /** Writes each pod's share of CPU and memory into its annotations, where they changed. */
  private async drive(sample: Sample): Promise<void> {
    if (this.patching) return;
    this.patching = true;
    try {
      const patches: Promise<void>[] = [];
      for (const [workload, load] of this.loads) {
        const pods = this.readyPods(sample, workload);
        if (pods.length === 0) continue;
        const cpu = `${Math.max(1, Math.round(load.cpuMillis / pods.length))}m`;
        const memory = `${Math.max(1, Math.round(load.memoryBytes / pods.length / MI))}Mi`;
        // Ready pods only: a write to a pod kwok is still starting makes it apply its start-up
        // stage twice, and the second patch (a second pod IP) is refused, leaving the pod pending.
        // A pod takes traffic once ready anyway.
        for (const pod of pods) {
          const value = `${cpu}/${memory}`;
          if (this.written.get(pod.name) === value) continue;
          patches.push(
            this.cp
              .api("PATCH", `/api/v1/namespaces/${this.observer.namespace}/pods/${pod.name}`, { metadata: { annotations: { [USAGE_ANNOTATIONS.cpu]: cpu, [USAGE_ANNOTATIONS.memory]: memory } } }, "application/merge-patch+json")
              .then((res) => {
                if (res.status === 200) this.written.set(pod.name, value);
                else if (res.status !== 404) this.patchErrors++;
              })
              .catch(() => {
                this.patchErrors++;
              }),
          );
        }
      }
      await Promise.all(patches);
    } finally {
      this.patching = false;
    }
  }

  /** The pod's series in Prometheus's text format: queue length, requests, latency histogram. */
  private exposition(namespace: string, pod: string): string {
    const sample = this.observer.latest;
    let load: Load | undefined;
    let ready = 1;
    if (sample && namespace === this.observer.namespace) {
      for (const [workload, l] of this.loads) {
        const pods = this.readyPods(sample, workload);
        if (this.observer.podsOf(sample, workload).some((p) => p.name === pod)) {
          load = l;
          ready = Math.max(1, pods.length);
          break;
        }
      }
    }
    const now = Date.now() / 1000;
    const buckets = METRICS.httpDuration.buckets;
    const key = `${namespace}/${pod}`;
    const c = this.counters.get(key) ?? { last: now, requests: 0, inBucket: buckets.map(() => 0), inf: 0, sum: 0 };
    this.counters.set(key, c);
    const rate = load ? load.requestsPerSecond / ready : 0;
    const added = rate * (now - c.last);
    c.last = now;
    if (added > 0 && load) {
      c.requests += added;
      const i = buckets.findIndex((b) => load!.latencySeconds <= b);
      if (i >= 0) c.inBucket[i]! += added;
      else c.inf += added;
      c.sum += added * load.latencySeconds;
    }
    const q = load ? load.queue / ready : 0;
    const { queueLength, httpRequests, httpDuration } = METRICS;
    // One series per metric, with every label the contract names (values a service would use).
    const values: Record<string, string> = { queue: "default", method: "GET", route: "/v1/work", status: "200" };
    const labels = (names: readonly string[], extra: Record<string, string> = {}) =>
      [...names.map((n) => `${n}="${values[n] ?? ""}"`), ...Object.entries(extra).map(([k, v]) => `${k}="${v}"`)].join(",");
    const lines: string[] = [];
    const header = (m: { name: string; type: string; help: string }) => [`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`];
    lines.push(...header(queueLength), `${queueLength.name}{${labels(queueLength.labels)}} ${q}`);
    lines.push(...header(httpRequests), `${httpRequests.name}{${labels(httpRequests.labels)}} ${c.requests}`);
    lines.push(...header(httpDuration));
    let cumulative = 0;
    buckets.forEach((b, i) => {
      cumulative += c.inBucket[i]!;
      lines.push(`${httpDuration.name}_bucket{${labels(httpDuration.labels, { le: String(b) })}} ${cumulative}`);
    });
    lines.push(`${httpDuration.name}_bucket{${labels(httpDuration.labels, { le: "+Inf" })}} ${cumulative + c.inf}`);
    lines.push(`${httpDuration.name}_sum{${labels(httpDuration.labels)}} ${c.sum}`, `${httpDuration.name}_count{${labels(httpDuration.labels)}} ${c.requests}`);
    return `${lines.join("\n")}\n`;
  }
}

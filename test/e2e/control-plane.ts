/**
 * A real Kubernetes control plane on 127.0.0.1, in the style of controller-runtime's envtest plus
 * kwok: etcd, kube-apiserver (PodSecurity admission, an audit log and the aggregation layer on),
 * kube-controller-manager, kube-scheduler, and kwok driving three fake nodes in three zones so
 * Deployments roll out and spread, StatefulSets become ready and Jobs complete without a container
 * runtime. kwok also serves each node's kubelet resource-metrics endpoint (from pod annotations),
 * so a metrics-server on the host can read CPU and memory. Certificates are generated per run
 * with openssl. Every process listens on 127.0.0.1 only and is stopped by PID, also on failure.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from "node:fs";
import { request, type RequestOptions } from "node:https";
import { createServer } from "node:net";
import { join } from "node:path";

export interface ControlPlaneBinaries {
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly kubeScheduler: string;
  readonly kwok: string;
  /** kwok Stage objects (YAML) for node and pod lifecycles. */
  readonly kwokStages: string;
  /**
   * kwok's kubelet resource-metrics `Metric` and its usage-from-annotation `ClusterResourceUsage`
   * (YAML), and its `node-not-ready` chaos Stage.
   * @default none: no metrics endpoints, no chaos
   */
  readonly kwokExtras?: readonly string[];
}

/**
 * The fake nodes: one per zone, so zone and hostname spreading both have somewhere to go. The
 * zones are those production's database names (config/production.ts, postgres.topology.zones):
 * its instances' required node affinity admits no other, so on other zones they stay Pending.
 */
export const NODES = [
  { name: "kwok-node-0", zone: "eu-west-1a" },
  { name: "kwok-node-1", zone: "eu-west-1b" },
  { name: "kwok-node-2", zone: "eu-west-1c" },
] as const;

/** Pod annotations kwok's usage-from-annotation ClusterResourceUsage reads. */
export const USAGE_ANNOTATIONS = { cpu: "kwok.x-k8s.io/usage-cpu", memory: "kwok.x-k8s.io/usage-memory" } as const;

/** The kwok chaos Stage's label: a node carrying it reports Ready=False. */
export const NODE_NOT_READY_LABEL = "node-not-ready.stage.kwok.x-k8s.io";

/** How often the controller manager's HPA controller evaluates (the default is 15 s). */
export const HPA_SYNC_SECONDS = 5;

/** A process started next to the control plane; stopped by PID with it. */
export interface HostProcess {
  readonly name: string;
  readonly pid: number;
  /** True while it runs. */
  running(): boolean;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, then SIGKILL after 5 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  await Promise.race([exited, sleep(5000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

export interface ApiResponse {
  readonly status: number;
  readonly body: any;
}

/**
 * One HTTPS request whose answer is JSON (or plain text, e.g. /readyz), the body parsed where it
 * parses. Rejects on a connection error or when `timeout` passes.
 */
export function httpsJson(options: RequestOptions & { timeout: number }, body?: unknown, contentType = "application/json"): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        ...options,
        agent: false,
        headers: { Accept: "application/json", ...options.headers, ...(payload ? { "Content-Type": contentType, "Content-Length": Buffer.byteLength(payload) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* plain text */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`${options.method ?? "GET"} ${options.path}: timed out`)));
    if (payload) req.write(payload);
    req.end();
  });
}

/** The text a file holds from byte `from` on ("" when it is shorter, or absent). */
export function readFrom(file: string, from: number): string {
  if (!existsSync(file)) return "";
  const size = statSync(file).size;
  if (size <= from) return "";
  const buf = Buffer.alloc(size - from);
  const fd = openSync(file, "r");
  try {
    readSync(fd, buf, 0, buf.length, from);
  } finally {
    closeSync(fd);
  }
  return buf.toString("utf8");
}

/** Whether a CustomResourceDefinition, as the API server returns it, is established. */
export const crdEstablished = (crd: any): boolean => ((crd?.status?.conditions ?? []) as { type: string; status: string }[]).some((c) => c.type === "Established" && c.status === "True");

/** The audit policy: every request at Metadata level (PodSecurity writes its annotations there). */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  verbs: ["get", "list", "watch"]
- level: Metadata
`;

export class ControlPlane {
  readonly dir: string;
  readonly auditLog: string;
  readonly kubeconfig: string;
  private readonly processes: { name: string; child: ChildProcess }[] = [];
  private apiPort = 0;
  private kwokPort = 0;
  private ca = "";
  private clientCert = "";
  private clientKey = "";

  constructor(
    dir: string,
    private readonly bin: ControlPlaneBinaries,
  ) {
    this.dir = dir;
    this.auditLog = join(dir, "audit.log");
    this.kubeconfig = join(dir, "admin.kubeconfig");
  }

  get server(): string {
    return `https://127.0.0.1:${this.apiPort}`;
  }

  /** A file under this run's PKI directory (`ca.crt`, `admin.crt`, `admin.key`, ...). */
  pki(name: string): string {
    return join(this.dir, "pki", name);
  }

  /** Starts every component and waits until the fake node is Ready. */
  async start(): Promise<void> {
    mkdirSync(join(this.dir, "logs"), { recursive: true });
    this.generateCertificates();
    const etcdClient = await freePort();
    const etcdPeer = await freePort();
    this.apiPort = await freePort();
    this.launch("etcd", this.bin.etcd, [
      "--name=e2e",
      `--data-dir=${join(this.dir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=e2e=http://127.0.0.1:${etcdPeer}`,
      "--listen-metrics-urls=",
    ]);
    await this.waitFor("etcd", async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${etcdClient}/health`);
        return res.ok;
      } catch {
        return false;
      }
    });
    const cert = (name: string) => join(this.dir, "pki", name);
    writeFileSync(join(this.dir, "audit-policy.yaml"), AUDIT_POLICY);
    this.launch("kube-apiserver", this.bin.kubeApiserver, [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      "--endpoint-reconciler-type=none",
      `--secure-port=${this.apiPort}`,
      `--tls-cert-file=${cert("apiserver.crt")}`,
      `--tls-private-key-file=${cert("apiserver.key")}`,
      `--client-ca-file=${cert("ca.crt")}`,
      `--service-account-key-file=${cert("sa.pub")}`,
      `--service-account-signing-key-file=${cert("sa.key")}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      "--service-cluster-ip-range=10.96.0.0/12",
      "--authorization-mode=Node,RBAC",
      "--enable-admission-plugins=NodeRestriction,PodSecurity",
      `--audit-policy-file=${join(this.dir, "audit-policy.yaml")}`,
      `--audit-log-path=${this.auditLog}`,
      "--audit-log-format=json",
      "--profiling=false",
      // The aggregation layer, for metrics.k8s.io and custom.metrics.k8s.io served by processes
      // on the host: the API server proxies to them as front-proxy-client, and routes by Service
      // (an ExternalName Service names 127.0.0.1; endpoints may not be loopback).
      `--requestheader-client-ca-file=${cert("front-proxy-ca.crt")}`,
      "--requestheader-allowed-names=front-proxy-client",
      "--requestheader-username-headers=X-Remote-User",
      "--requestheader-group-headers=X-Remote-Group",
      "--requestheader-extra-headers-prefix=X-Remote-Extra-",
      `--proxy-client-cert-file=${cert("front-proxy-client.crt")}`,
      `--proxy-client-key-file=${cert("front-proxy-client.key")}`,
      "--enable-aggregator-routing=false",
      // kwok's informers (client-go 0.36) open watch-list streams, which the watch cache serves
      // only on an etcd with RequestWatchProgress; Debian's 3.4 lacks it, so each stream ends at
      // once and kwok's view of pods lags by up to a minute (stale usage annotations, slow pod
      // deletes). Without a watch cache for pods and nodes, etcd serves those streams itself.
      "--watch-cache-sizes=pods#0,nodes#0",
    ]);
    this.writeKubeconfig(this.kubeconfig, ["admin"]);
    await this.waitFor("kube-apiserver", async () => (await this.api("GET", "/readyz").catch(() => ({ status: 0, body: "" }))).status === 200, 120_000);
    const controllerPort = await freePort();
    // What the controller manager and the scheduler share: the admin kubeconfig for everything,
    // their own serving port on loopback, no leader election.
    const component = (port: number) => [
      `--kubeconfig=${this.kubeconfig}`,
      `--authentication-kubeconfig=${this.kubeconfig}`,
      `--authorization-kubeconfig=${this.kubeconfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${port}`,
      "--leader-elect=false",
      "--profiling=false",
    ];
    this.launch("kube-controller-manager", this.bin.kubeControllerManager, [
      ...component(controllerPort),
      `--service-account-private-key-file=${cert("sa.key")}`,
      `--root-ca-file=${cert("ca.crt")}`,
      `--cluster-signing-cert-file=${cert("ca.crt")}`,
      `--cluster-signing-key-file=${cert("ca.key")}`,
      "--use-service-account-credentials=true",
      // Harness timing, never the product's: the HPA evaluates every 5 s instead of 15 s.
      `--horizontal-pod-autoscaler-sync-period=${HPA_SYNC_SECONDS}s`,
      "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
    ]);
    const schedulerPort = await freePort();
    this.launch("kube-scheduler", this.bin.kubeScheduler, component(schedulerPort));
    this.kwokPort = await freePort();
    // kwok plays every node's kubelet: its server answers for all of them on one loopback port,
    // which each Node reports as its kubelet endpoint (InternalIP 127.0.0.1).
    this.launch(
      "kwok",
      this.bin.kwok,
      [
        `--kubeconfig=${this.kubeconfig}`,
        `--config=${this.bin.kwokStages}`,
        ...(this.bin.kwokExtras ?? []).map((f) => `--config=${f}`),
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--cidr=10.244.0.0/16",
        "--node-ip=127.0.0.1",
        `--node-port=${this.kwokPort}`,
        `--server-address=127.0.0.1:${this.kwokPort}`,
        `--tls-cert-file=${cert("kubelet.crt")}`,
        `--tls-private-key-file=${cert("kubelet.key")}`,
        // Node leases renewed every 10 s, as a kubelet does: kwok's status heartbeat alone comes
        // every 20-45 s, too close to the controller's 50 s grace period on a busy machine; a node
        // that blinks Unknown has its pods marked NotReady, and kwok never readies them again.
        "--node-lease-duration-seconds=40",
      ],
      // Debian's etcd 3.4 lacks RequestWatchProgress, which client-go's watch-list needs.
      { KUBE_FEATURE_WatchListClient: "false" },
    );
    for (const node of NODES) {
      await this.apply("/api/v1/nodes", {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name: node.name,
          annotations: {
            "kwok.x-k8s.io/node": "fake",
            "node.alpha.kubernetes.io/ttl": "0",
            // metrics-server >= 0.7 reads a node's resource metrics from this path.
            "metrics.k8s.io/resource-metrics-path": `/metrics/nodes/${node.name}/metrics/resource`,
          },
          labels: { "kubernetes.io/hostname": node.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "topology.kubernetes.io/zone": node.zone, type: "kwok" },
        },
        status: {
          allocatable: { cpu: "64", memory: "256Gi", pods: "250", "ephemeral-storage": "1Ti" },
          capacity: { cpu: "64", memory: "256Gi", pods: "250", "ephemeral-storage": "1Ti" },
        },
      });
    }
    await this.waitFor("the kwok nodes to be Ready", async () => {
      for (const node of NODES) if (!(await this.nodeReady(node.name))) return false;
      return true;
    }, 60_000);
  }

  /** Whether a node's Ready condition is True. */
  async nodeReady(name: string): Promise<boolean> {
    const node = await this.api("GET", `/api/v1/nodes/${name}`);
    return (node.body?.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");
  }

  /** The port kwok serves the nodes' kubelet endpoints on. */
  get kubeletPort(): number {
    return this.kwokPort;
  }

  /**
   * Starts a process next to the control plane (its output in logs/<name>.log); stopped by PID
   * with the control plane, or earlier through the handle. `cwd`: its working directory.
   */
  startProcess(name: string, command: string, args: readonly string[], env: Record<string, string> = {}, cwd?: string): HostProcess {
    const entry = this.launch(name, command, [...args], env, cwd);
    const processes = this.processes;
    return {
      name,
      pid: entry.child.pid ?? -1,
      running: () => entry.child.exitCode === null && entry.child.signalCode === null,
      async stop() {
        await stopChild(entry.child);
        const i = processes.indexOf(entry);
        if (i >= 0) processes.splice(i, 1);
      },
    };
  }

  /** The last lines of a started process's log. */
  logTail(name: string, lines = 10): string {
    const file = join(this.dir, "logs", `${name}.log`);
    if (!existsSync(file)) return "";
    return readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n");
  }

  /**
   * A serving certificate signed by this run's CA, for a process the API server or another
   * client reaches on 127.0.0.1 under the given DNS names. Returns the certificate and key paths.
   */
  issueServingCertificate(name: string, dnsNames: readonly string[]): { cert: string; key: string } {
    this.leaf(name, `/CN=${name}`, `subjectAltName=IP:127.0.0.1${dnsNames.map((d) => `,DNS:${d}`).join("")}\nextendedKeyUsage=serverAuth\n`);
    return { cert: this.pki(`${name}.crt`), key: this.pki(`${name}.key`) };
  }

  /**
   * A kubeconfig file with one context per name, all pointing at this API server as `user`: admin
   * (its client certificate) unless another is given (a ServiceAccount's token, say).
   */
  writeKubeconfig(path: string, contexts: readonly string[], user?: { readonly name: string; readonly user: Record<string, string> }): void {
    const b64 = (file: string) => readFileSync(join(this.dir, "pki", file)).toString("base64");
    const as = user ?? { name: "admin", user: { "client-certificate-data": b64("admin.crt"), "client-key-data": b64("admin.key") } };
    const config = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "e2e", cluster: { server: this.server, "certificate-authority-data": b64("ca.crt") } }],
      users: [as],
      contexts: contexts.map((name) => ({ name, context: { cluster: "e2e", user: as.name } })),
      "current-context": contexts[0],
    };
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, JSON.stringify(config, null, 2), { mode: 0o600 });
  }

  /** One request to the API server as admin. */
  api(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<ApiResponse> {
    return httpsJson({ host: "127.0.0.1", port: this.apiPort, path, method, ca: this.ca, cert: this.clientCert, key: this.clientKey, timeout: 30_000 }, body, contentType);
  }


  /** Creates an object; an existing one is left as it is. */
  async apply(collection: string, object: unknown): Promise<void> {
    const res = await this.api("POST", collection, object);
    if (res.status !== 201 && res.status !== 409) throw new Error(`POST ${collection}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  }

  /** The items of a list, or [] when the resource type does not exist. */
  async list(path: string): Promise<any[]> {
    const res = await this.api("GET", path);
    if (res.status === 404) return [];
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
    return res.body.items ?? [];
  }

  /** Polls `check` until it holds; throws after `timeoutMs`. */
  async waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const p of this.processes) {
        if (p.child.exitCode !== null) throw new Error(`${p.name} exited (${p.child.exitCode}) while waiting for ${what}; see ${join(this.dir, "logs", `${p.name}.log`)}`);
      }
      if (await check()) return;
      await sleep(250);
    }
    throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
  }

  /** Stops every process, newest first: SIGTERM, then SIGKILL after 5 s. */
  async stop(): Promise<void> {
    for (const { child } of [...this.processes].reverse()) await stopChild(child);
    this.processes.length = 0;
  }

  /** Synchronous last resort (process exit handlers): SIGKILL every process still running. */
  killAll(): void {
    for (const { child } of this.processes) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }

  private launch(name: string, command: string, args: string[], env: Record<string, string> = {}, cwd?: string): { name: string; child: ChildProcess } {
    const log = openSync(join(this.dir, "logs", `${name}.log`), "a");
    const child = spawn(command, args, { stdio: ["ignore", log, log], env: { ...process.env, ...env }, cwd });
    closeSync(log);
    const entry = { name, child };
    this.processes.push(entry);
    return entry;
  }

  private ssl(...args: string[]): void {
    execFileSync("openssl", args, { cwd: join(this.dir, "pki"), stdio: ["ignore", "ignore", "pipe"] });
  }

  /** A key and a certificate signed by `ca` (default the cluster CA). */
  private leaf(name: string, subject: string, ext?: string, ca = "ca"): void {
    const pki = join(this.dir, "pki");
    this.ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
    const args = ["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.crt`, "-days", "1"];
    if (ext) {
      writeFileSync(join(pki, `${name}.ext`), ext);
      args.push("-extfile", `${name}.ext`);
    }
    this.ssl(...args);
  }

  private generateCertificates(): void {
    const pki = join(this.dir, "pki");
    mkdirSync(pki, { recursive: true });
    this.ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=e2e-ca");
    this.leaf(
      "apiserver",
      "/CN=kube-apiserver",
      "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n",
    );
    this.leaf("admin", "/O=system:masters/CN=e2e-admin", "extendedKeyUsage=clientAuth\n");
    // kwok's kubelet endpoint: every node's InternalIP is 127.0.0.1.
    this.leaf("kubelet", "/CN=kwok-kubelet", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    // The aggregation layer's own CA and the client the API server proxies as.
    this.ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "front-proxy-ca.key", "-out", "front-proxy-ca.crt", "-days", "1", "-subj", "/CN=e2e-front-proxy-ca");
    this.leaf("front-proxy-client", "/CN=front-proxy-client", "extendedKeyUsage=clientAuth\n", "front-proxy-ca");
    this.ssl("genrsa", "-out", "sa.key", "2048");
    this.ssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub");
    this.ca = readFileSync(join(pki, "ca.crt"), "utf8");
    this.clientCert = readFileSync(join(pki, "admin.crt"), "utf8");
    this.clientKey = readFileSync(join(pki, "admin.key"), "utf8");
  }

  /** Where the audit log ends now: auditEvents(mark) reads only what comes after. */
  auditMark(): number {
    return existsSync(this.auditLog) ? statSync(this.auditLog).size : 0;
  }

  /**
   * The audit events logged after `from` (a mark), parsed; with `containing`, only the lines that
   * hold that text (the log grows by every status write kwok makes: most lines need no parse).
   */
  auditEvents(from = 0, containing = ""): any[] {
    const lines = readFrom(this.auditLog, from > 0 ? from - 1 : 0).split("\n");
    // The line a mark falls in belongs to before it (read from the byte before the mark, so a mark
    // at a line's start yields an empty first line); the last may be half written.
    if (from > 0) lines.shift();
    lines.pop();
    return lines.filter((line) => line.includes(containing)).map((line) => JSON.parse(line));
  }

  /** Audit events after `from` that carry a PodSecurity violation annotation, for the given namespaces. */
  podSecurityViolations(namespaces: readonly string[], from = 0): { namespace: string; object: string; violation: string }[] {
    const out: { namespace: string; object: string; violation: string }[] = [];
    for (const event of this.auditEvents(from, "pod-security.kubernetes.io/audit-violations")) {
      const annotations = (event.annotations ?? {}) as Record<string, string>;
      const ns = event.objectRef?.namespace;
      if (!namespaces.includes(ns)) continue;
      for (const [key, value] of Object.entries(annotations)) {
        if (key === "pod-security.kubernetes.io/audit-violations") {
          out.push({ namespace: ns, object: `${event.objectRef?.resource}/${event.objectRef?.name ?? ""}`, violation: value });
        }
      }
    }
    return out;
  }
}

/**
 * A real Kubernetes control plane on 127.0.0.1, in the style of controller-runtime's envtest plus
 * kwok: etcd, kube-apiserver (PodSecurity admission and an audit log on), kube-controller-manager,
 * kube-scheduler, and kwok driving one fake node so Deployments roll out, StatefulSets become
 * ready and Jobs complete without a container runtime. Certificates are generated per run with
 * openssl. Every process listens on 127.0.0.1 only and is stopped by PID, also on failure.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
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
}

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ApiResponse {
  readonly status: number;
  readonly body: any;
}

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
      "--horizontal-pod-autoscaler-sync-period=5s",
      "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
    ]);
    const schedulerPort = await freePort();
    this.launch("kube-scheduler", this.bin.kubeScheduler, component(schedulerPort));
    const kwokPort = await freePort();
    this.launch(
      "kwok",
      this.bin.kwok,
      [
        `--kubeconfig=${this.kubeconfig}`,
        `--config=${this.bin.kwokStages}`,
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--cidr=10.244.0.0/16",
        "--node-ip=10.200.0.1",
        `--server-address=127.0.0.1:${kwokPort}`,
      ],
      // Debian's etcd 3.4 lacks RequestWatchProgress, which client-go's watch-list needs.
      { KUBE_FEATURE_WatchListClient: "false" },
    );
    await this.apply("/api/v1/nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: "kwok-node-0",
        annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
        labels: { "kubernetes.io/hostname": "kwok-node-0", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "topology.kubernetes.io/zone": "zone-a", type: "kwok" },
      },
      status: {
        allocatable: { cpu: "64", memory: "256Gi", pods: "250", "ephemeral-storage": "1Ti" },
        capacity: { cpu: "64", memory: "256Gi", pods: "250", "ephemeral-storage": "1Ti" },
      },
    });
    await this.waitFor("the kwok node to be Ready", async () => {
      const node = await this.api("GET", "/api/v1/nodes/kwok-node-0");
      return (node.body?.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");
    }, 60_000);
  }

  /** A kubeconfig file with one context per name, all pointing at this API server as admin. */
  writeKubeconfig(path: string, contexts: readonly string[]): void {
    const b64 = (file: string) => readFileSync(join(this.dir, "pki", file)).toString("base64");
    const config = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "e2e", cluster: { server: this.server, "certificate-authority-data": b64("ca.crt") } }],
      users: [{ name: "admin", user: { "client-certificate-data": b64("admin.crt"), "client-key-data": b64("admin.key") } }],
      contexts: contexts.map((name) => ({ name, context: { cluster: "e2e", user: "admin" } })),
      "current-context": contexts[0],
    };
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, JSON.stringify(config, null, 2), { mode: 0o600 });
  }

  /** One request to the API server as admin. */
  api(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<ApiResponse> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          host: "127.0.0.1",
          port: this.apiPort,
          path,
          method,
          ca: this.ca,
          cert: this.clientCert,
          key: this.clientKey,
          headers: { Accept: "application/json", ...(payload ? { "Content-Type": contentType, "Content-Length": Buffer.byteLength(payload) } : {}) },
          timeout: 30_000,
          agent: false,
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
              /* plain text (readyz) */
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on("error", reject);
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
      if (payload) req.write(payload);
      req.end();
    });
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
    for (const { child } of [...this.processes].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill("SIGTERM");
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    this.processes.length = 0;
  }

  /** Synchronous last resort (process exit handlers): SIGKILL every process still running. */
  killAll(): void {
    for (const { child } of this.processes) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }

  private launch(name: string, command: string, args: string[], env: Record<string, string> = {}): void {
    const log = openSync(join(this.dir, "logs", `${name}.log`), "a");
    const child = spawn(command, args, { stdio: ["ignore", log, log], env: { ...process.env, ...env } });
    closeSync(log);
    this.processes.push({ name, child });
  }

  private generateCertificates(): void {
    const pki = join(this.dir, "pki");
    mkdirSync(pki, { recursive: true });
    const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: pki, stdio: ["ignore", "ignore", "pipe"] });
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=e2e-ca");
    const leaf = (name: string, subject: string, ext?: string) => {
      ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
      const args = ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "1"];
      if (ext) {
        writeFileSync(join(pki, `${name}.ext`), ext);
        args.push("-extfile", `${name}.ext`);
      }
      ssl(...args);
    };
    leaf(
      "apiserver",
      "/CN=kube-apiserver",
      "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n",
    );
    leaf("admin", "/O=system:masters/CN=e2e-admin", "extendedKeyUsage=clientAuth\n");
    ssl("genrsa", "-out", "sa.key", "2048");
    ssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub");
    this.ca = readFileSync(join(pki, "ca.crt"), "utf8");
    this.clientCert = readFileSync(join(pki, "admin.crt"), "utf8");
    this.clientKey = readFileSync(join(pki, "admin.key"), "utf8");
  }

  /** Audit events that carry a PodSecurity violation annotation, for the given namespaces. */
  podSecurityViolations(namespaces: readonly string[]): { namespace: string; object: string; violation: string }[] {
    if (!existsSync(this.auditLog)) return [];
    const out: { namespace: string; object: string; violation: string }[] = [];
    for (const line of readFileSync(this.auditLog, "utf8").split("\n")) {
      if (!line.includes("pod-security.kubernetes.io/")) continue;
      const event = JSON.parse(line);
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

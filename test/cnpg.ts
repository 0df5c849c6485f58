/**
 * A CloudNativePG cluster's instances, run for real on loopback with Debian's PostgreSQL: each
 * configured the way the operator (1.30) configures a pod from the `Cluster` this program renders
 * (the cluster release's values, read from the synthesized stack), so the drills exercise the
 * settings we emit, not a copy of them.
 *
 * What the operator writes, and where this file takes it from (cloudnative-pg v1.30.0):
 * - postgresql.conf: `GlobalDefaultSettings`, then the user's `postgresql.parameters`, then
 *   `MandatorySettings`, `archive_mode`, `synchronous_standby_names`
 *   (pkg/postgres/configuration.go, `CreatePostgresqlConfiguration`);
 * - synchronous_standby_names: `ANY|FIRST n ("…")` over the instance names, healthy standbys first
 *   (pkg/postgres/replication/explicit.go), quoted as `SynchronousStandbyNamesConfig.String`;
 * - pg_hba.conf: its fixed rules, the user's `pg_hba`, then `host all all all scram-sha-256`
 *   (`hbaTemplateString`); streaming replication authenticates with a client certificate;
 * - a standby's override.conf: `primary_conninfo` to the read-write Service as
 *   `streaming_replica`, `sslmode=verify-ca`, `application_name=<pod>`, a replication slot
 *   `_cnpg_<pod>`, `recovery_target_timeline = latest` (pkg/management/postgres/conninfo.go,
 *   configuration.go);
 * - failover: the standby with the highest received LSN, then replayed LSN, then name
 *   (pkg/postgres/status.go, `PostgresqlStatusList.Less`), promoted by its instance manager.
 *
 * What the harness substitutes, because a laptop is not a pod: ports, paths and the listen address
 * (loopback), logging to a file instead of the logging collector's CSV, `shared_buffers` (128MB:
 * memory sizing is not what a drill measures, three 2 GiB buffers on a shared machine are), peer
 * authentication mapped from the harness's OS user, and the read-write Service (a TCP forwarder
 * whose backend the harness switches to the promoted instance, as the operator relabels the pod).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket, connect } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { parse } from "yaml";
import { unescapeLiteral } from "../constructs/terraform-text-plain";
import type { Json } from "./helpers";
import { runAsync } from "./tools";
import { freePort, isRoot, pgBin, waitFor } from "./servers";

/** The values of a synthesized stack's CloudNativePG cluster release. */
export function clusterReleaseValues(stack: Json): Json {
  const release = Object.values((stack.resource?.helm_release ?? {}) as Record<string, Json>).find((r) => r.chart === "cluster");
  if (!release) throw new Error("the stack has no CloudNativePG cluster release");
  return parse(unescapeLiteral(release.values[0])) as Json;
}

/** pkg/postgres/configuration.go, `CnpgConfigurationSettings.GlobalDefaultSettings` (1.30.0). */
const OPERATOR_DEFAULTS: Record<string, string> = {
  archive_timeout: "5min",
  dynamic_shared_memory_type: "posix",
  full_page_writes: "on",
  max_parallel_workers: "32",
  max_worker_processes: "32",
  max_replication_slots: "32",
  shared_memory_type: "mmap",
  ssl_max_protocol_version: "TLSv1.3",
  ssl_min_protocol_version: "TLSv1.3",
  wal_keep_size: "512MB",
  wal_level: "logical",
  wal_log_hints: "on",
  wal_sender_timeout: "5s",
  wal_receiver_timeout: "5s",
};

/**
 * `synchronous_standby_names` as the operator computes it for `primary`: with `required`
 * durability every instance name, healthy standbys first, the primary last; with `preferred`,
 * the healthy standbys only, and `number` capped to them. Empty without a synchronous stanza.
 */
export function synchronousStandbyNames(values: Json, instances: readonly string[], primary: string, healthy: readonly string[]): string {
  const sync = values.cluster.postgresql.synchronous as Json | undefined;
  if (!sync) return "";
  const keyword = sync.method === "first" ? "FIRST" : "ANY";
  const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const standbys = instances.filter((i) => i !== primary);
  if (sync.dataDurability === "preferred") {
    const ready = standbys.filter((s) => healthy.includes(s)).sort();
    return ready.length === 0 ? "" : `${keyword} ${Math.min(sync.number, ready.length)} (${ready.map(quote).join(",")})`;
  }
  const ready = standbys.filter((s) => healthy.includes(s)).sort();
  const others = standbys.filter((s) => !healthy.includes(s)).sort();
  return `${keyword} ${sync.number} (${[...ready, ...others, primary].map(quote).join(",")})`;
}

/** Where an instance lives on this machine, and the TLS material the operator would mount. */
export interface InstancePaths {
  readonly data: string;
  readonly socket: string;
  readonly log: string;
  readonly certs: Certificates;
}

/** A postgresql.conf value, quoted. */
const conf = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** The instance's configuration: the operator's defaults, the stack's parameters, its mandatory settings. */
export function instanceConf(values: Json, options: { port: number; paths: InstancePaths; synchronousStandbyNames: string; archiveCommand: string }): string {
  const parameters: Record<string, string> = { ...OPERATOR_DEFAULTS, ...(values.cluster.postgresql.parameters as Record<string, string>) };
  // Harness: memory sizing is not under test (see the file's header).
  parameters.shared_buffers = "128MB";
  const lines = Object.entries(parameters).map(([k, v]) => `${k} = ${conf(v)}`);
  const { paths } = options;
  lines.push(
    // MandatorySettings, with loopback paths and ports.
    "hot_standby = 'true'",
    "listen_addresses = '127.0.0.1'",
    `port = ${options.port}`,
    "restart_after_crash = 'false'",
    "ssl = 'on'",
    `ssl_cert_file = ${conf(paths.certs.serverCert)}`,
    `ssl_key_file = ${conf(paths.certs.serverKey)}`,
    `ssl_ca_file = ${conf(paths.certs.ca)}`,
    `unix_socket_directories = ${conf(paths.socket)}`,
    "archive_mode = 'on'",
    `archive_command = ${conf(options.archiveCommand)}`,
    `synchronous_standby_names = ${conf(options.synchronousStandbyNames)}`,
    // Harness: a log file instead of the logging collector's CSV.
    "logging_collector = 'off'",
    "log_destination = 'stderr'",
    `hba_file = ${conf(join(paths.data, "pg_hba.conf"))}`,
    `ident_file = ${conf(join(paths.data, "pg_ident.conf"))}`,
    "include_if_exists = 'override.conf'",
    "",
  );
  return lines.join("\n");
}

/** pg_hba.conf: the operator's fixed rules, the stack's `pg_hba`, the operator's default rule. */
export function instanceHba(values: Json): string {
  return [
    "# FIXED RULES (cloudnative-pg 1.30 pkg/postgres/configuration.go, hbaTemplateString)",
    "local all all peer map=local",
    "hostssl postgres streaming_replica all cert map=cnpg_streaming_replica",
    "hostssl replication streaming_replica all cert map=cnpg_streaming_replica",
    "# USER-DEFINED RULES (the stack's cluster.postgresql.pg_hba)",
    ...((values.cluster.postgresql.pg_hba ?? []) as string[]),
    "# DEFAULT RULES",
    "host all all all scram-sha-256",
    "",
  ].join("\n");
}

/** pg_ident.conf: the operator maps its own OS user; the harness maps its OS user to postgres too. */
function instanceIdent(serverUser: string): string {
  const harness = userInfo().username;
  return [`local ${serverUser} postgres`, ...(harness !== serverUser ? [`local ${harness} postgres`] : []), "cnpg_streaming_replica streaming_replica streaming_replica", ""].join("\n");
}

/** A replication slot's name for an instance, as the operator names its HA slots. */
export const slotName = (instance: string) => `_cnpg_${instance.replace(/-/g, "_")}`;

// ------------------------------------------------------------------------------------------------
// TLS: the cluster's CA, the server's certificate, streaming_replica's client certificate
// ------------------------------------------------------------------------------------------------

export interface Certificates {
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly replicaCert: string;
  readonly replicaKey: string;
}

/** EC keys (fast to make) signed by a throwaway CA, readable by the server's OS user. */
export function makeCertificates(dir: string): Certificates {
  mkdirSync(dir, { recursive: true });
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
  const key = (name: string) => openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f(name));
  key("ca.key");
  openssl("req", "-x509", "-new", "-key", f("ca.key"), "-subj", "/CN=drill-ca", "-days", "2", "-out", f("ca.crt"));
  const sign = (name: string, cn: string, ext: string) => {
    key(`${name}.key`);
    openssl("req", "-new", "-key", f(`${name}.key`), "-subj", `/CN=${cn}`, "-out", f(`${name}.csr`));
    writeFileSync(f(`${name}.ext`), ext);
    openssl("x509", "-req", "-in", f(`${name}.csr`), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", f(`${name}.ext`), "-out", f(`${name}.crt`));
  };
  sign("server", "postgres-rw", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  sign("replica", "streaming_replica", "extendedKeyUsage=clientAuth\n");
  const owned = ["ca.crt", "server.crt", "server.key", "replica.crt", "replica.key"].map(f);
  for (const file of owned) {
    chmodSync(file, 0o600);
    if (isRoot) chownSync(file, postgresIds().uid, postgresIds().gid);
  }
  if (isRoot) chownSync(dir, postgresIds().uid, postgresIds().gid);
  return { ca: f("ca.crt"), serverCert: f("server.crt"), serverKey: f("server.key"), replicaCert: f("replica.crt"), replicaKey: f("replica.key") };
}

let ids: { uid: number; gid: number } | undefined;
/** The postgres OS user, which runs the servers when the tests run as root. */
export function postgresIds(): { uid: number; gid: number } {
  ids ??= { uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" })) };
  return ids;
}

/** Runs a server binary as the server's OS user. */
function asServerUser(bin: string, args: string[], env: Record<string, string> = {}): string {
  const [file, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
  return execFileSync(file, argv, { encoding: "utf8", env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

/** The same, without blocking the event loop (the harness's forwarders must keep running). */
export async function asServerUserAsync(bin: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const [file, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
  const done = await runAsync(file, argv, { cwd: "/", env: { ...process.env, ...env } });
  if (done.status !== 0) throw new Error(`${bin} ${args[0] ?? ""} failed (${done.status}): ${done.stderr.slice(-2000)}`);
  return done.stdout;
}

/** Writes a file the server's OS user owns (0600). */
export function writeServerFile(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  if (isRoot) chownSync(path, postgresIds().uid, postgresIds().gid);
}

/** A directory the server's OS user owns (0700). */
export function serverDir(path: string): string {
  mkdirSync(path, { recursive: true });
  chmodSync(path, 0o700);
  if (isRoot) chownSync(path, postgresIds().uid, postgresIds().gid);
  return path;
}

// ------------------------------------------------------------------------------------------------
// Instances
// ------------------------------------------------------------------------------------------------

export interface LsnStatus {
  readonly name: string;
  readonly received: bigint;
  readonly replayed: bigint;
}

/** `0/3000060` → a number that orders like the LSN. */
export function lsn(text: string | null): bigint {
  if (!text) return 0n;
  const [hi, lo] = text.split("/");
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

/** One instance of the cluster: a data directory, a port, a server. */
export class Instance {
  readonly bin = pgBin();
  port = 0;

  constructor(
    readonly name: string,
    readonly paths: InstancePaths,
  ) {}

  /** The superuser over the instance's socket (peer, as the instance manager connects). */
  client(database = "postgres"): Client {
    return new Client({ host: this.paths.socket, port: this.port, user: "postgres", database });
  }

  async query<T = Json>(sql: string, params: unknown[] = [], database = "postgres"): Promise<T[]> {
    const c = this.client(database);
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as T[];
    } finally {
      await c.end();
    }
  }

  /**
   * Writes postgresql.conf, pg_hba.conf, pg_ident.conf (the operator's) and starts the server,
   * with `env` in its environment (the object store's credentials, for archive_command).
   */
  async start(confText: string, hbaText: string, env: Record<string, string> = {}): Promise<void> {
    writeServerFile(join(this.paths.data, "postgresql.conf"), confText);
    writeServerFile(join(this.paths.data, "pg_hba.conf"), hbaText);
    writeServerFile(join(this.paths.data, "pg_ident.conf"), instanceIdent(isRoot ? "postgres" : userInfo().username));
    // Asynchronously: a standby is ready only once it streams, through the harness's forwarders.
    try {
      await asServerUserAsync(join(this.bin, "pg_ctl"), ["-D", this.paths.data, "-l", this.paths.log, "-w", "-t", "120", "start"], env);
    } catch (error) {
      const log = existsSync(this.paths.log) ? readFileSync(this.paths.log, "utf8").split("\n").slice(-25).join("\n") : "(no log)";
      throw new Error(`${this.name} did not start: ${(error as Error).message}\n${log}`);
    }
  }

  /** Reloads the configuration (the instance manager's SIGHUP after it rewrites a file). */
  reload(confText?: string): void {
    if (confText) writeServerFile(join(this.paths.data, "postgresql.conf"), confText);
    asServerUser(join(this.bin, "pg_ctl"), ["-D", this.paths.data, "reload"]);
  }

  /** The postmaster's pid, from postmaster.pid. */
  pid(): number {
    return Number(readFileSync(join(this.paths.data, "postmaster.pid"), "utf8").split("\n")[0]);
  }

  /**
   * SIGKILL to the postmaster and every process under it at once, as a container's or node's death:
   * no shutdown checkpoint, no last WAL shipped.
   */
  kill(): void {
    const root = this.pid();
    const children = new Map<number, number[]>();
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
      } catch {
        // gone already
      }
    }
    const all: number[] = [];
    const walk = (pid: number) => {
      all.push(pid);
      for (const c of children.get(pid) ?? []) walk(c);
    };
    walk(root);
    for (const pid of all) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // exited between the scan and the signal
      }
    }
  }

  stop(): void {
    try {
      asServerUser(join(this.bin, "pg_ctl"), ["-D", this.paths.data, "-m", "immediate", "stop"]);
    } catch {
      // not running
    }
  }

  /** What the instance manager reports to the operator: received and replayed LSNs. */
  async lsnStatus(): Promise<LsnStatus> {
    const [row] = await this.query<{ received: string | null; replayed: string | null }>("SELECT pg_last_wal_receive_lsn()::text AS received, pg_last_wal_replay_lsn()::text AS replayed");
    const replayed = lsn(row!.replayed);
    const received = lsn(row!.received);
    // As the instance manager does: replay read after receive may be ahead.
    return { name: this.name, received: received < replayed ? replayed : received, replayed };
  }

  /** Whether the WAL receiver still streams (the operator waits until none does). */
  async receiving(): Promise<boolean> {
    const rows = await this.query("SELECT status FROM pg_stat_wal_receiver WHERE status = 'streaming'");
    return rows.length > 0;
  }

  /** `pg_promote`, waiting for the end of recovery, as the instance manager promotes. */
  async promote(): Promise<void> {
    await this.query("SELECT pg_promote(true, 60)");
  }
}

/**
 * The operator's choice of a new primary among `standbys` (the old primary is gone): highest
 * received LSN, then highest replayed LSN, then name. With `failoverQuorum`, it refuses unless
 * R + W > N: promotable standbys + synchronous number > standbys in the synchronous list.
 */
export function electPrimary(statuses: readonly LsnStatus[], quorum?: { readonly number: number; readonly standbys: number }): LsnStatus {
  if (quorum && statuses.length + quorum.number <= quorum.standbys) {
    throw new Error(`failover quorum not met: R ${statuses.length} + W ${quorum.number} <= N ${quorum.standbys}`);
  }
  const sorted = [...statuses].sort((a, b) => (a.received !== b.received ? (a.received > b.received ? -1 : 1) : a.replayed !== b.replayed ? (a.replayed > b.replayed ? -1 : 1) : a.name.localeCompare(b.name)));
  if (sorted.length === 0) throw new Error("no standby to promote");
  return sorted[0]!;
}

/** initdb as the operator's bootstrap runs it (SCRAM, UTF-8), as the server's OS user. */
export function initdb(instance: Instance): void {
  serverDir(instance.paths.data);
  asServerUser(join(instance.bin, "initdb"), ["-D", instance.paths.data, "-U", "postgres", "--auth-local=peer", "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-sync"]);
}

/**
 * A standby as the operator's join Job makes it: pg_basebackup from the primary (through the
 * read-write Service, as streaming_replica with its certificate), then standby.signal and an
 * override.conf with primary_conninfo and the instance's slot.
 */
export async function joinStandby(instance: Instance, via: { host: string; port: number }): Promise<void> {
  const conninfo = primaryConnInfo(instance, via);
  await asServerUserAsync(join(instance.bin, "pg_basebackup"), ["-D", instance.paths.data, "-d", conninfo, "-X", "stream", "--no-sync", "-c", "fast"]);
  writeServerFile(join(instance.paths.data, "standby.signal"), "");
  writeServerFile(
    join(instance.paths.data, "override.conf"),
    [`primary_conninfo = ${conf(conninfo)}`, `primary_slot_name = ${conf(slotName(instance.name))}`, "recovery_target_timeline = 'latest'", ""].join("\n"),
  );
}

/** pkg/management/postgres/conninfo.go, `buildPrimaryConnInfo`, to `via` (the read-write Service). */
export function primaryConnInfo(instance: Instance, via: { host: string; port: number }): string {
  const c = instance.paths.certs;
  return `host=${via.host} user=streaming_replica port=${via.port} sslkey=${c.replicaKey} sslcert=${c.replicaCert} sslrootcert=${c.ca} application_name=${instance.name} sslmode=verify-ca`;
}

// ------------------------------------------------------------------------------------------------
// The read-write Service
// ------------------------------------------------------------------------------------------------

/**
 * A TCP forwarder standing in for a Service: each connection goes to the current backend, which the
 * harness switches when it promotes (as the operator relabels the new primary's pod). A backend
 * that dies takes its connections with it. `pause` stops reading what the backend sends (a standby
 * cut off from its primary's WAL: a partition, or a standby far behind); whatever was not read
 * when the backend dies never arrives.
 */
export class Forwarder {
  private server?: Server;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  port = 0;
  private paused = false;
  backend: number;

  constructor(backend: number) {
    this.backend = backend;
  }

  async listen(): Promise<void> {
    this.port = await freePort();
    this.server = createServer((client) => {
      const upstream = connect(this.backend, "127.0.0.1");
      const pair = { client, upstream };
      this.pairs.add(pair);
      client.on("data", (d) => upstream.write(d));
      upstream.on("data", (d) => client.write(d));
      if (this.paused) upstream.pause();
      const close = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on("close", close).on("error", close);
      upstream.on("close", close).on("error", close);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, "127.0.0.1", resolve));
  }

  pause(): void {
    this.paused = true;
    for (const p of this.pairs) p.upstream.pause();
  }

  resume(): void {
    this.paused = false;
    for (const p of this.pairs) p.upstream.resume();
  }

  /** Sends new connections to `port`; existing ones are closed (their backend is gone or demoted). */
  switchTo(port: number): void {
    this.backend = port;
    for (const p of [...this.pairs]) {
      p.client.destroy();
      p.upstream.destroy();
    }
  }

  async close(): Promise<void> {
    this.switchTo(0);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Removes a drill's directory, whoever owns what is in it. */
export function removeTree(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export { waitFor };

// ------------------------------------------------------------------------------------------------
// Barman Cloud: what the plugin runs, from the ObjectStore the cluster chart renders
// ------------------------------------------------------------------------------------------------

/**
 * The ObjectStore's `configuration` as the cluster chart renders it from the release's values
 * (templates/backup-objectstore.yaml, _barman_object_store.tpl): destination
 * `s3://<bucket><path>`, endpoint the configured one or AWS's for the region. `endpoint` replaces
 * the endpoint (the drill's S3-compatible server on loopback).
 */
export function objectStoreConfiguration(values: Json, endpoint?: string) {
  const b = values.backups;
  if (!b?.enabled) throw new Error("the cluster release has no backups");
  return {
    destinationPath: (b.destinationPath as string | undefined) || `s3://${b.s3.bucket}${b.s3.path}`,
    endpointURL: endpoint ?? ((b.endpointURL as string | undefined) || `https://s3.${b.s3.region}.amazonaws.com`),
    wal: { compression: b.wal.compression as string, encryption: b.wal.encryption as string, maxParallel: b.wal.maxParallel as number },
    data: { compression: b.data.compression as string, encryption: b.data.encryption as string, jobs: b.data.jobs as number },
  };
}
export type ObjectStoreConfiguration = ReturnType<typeof objectStoreConfiguration>;

/** barman-cloud (the Go library the plugin builds its commands with), pkg/archiver/command.go. */
export function walArchiveArgs(store: ObjectStoreConfiguration, serverName: string): string[] {
  return [
    ...(store.wal.compression ? [`--${store.wal.compression}`] : []),
    ...(store.wal.encryption ? ["-e", store.wal.encryption] : []),
    "--endpoint-url",
    store.endpointURL,
    "--cloud-provider",
    "aws-s3",
    store.destinationPath,
    serverName,
  ];
}

/** pkg/backup/backup.go, `GetBarmanCloudBackupOptions`. */
export function backupArgs(store: ObjectStoreConfiguration, backupName: string, serverName: string): string[] {
  return [
    "--user",
    "postgres",
    "--name",
    backupName,
    ...(store.data.compression ? [`--${store.data.compression}`] : []),
    ...(store.data.encryption ? ["--encryption", store.data.encryption] : []),
    ...(store.data.jobs ? ["--jobs", String(store.data.jobs)] : []),
    "--endpoint-url",
    store.endpointURL,
    "--cloud-provider",
    "aws-s3",
    store.destinationPath,
    serverName,
  ];
}

/** plugin-barman-cloud internal/cnpgi/restore/restore.go, `restoreDataDir`. */
export function restoreArgs(store: ObjectStoreConfiguration, serverName: string, backupId: string, pgdata: string): string[] {
  return ["--cloud-provider", "aws-s3", "--endpoint-url", store.endpointURL, store.destinationPath, serverName, backupId, pgdata];
}

/** pkg/command/commandbuilder.go, `CloudWalRestoreOptions`; the WAL name and target follow. */
export function walRestoreArgs(store: ObjectStoreConfiguration, serverName: string): string[] {
  return ["--endpoint-url", store.endpointURL, "--cloud-provider", "aws-s3", store.destinationPath, serverName];
}

/** Arguments as one shell command line (archive_command, restore_command run through sh). */
export function shellCommand(command: string, args: readonly string[], tail: string): string {
  const quote = (a: string) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
  return `${[command, ...args].map(quote).join(" ")} ${tail}`;
}

/**
 * An RFC 3339 time as postgresql.conf's recovery_target_time takes it, as the operator converts a
 * Cluster's `recoveryTarget.targetTime` (machinery's `ConvertToPostgresFormat`): `2026-12-01
 * 10:04:00.123456+00`.
 */
export function postgresTime(rfc3339: string): string {
  return rfc3339.replace("T", " ").replace(/Z$/, "+00");
}

// ------------------------------------------------------------------------------------------------
// A cluster's first instance, as the operator's initdb Job leaves it
// ------------------------------------------------------------------------------------------------

export interface ClusterPrimary {
  readonly instance: Instance;
  readonly port: number;
  readonly certs: Certificates;
  /** The superuser over the instance's socket (peer), as the instance manager connects. */
  superuser(database?: string): Client;
  stop(): void;
}

/**
 * The cluster's first instance in `root`, bootstrapped as the operator's initdb Job bootstraps it
 * from the release's values: `initdb.database` owned by `initdb.owner` (its password from the
 * app Secret), the managed roles (the monitoring role, its password from its Secret), the
 * `streaming_replica` role; synchronous replication off until standbys join.
 */
export async function startClusterPrimary(values: Json, root: string, passwords: { readonly app: string; readonly monitoring: string }): Promise<ClusterPrimary> {
  const cluster = values.fullnameOverride as string;
  if (isRoot) chownSync(root, postgresIds().uid, postgresIds().gid);
  const certs = makeCertificates(join(root, "certs"));
  const dir = serverDir(join(root, `${cluster}-1`));
  const instance = new Instance(`${cluster}-1`, { data: join(dir, "data"), socket: serverDir(join(dir, "run")), log: join(dir, "postgres.log"), certs });
  instance.port = await freePort();
  initdb(instance);
  await instance.start(instanceConf(values, { port: instance.port, paths: instance.paths, synchronousStandbyNames: "", archiveCommand: "/bin/true" }), instanceHba(values));
  const quote = (v: string) => `'${v.replace(/'/g, "''")}'`;
  const database = values.cluster.initdb.database as string;
  const owner = values.cluster.initdb.owner as string;
  await instance.query("CREATE ROLE streaming_replica WITH REPLICATION LOGIN");
  await instance.query(`CREATE ROLE ${owner} LOGIN PASSWORD ${quote(passwords.app)}`);
  await instance.query(`CREATE DATABASE ${database} OWNER ${owner}`);
  for (const role of (values.cluster.roles ?? []) as Json[]) {
    await instance.query(
      `CREATE ROLE ${role.name} ${role.login ? "LOGIN" : "NOLOGIN"} PASSWORD ${quote(passwords.monitoring)} CONNECTION LIMIT ${role.connectionLimit ?? -1}${role.inRoles?.length ? ` IN ROLE ${role.inRoles.join(", ")}` : ""}`,
    );
  }
  return {
    instance,
    port: instance.port,
    certs,
    superuser: (db = "postgres") => instance.client(db),
    stop: () => instance.stop(),
  };
}

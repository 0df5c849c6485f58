/**
 * Failover drill, for real: production's CloudNativePG cluster on loopback (Debian's PostgreSQL;
 * test/cnpg.ts configures each instance as the operator would from the values this program
 * synthesizes), PgBouncer with the generated pgbouncer.ini in front of the read-write Service, a
 * write load that records every acknowledged commit, the primary killed with SIGKILL, the most
 * advanced standby elected and promoted as the operator does.
 *
 * 1. With production's synchronous replication: every acknowledged commit survives (RPO 0), and
 *    PgBouncer's clients reconnect and write through the new primary.
 * 2. The same drill with synchronous replication off (the same values without their
 *    `synchronous` stanza), the standby cut off from the primary's WAL before the kill: commits
 *    the old primary acknowledged are gone. The check that finds no loss in (1) finds it here.
 *
 * Figures (promotion seconds, RPO) are printed as diagnostics; docs/design.md quotes a run. What
 * this does not measure: the operator noticing the failure (its readiness probes and the primary
 * lease, about 15 s for a crashed primary and 40-55 s for a lost node per CloudNativePG's docs).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chownSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "pg";
import { MONITORING_ROLE } from "../../config/semantics";
import { renderAuthScript, renderPgbouncerHba, renderPgbouncerIni } from "../../constructs/pgbouncer";
import {
  clusterReleaseValues,
  electPrimary,
  Forwarder,
  Instance,
  instanceConf,
  lsn,
  instanceHba,
  joinStandby,
  postgresIds,
  removeTree,
  serverDir,
  slotName,
  startClusterPrimary,
  synchronousStandbyNames,
  waitFor,
} from "../cnpg";
import { type Json, loadConfig, synthEnvironment, tempDir } from "../helpers";
import { freePort, isRoot } from "../servers";

const PGBOUNCER = "/usr/sbin/pgbouncer";
const APP_PASSWORD = "drill-app-password";
const MONITORING_PASSWORD = "drill-monitoring-password";
/** Writers through PgBouncer, each committing one row at a time. */
const WRITERS = 8;

describe("failover drill: production's replication settings, the primary killed, a standby promoted", () => {
  const config = loadConfig("production");
  const values = clusterReleaseValues(synthEnvironment("production"));
  const cluster = values.fullnameOverride as string;
  const names = Array.from({ length: values.cluster.instances as number }, (_, i) => `${cluster}-${i + 1}`);
  const database = values.cluster.initdb.database as string;
  const appUser = values.cluster.initdb.owner as string;
  const sync = values.cluster.postgresql.synchronous as Json;
  let root: string;
  let instances: Instance[];
  /** The read-write Service for PgBouncer, and one per standby's replication connection. */
  let rw: Forwarder;
  const replication = new Map<string, Forwarder>();
  let pgbouncer: ChildProcess | undefined;
  let pgbouncerPort: number;
  let primary: Instance;

  const conf = (inst: Instance, v: Json, current: Instance, healthy: readonly string[]) =>
    instanceConf(v, { port: inst.port, paths: inst.paths, synchronousStandbyNames: synchronousStandbyNames(v, names, current.name, healthy), archiveCommand: "/bin/true" });

  /** Acknowledged commits and the writers that make them, through PgBouncer. */
  const acked = new Set<number>();
  let nextId = 0;
  let writing = false;
  /** When each writer last committed through PgBouncer, and on which server port. */
  const lastCommit = new Map<number, { at: number; port: number }>();
  let writers: Promise<void>[] = [];

  function startWriters(): void {
    writing = true;
    writers = Array.from({ length: WRITERS }, async (_, w) => {
      let client: Client | undefined;
      while (writing) {
        try {
          if (!client) {
            client = new Client({ host: "127.0.0.1", port: pgbouncerPort, user: appUser, password: APP_PASSWORD, database, connectionTimeoutMillis: 30_000 });
            client.on("error", () => undefined);
            await client.connect();
          }
          const id = ++nextId;
          const r = await client.query("INSERT INTO drill (id) VALUES ($1) RETURNING inet_server_port() AS port", [id]);
          acked.add(id);
          lastCommit.set(w, { at: Date.now(), port: Number(r.rows[0].port) });
        } catch {
          // The server went away mid-transaction: reconnect through PgBouncer, as a pool does.
          await client?.end().catch(() => undefined);
          client = undefined;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      await client?.end().catch(() => undefined);
    });
  }

  async function stopWriters(): Promise<void> {
    writing = false;
    await Promise.all(writers);
  }

  /** Acknowledged commits the instance does not hold. */
  async function lostCommits(on: Instance): Promise<number[]> {
    const rows = await on.query<{ id: string }>("SELECT id FROM drill", [], database);
    const present = new Set(rows.map((r) => Number(r.id)));
    return [...acked].filter((id) => !present.has(id)).sort((a, b) => a - b);
  }

  /**
   * The operator's failover under the values `v`: the WAL receivers stop, the most advanced
   * standby is elected (with the failover quorum where `v` asks for it) and promoted; then its
   * configuration (synchronous_standby_names for the new primary), the slots of the standbys that
   * follow it, and the Services point at it.
   */
  async function failover(dead: Instance, candidates: Instance[], v: Json): Promise<{ promoted: Instance; elected: { received: bigint }; seconds: number; writableSeconds: number }> {
    const started = performance.now();
    dead.kill();
    // The dead primary's pod is gone, and every connection to it.
    rw.switchTo(0);
    for (const f of replication.values()) f.switchTo(0);
    await waitFor(async () => (await Promise.all(candidates.map((c) => c.receiving()))).every((r) => !r), "the WAL receivers to stop", 60);
    const statuses = await Promise.all(candidates.map((c) => c.lsnStatus()));
    const s = v.cluster.postgresql.synchronous as Json | undefined;
    const elected = electPrimary(statuses, s?.failoverQuorum ? { number: s.number, standbys: names.length - 1 } : undefined);
    const promoted = candidates.find((c) => c.name === elected.name)!;
    await promoted.promote();
    const seconds = (performance.now() - started) / 1000;
    const followers = candidates.filter((c) => c !== promoted);
    for (const other of followers) {
      await promoted.query("SELECT pg_create_physical_replication_slot($1)", [slotName(other.name)]);
      replication.get(other.name)!.switchTo(promoted.port);
      replication.get(other.name)!.resume();
    }
    promoted.reload(conf(promoted, v, promoted, followers.map((f) => f.name)));
    rw.switchTo(promoted.port);
    // Writable: a commit the configured durability accepts (with required durability, once a
    // standby streams from the new primary).
    await promoted.query("CREATE TABLE IF NOT EXISTS drill_probe (at timestamptz)", [], database);
    await promoted.query("INSERT INTO drill_probe VALUES (now())", [], database);
    return { promoted, elected, seconds, writableSeconds: (performance.now() - started) / 1000 };
  }

  before(async () => {
    assert.ok(spawnSync("test", ["-x", PGBOUNCER]).status === 0, "pgbouncer is not installed (Debian package pgbouncer; .ci/run installs it)");
    root = tempDir("cnpg-failover-");
    if (isRoot) chownSync(root, postgresIds().uid, postgresIds().gid);
    // The operator's initdb Job: the first instance, its database and roles, nothing synchronous yet.
    primary = (await startClusterPrimary(values, root, { app: APP_PASSWORD, monitoring: MONITORING_PASSWORD })).instance;
    const certs = primary.paths.certs;
    instances = [
      primary,
      ...names.slice(1).map((name) => {
        const dir = serverDir(join(root, name));
        return new Instance(name, { data: join(dir, "data"), socket: serverDir(join(dir, "run")), log: join(dir, "postgres.log"), certs });
      }),
    ];
    for (const inst of instances.slice(1)) inst.port = await freePort();
    rw = new Forwarder(primary.port);
    await rw.listen();
    for (const standby of instances.slice(1)) {
      const f = new Forwarder(primary.port);
      await f.listen();
      replication.set(standby.name, f);
    }

    await primary.query(`CREATE TABLE drill (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())`, [], database);
    await primary.query(`ALTER TABLE drill OWNER TO ${appUser}`, [], database);
    for (const standby of instances.slice(1)) await primary.query("SELECT pg_create_physical_replication_slot($1)", [slotName(standby.name)]);

    // The join Jobs, then the instances with the cluster's synchronous replication.
    for (const standby of instances.slice(1)) {
      const via = replication.get(standby.name)!;
      await joinStandby(standby, { host: "127.0.0.1", port: via.port });
      await standby.start(conf(standby, values, primary, names.slice(1)), instanceHba(values));
    }
    primary.reload(conf(primary, values, primary, names.slice(1)));
    // Streaming is not enough: each WAL sender takes the reloaded synchronous list on its own
    // loop, and until it has, pg_stat_replication shows its standby as async.
    await waitFor(
      async () => (await primary.query(`SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'${sync ? " AND sync_state <> 'async'" : ""}`)).length === names.length - 1,
      "every standby streaming under the synchronous list",
      60,
    );

    // PgBouncer as the pods run it, in front of the read-write Service, verifying the server's certificate.
    const bouncer = join(root, "pgbouncer");
    mkdirSync(bouncer);
    writeFileSync(join(bouncer, "app-password"), APP_PASSWORD);
    writeFileSync(join(bouncer, "monitoring-password"), MONITORING_PASSWORD);
    spawnSync("sh", ["-c", renderAuthScript(appUser, MONITORING_ROLE, { secrets: bouncer, auth: bouncer })]);
    writeFileSync(join(bouncer, "pg_hba.conf"), renderPgbouncerHba(MONITORING_ROLE));
    if (isRoot) for (const f of ["", "userlist.txt", "pg_hba.conf"]) chownSync(join(bouncer, f), postgresIds().uid, postgresIds().gid);
    pgbouncerPort = await freePort();
    const ini = join(bouncer, "pgbouncer.ini");
    writeFileSync(
      ini,
      renderPgbouncerIni(
        { settings: config.pgbouncer!, database, postgresHost: "127.0.0.1", postgresPort: rw.port, monitoringUser: MONITORING_ROLE, serverCa: { secretName: `${cluster}-ca`, key: "ca.crt" } },
        { authFile: join(bouncer, "userlist.txt"), hbaFile: join(bouncer, "pg_hba.conf"), listenAddress: "127.0.0.1", listenPort: pgbouncerPort, serverCaFile: certs.ca },
      ),
    );
    // As the postgres user when root (PgBouncer refuses root), with room for its client limit.
    pgbouncer = spawn("sh", ["-c", `ulimit -n 8192 && exec ${PGBOUNCER} ${ini}`], { stdio: ["ignore", "ignore", "pipe"], ...(isRoot ? postgresIds() : {}) });
    let log = "";
    pgbouncer.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    await waitFor(() => {
      if (pgbouncer!.exitCode !== null) throw new Error(`pgbouncer exited: ${log}`);
      return spawnSync("pg_isready", ["-h", "127.0.0.1", "-p", String(pgbouncerPort)]).status === 0;
    }, "pgbouncer", 30);
  });

  after(async () => {
    writing = false;
    await Promise.all(writers);
    if (pgbouncer && pgbouncer.exitCode === null) {
      const exited = new Promise((r) => pgbouncer!.once("exit", r));
      pgbouncer.kill("SIGTERM");
      await exited;
    }
    for (const inst of instances ?? []) inst.stop();
    await rw?.close();
    for (const f of replication.values()) await f.close();
    if (root) removeTree(root);
  });

  it("runs production's synchronous replication: ANY 1 of the standbys acknowledges every commit", async () => {
    assert.ok(sync, "production's cluster has no synchronous stanza");
    const [{ setting }] = await primary.query<{ setting: string }>("SELECT current_setting('synchronous_standby_names') AS setting");
    assert.equal(setting, synchronousStandbyNames(values, names, primary.name, names.slice(1)));
    assert.match(setting, new RegExp(`^${sync.method.toUpperCase()} ${sync.number} \\(`));
    const states = await primary.query<{ application_name: string; sync_state: string }>("SELECT application_name, sync_state FROM pg_stat_replication ORDER BY 1");
    assert.deepEqual(states.map((s) => s.application_name), names.slice(1));
    assert.ok(states.every((s) => s.sync_state === (sync.method === "any" ? "quorum" : s.sync_state)), JSON.stringify(states));
    // TLS to the server, as pg_hba's hostssl rules demand, through PgBouncer.
    const c = new Client({ host: "127.0.0.1", port: pgbouncerPort, user: appUser, password: APP_PASSWORD, database });
    await c.connect();
    const [tls] = (await c.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).rows;
    await c.end();
    assert.equal(tls.ssl, true);
  });

  it("loses no acknowledged commit when the primary is killed under load (RPO 0), and PgBouncer's clients write through the new primary", async (t) => {
    const [first, second] = instances.slice(1) as [Instance, Instance];
    startWriters();
    await waitFor(() => acked.size >= 200, "200 acknowledged commits", 60);
    // One standby falls behind (cut off from the primary's WAL): the other still acknowledges.
    replication.get(second.name)!.pause();
    const before = acked.size;
    await waitFor(() => acked.size >= before + 200, "200 more commits with one standby cut off", 60);

    const killedAt = Date.now();
    const { promoted, seconds, writableSeconds } = await failover(primary, [first, second], values);
    // The standby that kept up wins: the cut-off one received less.
    assert.equal(promoted.name, first.name);
    await waitFor(() => [...lastCommit.values()].filter((c) => c.at > killedAt && c.port === promoted.port).length === WRITERS, "every writer committing through PgBouncer on the new primary", 60);
    const pgbouncerSeconds = (Math.max(...[...lastCommit.values()].map((c) => c.at)) - killedAt) / 1000;
    await stopWriters();

    const lost = await lostCommits(promoted);
    t.diagnostic(
      `synchronous (${sync.method} ${sync.number}, ${sync.dataDurability}): ${acked.size} acknowledged commits, ${lost.length} lost; ` +
        `promotion ${seconds.toFixed(2)} s, writable ${writableSeconds.toFixed(2)} s, all ${WRITERS} PgBouncer clients writing on the new primary within ${pgbouncerSeconds.toFixed(2)} s of the kill`,
    );
    assert.deepEqual(lost, [], "acknowledged commits missing after the failover");
    primary = promoted;
  });

  it("with synchronous replication off, the same drill loses acknowledged commits: the check above can fail", async (t) => {
    const survivor = instances.find((i) => i !== primary && i.name !== instances[0]!.name)!;
    // The same values without their synchronous stanza: what this program emits for an asynchronous cluster.
    const asyncValues = structuredClone(values);
    delete asyncValues.cluster.postgresql.synchronous;
    primary.reload(conf(primary, asyncValues, primary, [survivor.name]));
    await waitFor(async () => (await primary.query<{ s: string }>("SELECT current_setting('synchronous_standby_names') AS s"))[0]!.s === "", "asynchronous replication", 30);
    await waitFor(async () => (await primary.query("SELECT 1 FROM pg_stat_replication WHERE state = 'streaming' AND replay_lsn = pg_current_wal_lsn()")).length === 1, "the standby caught up", 60);

    acked.clear();
    lastCommit.clear();
    replication.get(survivor.name)!.pause();
    startWriters();
    await waitFor(() => acked.size >= 100, "100 acknowledged commits", 60);
    await stopWriters();
    const [{ lsn: lastLsn }] = await primary.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn");
    const { promoted, elected } = await failover(primary, [survivor], asyncValues);
    const lost = await lostCommits(promoted);
    t.diagnostic(`asynchronous: ${acked.size} acknowledged commits, ${lost.length} lost (RPO > 0: ${lsn(lastLsn) - elected.received} bytes of WAL never reached the standby)`);
    assert.ok(lost.length > 0, "no commit was lost although the standby received nothing after the cut: the drill could not detect a loss");
  });
});

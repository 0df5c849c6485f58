/**
 * PgBouncer for real: Debian's pgbouncer started with the generated pgbouncer.ini, its auth file
 * written by the generated init script, in front of production's Postgres: Debian's PostgreSQL
 * configured and bootstrapped as the CloudNativePG operator does it from the synthesized cluster
 * values (test/cnpg.ts), which PgBouncer reaches over TLS, verifying the server's certificate.
 * Every client of production's peak connects with the pool settings the pods get; the server side
 * stays within the pool.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client, type Pool, type PoolClient } from "pg";
import { connectionBudget } from "../../config/capacity";
import { POOLER_METRICS } from "../../config/metrics";
import { MONITORING_ROLE } from "../../config/semantics";
import { exporterConnection, readinessCommand, renderAuthScript, renderPgbouncerHba, renderPgbouncerIni } from "../../constructs/pgbouncer";
import { contractSettings } from "../../constructs/service-contract";
import { loadConfig, synthEnvironment, tempDir } from "../helpers";
import { type ClusterPrimary, clusterReleaseValues, startClusterPrimary } from "../cnpg";
import { openPeakPools } from "../database";
import { freePort, isRoot, waitFor } from "../servers";

const PGBOUNCER = "/usr/sbin/pgbouncer";
const APP_PASSWORD = 'app-"quoted"-password';
const MONITORING_PASSWORD = "monitoring-test-password";

describe("PgBouncer with the generated config, in front of PostgreSQL", () => {
  const config = loadConfig("production", { enableAutoscaling: true });
  const pg = config.postgres;
  const pooler = config.pgbouncer!;
  let postgres: ClusterPrimary;
  const topology = config.postgres.topology;
  /** PgBouncer verifies production's server with the cluster's CA (a test CA here). */
  const serverCa = topology.kind === "cloudnative-pg" ? { secretName: `${topology.name}-ca`, key: "ca.crt" } : undefined;
  let dir: string;
  let port: number;
  const running: ChildProcess[] = [];

  /** Starts pgbouncer on `ini` (as the postgres user when root: PgBouncer refuses to run as root). */
  async function startPgbouncer(ini: string, listen: number): Promise<ChildProcess> {
    const file = join(dir, `pgbouncer-${listen}.ini`);
    writeFileSync(file, ini);
    const command = `ulimit -n 8192 && exec ${PGBOUNCER} ${file}`;
    // As the postgres user directly (not through runuser, which holds a SIGTERM for seconds), and
    // exec'd, so the signal reaches pgbouncer itself.
    const ids = isRoot ? { uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" })) } : {};
    const child = spawn("sh", ["-c", command], { stdio: ["ignore", "ignore", "pipe"], ...ids });
    let log = "";
    child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    running.push(child);
    await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`pgbouncer exited: ${log}`);
      return spawnSync("pg_isready", ["-h", "127.0.0.1", "-p", String(listen)]).status === 0;
    }, "pgbouncer");
    return child;
  }

  /** The admin console as the exporter reaches it: the monitoring role, over loopback, no password. */
  const admin = (command: string, host = "127.0.0.1", password?: string) =>
    execFileSync("psql", ["-h", host, "-p", String(port), "-U", MONITORING_ROLE, "-d", "pgbouncer", "-A", "-F", "\t", "-w", "-c", command], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PG"))), ...(password ? { PGPASSWORD: password } : {}) },
    });
  /** A non-loopback address of this machine, where the pod's loopback trust must not apply. */
  const outside = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
  /** A SHOW command's rows as objects. */
  const show = (command: string): Record<string, string>[] => {
    const [header, ...rows] = admin(command).trim().split("\n").filter((l) => !/^\(\d+ rows?\)$/.test(l));
    const columns = header!.split("\t");
    return rows.map((r) => Object.fromEntries(r.split("\t").map((v, i) => [columns[i], v])));
  };

  before(async () => {
    assert.ok(existsSync(PGBOUNCER), "pgbouncer is not installed (Debian package pgbouncer; .ci/run installs it)");
    // Production's Postgres: the cluster's first instance as the operator configures and
    // bootstraps it from the same stack's values, over TLS as its pg_hba demands.
    postgres = await startClusterPrimary(clusterReleaseValues(synthEnvironment("production", { enableAutoscaling: true })), tempDir("pgbouncer-cluster-"), { app: APP_PASSWORD, monitoring: MONITORING_PASSWORD });

    // The pod's layout: Secret files in one directory, the auth file written into another by the
    // generated init script.
    dir = mkdtempSync(join(tmpdir(), "pgbouncer-"));
    const secrets = join(dir, "secrets");
    const auth = join(dir, "auth");
    mkdirSync(secrets);
    mkdirSync(auth);
    writeFileSync(join(secrets, "app-password"), `${APP_PASSWORD}\n`);
    writeFileSync(join(secrets, "monitoring-password"), MONITORING_PASSWORD);
    execFileSync("sh", ["-c", renderAuthScript(pg.appUser, MONITORING_ROLE, { secrets, auth })]);
    if (isRoot) {
      const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }));
      for (const p of [dir, auth, join(auth, "userlist.txt")]) chownSync(p, uid, 0);
    }
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, "pg_hba.conf"), renderPgbouncerHba(MONITORING_ROLE));
    port = await freePort();
    await startPgbouncer(
      renderPgbouncerIni(
        { settings: pooler, database: pg.database, postgresHost: "127.0.0.1", postgresPort: postgres.port, monitoringUser: MONITORING_ROLE, serverCa },
        { authFile: join(auth, "userlist.txt"), hbaFile: join(dir, "pg_hba.conf"), listenAddress: outside ? `127.0.0.1,${outside}` : "127.0.0.1", listenPort: port, serverCaFile: postgres.certs.ca },
      ),
      port,
    );
  });

  after(async () => {
    await Promise.all(
      running
        .filter((child) => child.exitCode === null)
        .map((child) => {
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGTERM");
          return exited;
        }),
    );
    postgres?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("writes the auth file from the Secret's files: one line per role, quotes doubled, mode 0600", () => {
    const file = join(dir, "auth", "userlist.txt");
    assert.equal(readFileSync(file, "utf8"), `"${pg.appUser}" "app-""quoted""-password"\n"${MONITORING_ROLE}" "${MONITORING_PASSWORD}"\n`);
    const mode = Number(execFileSync("stat", ["-c", "%a", file], { encoding: "utf8" }));
    assert.equal(mode, 600);
  });

  it("answers the readiness probe's command", () => {
    const [cmd, ...args] = readinessCommand(MONITORING_ROLE, port);
    assert.equal(spawnSync(cmd!, args).status, 0);
  });

  it("serves every client of production's peak while the server side stays within the pool", async () => {
    const budget = connectionBudget(config);
    assert.ok(budget.fits, budget.layers.map((l) => l.arithmetic).join("\n"));
    const poolCap = pooler.defaultPoolSize + pooler.reservePoolSize;
    for (const service of config.services.filter((s) => s.usesDatabase)) {
      assert.equal(contractSettings(config, service).PLATFORM_DATABASE_POOLING, "pgbouncer-transaction");
    }
    const { pools, held } = { pools: [] as Pool[], held: [] as PoolClient[] };
    let maxServers = 0;
    try {
      // Every pod at the peak, all on this one PgBouncer: the budget's "one pod unavailable" case.
      await openPeakPools(config, port, APP_PASSWORD, { pools, held });
      const clients = budget.clients.reduce((n, c) => n + c.connections, 0);
      assert.equal(held.length, clients);
      assert.equal(clients, budget.layers[0]!.need);

      // Every client runs a transaction at once; PgBouncer queues them onto the pool.
      const watcher = postgres.superuser(pg.database);
      await watcher.connect();
      let watching = true;
      const watch = (async () => {
        while (watching) {
          const r = await watcher.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1", [pg.appUser]);
          maxServers = Math.max(maxServers, r.rows[0].n);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      const results = await Promise.all(held.map((c) => c.query("SELECT pg_sleep(0.02), 1 AS ok")));
      watching = false;
      await watch;
      await watcher.end();
      assert.equal(results.length, clients);
      assert.ok(maxServers > 0 && maxServers <= poolCap, `server connections peaked at ${maxServers}, pool cap ${poolCap}`);

      const pool = show("SHOW POOLS").find((p) => p.database === pg.database && p.user === pg.appUser)!;
      assert.equal(Number(pool.cl_active) + Number(pool.cl_waiting) + Number(pool.cl_idle ?? 0), clients);
      assert.ok(Number(pool.sv_active) + Number(pool.sv_idle) + Number(pool.sv_used) <= poolCap);
    } finally {
      held.forEach((c) => c.release());
      await Promise.all(pools.map((p) => p.end()));
    }
    // Afterwards Postgres holds no more than the pool.
    assert.ok(maxServers <= poolCap);
  });

  it("refuses a client whose password does not match the auth file", async () => {
    const client = new Client({ host: "127.0.0.1", port, user: pg.appUser, password: "wrong-password", database: pg.database });
    await assert.rejects(client.connect(), /password authentication failed|SASL authentication failed/);
    await client.end().catch(() => undefined);
  });

  it("cannot log in to Postgres when the auth file holds a stale password", async () => {
    const stale = join(dir, "stale");
    mkdirSync(stale);
    writeFileSync(join(stale, "userlist.txt"), `"${pg.appUser}" "stale-password"\n"${MONITORING_ROLE}" "${MONITORING_PASSWORD}"\n`, { mode: 0o600 });
    if (isRoot) {
      const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }));
      for (const p of [stale, join(stale, "userlist.txt")]) chownSync(p, uid, 0);
    }
    const other = await freePort();
    await startPgbouncer(
      renderPgbouncerIni(
        { settings: pooler, database: pg.database, postgresHost: "127.0.0.1", postgresPort: postgres.port, monitoringUser: MONITORING_ROLE, serverCa },
        { authFile: join(stale, "userlist.txt"), hbaFile: join(dir, "pg_hba.conf"), listenAddress: "127.0.0.1", listenPort: other, serverCaFile: postgres.certs.ca },
      ),
      other,
    );
    const client = new Client({ host: "127.0.0.1", port: other, user: pg.appUser, password: "stale-password", database: pg.database });
    await assert.rejects(
      (async () => {
        await client.connect();
        await client.query("SELECT 1");
      })(),
      /password authentication failed|server login failed|SASL/,
    );
    await client.end().catch(() => undefined);
  });

  it("reports through SHOW POOLS and SHOW STATS every column the exporter turns into the metrics we read", () => {
    const pools = show("SHOW POOLS");
    const stats = show("SHOW STATS");
    for (const metric of Object.values(POOLER_METRICS)) {
      const rows = metric.source.command === "SHOW POOLS" ? pools : stats;
      assert.ok(rows.length > 0 && metric.source.column in rows[0]!, `${metric.name}: ${metric.source.command} has no column ${metric.source.column}`);
      assert.ok(Number.isFinite(Number(rows[0]![metric.source.column])), `${metric.source.column} is numeric`);
    }
    const mine = stats.find((s) => s.database === pg.database)!;
    assert.ok(Number(mine.total_xact_count) > 0, "transactions were pooled");
  });

  it("admits the monitoring role to the admin console only for statistics", () => {
    assert.throws(() => admin("PAUSE"), /admin access needed|not allowed/);
  });

  it("lets the exporter in over the pod's loopback without a password, and nobody else", async (t) => {
    // The exporter's own connection string, as the Deployment passes it.
    assert.equal(exporterConnection(MONITORING_ROLE, port), `--pgBouncer.connectionString=postgres://${MONITORING_ROLE}@127.0.0.1:${port}/pgbouncer?sslmode=disable`);
    assert.match(admin("SHOW VERSION"), /PgBouncer/);
    // The one trust rule names the admin console, the monitoring role and loopback; nothing else trusts.
    const trusting = renderPgbouncerHba(MONITORING_ROLE).split("\n").filter((l) => /\btrust\b/.test(l) && !l.startsWith("#"));
    assert.deepEqual(trusting, [`host pgbouncer ${MONITORING_ROLE} 127.0.0.1/32 trust`]);
    // The application role and the superuser get no such pass, even over loopback: to the
    // application database or to the admin console.
    for (const [user, database] of [[pg.appUser, pg.database], [pg.appUser, "pgbouncer"], ["postgres", pg.database], ["postgres", "pgbouncer"]]) {
      const client = new Client({ host: "127.0.0.1", port, user, database });
      await assert.rejects(client.connect(), /password|SASL|authentication|not allowed/i, `${user}@${database}`);
      await client.end().catch(() => undefined);
    }
    if (!outside) return t.skip("no non-loopback IPv4 address on this machine to connect from");
    // From any other address the monitoring role needs its password.
    assert.throws(() => admin("SHOW VERSION", outside), /password|authentication/i);
    assert.match(admin("SHOW VERSION", outside, MONITORING_PASSWORD), /PgBouncer/);
  });
});

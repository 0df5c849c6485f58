/**
 * The generated redis.conf and postgresql.conf, run by the real servers (Debian's redis-server
 * and PostgreSQL 15, installed by .ci/run), and the connection budget checked against what
 * Postgres actually allows.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client, type Pool, type PoolClient } from "pg";
import { connectionBudget } from "../../config/capacity";
import { parseMemoryBytes } from "../../config/quantity";
import { renderPostgresConf } from "../../constructs/postgres";
import { renderRedisConf } from "../../constructs/redis";
import { loadConfig } from "../helpers";
import { initPlatformDatabase, openPeakPools } from "../database";
import { freePort, type PostgresServer, startPostgres as startServer, waitFor } from "../servers";
import { MONITORING_ROLE } from "../../config/semantics";
import { REDIS_BYTES_PER_COUNTER } from "../../config/redis-sizing";

describe("redis.conf on redis-server", () => {
  const production = loadConfig("production");
  let dir: string;
  let server: ChildProcess;
  let port: number;
  const cli = (...args: string[]) =>
    execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8", env: { ...process.env, REDISCLI_AUTH: "test-password" } }).trim();

  before(async () => {
    assert.ok(existsSync("/usr/bin/redis-server"), "redis-server is not installed (Debian package redis-server; .ci/run installs it)");
    dir = mkdtempSync(join(tmpdir(), "redis-conf-"));
    port = await freePort();
    writeFileSync(join(dir, "redis.conf"), renderRedisConf(production.redis!));
    // As in the pod: the rendered file, the password on the command line; port and dir for the test.
    server = spawn("redis-server", [join(dir, "redis.conf"), "--requirepass", "test-password", "--port", String(port), "--dir", dir], { stdio: "ignore" });
    await waitFor(() => {
      try {
        return cli("ping") === "PONG";
      } catch {
        return false;
      }
    }, "redis-server");
  });
  after(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once("exit", r));
      server.kill();
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts and reports the configured maxmemory, policy and persistence", () => {
    assert.equal(cli("CONFIG", "GET", "maxmemory").split("\n")[1], String(parseMemoryBytes("1536Mi")));
    assert.equal(cli("CONFIG", "GET", "maxmemory-policy").split("\n")[1], "noeviction");
    assert.equal(cli("CONFIG", "GET", "appendonly").split("\n")[1], "yes");
  });

  it("refuses commands without the password (what the probes rely on)", () => {
    const out = execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "ping"], { encoding: "utf8", env: { ...process.env, REDISCLI_AUTH: "" } });
    assert.match(out, /NOAUTH/);
  });

  it("keeps rate-limit counters under memory pressure: writes fail, nothing is evicted", () => {
    cli("CONFIG", "SET", "maxmemory", "2mb");
    cli("SET", "ratelimit:api-gateway:client", "1", "EX", "60");
    let refused = false;
    for (let i = 0; i < 200 && !refused; i++) {
      const out = cli("SET", `cache:api-gateway:v1:session:${i}`, "x".repeat(20_000), "EX", "900");
      refused = /OOM/.test(out);
    }
    assert.ok(refused, "expected an OOM error once maxmemory was reached");
    assert.equal(cli("GET", "ratelimit:api-gateway:client"), "1");
  });

  it(`needs at most ${REDIS_BYTES_PER_COUNTER} bytes per rate-limit counter (the sizing the Redis floor multiplies)`, () => {
    cli("FLUSHALL");
    cli("CONFIG", "SET", "maxmemory", "0");
    const used = () => Number(/used_memory:(\d+)/.exec(cli("INFO", "memory"))![1]);
    const before = used();
    const n = 20_000;
    // Keys as long as the contract allows (64 bytes), with a value and a TTL, in one pipeline.
    // Inline commands in redis-cli's pipe mode: one write, not one round trip per key.
    const script = Array.from({ length: n }, (_, i) => `SET ratelimit:api-gateway:default:${"c".repeat(20)}${String(i).padStart(8, "0")}:29485012 17 EX 120\r\n`).join("");
    execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "--pipe"], { input: script, env: { ...process.env, REDISCLI_AUTH: "test-password" }, stdio: ["pipe", "ignore", "pipe"] });
    assert.equal(cli("DBSIZE"), String(n));
    const perKey = (used() - before) / n;
    assert.ok(perKey > 50 && perKey <= REDIS_BYTES_PER_COUNTER, `${perKey.toFixed(1)} bytes per counter`);
    cli("FLUSHALL");
  });

  it("runs without persistence where the environment says so", () => {
    const conf = renderRedisConf({ ...production.redis!, persistence: false });
    assert.match(conf, /^appendonly no$/m);
    assert.match(conf, /^save ""$/m);
  });
});

describe("postgresql.conf on PostgreSQL 15", () => {
  const servers: PostgresServer[] = [];
  async function startPostgres(conf: string): Promise<PostgresServer> {
    const server = await startServer(conf);
    servers.push(server);
    return server;
  }
  after(() => servers.forEach((s) => s.stop()));
  const passwords = { app: "app-test-password", monitoring: "monitoring-test-password" };

  it("starts with production's settings and reports them", async () => {
    const pg = loadConfig("production").postgres;
    const client = (await startPostgres(renderPostgresConf(pg))).superuser();
    await client.connect();
    try {
      const show = async (name: string) => (await client.query(`SHOW ${name}`)).rows[0][name];
      assert.equal(await show("max_connections"), String(pg.maxConnections));
      assert.equal(await show("superuser_reserved_connections"), String(pg.superuserReservedConnections));
      assert.equal(await show("shared_buffers"), "2GB");
      assert.equal(await show("work_mem"), "4MB");
      assert.equal(await show("effective_cache_size"), "6GB");
      assert.equal(await show("password_encryption"), "scram-sha-256");
    } finally {
      await client.end();
    }
  });

  it("gives postgres_exporter a pg_monitor role that reads statistics and nothing else", async () => {
    const pg = loadConfig("production").postgres;
    const server = await startPostgres(renderPostgresConf(pg));
    const { port } = server;
    await initPlatformDatabase(server, pg, passwords);
    const app = new Client({ host: "127.0.0.1", port, user: pg.appUser, password: passwords.app, database: pg.database });
    await app.connect();
    await app.query("CREATE TABLE secrets_of_the_app (v text)");
    await app.query("INSERT INTO secrets_of_the_app VALUES ('x')");
    const monitor = new Client({ host: "127.0.0.1", port, user: MONITORING_ROLE, password: "monitoring-test-password", database: pg.database });
    await monitor.connect();
    try {
      const role = await monitor.query("SELECT rolsuper, pg_has_role(current_user, 'pg_monitor', 'member') AS monitor FROM pg_roles WHERE rolname = current_user");
      assert.deepEqual(role.rows[0], { rolsuper: false, monitor: true });
      // What postgres_exporter reads: every backend's activity, settings and database statistics.
      const seen = await monitor.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND query IS NOT NULL AND query <> '<insufficient privilege>'", [pg.appUser]);
      assert.equal(seen.rows[0].n, 1);
      assert.ok((await monitor.query("SELECT numbackends FROM pg_stat_database WHERE datname = $1", [pg.database])).rowCount === 1);
      await assert.rejects(monitor.query("SELECT * FROM secrets_of_the_app"), /permission denied/);
      await assert.rejects(monitor.query("CREATE TABLE t (v int)"), /permission denied/);
    } finally {
      await monitor.end();
      await app.end();
    }
  });

  it("admits exactly the connection budget: the pools fit, and the server stops at max_connections - reserved", async () => {
    // Local (direct to Postgres) at its peak: HPA maximums and rollout surge, the generated pool settings.
    const config = loadConfig("local", { enableAutoscaling: true });
    const pg = config.postgres;
    const budget = connectionBudget(config);
    const layer = budget.layers[0]!;
    assert.equal(budget.layers.length, 1);
    assert.ok(budget.fits, layer.arithmetic);
    const server = await startPostgres(renderPostgresConf(pg));
    const { port } = server;

    // The application role, made by the same init script the image runs on first start.
    await initPlatformDatabase(server, pg, passwords);

    // One pool per worker of every pod at maximum scale, configured as the pods are.
    const { pools, held } = { pools: [] as Pool[], held: [] as PoolClient[] };
    try {
      await openPeakPools(config, port, passwords.app, { pools, held });
      const appConnections = budget.clients.reduce((n, s) => n + s.connections, 0);
      assert.equal(held.length, appConnections);

      // The rest of the budget (migration, exporter, admin) as the app role too, then one past it.
      const extra: Client[] = [];
      const room = pg.maxConnections - pg.superuserReservedConnections - appConnections;
      assert.ok(room >= layer.need - appConnections - pg.superuserReservedConnections, "budget exceeds the room the server gives");
      try {
        for (let i = 0; i < room; i++) {
          const c = new Client({ host: "127.0.0.1", port, user: pg.appUser, password: passwords.app, database: pg.database });
          await c.connect();
          extra.push(c);
        }
        const one = new Client({ host: "127.0.0.1", port, user: pg.appUser, password: passwords.app, database: pg.database });
        await assert.rejects(one.connect(), /remaining connection slots are reserved|too many clients/);
        await one.end().catch(() => undefined);
        // The reserved slots still admit the superuser.
        const admin = server.superuser(pg.database);
        await admin.connect();
        const count = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend'");
        assert.equal(count.rows[0].n, pg.maxConnections - pg.superuserReservedConnections + 1);
        await admin.end();
      } finally {
        await Promise.all(extra.map((c) => c.end()));
      }
    } finally {
      held.forEach((c) => c.release());
      await Promise.all(pools.map((p) => p.end()));
    }
  });
});

/**
 * The generated redis.conf and postgresql.conf, run by the real servers (Debian's redis-server
 * and PostgreSQL 15, installed by .ci/run), and the connection budget checked against what
 * Postgres actually allows.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client, Pool } from "pg";
import { connectionBudget, serviceCapacity } from "../../config/capacity";
import { parseMemoryBytes } from "../../config/quantity";
import { renderInitScript, renderPostgresConf } from "../../constructs/postgres";
import { renderRedisConf } from "../../constructs/redis";
import { contractSettings } from "../../constructs/service-contract";
import { loadConfig } from "../helpers";

const PG_BIN = "/usr/lib/postgresql/15/bin";
const isRoot = process.getuid?.() === 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

async function waitFor(check: () => boolean, what: string, seconds = 20): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Runs a command as the postgres user when we are root (Postgres refuses to run as root). */
function asPostgres(command: string, args: string[], env: Record<string, string> = {}): string {
  const [file, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
  return execFileSync(file, argv, { encoding: "utf8", env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

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

  it("runs without persistence where the environment says so", () => {
    const conf = renderRedisConf({ ...production.redis!, persistence: false });
    assert.match(conf, /^appendonly no$/m);
    assert.match(conf, /^save ""$/m);
  });
});

describe("postgresql.conf on PostgreSQL 15", () => {
  const scratch: string[] = [];
  const servers: { dir: string }[] = [];

  async function startPostgres(conf: string): Promise<{ port: number; dir: string }> {
    assert.ok(existsSync(`${PG_BIN}/postgres`), "PostgreSQL 15 is not installed (Debian package postgresql; .ci/run installs it)");
    const dir = mkdtempSync(join(tmpdir(), "pg-conf-"));
    scratch.push(dir);
    if (isRoot) chownSync(dir, Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })), Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" })));
    chmodSync(dir, 0o700);
    const data = join(dir, "data");
    writeFileSync(join(dir, "pw"), "superuser-test-password\n");
    if (isRoot) chownSync(join(dir, "pw"), Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })), 0);
    asPostgres(`${PG_BIN}/initdb`, ["-D", data, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${join(dir, "pw")}`, "--no-sync"]);
    const confFile = join(dir, "postgresql.conf");
    writeFileSync(confFile, conf);
    const port = await freePort();
    asPostgres(`${PG_BIN}/pg_ctl`, [
      "-D", data, "-l", join(dir, "log"), "-w", "start",
      "-o", `-c config_file=${confFile} -c hba_file=${join(data, "pg_hba.conf")} -c port=${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir}`,
    ]);
    servers.push({ dir: data });
    return { port, dir };
  }

  after(() => {
    for (const s of servers) {
      try {
        asPostgres(`${PG_BIN}/pg_ctl`, ["-D", s.dir, "-m", "immediate", "stop"]);
      } catch {
        // already stopped
      }
    }
    scratch.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  const superuser = (port: number, database = "postgres") =>
    new Client({ host: "127.0.0.1", port, user: "postgres", password: "superuser-test-password", database });

  it("starts with production's settings and reports them", async () => {
    const pg = loadConfig("production").postgres;
    const { port } = await startPostgres(renderPostgresConf(pg));
    const client = superuser(port);
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

  it("admits exactly the connection budget: the pools fit, and the server stops at max_connections - reserved", async () => {
    // Local with autoscaling on: the HPA maximums, the generated pool settings.
    const config = loadConfig("local", { enableAutoscaling: true });
    const pg = config.postgres;
    const budget = connectionBudget(config);
    assert.ok(budget.fits, budget.arithmetic);
    const { port, dir } = await startPostgres(renderPostgresConf(pg));

    // The application role, made by the same init script the image runs on first start.
    const setup = superuser(port);
    await setup.connect();
    await setup.query(`CREATE DATABASE ${pg.database}`);
    await setup.end();
    const passwordFile = join(dir, "app-password");
    writeFileSync(passwordFile, "app-test-password");
    if (isRoot) chownSync(passwordFile, Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })), 0);
    asPostgres("sh", ["-c", renderInitScript()], {
      POSTGRES_USER: "postgres",
      POSTGRES_DB: pg.database,
      APP_DB_USER: pg.appUser,
      APP_DB_PASSWORD_FILE: passwordFile,
      PGHOST: "127.0.0.1",
      PGPORT: String(port),
      PGPASSWORD: "superuser-test-password",
    });

    // One pool per worker of every pod at maximum scale, configured as the pods are.
    const pools: Pool[] = [];
    const held: { release: () => void }[] = [];
    try {
      for (const service of config.services.filter((s) => s.usesDatabase)) {
        const settings = contractSettings(config, service);
        const pods = serviceCapacity(service, true).maxPods;
        for (let i = 0; i < pods * service.workerProcesses; i++) {
          const pool = new Pool({
            host: "127.0.0.1",
            port,
            database: settings.PLATFORM_DATABASE_NAME,
            user: settings.PLATFORM_DATABASE_USER,
            password: "app-test-password",
            max: Number(settings.PLATFORM_DATABASE_POOL_MAX),
            connectionTimeoutMillis: Number(settings.PLATFORM_DATABASE_POOL_TIMEOUT_SECONDS) * 1000,
          });
          pools.push(pool);
          for (let c = 0; c < pool.options.max; c++) held.push(await pool.connect());
        }
      }
      const appConnections = budget.services.reduce((n, s) => n + s.connections, 0);
      assert.equal(held.length, appConnections);

      // The rest of the budget (migration, exporter, admin) as the app role too, then one past it.
      const extra: Client[] = [];
      const room = pg.maxConnections - pg.superuserReservedConnections - appConnections;
      assert.ok(room >= budget.total - appConnections - pg.superuserReservedConnections, "budget exceeds the room the server gives");
      try {
        for (let i = 0; i < room; i++) {
          const c = new Client({ host: "127.0.0.1", port, user: pg.appUser, password: "app-test-password", database: pg.database });
          await c.connect();
          extra.push(c);
        }
        const one = new Client({ host: "127.0.0.1", port, user: pg.appUser, password: "app-test-password", database: pg.database });
        await assert.rejects(one.connect(), /remaining connection slots are reserved|too many clients/);
        await one.end().catch(() => undefined);
        // The reserved slots still admit the superuser.
        const admin = superuser(port, pg.database);
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

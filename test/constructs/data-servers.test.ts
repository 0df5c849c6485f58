/**
 * The data tier's pods run by the real servers: Redis (Debian's redis-server 7.0) with the
 * redis.conf, the ACL file its init container writes and the probe, exactly as the synthesized
 * StatefulSet says; Postgres (the installed PostgreSQL, test/servers.ts finds it) initialised as the official image's entrypoint
 * does it from the StatefulSet's env (test/postgres-image.ts); and the connection budget checked
 * against what Postgres actually allows. .ci/run installs the packages.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client, type Pool, type PoolClient } from "pg";
import { connectionBudget } from "../../config/capacity";
import { parseMemoryBytes, postgresMegabytes } from "../../config/quantity";
import { ENVIRONMENT_NAMES } from "../../config/schema";
import { REDIS_BYTES_PER_COUNTER } from "../../config/redis-sizing";
import { MONITORING_ROLE } from "../../config/semantics";
import { SECRET_NAMES } from "../../constructs/platform-secrets";
import { HBA_UPGRADE_SCRIPT, INITDB_AUTH_ARGS } from "../../constructs/postgres";
import { REDIS_PORT, REDIS_SECRET_KEYS, REDIS_USERS, renderAclScript, renderRedisConf } from "../../constructs/redis";
import { openPeakPools, type PlatformPostgres, startPlatformPostgres, TEST_PASSWORDS } from "../database";
import { type Json, loadConfig, named, synthEnvironment, tempDir } from "../helpers";
import { layOutPod, type PodLayout } from "../pod";
import { ENTRYPOINT_COMMIT } from "../postgres-image";
import { asPostgres, freePort, pgBin, waitFor } from "../servers";

/** A non-loopback IPv4 address of this machine, where protected mode would refuse a default user. */
const outside = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === "IPv4" && !a.internal)?.address;

const container = (json: Json, workload: string, name: string): Json =>
  [...(named(json, "kubernetes_stateful_set_v1", workload).spec.template.spec.init_container ?? []), ...named(json, "kubernetes_stateful_set_v1", workload).spec.template.spec.container].find(
    (c: Json) => c.name === name,
  );

describe("Redis on redis-server, as the StatefulSet runs it: ACL users per purpose", () => {
  const production = synthEnvironment("production");
  const settings = loadConfig("production").redis!;
  // Keys as the contract names them, for services of the catalogue (test/catalogue.ts): one that
  // is rate-limited, one that caches.
  const LIMITED = loadConfig("production").services.find((s) => s.rateLimit)?.name ?? loadConfig("production").services[0]!.name;
  const CACHED = loadConfig("production").services.find((s) => s.cache)?.name ?? loadConfig("production").services[0]!.name;
  // Passwords with a space, quotes and a backslash: the ACL file holds hashes, the exporter's JSON escapes.
  const passwords = { ratelimit: 'rate "limit" pass', cache: "cache-test-password", exporter: 'exp\\orter "pw"' };
  const admin = { user: "test-admin", password: "test-admin-password" };
  let pod: PodLayout;
  let server: ChildProcess;
  let port: number;
  let aclText: string;

  /** redis-cli as `user`: the reply (errors are replies: redis-cli exits 0 on them). */
  const as = (who: { user: string; password: string } | undefined, ...args: string[]) =>
    spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...(who ? ["--user", who.user] : []), ...args], {
      encoding: "utf8",
      env: { ...process.env, REDISCLI_AUTH: who?.password ?? "" },
    }).stdout.trim();
  const user = (purpose: keyof typeof passwords) => ({ user: REDIS_USERS[purpose].name, password: passwords[purpose] });
  const ok = (reply: string) => assert.doesNotMatch(reply, /^(NOPERM|ERR|NOAUTH|WRONGPASS)/m, reply);
  /**
   * The user's command fails for want of permission, and the ACL itself says so (ACL DRYRUN: DEBUG
   * is also off by configuration, and a script's calls are checked only when it runs).
   */
  const refused = (who: { user: string; password: string }, ...args: string[]) => {
    const reply = as(who, ...args);
    assert.match(reply, /NOPERM|can't (run this command|access at least one of the keys)|DEBUG command not allowed/, `${who.user}: ${args.join(" ")} -> ${reply}`);
    if (args[0] !== "EVAL") assert.match(as(admin, "ACL", "DRYRUN", who.user, ...args), /no permissions/, `ACL DRYRUN ${who.user} ${args.join(" ")}`);
  };
  /** The pod's paths moved, and its Redis port the test's. */
  const localPort = (text: string) => text.replaceAll(`127.0.0.1:${REDIS_PORT}`, `127.0.0.1:${port}`).replace(/-p 6379\b/, `-p ${port}`);

  before(async () => {
    assert.ok(existsSync("/usr/bin/redis-server"), "redis-server is not installed (Debian package redis-server; .ci/run installs it)");
    port = await freePort();
    pod = layOutPod(production, "redis", {
      [`${SECRET_NAMES.redis}/${REDIS_SECRET_KEYS.ratelimit}`]: passwords.ratelimit,
      // A trailing newline, as `kubectl create secret --from-file` keeps it: not part of the password.
      [`${SECRET_NAMES.redis}/${REDIS_SECRET_KEYS.cache}`]: `${passwords.cache}\n`,
      [`${SECRET_NAMES.redis}/${REDIS_SECRET_KEYS.exporter}`]: passwords.exporter,
    });
    // The init container, as emitted.
    const init = pod.container("acl");
    execFileSync(init.command[0]!, init.command.slice(1).map(localPort), { stdio: ["ignore", "pipe", "pipe"] });
    const aclFile = join(pod.volume("acl"), "users.acl");
    aclText = readFileSync(aclFile, "utf8");
    // A test-only administrator for setup and measurement; the users under test are as written.
    writeFileSync(aclFile, `${aclText}user ${admin.user} on >${admin.password} ~* &* +@all\n`);
    // As the pod runs it; the port, and the ACL file's path (written in redis.conf), moved for the test.
    const redis = pod.container("redis");
    assert.match(readFileSync(join(pod.volume("config-0"), "redis.conf"), "utf8"), /^aclfile \/run\/redis\/acl\/users\.acl$/m);
    server = spawn(redis.command[0]!, [...redis.command.slice(1), "--port", String(port), "--aclfile", aclFile], { stdio: "ignore" });
    await waitFor(() => as(admin, "ping") === "PONG", "redis-server");
  });
  after(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once("exit", r));
      server.kill();
      await exited;
    }
    pod?.remove();
  });

  it("assembles the ACL file from the Secret's files: SHA-256 hashes, never a password, only in memory", () => {
    for (const p of Object.values(passwords)) assert.ok(!aclText.includes(p), "a password is in the ACL file");
    const lines = aclText.trim().split("\n");
    assert.deepEqual(
      lines.map((l) => l.split(" ")[1]),
      ["default", "ratelimit", "cache", "exporter", "probe"],
    );
    assert.equal(lines[0], "user default off resetpass resetkeys resetchannels -@all");
    for (const line of lines.slice(1)) assert.match(line, /^user \S+ on #[0-9a-f]{64} resetkeys resetchannels -@all /);
    assert.equal(statSync(join(pod.volume("acl"), "users.acl")).mode & 0o777, 0o600);
    // The volumes the init container writes are memory emptyDirs; neither Redis nor the exporter mounts a Secret.
    const spec = named(production, "kubernetes_stateful_set_v1", "redis").spec.template.spec;
    for (const v of ["acl", "exporter-auth"]) assert.deepEqual(spec.volume.find((x: Json) => x.name === v).empty_dir, { medium: "Memory", size_limit: "1Mi" });
    for (const c of spec.container) assert.ok(!c.volume_mount.some((m: Json) => m.name.includes("secrets")), `${c.name} mounts a Secret`);
  });

  it("writes redis_exporter's password file as JSON it parses, readable by the pod's group only", () => {
    const file = join(pod.volume("exporter-auth"), "password.json");
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), { [`redis://127.0.0.1:${port}`]: passwords.exporter });
    assert.equal(statSync(file).mode & 0o777, 0o640);
  });

  it("starts with the configured maxmemory, policy and persistence", () => {
    assert.equal(as(admin, "CONFIG", "GET", "maxmemory").split("\n")[1], String(parseMemoryBytes(settings.maxmemory)));
    assert.equal(as(admin, "CONFIG", "GET", "maxmemory-policy").split("\n")[1], "noeviction");
    assert.equal(as(admin, "CONFIG", "GET", "appendonly").split("\n")[1], "yes");
  });

  it("refuses the default user, with or without a password, and every unauthenticated command", () => {
    assert.match(as(undefined, "ping"), /NOAUTH/);
    assert.match(as(undefined, "GET", "ratelimit:x"), /NOAUTH/);
    for (const password of ["", "anything", passwords.ratelimit]) {
      const auth = spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "AUTH", "default", password], { encoding: "utf8" });
      assert.match(auth.stdout + auth.stderr, /WRONGPASS/, `default/${password}`);
    }
    assert.match(as(user("ratelimit"), "ACL", "WHOAMI"), /NOPERM/);
    assert.match(as({ user: "ratelimit", password: "wrong" }, "ping"), /NOAUTH/);
  });

  it("runs with protected mode on, which refuses no user the ACL admits", (t) => {
    assert.equal(as(user("exporter"), "CONFIG", "GET", "protected-mode").split("\n")[1], "yes");
    if (!outside) return t.skip("no non-loopback IPv4 address on this machine to connect from");
    const remote = spawnSync("redis-cli", ["-h", outside, "-p", String(port), "--user", "ratelimit", "PING"], { encoding: "utf8", env: { ...process.env, REDISCLI_AUTH: passwords.ratelimit } });
    assert.equal(remote.stdout.trim(), "PONG");
  });

  // The contract's rate limiter: a sliding-window counter, decided and counted in one script.
  const SLIDING_WINDOW = [
    "local prev = tonumber(redis.call('GET', KEYS[2]) or '0')",
    "local curr = tonumber(redis.call('GET', KEYS[1]) or '0')",
    "local window = tonumber(ARGV[2])",
    "local weight = (window - tonumber(ARGV[3])) / window",
    "if prev * weight + curr >= tonumber(ARGV[1]) then return 0 end",
    "redis.call('INCR', KEYS[1])",
    "redis.call('PEXPIRE', KEYS[1], 2 * window)",
    "return 1",
  ].join("\n");

  it("lets the rate limiter run the sliding-window counter on ratelimit:* keys", () => {
    const rl = user("ratelimit");
    const sha = as(rl, "SCRIPT", "LOAD", SLIDING_WINDOW);
    assert.match(sha, /^[0-9a-f]{40}$/);
    const key = (w: number) => `ratelimit:${LIMITED}:low:client-1:${w}`;
    ok(as(rl, "INCRBY", key(99), "40"));
    ok(as(rl, "PEXPIRE", key(99), "120000"));
    // Halfway through window 100, 40 requests of window 99 weigh 20: 30 more of the tier's 50 pass.
    const admitted = Array.from({ length: 35 }, () => as(rl, "EVALSHA", sha, "2", key(100), key(99), "50", "60000", "30000")).filter((r) => r === "1").length;
    assert.equal(admitted, 30);
    assert.deepEqual(as(rl, "MGET", key(100), key(99)).split("\n"), ["30", "40"]);
    assert.ok(Number(as(rl, "PTTL", key(100))) > 60_000);
    assert.ok(Number(as(rl, "TTL", key(100))) > 60);
    assert.equal(as(rl, "EVAL", SLIDING_WINDOW, "2", key(101), key(100), "50", "60000", "0"), "1");
    assert.match(as(rl, "TIME"), /^\d+\n\d+$/);
    ok(as(rl, "INCR", key(102)));
    ok(as(rl, "EXPIRE", key(102), "120"));
    assert.equal(as(rl, "PING"), "PONG");
  });

  it("lets the rate limiter do nothing else: no other key, no administration, no escape through a script", () => {
    const rl = user("ratelimit");
    for (const command of [
      ["GET", `cache:${CACHED}:v1:x`],
      ["INCR", "cache:x"],
      ["SET", "ratelimit:x", "1"],
      ["DEL", "ratelimit:x"],
      ["RENAME", "ratelimit:x", "cache:x"],
      ["KEYS", "cache:*"],
      ["KEYS", "ratelimit:*"],
      ["SCAN", "0"],
      ["FLUSHALL"],
      ["FLUSHDB"],
      ["CONFIG", "SET", "maxmemory", "1"],
      ["CONFIG", "GET", "maxmemory"],
      ["ACL", "LIST"],
      ["ACL", "SETUSER", "intruder", "on", ">x", "+@all"],
      ["DEBUG", "SLEEP", "0"],
      ["SHUTDOWN"],
      ["MONITOR"],
      ["INFO"],
      ["SLOWLOG", "GET"],
      ["CLIENT", "LIST"],
      ["CLIENT", "KILL", "ID", "1"],
      ["SELECT", "1"],
      ["SWAPDB", "0", "1"],
      ["SUBSCRIBE", "news"],
      ["PUBLISH", "news", "x"],
      ["SCRIPT", "FLUSH"],
      ["FUNCTION", "FLUSH"],
      ["EVAL", "return redis.call('FLUSHALL')", "0"],
      ["EVAL", "return redis.call('GET', 'cache:x')", "0"],
      ["EVAL", "return redis.call('GET', KEYS[1])", "1", "cache:x"],
    ]) {
      refused(rl, ...command);
    }
  });

  it("lets the cache read and write cache:* entries with TTLs, and do nothing else", () => {
    const cache = user("cache");
    const key = `cache:${CACHED}:v1:agent_definition:42`;
    ok(as(cache, "SET", key, "{}", "EX", "3600"));
    assert.equal(as(cache, "GET", key), "{}");
    ok(as(cache, "SETEX", `${key}:b`, "5", "x"));
    assert.deepEqual(as(cache, "MGET", key, `${key}:b`).split("\n"), ["{}", "x"]);
    assert.equal(as(cache, "GETEX", key, "EX", "60"), "{}");
    assert.equal(as(cache, "EXISTS", key), "1");
    ok(as(cache, "EXPIRE", key, "30"));
    ok(as(cache, "PEXPIRE", key, "30000"));
    assert.ok(Number(as(cache, "TTL", key)) > 0);
    assert.ok(Number(as(cache, "PTTL", key)) > 0);
    assert.equal(as(cache, "DEL", key), "1");
    assert.equal(as(cache, "UNLINK", `${key}:b`), "1");
    assert.equal(as(cache, "PING"), "PONG");
    for (const command of [
      ["GET", `ratelimit:${LIMITED}:default:client:1`],
      ["SET", "ratelimit:x", "0"],
      ["DEL", "ratelimit:x"],
      ["INCR", "cache:x"],
      ["KEYS", "ratelimit:*"],
      ["KEYS", "cache:*"],
      ["SCAN", "0"],
      ["EVAL", "return 1", "0"],
      ["FLUSHALL"],
      ["FLUSHDB"],
      ["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
      ["ACL", "LIST"],
      ["DEBUG", "OBJECT", key],
      ["INFO"],
      ["CLIENT", "LIST"],
      ["SUBSCRIBE", "news"],
      ["SELECT", "1"],
    ]) {
      refused(cache, ...command);
    }
  });

  it("lets the exporter read server statistics, and no key or setting change", () => {
    const exporter = user("exporter");
    assert.match(as(exporter, "INFO", "ALL"), /used_memory:/);
    assert.match(as(exporter, "CONFIG", "GET", "*"), /maxmemory-policy/);
    assert.equal(as(exporter, "CLIENT", "SETNAME", "redis_exporter"), "OK");
    assert.match(as(exporter, "SLOWLOG", "LEN"), /^\d+$/);
    ok(as(exporter, "SLOWLOG", "GET", "1"));
    ok(as(exporter, "LATENCY", "LATEST"));
    ok(as(exporter, "LATENCY", "HISTOGRAM"));
    for (const command of [
      ["GET", "ratelimit:x"],
      ["GET", "cache:x"],
      ["SET", "x", "1"],
      ["KEYS", "*"],
      ["SCAN", "0"],
      ["DBSIZE"],
      ["CONFIG", "SET", "protected-mode", "no"],
      ["CONFIG", "REWRITE"],
      ["CLIENT", "LIST"],
      ["CLIENT", "KILL", "ID", "1"],
      ["SLOWLOG", "RESET"],
      ["ACL", "LIST"],
      ["FLUSHALL"],
      ["DEBUG", "SLEEP", "0"],
      ["MONITOR"],
      ["EVAL", "return 1", "0"],
    ]) {
      refused(exporter, ...command);
    }
  });

  it("serves redis_exporter v1.67 with the emitted environment: every metric family, no permission error", async (t) => {
    const binary = process.env.REDIS_EXPORTER;
    if (!binary) return t.skip("REDIS_EXPORTER is unset: redis_exporter v1.67 is not on the Go module proxy (it answers 403); build it from its source and set REDIS_EXPORTER to run this");
    const env = Object.fromEntries(Object.entries(pod.container("metrics").env).map(([k, v]) => [k, localPort(v)]));
    const listen = await freePort();
    const exporter = spawn(binary, [`--web.listen-address=127.0.0.1:${listen}`], { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    exporter.stdout!.on("data", (d: Buffer) => (log += d.toString()));
    exporter.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    try {
      let metrics = "";
      await waitFor(async () => {
        metrics = await fetch(`http://127.0.0.1:${listen}/metrics`).then((r) => r.text(), () => "");
        return /^redis_up 1$/m.test(metrics);
      }, "redis_exporter to report redis_up 1");
      for (const family of ["redis_memory_max_bytes", "redis_config_maxmemory", "redis_connected_clients", "redis_slowlog_length", "redis_commands_latencies_usec_bucket"]) {
        assert.match(metrics, new RegExp(`^${family}`, "m"), family);
      }
      assert.doesNotMatch(log, /NOPERM|level=error/, log);
    } finally {
      exporter.kill();
    }
  });

  it("answers the probe as the probe user, which may only PING", () => {
    const probe = pod.container("redis").probe!.map(localPort);
    assert.equal(spawnSync(probe[0]!, probe.slice(1)).status, 0, probe.join(" "));
    const password = readFileSync(join(pod.volume("acl"), "probe-password"), "utf8");
    assert.match(password, /^[0-9a-f]{48}$/);
    refused({ user: "probe", password }, "GET", "ratelimit:x");
    refused({ user: "probe", password }, "INFO");
    // A wrong password fails the probe.
    const wrong = probe.map((a) => a.replace(join(pod.volume("acl"), "probe-password"), "/dev/null"));
    assert.notEqual(spawnSync(wrong[0]!, wrong.slice(1)).status, 0);
  });

  it("keeps rate-limit counters under memory pressure: cache writes fail, nothing is evicted", () => {
    as(admin, "CONFIG", "SET", "maxmemory", "2mb");
    try {
      ok(as(user("ratelimit"), "INCR", `ratelimit:${LIMITED}:client`));
      ok(as(user("ratelimit"), "EXPIRE", `ratelimit:${LIMITED}:client`, "60"));
      let refusedWrite = false;
      for (let i = 0; i < 200 && !refusedWrite; i++) {
        refusedWrite = /OOM/.test(as(user("cache"), "SET", `cache:${CACHED}:v1:session:${i}`, "x".repeat(20_000), "EX", "900"));
      }
      assert.ok(refusedWrite, "expected an OOM error once maxmemory was reached");
      assert.equal(as(user("ratelimit"), "GET", `ratelimit:${LIMITED}:client`), "1");
    } finally {
      as(admin, "FLUSHALL");
      as(admin, "CONFIG", "SET", "maxmemory", String(parseMemoryBytes(settings.maxmemory)));
    }
  });

  it(`needs at most ${REDIS_BYTES_PER_COUNTER} bytes per rate-limit counter (the sizing the Redis floor multiplies)`, () => {
    as(admin, "FLUSHALL");
    as(admin, "CONFIG", "SET", "maxmemory", "0");
    const used = () => Number(/used_memory:(\d+)/.exec(as(admin, "INFO", "memory"))![1]);
    const before = used();
    const n = 20_000;
    // Keys as long as the contract allows (64 bytes), with a value and a TTL, in one pipeline.
    // Inline commands in redis-cli's pipe mode: one write, not one round trip per key.
    const key = (i: number) => `ratelimit:${LIMITED}:default:${String(i).padStart(8, "0")}:29485012`;
    // Every key padded to the contract's 64 bytes, whatever the service's name is.
    const script = Array.from({ length: n }, (_, i) => `SET ${key(i).padEnd(64, "c")} 17 EX 120\r\n`).join("");
    execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "--user", admin.user, "--pipe"], { input: script, env: { ...process.env, REDISCLI_AUTH: admin.password }, stdio: ["pipe", "ignore", "pipe"] });
    assert.equal(as(admin, "DBSIZE"), String(n));
    const perKey = (used() - before) / n;
    assert.ok(perKey > 50 && perKey <= REDIS_BYTES_PER_COUNTER, `${perKey.toFixed(1)} bytes per counter`);
    as(admin, "FLUSHALL");
  });

  it("runs without persistence where the environment says so", () => {
    const conf = renderRedisConf({ ...settings, persistence: false });
    assert.match(conf, /^appendonly no$/m);
    assert.match(conf, /^save ""$/m);
  });
});

describe("Redis' ACL script refuses what would leave a user open or the exporter unable to log in", () => {
  const run = (values: Partial<Record<keyof typeof REDIS_SECRET_KEYS, string>>) => {
    const dir = tempDir("redis-acl-");
    const dirs = { secrets: join(dir, "secrets"), acl: join(dir, "acl"), exporterAuth: join(dir, "exporter") };
    Object.values(dirs).forEach((d) => mkdirSync(d));
    for (const [purpose, value] of Object.entries(values)) writeFileSync(join(dirs.secrets, REDIS_SECRET_KEYS[purpose as keyof typeof REDIS_SECRET_KEYS]), value);
    return spawnSync("sh", ["-c", renderAclScript(dirs)], { encoding: "utf8" });
  };
  const good = { ratelimit: "a", cache: "b", exporter: "c" };

  it("passes shellcheck", (t) => {
    if (spawnSync("shellcheck", ["--version"]).status !== 0) return t.skip("shellcheck is not installed (.ci/run installs it)");
    const check = spawnSync("shellcheck", ["-s", "sh", "-"], { input: renderAclScript(), encoding: "utf8" });
    assert.equal(check.status, 0, check.stdout);
  });

  it("writes the file from good passwords", () => {
    assert.equal(run(good).status, 0);
  });

  for (const [what, values, message] of [
    ["an empty password", { ...good, cache: "\n" }, /cache-password is empty \(Secret redis-auth, key cache-password\)/],
    ["a missing key", { ratelimit: "a", exporter: "c" }, /cannot read .*cache-password \(Secret redis-auth, key cache-password\)/],
    ["a control character in the exporter's password", { ...good, exporter: "line\nbreak" }, /exporter-password holds a control character/],
  ] as const) {
    it(`fails on ${what}, naming the Secret key and printing no password`, () => {
      const result = run(values);
      assert.notEqual(result.status, 0);
      assert.match(result.stderr, message);
      for (const v of Object.values(values)) if (v.trim().length > 2) assert.ok(!result.stderr.includes(v));
    });
  }
});

/** The environment whose Postgres is the StatefulSet (local, in the shipped configs). */
const STATEFULSET_ENV = ENVIRONMENT_NAMES.find((e) => loadConfig(e).postgres.topology.kind === "statefulset")!;

describe(`Postgres as the image initialises it from the StatefulSet (${STATEFULSET_ENV}), on the installed PostgreSQL`, () => {
  const stack = synthEnvironment(STATEFULSET_ENV);
  const pg = loadConfig(STATEFULSET_ENV).postgres;
  let server: PlatformPostgres;
  before(async () => {
    server = await startPlatformPostgres(stack);
  });
  after(() => server?.stop());

  const psql = (host: string, user: string, password: string | undefined, sql: string, database = "postgres") => psqlAs(server.port, host, user, password, sql, database);

  it(`initdb ran with the StatefulSet's POSTGRES_INITDB_ARGS (docker-entrypoint.sh at ${ENTRYPOINT_COMMIT.slice(0, 12)}): no rule trusts anyone`, () => {
    const env = Object.fromEntries(container(stack, "postgres", "postgres").env.map((e: Json) => [e.name, e.value]));
    assert.equal(env.POSTGRES_INITDB_ARGS, INITDB_AUTH_ARGS);
    const rules = readFileSync(join(server.pgdata, "pg_hba.conf"), "utf8")
      .split("\n")
      .filter((l) => l.trim() && !l.trim().startsWith("#"))
      .map((l) => l.trim().split(/\s+/));
    assert.deepEqual(
      rules.map((r) => r.join(" ")),
      [
        "local all all scram-sha-256",
        "host all all 127.0.0.1/32 scram-sha-256",
        "host all all ::1/128 scram-sha-256",
        "local replication all scram-sha-256",
        "host replication all 127.0.0.1/32 scram-sha-256",
        "host replication all ::1/128 scram-sha-256",
        // The entrypoint's own rule, its method from postgresql.conf's password_encryption.
        "host all all all scram-sha-256",
      ],
    );
  });

  it("refuses the superuser without the password over the socket and over 127.0.0.1, and admits it with", () => {
    for (const host of [server.socketDir, "127.0.0.1"]) {
      const without = psql(host, "postgres", undefined, "SELECT 1");
      assert.notEqual(without.status, 0, `${host}: logged in without a password`);
      assert.match(without.stderr, /no password supplied|password authentication failed/);
      const wrong = psql(host, "postgres", "not-the-password", "SELECT 1");
      assert.match(wrong.stderr, /password authentication failed for user "postgres"/);
      const withPassword = psql(host, "postgres", TEST_PASSWORDS.superuser, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user");
      assert.equal(withPassword.stdout.trim(), "t", withPassword.stderr);
    }
  });

  it("ran the init script under those rules: the application and monitoring roles log in with their passwords", () => {
    assert.match(server.log, /CREATE ROLE/);
    assert.equal(psql("127.0.0.1", pg.appUser, TEST_PASSWORDS.app, "SELECT current_user", pg.database).stdout.trim(), pg.appUser);
    assert.notEqual(psql(server.socketDir, pg.appUser, undefined, "SELECT 1", pg.database).status, 0);
  });

  it("answers the probe's pg_isready, which sends no password", () => {
    const probe = container(stack, "postgres", "postgres").readiness_probe.exec.command as string[];
    assert.equal(probe[0], "pg_isready");
    const local = probe.map((a) => (a === "5432" ? String(server.port) : a));
    const result = spawnSync(`${pgBin()}/pg_isready`, local.slice(1), { encoding: "utf8" });
    assert.equal(result.status, 0, result.stdout);
  });

  it("starts with the environment's settings and reports them", async () => {
    const client = server.superuser();
    await client.connect();
    try {
      const show = async (name: string) => (await client.query(`SHOW ${name}`)).rows[0][name];
      assert.equal(await show("max_connections"), String(pg.maxConnections));
      assert.equal(await show("superuser_reserved_connections"), String(pg.superuserReservedConnections));
      // As Postgres shows them: the rendered megabytes, in its largest whole unit.
      const shown = (q: string) => {
        const mb = Number(postgresMegabytes(q).replace("MB", ""));
        return mb % 1024 === 0 ? `${mb / 1024}GB` : `${mb}MB`;
      };
      assert.equal(await show("shared_buffers"), shown(pg.sharedBuffers));
      assert.equal(await show("work_mem"), shown(pg.workMem));
      assert.equal(await show("effective_cache_size"), shown(pg.effectiveCacheSize));
      assert.equal(await show("password_encryption"), "scram-sha-256");
    } finally {
      await client.end();
    }
  });

  it("mounts in the exporter's container the monitoring password alone", () => {
    const exporter = server.pod.container("metrics");
    assert.deepEqual(readdirSync(exporter.at("/run/secrets/platform")), ["monitoring-password"]);
    assert.deepEqual(readdirSync(server.pod.container("postgres").at("/run/secrets/platform")).sort(), ["app-password", "monitoring-password", "superuser-password"]);
  });

  it("gives postgres_exporter a pg_monitor-only login: statistics, and no data, no roles, no files, no superuser", async () => {
    // The exporter's login, from its container's env and the file it mounts.
    const env = server.pod.container("metrics").env;
    assert.equal(env.DATA_SOURCE_USER, MONITORING_ROLE);
    const password = readFileSync(env.DATA_SOURCE_PASS_FILE!, "utf8");
    const [hostPort, database] = env.DATA_SOURCE_URI!.split("?")[0]!.split("/");
    assert.equal(hostPort, "127.0.0.1:5432");
    const app = new Client({ host: "127.0.0.1", port: server.port, user: pg.appUser, password: TEST_PASSWORDS.app, database: pg.database });
    await app.connect();
    await app.query("CREATE TABLE secrets_of_the_app (v text)");
    await app.query("INSERT INTO secrets_of_the_app VALUES ('x')");
    const monitor = new Client({ host: "127.0.0.1", port: server.port, user: env.DATA_SOURCE_USER, password, database });
    await monitor.connect();
    try {
      const role = await monitor.query(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolinherit, array(SELECT b.rolname::text FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid WHERE m.member = r.oid) AS member_of FROM pg_roles r WHERE rolname = current_user",
      );
      assert.deepEqual(role.rows[0], { rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolreplication: false, rolbypassrls: false, rolinherit: true, member_of: ["pg_monitor"] });
      // What postgres_exporter reads: every backend's activity, settings and database statistics.
      const seen = await monitor.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND query IS NOT NULL AND query <> '<insufficient privilege>'", [pg.appUser]);
      assert.equal(seen.rows[0].n, 1);
      assert.ok((await monitor.query("SELECT numbackends FROM pg_stat_database WHERE datname = $1", [pg.database])).rowCount === 1);
      assert.ok((await monitor.query("SELECT setting FROM pg_settings WHERE name = 'max_connections'")).rowCount === 1);
      for (const [sql, error] of [
        ["SELECT * FROM secrets_of_the_app", /permission denied/],
        ["CREATE TABLE t (v int)", /permission denied/],
        ["CREATE ROLE intruder LOGIN", /permission denied to create role/],
        ["CREATE ROLE intruder LOGIN SUPERUSER", /must be superuser to create superusers/],
        ["ALTER ROLE postgres PASSWORD 'taken'", /permission denied|must be superuser/],
        [`GRANT pg_read_server_files TO ${MONITORING_ROLE}`, /permission denied|must have admin option/],
        ["SET ROLE postgres", /permission denied/],
        ["SELECT rolpassword FROM pg_authid", /permission denied/],
        ["SELECT pg_read_file('pg_hba.conf')", /permission denied/],
        ["COPY (SELECT 1) TO PROGRAM 'true'", /permission denied|must be superuser/],
        ["CREATE DATABASE intruder", /permission denied/],
        ["SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'postgres'", /permission denied|must be a superuser|must be a member/],
      ] as const) {
        await assert.rejects(monitor.query(sql), error, sql);
      }
    } finally {
      await monitor.end();
      await app.end();
    }
  });
});

describe("a data directory the image initialised before POSTGRES_INITDB_ARGS (the earlier StatefulSet)", () => {
  const earlier = synthEnvironment(STATEFULSET_ENV);
  const pgContainer = container(earlier, "postgres", "postgres");
  pgContainer.env = pgContainer.env.filter((e: Json) => e.name !== "POSTGRES_INITDB_ARGS");
  let server: PlatformPostgres;
  before(async () => {
    server = await startPlatformPostgres(earlier);
  });
  after(() => server?.stop());
  const login = (host: string, password?: string) => psqlAs(server.port, host, "postgres", password, "SELECT 1");

  it("trusted every socket and loopback login: the hole, reproduced", () => {
    assert.equal(login(server.socketDir).status, 0);
    assert.equal(login("127.0.0.1").status, 0);
  });

  it("is closed by the one-time step in docs/operations.md, with no restart", () => {
    const docs = readFileSync(resolve(__dirname, "../../../docs/operations.md"), "utf8");
    assert.ok(docs.includes(HBA_UPGRADE_SCRIPT), "docs/operations.md does not carry the upgrade script");
    asPostgres("sh", ["-c", HBA_UPGRADE_SCRIPT], { PGDATA: server.pgdata, PATH: `${pgBin()}:${process.env.PATH}` });
    // pg_ctl reload signals the server; the new rules apply from the next connection.
    for (const host of [server.socketDir, "127.0.0.1"]) {
      assert.notEqual(login(host).status, 0, `${host} still trusts`);
      assert.equal(login(host, TEST_PASSWORDS.superuser).status, 0);
    }
    const trust = psqlAs(server.port, "127.0.0.1", "postgres", TEST_PASSWORDS.superuser, "SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust'");
    assert.equal(trust.stdout.trim(), "0", trust.stderr);
  });
});

describe("the connection budget on the installed PostgreSQL", () => {
  it("admits exactly the budget: the pools fit, and the server stops at max_connections - reserved", async () => {
    // Local (direct to Postgres) at its peak: HPA maximums and rollout surge, the generated pool settings.
    const config = loadConfig("local", { enableAutoscaling: true });
    const pg = config.postgres;
    const budget = connectionBudget(config);
    const layer = budget.layers[0]!;
    assert.equal(budget.layers.length, 1);
    assert.ok(budget.fits, layer.arithmetic);
    // The application role, made by the same init script the image runs on first start.
    const server = await startPlatformPostgres(synthEnvironment("local", { enableAutoscaling: true }));
    const { port } = server;

    // One pool per worker of every pod at maximum scale, configured as the pods are.
    const { pools, held } = { pools: [] as Pool[], held: [] as PoolClient[] };
    try {
      await openPeakPools(config, port, TEST_PASSWORDS.app, { pools, held });
      const appConnections = budget.clients.reduce((n, s) => n + s.connections, 0);
      assert.equal(held.length, appConnections);

      // The rest of the budget (migration, exporter, admin) as the app role too, then one past it.
      const extra: Client[] = [];
      const room = pg.maxConnections - pg.superuserReservedConnections - appConnections;
      assert.ok(room >= layer.need - appConnections - pg.superuserReservedConnections, "budget exceeds the room the server gives");
      try {
        for (let i = 0; i < room; i++) {
          const c = new Client({ host: "127.0.0.1", port, user: pg.appUser, password: TEST_PASSWORDS.app, database: pg.database });
          await c.connect();
          extra.push(c);
        }
        const one = new Client({ host: "127.0.0.1", port, user: pg.appUser, password: TEST_PASSWORDS.app, database: pg.database });
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
      server.stop();
    }
  });
});

/**
 * psql as `user` to the server on `port`, over a socket directory or a host, with the password or
 * none: no other libpq variable and no password file, so nothing but `password` can log it in.
 */
function psqlAs(port: number, host: string, user: string, password: string | undefined, sql: string, database = "postgres") {
  return spawnSync("psql", ["-h", host, "-p", String(port), "-U", user, "-d", database, "-w", "-Atc", sql], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, PGPASSFILE: "/dev/null", ...(password === undefined ? {} : { PGPASSWORD: password }) },
  });
}

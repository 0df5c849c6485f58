/**
 * `npm run bench`: what synthesizing costs, measured so that a sceptic accepts the numbers.
 *
 * - **Pairs of equal work**, run interleaved (A B A B …) after a warm-up of each, so load drift hits
 *   both sides alike; the ratio is taken pair by pair, then its median:
 *   1. the cdktf init template's app (`ts-node main.ts`: type-check and transpile, TypeScript 5)
 *      vs ours (`tsc -p tsconfig.build.json` from scratch, then `node dist/main.js`);
 *   2. `cdktf synth` with the template's app vs with ours (the command users type; ours compiles
 *      from scratch each time, as ts-node type-checks each time);
 *   3. our app (`node dist/main.js`) vs its import floor (node loading exactly the modules the app
 *      loads, in the same order, and doing nothing else).
 * - **CPU** (user + sys of the whole process tree, from the kernel's accounting of waited-for
 *   children) and **wall** time, min / median / max; **peak RSS of the whole tree** (every
 *   descendant's RSS summed, sampled every 5 ms from /proc).
 * - `--scale`: 5, 20, 50, 100 and 200-service variants, generated in a temporary copy of the
 *   project the way the README's "Adding a service" describes, with time, tree RSS and JSON size
 *   per size and the per-service slope (least squares).
 * - `--drills`: what the database drills (test/drills/) add to `npm test`: the README's test
 *   command's runner over every test file vs over every file but the drills, interleaved, the
 *   added wall and CPU as the median (min, max) of the pairs' differences. Both sides run the same
 *   files otherwise, at the same concurrency, in the same environment; run it with what `.ci/run`
 *   exports (TERRAFORM, VERSITYGW, CYCLONUS, HELM), or the drills and other checks skip and the
 *   figure means nothing. BENCH_RUNS=3 by default here (one side is a whole `npm test`).
 *
 *   npm run bench                  # pairs, BENCH_RUNS=7 by default
 *   npm run bench -- --scale       # the scaling series
 *   npm run bench -- --drills      # the drills' cost inside npm test
 *   BENCH_PAIRS=floor npm run bench   # one pair only (template, cli, floor)
 *
 * Needs GNU time (/usr/bin/time, Debian package `time`) and Linux's /proc. Figures, not pass/fail.
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";

const PROJECT = resolve(__dirname, "..", "..");
const DRILLS = process.argv.includes("--drills");
const RUNS = Number(process.env.BENCH_RUNS ?? (DRILLS ? 3 : 7));
const node = process.execPath;

interface Sample {
  readonly wall: number;
  readonly cpu: number;
  readonly rssMb: number;
}

/** Sum of the RSS (kB) of `pid` and all its descendants, from /proc. */
function treeRssKb(pid: number): number {
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    try {
      const status = readFileSync(`/proc/${p}/status`, "utf8");
      total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const children = readFileSync(`/proc/${p}/task/${task}/children`, "utf8").trim();
        if (children) stack.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // the process exited between the listing and the read
    }
  }
  return total;
}

/** Runs `command` under GNU time, sampling the tree's RSS; rejects on a non-zero exit. */
function measure(command: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Sample> {
  return new Promise((resolvePromise, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn("/usr/bin/time", ["-f", "BENCH %U %S", ...command], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    // The last lines of its output, to say what failed (a test runner's failures are on stdout).
    let stdout = "";
    let peak = 0;
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => (stdout = (stdout + d.toString()).slice(-64 * 1024)));
    const timer = setInterval(() => (peak = Math.max(peak, treeRssKb(child.pid!))), 5);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearInterval(timer);
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      const m = /BENCH ([\d.]+) ([\d.]+)/.exec(stderr);
      if (code !== 0 || !m) {
        const failures = stdout.split("\n").filter((l) => /✖|not ok|Error|failed/.test(l)).slice(-40).join("\n");
        return reject(new Error(`${command.join(" ")} failed (${code}):\n${failures}\n${stderr.slice(-2000)}`));
      }
      resolvePromise({ wall, cpu: Number(m[1]) + Number(m[2]), rssMb: peak / 1024 });
    });
  });
}

const median = (v: readonly number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const mmm = (v: readonly number[], digits = 2) => `${Math.min(...v).toFixed(digits)} / ${median(v).toFixed(digits)} / ${Math.max(...v).toFixed(digits)}`;

interface Side {
  readonly name: string;
  readonly command: readonly string[];
  /** Runs before each measurement (not measured): e.g. removing incremental build state. */
  readonly before?: () => void;
}

async function pair(title: string, a: Side, b: Side, cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  const out = (n: string) => join(tmpdir(), `bench-out-${process.pid}-${n}`);
  const run = async (side: Side, i: number) => {
    side.before?.();
    const dir = out(`${i}`);
    rmSync(dir, { recursive: true, force: true });
    try {
      return await measure(side.command, cwd, { ...env, CDKTF_OUTDIR: dir });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  await run(a, -1); // warm-up: file cache, npx resolution
  await run(b, -2);
  const as: Sample[] = [];
  const bs: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    as.push(await run(a, i));
    bs.push(await run(b, i));
  }
  const ratio = (k: keyof Sample) => median(as.map((x, i) => x[k] / bs[i]![k]));
  process.stdout.write(`\n${title} (${RUNS} interleaved pairs after a warm-up; min / median / max)\n`);
  process.stdout.write(`  ${"".padEnd(48)} ${"wall s".padStart(20)} ${"CPU s (user+sys)".padStart(20)} ${"tree peak RSS MB".padStart(22)}\n`);
  for (const [side, s] of [[a, as], [b, bs]] as const) {
    process.stdout.write(
      `  ${side.name.padEnd(48)} ${mmm(s.map((x) => x.wall)).padStart(20)} ${mmm(s.map((x) => x.cpu)).padStart(20)} ${mmm(s.map((x) => x.rssMb), 0).padStart(22)}\n`,
    );
  }
  process.stdout.write(`  ratio A/B, median of pairs: wall ${ratio("wall").toFixed(2)}x, CPU ${ratio("cpu").toFixed(2)}x, tree RSS ${ratio("rssMb").toFixed(2)}x\n`);
  const diff = (k: keyof Sample) => mmm(as.map((x, i) => x[k] - bs[i]![k]));
  process.stdout.write(`  difference A-B per pair (min / median / max): wall ${diff("wall")} s, CPU ${diff("cpu")} s\n`);
}

/** A node script that loads exactly the modules `node dist/main.js` loads, in order, and stops. */
function importFloor(dir: string, env: NodeJS.ProcessEnv): string {
  const recorder = join(dir, "record-modules.js");
  const list = join(dir, "modules.json");
  writeFileSync(recorder, `process.on("exit", () => require("fs").writeFileSync(${JSON.stringify(list)}, JSON.stringify(Object.keys(require.cache))));\n`);
  const out = join(dir, "out");
  const r = spawnSync(node, ["-r", recorder, join(PROJECT, "dist", "main.js")], { cwd: PROJECT, env: { ...env, CDKTF_OUTDIR: out }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`recording the app's modules failed:\n${r.stderr}`);
  rmSync(out, { recursive: true, force: true });
  const modules = (JSON.parse(readFileSync(list, "utf8")) as string[]).filter((m) => m !== recorder && m !== join(PROJECT, "dist", "main.js"));
  const floor = join(dir, "import-floor.js");
  writeFileSync(floor, `${modules.map((m) => `require(${JSON.stringify(m)});`).join("\n")}\n`);
  return floor;
}

function machine(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model.trim() ?? "cpu"}, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`;
}

async function pairs(): Promise<void> {
  const env = { ...process.env, PLATFORM_SUMMARY: "off", CHECKPOINT_DISABLE: "1", DEPLOYMENT_ENV: "", ENABLE_AUTOSCALING: "", TS_NODE_COMPILER: "typescript-5", CI: "" };
  const scratch = mkdtempSync(join(tmpdir(), "platform-bench-"));
  const only = process.env.BENCH_PAIRS?.split(",");
  const want = (name: string) => !only || only.includes(name);
  process.stdout.write(`Synthesizing local, staging and production. Machine: ${machine()}.\n`);
  try {
    const tsc = [node, join(PROJECT, "node_modules", "typescript", "bin", "tsc")];
    const buildInfo = join(PROJECT, ".cache", "tsbuild", "app.tsbuildinfo");
    const fresh = () => rmSync(buildInfo, { force: true });
    if (want("template")) {
      await pair(
        "1. The template's app vs ours, equal work (type-check, compile, synthesize)",
        { name: "A  npx ts-node main.ts (TypeScript 5)", command: ["npx", "ts-node", "main.ts"] },
        { name: "B  tsc (from scratch) && node dist/main.js", command: ["sh", "-c", `${tsc.join(" ")} -p tsconfig.build.json && ${node} dist/main.js`], before: fresh },
        PROJECT,
        env,
      );
    }
    if (want("cli")) {
      const cli = [node, join(PROJECT, "node_modules", "cdktf-cli", "bundle", "bin", "cdktf"), "synth"];
      await pair(
        "2. `cdktf synth`, the command users type: the template's app vs ours",
        { name: "A  cdktf synth --app 'npx ts-node main.ts'", command: [...cli, "--app", "npx ts-node main.ts"] },
        // From scratch, as A type-checks every time: equal work. (With nothing changed since the
        // last compile, compile.cjs starts no tsc at all and B is faster still.)
        { name: "B  cdktf synth (cdktf.json: tsc from scratch + node)", command: cli, before: fresh },
        PROJECT,
        env,
      );
    }
    if (want("floor")) {
      const floor = importFloor(scratch, env);
      await pair(
        "3. Our app vs its import floor (the modules it loads, and nothing else)",
        { name: "A  node dist/main.js", command: [node, "dist/main.js"] },
        { name: "B  node import-floor.js", command: [node, floor] },
        PROJECT,
        env,
      );
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A copy of the project with `n` services: the five, plus generated ones, as README's "Adding a service". */
function variant(dir: string, n: number): void {
  for (const entry of ["dist", "package.json"]) cpSync(join(PROJECT, entry), join(dir, entry), { recursive: true });
  symlinkSync(join(PROJECT, "node_modules"), join(dir, "node_modules"));
  // The compiled config modules are plain objects: extend them where the app reads them.
  const catalog = join(dir, "dist", "config", "services.js");
  const extra = Array.from({ length: Math.max(0, n - 5) }, (_, i) => `svc-${String(i + 1).padStart(3, "0")}`);
  writeFileSync(
    catalog,
    `${readFileSync(catalog, "utf8")}\nfor (const name of ${JSON.stringify(extra)}) exports.default[name] = { ...exports.default["tool-integration"], displayName: name, imageRepository: "ghcr.io/berrys-agents/" + name, calls: [] };\n`,
  );
  const redisGi = Math.max(2, Math.ceil(n / 10));
  for (const env of ["local", "staging", "production"]) {
    const file = join(dir, "dist", "config", `${env}.js`);
    writeFileSync(
      file,
      `${readFileSync(file, "utf8")}\nfor (const name of ${JSON.stringify(extra)}) exports.default.services[name] = JSON.parse(JSON.stringify(exports.default.services["tool-integration"]));\n` +
        // Room for every added service, as the budget errors would ask: more client connections
        // on PgBouncer where it runs (8 pods at the peak x pool 20), else more Postgres connections
        // (2 pods x 20); Postgres memory for them; Redis memory for their rate-limit counters.
        `if (exports.default.pgbouncer.enabled) exports.default.pgbouncer.maxClientConn += ${extra.length * 200};\n` +
        `else exports.default.postgres.maxConnections += ${extra.length * 50};\n` +
        `exports.default.postgres.workMem = "1Mi";\n` +
        `if (exports.default.postgres.resources.limits.memory !== undefined) exports.default.postgres.resources = { requests: exports.default.postgres.resources.requests, limits: { cpu: exports.default.postgres.resources.limits.cpu, memory: "64Gi" } };\n` +
        `if (exports.default.redis && exports.default.redis.enabled) { exports.default.redis.maxmemory = "${redisGi}Gi"; exports.default.redis.resources = { requests: exports.default.redis.resources.requests, limits: { cpu: exports.default.redis.resources.limits.cpu, memory: "${Math.ceil(redisGi * 1.3) + 1}Gi" } }; }\n` +
        `exports.default.nodeSize = { cpu: "64", memory: "256Gi" };\n`,
    );
  }
}

async function scale(): Promise<void> {
  const sizes = [5, 20, 50, 100, 200];
  const env = { ...process.env, PLATFORM_SUMMARY: "off", DEPLOYMENT_ENV: "", ENABLE_AUTOSCALING: "", CI: "" };
  const scratch = mkdtempSync(join(tmpdir(), "platform-bench-"));
  const floor = importFloor(scratch, env);
  process.stdout.write(`Scaling: all three environments synthesized with N services, each run paired with the import floor (interleaved). Machine: ${machine()}. ${RUNS} pairs each after a warm-up (median).\n`);
  process.stdout.write(
    `  ${"services".padStart(8)} ${"wall s".padStart(8)} ${"CPU s".padStart(8)} ${"tree RSS MB".padStart(12)} ${"JSON MB".padStart(9)} ${"floor wall s".padStart(13)} ${"app/floor".padStart(10)}\n`,
  );
  const rows: { n: number; wall: number; cpu: number; rss: number; json: number }[] = [];
  try {
    for (const n of sizes) {
      const dir = mkdtempSync(join(tmpdir(), `platform-scale-${n}-`));
      try {
        variant(dir, n);
        const samples: Sample[] = [];
        const floors: Sample[] = [];
        let json = 0;
        for (let i = -1; i < RUNS; i++) {
          const out = join(dir, "out");
          rmSync(out, { recursive: true, force: true });
          const s = await measure([node, join(dir, "dist", "main.js")], dir, { ...env, CDKTF_OUTDIR: out });
          const f = await measure([node, floor], dir, env);
          if (i >= 0) {
            samples.push(s);
            floors.push(f);
          }
          json = ["local", "staging", "production"].reduce((t, e) => t + statSync(join(out, "stacks", e, "cdk.tf.json")).size, 0);
        }
        const row = { n, wall: median(samples.map((s) => s.wall)), cpu: median(samples.map((s) => s.cpu)), rss: median(samples.map((s) => s.rssMb)), json: json / 1e6 };
        const ratio = median(samples.map((s, i) => s.wall / floors[i]!.wall));
        rows.push(row);
        process.stdout.write(
          `  ${String(n).padStart(8)} ${row.wall.toFixed(2).padStart(8)} ${row.cpu.toFixed(2).padStart(8)} ${row.rss.toFixed(0).padStart(12)} ${row.json.toFixed(2).padStart(9)} ${median(floors.map((f) => f.wall)).toFixed(2).padStart(13)} ${`${ratio.toFixed(2)}x`.padStart(10)}\n`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const slope = (k: "wall" | "cpu" | "rss" | "json") => {
    const mx = rows.reduce((a, r) => a + r.n, 0) / rows.length;
    const my = rows.reduce((a, r) => a + r[k], 0) / rows.length;
    return rows.reduce((a, r) => a + (r.n - mx) * (r[k] - my), 0) / rows.reduce((a, r) => a + (r.n - mx) ** 2, 0);
  };
  process.stdout.write(
    `  per service (least squares): ${(slope("wall") * 1000).toFixed(1)} ms wall, ${(slope("cpu") * 1000).toFixed(1)} ms CPU, ${slope("rss").toFixed(2)} MB RSS, ${(slope("json") * 1000).toFixed(1)} KB JSON\n`,
  );
}

/**
 * The drills' share of `npm test`: the test runner as package.json's `test` script starts it
 * (after its build, which both sides share and which is not measured), over every file vs every
 * file but test/drills/.
 */
async function drills(): Promise<void> {
  const { runnerFiles } = require(join(PROJECT, "dist", "test", "groups.js")) as { runnerFiles: () => string[] };
  const script = JSON.parse(readFileSync(join(PROJECT, "package.json"), "utf8")).scripts.test as string;
  const runner = /node (--test [^$]*)\$files/.exec(script)?.[1]?.trim().split(/\s+/);
  if (!runner) throw new Error(`package.json's test script is not "… node --test … $files": ${script}`);
  const testRoot = join(PROJECT, "dist", "test");
  const all = runnerFiles();
  const withoutDrills = all.filter((f) => !f.startsWith(join(testRoot, "drills") + "/"));
  if (withoutDrills.length === all.length) throw new Error("no drill file among the runner's files (test/groups.ts)");
  const missing = ["TERRAFORM", "VERSITYGW", "CYCLONUS"].filter((k) => !process.env[k]);
  process.stdout.write(`The database drills inside npm test. Machine: ${machine()}.\n`);
  if (missing.length > 0) process.stdout.write(`warning: ${missing.join(", ")} unset: the checks that need them skip on both sides (export what .ci/run exports)\n`);
  await pair(
    `npm test's runner (${runner.join(" ")}): every file vs every file but the drills (${all.length - withoutDrills.length} files)`,
    { name: `A  every file (${all.length} processes)`, command: [node, ...runner, ...all] },
    { name: `B  without test/drills/ (${withoutDrills.length} processes)`, command: [node, ...runner, ...withoutDrills] },
    PROJECT,
    { ...process.env, CI: "" },
  );
}

function main(): Promise<void> {
  if (!existsSync("/usr/bin/time")) throw new Error("GNU time is not installed (apt-get install time)");
  mkdirSync(join(PROJECT, "node_modules", ".cache", "agent-platform"), { recursive: true });
  return process.argv.includes("--scale") ? scale() : DRILLS ? drills() : pairs();
}

main().catch((error: Error) => {
  process.stderr.write(`bench: ${error.message}\n`);
  process.exitCode = 1;
});

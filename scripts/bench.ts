/**
 * Measures what synthesizing all three environments costs, four ways, and prints a table:
 * wall time (median of N runs) and peak resident memory (largest process, max over runs).
 *
 *   npm run bench            # 5 runs each
 *   BENCH_RUNS=10 npm run bench
 *
 * Needs GNU time (/usr/bin/time, Debian package `time`) for peak memory. Figures, not pass/fail:
 * no test asserts on time.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const PROJECT = resolve(__dirname, "..", "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const node = process.execPath;

interface Variant {
  readonly name: string;
  readonly command: readonly string[];
}

const variants: Variant[] = [
  { name: "app alone (node dist/main.js)", command: [node, "dist/main.js"] },
  { name: "tsc type-check + compile", command: [node, "node_modules/typescript/bin/tsc", "-p", "tsconfig.json"] },
  { name: "cdktf synth (CLI, tsc + app)", command: [node, "node_modules/cdktf-cli/bundle/bin/cdktf", "synth"] },
  {
    name: "cdktf init template (npx ts-node, TypeScript 5)",
    command: ["npx", "ts-node", "main.ts"],
  },
];

interface Sample {
  readonly seconds: number;
  readonly peakKb: number;
}

function measure(variant: Variant, outdir: string): Sample {
  const result = spawnSync("/usr/bin/time", ["-f", "%e %M", ...variant.command], {
    cwd: PROJECT,
    encoding: "utf8",
    env: {
      ...process.env,
      CDKTF_OUTDIR: outdir,
      PLATFORM_SUMMARY: "off",
      CHECKPOINT_DISABLE: "1",
      DEPLOYMENT_ENV: "",
      TS_NODE_COMPILER: "typescript-5",
    },
  });
  if (result.error) throw new Error(`${variant.name}: ${result.error.message} (is GNU time installed? apt-get install time)`);
  if (result.status !== 0) throw new Error(`${variant.name} failed (${result.status}):\n${result.stderr}`);
  const last = result.stderr.trim().split("\n").pop()!;
  const [seconds, peakKb] = last.split(" ").map(Number);
  return { seconds: seconds!, peakKb: peakKb! };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), "platform-bench-"));
  try {
    const rows = variants.map((variant) => {
      measure(variant, join(dir, "warm")); // warm the file cache; not counted
      const samples = Array.from({ length: RUNS }, (_, i) => measure(variant, join(dir, `run-${i}`)));
      return { name: variant.name, seconds: median(samples.map((s) => s.seconds)), peakMb: Math.max(...samples.map((s) => s.peakKb)) / 1024 };
    });
    const app = rows[0]!;
    const template = rows[rows.length - 1]!;
    console.log(`Synthesizing local, staging and production; ${RUNS} runs each; median wall time, peak RSS of the largest process.`);
    console.log(`${"variant".padEnd(50)} ${"wall (s)".padStart(9)} ${"peak (MB)".padStart(10)}`);
    for (const r of rows) console.log(`${r.name.padEnd(50)} ${r.seconds.toFixed(2).padStart(9)} ${r.peakMb.toFixed(0).padStart(10)}`);
    console.log(`app alone vs template: ${(template.seconds / app.seconds).toFixed(1)}x faster, ${(template.peakMb / app.peakMb).toFixed(1)}x less memory`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();

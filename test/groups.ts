/**
 * How `npm test` runs the test files. Node's runner starts one process per file, and each process
 * loads cdktf and the providers again (about 0.4 s of CPU): for files that only build stacks and
 * read them, that is most of their cost. So those run together in one process
 * (`in-process.js`), and only the files that start servers or run the app, the deploy script or
 * tsc as child processes get a process of their own, where they run concurrently.
 *
 *   node dist/test/groups.js            # prints the files for `node --test`
 */
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const TEST_ROOT = __dirname;

/**
 * Files that start servers or child processes (relative to dist/test): each in its own process.
 * The runner starts them in this order, at most --test-concurrency at a time: the database drills
 * first, since they spend most of their time waiting on servers and tools, so the rest of the
 * suite runs beside them instead of after them (`npm run bench -- --drills` measures what they add).
 */
export const OWN_PROCESS: readonly string[] = [
  "drills/failover.test.js", // a PostgreSQL cluster, PgBouncer
  "drills/backup-restore.test.js", // PostgreSQL, an S3 server, barman-cloud
  "main.test.js", // the app, as a process
  "robustness/corpus.test.js", // the app, 75 times
  "scripts/deploy.test.js", // deploy.sh with stand-ins
  "scripts/plan-guard-cluster.test.js", // a control plane and terraform
  "scripts/compile.test.js", // tsc
  "scripts/config-errors.test.js", // tsc, the app and the cdktf CLI on project copies
  "scripts/pull-charts.test.js", // the script, tsc and a helm stand-in
  "stacks/output-directory.test.js", // the app, as a process
  "stacks/local-state.test.js", // the app and terraform, as processes
  "stacks/cdktf-cli.test.js", // the cdktf CLI, the app and terraform, as processes
  "constructs/pgbouncer.test.js", // PostgreSQL and PgBouncer
  "constructs/data-servers.test.js", // PostgreSQL and redis-server
  "constructs/stand-in.test.js", // nginx
  "network/matrix.test.js", // cyclonus, the NetworkPolicy engine
  "stacks/backend-terraform.test.js", // versitygw and terraform
  "charts/render.test.js", // helm, with HELM_CHARTS_DIR
  "charts/dead-keys.test.js", // helm, about thirty renders per values document
  "charts/rules.test.js", // helm and promtool
];

/** Every compiled test file under dist/test, relative, sorted. */
export function testFiles(dir = TEST_ROOT): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...testFiles(path));
    else if (entry.endsWith(".test.js")) found.push(relative(TEST_ROOT, path));
  }
  return found.sort();
}

/** The files `in-process.js` loads. */
export function inProcessFiles(): string[] {
  return testFiles().filter((f) => !OWN_PROCESS.includes(f));
}

/** What `npm test` hands the runner, in order: each OWN_PROCESS file, then in-process.js (absolute paths). */
export function runnerFiles(): string[] {
  const all = testFiles();
  const missing = OWN_PROCESS.filter((f) => !all.includes(f));
  if (missing.length > 0) throw new Error(`test/groups.ts names files that do not exist: ${missing.join(", ")}`);
  return [...OWN_PROCESS.map((f) => join(TEST_ROOT, f)), join(TEST_ROOT, "in-process.js")];
}

if (require.main === module) process.stdout.write(runnerFiles().join("\n") + "\n");

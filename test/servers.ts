/**
 * Helpers for the real servers the tests start on 127.0.0.1: free ports, waiting, finding the
 * installed PostgreSQL (15 on Debian 12, 16 on the users' ubuntu-24.04 runners) and running its
 * tools as the postgres user when the tests run as root (which Postgres requires). Postgres itself
 * starts as the image starts it (postgres-image.ts). .ci/run installs the packages.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

/**
 * The directory of PostgreSQL's server programs (initdb, pg_ctl, postgres), found, never assumed:
 * PG_BINDIR when set; else what `pg_config --bindir` names, when initdb is there; else the newest
 * major under `root`, where Debian and Ubuntu install each version side by side
 * (/usr/lib/postgresql/15/bin on Debian 12, 16/bin on ubuntu-24.04).
 * @returns undefined when none is installed
 */
export function findPostgresBinDir(env: NodeJS.ProcessEnv = process.env, root = "/usr/lib/postgresql"): string | undefined {
  const has = (dir: string | undefined): dir is string => !!dir && existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"));
  const pgConfig = spawnSync("pg_config", ["--bindir"], { encoding: "utf8", env });
  const majors = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  const candidates = [env.PG_BINDIR, pgConfig.status === 0 ? pgConfig.stdout.trim() : undefined, ...majors.map((v) => join(root, v, "bin"))];
  return candidates.find(has);
}

let found: string | undefined;
export const postgresBinDir = (): string | undefined => (found ??= findPostgresBinDir());

/** The server programs' directory; fails the test, saying how to install them, when there is none. */
export function pgBin(): string {
  const dir = postgresBinDir();
  assert.ok(dir, "PostgreSQL is not installed: no initdb in PG_BINDIR, in `pg_config --bindir`, or under /usr/lib/postgresql/<major>/bin (apt-get install postgresql; .ci/run installs it)");
  return dir;
}
export const isRoot = process.getuid?.() === 0;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export async function waitFor(check: () => boolean | Promise<boolean>, what: string, seconds = 20): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Runs a command as the postgres user when we are root, with `env` over this process's
 * environment minus libpq's PG* variables (a test says which server and password it means).
 */
export function asPostgres(command: string, args: string[], env: Record<string, string> = {}, input?: string): string {
  const [file, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PG")));
  return execFileSync(file, argv, { encoding: "utf8", env: { ...inherited, ...env }, input, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
}

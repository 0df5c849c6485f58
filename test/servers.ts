/**
 * Real servers for the tests, started on 127.0.0.1 in temporary directories and stopped after:
 * Debian's PostgreSQL 15 (as the postgres user when the tests run as root, which Postgres
 * requires), and helpers to wait for them. .ci/run installs the packages.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";

export const PG_BIN = "/usr/lib/postgresql/15/bin";
export const isRoot = process.getuid?.() === 0;
export const SUPERUSER_PASSWORD = "superuser-test-password";

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

const postgresIds = () => ({
  uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })),
  gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" })),
});

/** Runs a command as the postgres user when we are root. */
export function asPostgres(command: string, args: string[], env: Record<string, string> = {}): string {
  const [file, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
  return execFileSync(file, argv, { encoding: "utf8", env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

/** Writes a file the postgres user may read (mode 0600, owned by it when we are root). */
export function writeOwnedFile(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  if (isRoot) chownSync(path, postgresIds().uid, postgresIds().gid);
}

export interface PostgresServer {
  readonly port: number;
  readonly dir: string;
  superuser(database?: string): Client;
  stop(): void;
}

/** initdb with scram-sha-256, then start with `conf` as postgresql.conf. */
export async function startPostgres(conf: string): Promise<PostgresServer> {
  assert.ok(existsSync(`${PG_BIN}/postgres`), "PostgreSQL 15 is not installed (Debian package postgresql; .ci/run installs it)");
  const dir = mkdtempSync(join(tmpdir(), "pg-test-"));
  if (isRoot) chownSync(dir, postgresIds().uid, postgresIds().gid);
  chmodSync(dir, 0o700);
  const data = join(dir, "data");
  writeOwnedFile(join(dir, "pw"), `${SUPERUSER_PASSWORD}\n`);
  asPostgres(`${PG_BIN}/initdb`, ["-D", data, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${join(dir, "pw")}`, "--no-sync"]);
  const confFile = join(dir, "postgresql.conf");
  writeFileSync(confFile, conf);
  const port = await freePort();
  asPostgres(`${PG_BIN}/pg_ctl`, [
    "-D", data, "-l", join(dir, "log"), "-w", "start",
    "-o", `-c config_file=${confFile} -c hba_file=${join(data, "pg_hba.conf")} -c port=${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir}`,
  ]);
  let stopped = false;
  return {
    port,
    dir,
    superuser: (database = "postgres") => new Client({ host: "127.0.0.1", port, user: "postgres", password: SUPERUSER_PASSWORD, database }),
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        asPostgres(`${PG_BIN}/pg_ctl`, ["-D", data, "-m", "immediate", "stop"]);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Helpers for the real servers the tests start on 127.0.0.1: free ports, waiting, and running
 * Debian's PostgreSQL 15 tools as the postgres user when the tests run as root (which Postgres
 * requires). Postgres itself starts as the image starts it (postgres-image.ts). .ci/run installs
 * the packages.
 */
import { execFileSync } from "node:child_process";
import { createServer } from "node:net";

export const PG_BIN = "/usr/lib/postgresql/15/bin";
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

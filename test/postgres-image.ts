/**
 * The official Postgres image's first start, step by step, with the installed PostgreSQL: what the
 * tests stand in for the image with. The container (its env, args and files, as the construct
 * emits them) is laid out under a temporary root, so `/etc/postgresql/postgresql.conf` is
 * `<root>/etc/postgresql/postgresql.conf`; then the entrypoint's steps run in its order, with its
 * commands and arguments.
 *
 * Followed: docker-library/postgres, `17/bookworm/docker-entrypoint.sh` at commit
 * 042d8d043fed77e0e09b6fcda0991bca9e8664e3 (the last change before 17.3, so the script
 * `postgres:17.2-bookworm` runs; config/versions.ts pins 17.2), function `_main` for a `postgres`
 * command on an empty PGDATA. Differences, none of which touches authentication:
 * - no root-to-postgres step (`gosu`): the pod runs as uid 999 already; here commands run as the
 *   postgres user (through runuser when the tests run as root);
 * - the default socket directory `/var/run/postgresql` is `<root>/var/run/postgresql`, given to the
 *   server as `unix_socket_directories` and to clients as PGHOST (the entrypoint clears PGHOST so
 *   that psql uses that same default);
 * - the temporary server listens on the port the test picked (the entrypoint's `-p "${PGPORT:-5432}"`
 *   with PGPORT set), and the final server, started with pg_ctl so that the test can stop it,
 *   listens on 127.0.0.1 at that port.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import type { PodLayout } from "./pod";
import { asPostgres, freePort, pgBin } from "./servers";

/** The commit of docker-entrypoint.sh this file follows. */
export const ENTRYPOINT_COMMIT = "042d8d043fed77e0e09b6fcda0991bca9e8664e3";

export interface ImagePostgres {
  readonly port: number;
  /** The socket directory (the image's /var/run/postgresql). */
  readonly socketDir: string;
  /** PGDATA on this machine. */
  readonly pgdata: string;
  /** The superuser over 127.0.0.1, with the password from POSTGRES_PASSWORD_FILE. */
  superuser(database?: string): Client;
  /** What the entrypoint's steps and the init scripts printed. */
  readonly log: string;
  stop(): void;
}

/** `val="$(< file)"`: the file's content without trailing newlines. */
const readAsShell = (path: string) => readFileSync(path, "utf8").replace(/\n+$/, "");

/**
 * Initialises PGDATA as the image's entrypoint does on first start, for the container `name` of
 * the laid-out pod (its env and args as the JSON has them, paths moved), then starts the server as
 * the image then does (`exec postgres "$@"`). `owner`: the postgres user, when the tests run as root.
 */
export async function startAsImage(pod: PodLayout, name: string, owner?: { uid: number; gid: number }): Promise<ImagePostgres> {
  const PG_BIN = pgBin();
  const container = pod.container(name);
  const own = (path: string) => {
    if (owner) chownSync(path, owner.uid, owner.gid);
  };
  const work = join(pod.root, "work");
  mkdirSync(work);
  chmodSync(work, 0o700);
  own(work);
  const port = await freePort();
  const socketDir = container.at("/var/run/postgresql");
  let log = "";
  let env: Record<string, string> = { ...container.env };
  const args = [...container.args];
  const run = (command: string, argv: string[], extra: Record<string, string> = {}, input?: string) => {
    const out = asPostgres(command, argv, { ...env, ...extra }, input);
    log += out;
    return out;
  };

  // docker_setup_env: file_env reads *_FILE into the variable (and unsets *_FILE); defaults.
  const fileEnv = (variable: string, fallback = "") => {
    const file = env[`${variable}_FILE`];
    assert.ok(!(env[variable] && file), `both ${variable} and ${variable}_FILE are set (the entrypoint refuses)`);
    const value = env[variable] || (file ? readAsShell(file) : fallback);
    const { [`${variable}_FILE`]: _, ...rest } = env;
    env = { ...rest, [variable]: value };
  };
  fileEnv("POSTGRES_PASSWORD");
  fileEnv("POSTGRES_USER", "postgres");
  fileEnv("POSTGRES_DB", env.POSTGRES_USER);
  fileEnv("POSTGRES_INITDB_ARGS");
  env.POSTGRES_HOST_AUTH_METHOD ??= "";
  const pgdata = env.PGDATA!;
  assert.ok(pgdata, "PGDATA is not set");

  // docker_create_db_directories: PGDATA 0700, the socket directory 3775.
  for (const [dir, mode] of [[pgdata, 0o700], [socketDir, 0o3775]] as const) {
    mkdirSync(dir, { recursive: true });
    own(dir);
    chmodSync(dir, mode);
  }
  assert.ok(!existsSync(join(pgdata, "PG_VERSION")), "PGDATA is not empty: the image would skip initialisation");

  // docker_verify_minimum_env: a password is required unless the method is trust.
  assert.ok(env.POSTGRES_PASSWORD || env.POSTGRES_HOST_AUTH_METHOD === "trust", "no superuser password (the entrypoint exits 1)");
  // `ls /docker-entrypoint-initdb.d/`
  const initDir = container.at("/docker-entrypoint-initdb.d");
  assert.ok(existsSync(initDir), "no /docker-entrypoint-initdb.d (the entrypoint exits)");

  // docker_init_database_dir: `initdb --username=... --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD")
  // $POSTGRES_INITDB_ARGS`, the arguments split by the shell (`eval`) as there.
  const pwfile = join(work, "pwfile");
  writeFileSync(pwfile, `${env.POSTGRES_PASSWORD}\n`, { mode: 0o600 });
  own(pwfile);
  run(`${PG_BIN}/initdb`, [`--username=${env.POSTGRES_USER}`, `--pwfile=${pwfile}`, ...shellWords(env.POSTGRES_INITDB_ARGS!)]);
  rmSync(pwfile);

  // pg_setup_hba_conf "$@": the method is POSTGRES_HOST_AUTH_METHOD, else the server's
  // password_encryption (`postgres -C password_encryption "$@"`), appended for every host.
  const method = env.POSTGRES_HOST_AUTH_METHOD || run(`${PG_BIN}/postgres`, ["-C", "password_encryption", ...args]).trim();
  const hba = join(pgdata, "pg_hba.conf");
  const trustNote = method === "trust" ? "# warning trust is enabled for all connections\n# see https://www.postgresql.org/docs/17/auth-trust.html\n" : "";
  writeFileSync(hba, `${readFileSync(hba, "utf8")}\n${trustNote}host all all all ${method}\n`);

  // PGPASSWORD for the entrypoint's own psql calls, then the socket-only temporary server.
  env.PGPASSWORD ||= env.POSTGRES_PASSWORD!;
  const pgCtlStart = (listen: string) =>
    run(`${PG_BIN}/pg_ctl`, ["-D", pgdata, "-l", join(work, "server.log"), "-o", `${args.join(" ")} ${listen} -c unix_socket_directories=${socketDir}`, "-w", "start"], {
      PGUSER: env.PGUSER || env.POSTGRES_USER!,
    });
  pgCtlStart(`-c listen_addresses='' -p ${port}`);

  // docker_process_sql: psql over the default socket, as POSTGRES_USER, never prompting.
  const socket = { PGHOST: socketDir, PGPORT: String(port) };
  const sql = (input: string, database: string, vars: string[] = []) =>
    run("psql", ["-v", "ON_ERROR_STOP=1", "--username", env.POSTGRES_USER!, "--no-password", "--no-psqlrc", "--dbname", database, ...vars], socket, input);
  // docker_setup_db: POSTGRES_DB unless it exists.
  const exists = sql("SELECT 1 FROM pg_database WHERE datname = :'db' ;", "postgres", ["--set", `db=${env.POSTGRES_DB}`, "--tuples-only"]).trim();
  if (!exists) sql('CREATE DATABASE :"db" ;', "postgres", ["--set", `db=${env.POSTGRES_DB}`]);

  // docker_process_init_files /docker-entrypoint-initdb.d/*: *.sh run when executable, else
  // sourced by the entrypoint's bash (`set -Eeo pipefail`); *.sql through psql.
  for (const file of readdirSync(initDir).sort().map((f) => join(initDir, f))) {
    if (file.endsWith(".sh")) {
      if ((statSync(file).mode & 0o111) !== 0) run(file, [], socket);
      else run("bash", ["-c", 'set -Eeo pipefail; . "$1"', "bash", file], socket);
    } else if (file.endsWith(".sql")) {
      sql(readFileSync(file, "utf8"), env.POSTGRES_DB!);
    }
  }

  // docker_temp_server_stop; PGPASSWORD is unset; `exec postgres "$@"`.
  run(`${PG_BIN}/pg_ctl`, ["-D", pgdata, "-m", "fast", "-w", "stop"], { PGUSER: env.PGUSER || "postgres" });
  delete env.PGPASSWORD;
  pgCtlStart(`-c listen_addresses=127.0.0.1 -c port=${port}`);

  const password = env.POSTGRES_PASSWORD!;
  let stopped = false;
  return {
    port,
    socketDir,
    pgdata,
    log,
    superuser: (database = "postgres") => new Client({ host: "127.0.0.1", port, user: env.POSTGRES_USER, password, database }),
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        asPostgres(`${PG_BIN}/pg_ctl`, ["-D", pgdata, "-m", "immediate", "stop"]);
      } catch {
        // already stopped
      }
    },
  };
}

/** Words of a shell string as `eval` splits them (quotes removed), by asking bash. */
function shellWords(text: string): string[] {
  if (!text.trim()) return [];
  const out = execFileSync("bash", ["-c", `eval "set -- $1"; printf '%s\\0' "$@"`, "bash", text], { encoding: "utf8" });
  return out.split("\0").slice(0, -1);
}

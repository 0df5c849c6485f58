import { Construct } from "constructs";
import type { PostgresSettings } from "../config/schema";
import { MONITORING_ROLE } from "../config/semantics";
import { postgresMegabytes } from "../config/quantity";
import { DATA_SERVICE_UID, EXPORTER_UID, IMAGES } from "../config/versions";
import type { NamespaceRef } from "./platform-namespace";
import type { SecretKeyRef } from "./platform-secrets";
import { DATA_SECRETS_DIR, type EnvVar, StatefulService } from "./stateful-service";

export const POSTGRES_PORT = 5432;

export interface PostgresProps {
  readonly namespace: NamespaceRef;
  readonly settings: PostgresSettings;
  readonly superuserPassword: SecretKeyRef;
  readonly appPassword: SecretKeyRef;
  readonly monitoringPassword: SecretKeyRef;
  /** Pod labels of the services (and the migration Job) that use the database. */
  readonly clients: readonly Record<string, string>[];
  readonly monitoringNamespace: string;
}

const megabytes = postgresMegabytes;

/**
 * `postgresql.conf`: connections and memory from config. Accepted by Postgres 15 (the tests'
 * Debian server) and 17 (the image).
 * @see https://www.postgresql.org/docs/current/runtime-config-connection.html
 */
export function renderPostgresConf(settings: PostgresSettings): string {
  return [
    "# Rendered from config/<environment>.ts by constructs/postgres.ts. Do not edit by hand.",
    "listen_addresses = '*'",
    `port = ${POSTGRES_PORT}`,
    `max_connections = ${settings.maxConnections}`,
    `superuser_reserved_connections = ${settings.superuserReservedConnections}`,
    `shared_buffers = ${megabytes(settings.sharedBuffers)}`,
    `work_mem = ${megabytes(settings.workMem)}`,
    `effective_cache_size = ${megabytes(settings.effectiveCacheSize)}`,
    "password_encryption = 'scram-sha-256'",
    "log_destination = 'stderr'",
    "log_connections = off",
    "log_min_duration_statement = 1000",
    "",
  ].join("\n");
}

/**
 * Creates the application role on first start (the official image runs
 * /docker-entrypoint-initdb.d/* once, on an empty data directory). The services log in as this
 * role, not as the superuser, so `superuser_reserved_connections` stay free for administrators.
 */
export function renderInitScript(): string {
  return [
    "#!/bin/sh",
    "# Rendered by constructs/postgres.ts. Runs once, on an empty data directory.",
    "set -eu",
    'app_password="$(cat "$APP_DB_PASSWORD_FILE")"',
    'monitoring_password="$(cat "$MONITORING_DB_PASSWORD_FILE")"',
    'psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \\',
    '  -v app_user="$APP_DB_USER" -v app_password="$app_password" -v db="$POSTGRES_DB" \\',
    '  -v monitoring_user="$MONITORING_DB_USER" -v monitoring_password="$monitoring_password" <<\'SQL\'',
    "CREATE ROLE :\"app_user\" LOGIN PASSWORD :'app_password';",
    'GRANT CONNECT, CREATE, TEMPORARY ON DATABASE :"db" TO :"app_user";',
    'GRANT ALL ON SCHEMA public TO :"app_user";',
    "-- postgres_exporter reads statistics only: pg_monitor, never the superuser.",
    "CREATE ROLE :\"monitoring_user\" LOGIN PASSWORD :'monitoring_password' CONNECTION LIMIT 5 IN ROLE pg_monitor;",
    'GRANT CONNECT ON DATABASE :"db" TO :"monitoring_user";',
    "SQL",
    "",
  ].join("\n");
}

/** Where the official image keeps the cluster (a directory below the volume's mount point). */
export const PGDATA = "/var/lib/postgresql/data/pgdata";
/** The server's arguments: the image's entrypoint passes them to `postgres`. */
export const POSTGRES_ARGS = ["-c", "config_file=/etc/postgresql/postgresql.conf"] as const;

/**
 * Authentication the image sets up on an empty data directory. Without `--auth*`, initdb writes
 * `trust` for local (socket) and loopback connections, before the entrypoint appends
 * `host all all all <method>`: any container of the pod could then log in as the superuser with
 * no password (`psql -h 127.0.0.1 -U postgres`). With these, every rule initdb writes asks for
 * scram-sha-256, and the entrypoint (which exports PGPASSWORD from POSTGRES_PASSWORD_FILE for its
 * own psql calls) still runs the init scripts over the socket. The appended rule's method is
 * POSTGRES_HOST_AUTH_METHOD, left unset: the entrypoint then takes `password_encryption` from
 * postgresql.conf (`postgres -C`), which is scram-sha-256. Read in docker-library/postgres,
 * `17/bookworm/docker-entrypoint.sh` at 042d8d043fed (the script of 17.2): docker_init_database_dir,
 * pg_setup_hba_conf, docker_process_init_files; test/postgres-image.ts follows it step by step.
 * @see https://github.com/docker-library/docs/blob/master/postgres/README.md#postgres_initdb_args
 */
export const INITDB_AUTH_ARGS = "--auth-local=scram-sha-256 --auth-host=scram-sha-256";

/** The server container's environment: what the image's entrypoint and the init script read. */
export function postgresEnv(settings: PostgresSettings): EnvVar[] {
  return [
    { name: "POSTGRES_USER", value: "postgres" },
    { name: "POSTGRES_DB", value: settings.database },
    { name: "PGDATA", value: PGDATA },
    { name: "POSTGRES_INITDB_ARGS", value: INITDB_AUTH_ARGS },
    // The official image reads *_FILE variables; the init script reads APP_DB_PASSWORD_FILE.
    { name: "POSTGRES_PASSWORD_FILE", value: `${DATA_SECRETS_DIR}/${POSTGRES_SECRET_FILES.superuser}` },
    { name: "APP_DB_USER", value: settings.appUser },
    { name: "APP_DB_PASSWORD_FILE", value: `${DATA_SECRETS_DIR}/${POSTGRES_SECRET_FILES.app}` },
    { name: "MONITORING_DB_USER", value: MONITORING_ROLE },
    { name: "MONITORING_DB_PASSWORD_FILE", value: `${DATA_SECRETS_DIR}/${POSTGRES_SECRET_FILES.monitoring}` },
  ];
}

/** File names of the Postgres Secret's keys inside each container that mounts them. */
export const POSTGRES_SECRET_FILES = { superuser: "superuser-password", app: "app-password", monitoring: "monitoring-password" } as const;

/** Config files by mount directory: postgresql.conf and the init script. */
export function postgresConfigFiles(settings: PostgresSettings): Record<string, Record<string, string>> {
  return {
    "/etc/postgresql": { "postgresql.conf": renderPostgresConf(settings) },
    "/docker-entrypoint-initdb.d": { "10-app-role.sh": renderInitScript() },
  };
}

/**
 * Readiness, liveness and startup: pg_isready sends no password. It reports the server up when
 * the server answers, an authentication request included (libpq's PQping), so it works with
 * scram-sha-256 on every connection.
 */
export const POSTGRES_PROBE = ["pg_isready", "-U", "postgres", "-h", "127.0.0.1", "-p", String(POSTGRES_PORT)] as const;

/** postgres_exporter's environment: the pg_monitor role over loopback, its password from its file. */
export function postgresExporterEnv(settings: PostgresSettings): EnvVar[] {
  return [
    { name: "DATA_SOURCE_URI", value: `127.0.0.1:${POSTGRES_PORT}/${settings.database}?sslmode=disable` },
    { name: "DATA_SOURCE_USER", value: MONITORING_ROLE },
    { name: "DATA_SOURCE_PASS_FILE", value: `${DATA_SECRETS_DIR}/${POSTGRES_SECRET_FILES.monitoring}` },
  ];
}

/**
 * For a data directory the image initialised before POSTGRES_INITDB_ARGS was set (its init runs
 * only once, on an empty directory): turns every `trust` rule initdb wrote into scram-sha-256 and
 * makes the server reload pg_hba.conf. Run once in the postgres container (docs/operations.md).
 */
export const HBA_UPGRADE_SCRIPT = `sed -i -E '/^[[:space:]]*#/!s/[[:space:]]trust[[:space:]]*$/ scram-sha-256/' "$PGDATA/pg_hba.conf" && pg_ctl reload -D "$PGDATA"`;

/**
 * Postgres from the official image (pinned major), one instance, with a postgres_exporter sidecar.
 * Only the server's container mounts the superuser's and the application role's passwords; the
 * exporter mounts the monitoring role's alone.
 */
export class Postgres extends Construct {
  readonly server: StatefulService;
  readonly port = POSTGRES_PORT;

  constructor(scope: Construct, id: string, props: PostgresProps) {
    super(scope, id);
    const { settings } = props;
    const monitoringFile = { file: POSTGRES_SECRET_FILES.monitoring, ref: props.monitoringPassword };
    this.server = new StatefulService(this, "server", {
      namespace: props.namespace,
      name: "postgres",
      component: "database",
      image: IMAGES.postgres,
      args: [...POSTGRES_ARGS],
      env: postgresEnv(settings),
      port: { name: "postgres", number: POSTGRES_PORT },
      probeCommand: [...POSTGRES_PROBE],
      resources: settings.resources,
      runAsUser: DATA_SERVICE_UID,
      configFiles: postgresConfigFiles(settings),
      dataPath: "/var/lib/postgresql/data",
      storage: settings.storage,
      scratchPaths: ["/var/run/postgresql", "/tmp"],
      exporter: {
        image: IMAGES.postgresExporter,
        port: 9187,
        env: postgresExporterEnv(settings),
        runAsUser: EXPORTER_UID,
        healthPath: "/",
        secretFiles: [monitoringFile],
      },
      secretFiles: [
        { file: POSTGRES_SECRET_FILES.superuser, ref: props.superuserPassword },
        { file: POSTGRES_SECRET_FILES.app, ref: props.appPassword },
        monitoringFile,
      ],
      clients: props.clients,
      monitoringNamespace: props.monitoringNamespace,
    });
  }
}

import { Construct } from "constructs";
import type { PostgresSettings } from "../config/schema";
import { MONITORING_ROLE } from "../config/semantics";
import { parseMemoryBytes } from "../config/quantity";
import { DATA_SERVICE_UID, EXPORTER_UID, IMAGES } from "../config/versions";
import type { NamespaceRef } from "./platform-namespace";
import type { SecretKeyRef } from "./platform-secrets";
import { DATA_SECRETS_DIR, StatefulService } from "./stateful-service";

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

/** Bytes as whole megabytes, Postgres' `MB` unit (1024 kB). */
const megabytes = (quantity: string) => `${Math.max(1, Math.floor(parseMemoryBytes(quantity)! / 2 ** 20))}MB`;

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

/** Postgres from the official image (pinned major), one instance, with a postgres_exporter sidecar. */
export class Postgres extends Construct {
  readonly server: StatefulService;
  readonly port = POSTGRES_PORT;

  constructor(scope: Construct, id: string, props: PostgresProps) {
    super(scope, id);
    const { settings } = props;
    this.server = new StatefulService(this, "server", {
      namespace: props.namespace,
      name: "postgres",
      component: "database",
      image: IMAGES.postgres,
      args: ["-c", "config_file=/etc/postgresql/postgresql.conf"],
      env: [
        { name: "POSTGRES_USER", value: "postgres" },
        { name: "POSTGRES_DB", value: settings.database },
        { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
        // The official image reads *_FILE variables; the init script reads APP_DB_PASSWORD_FILE.
        { name: "POSTGRES_PASSWORD_FILE", value: `${DATA_SECRETS_DIR}/superuser-password` },
        { name: "APP_DB_USER", value: settings.appUser },
        { name: "APP_DB_PASSWORD_FILE", value: `${DATA_SECRETS_DIR}/app-password` },
        { name: "MONITORING_DB_USER", value: MONITORING_ROLE },
        { name: "MONITORING_DB_PASSWORD_FILE", value: `${DATA_SECRETS_DIR}/monitoring-password` },
      ],
      port: { name: "postgres", number: POSTGRES_PORT },
      probeCommand: ["pg_isready", "-U", "postgres", "-h", "127.0.0.1", "-p", String(POSTGRES_PORT)],
      resources: settings.resources,
      runAsUser: DATA_SERVICE_UID,
      configFiles: {
        "/etc/postgresql": { "postgresql.conf": renderPostgresConf(settings) },
        "/docker-entrypoint-initdb.d": { "10-app-role.sh": renderInitScript() },
      },
      dataPath: "/var/lib/postgresql/data",
      storage: settings.storage,
      scratchPaths: ["/var/run/postgresql", "/tmp"],
      exporter: {
        image: IMAGES.postgresExporter,
        port: 9187,
        env: [
          { name: "DATA_SOURCE_URI", value: `127.0.0.1:${POSTGRES_PORT}/${settings.database}?sslmode=disable` },
          { name: "DATA_SOURCE_USER", value: MONITORING_ROLE },
          { name: "DATA_SOURCE_PASS_FILE", value: `${DATA_SECRETS_DIR}/monitoring-password` },
        ],
        runAsUser: EXPORTER_UID,
        healthPath: "/",
      },
      secretFiles: [
        { file: "superuser-password", ref: props.superuserPassword },
        { file: "app-password", ref: props.appPassword },
        { file: "monitoring-password", ref: props.monitoringPassword },
      ],
      clients: props.clients,
      monitoringNamespace: props.monitoringNamespace,
    });
  }
}

/**
 * The platform's database in the tests, on a server from servers.ts: made as the Postgres image
 * makes it, and loaded as the pods load it at the peak. Apart from servers.ts so that tests which
 * only start nginx or Redis do not load the constructs.
 */
import { join } from "node:path";
import { Pool, type PoolClient } from "pg";
import { peakPods, serviceWorkloads } from "../config/capacity";
import type { PlatformConfig } from "../config/load";
import type { PostgresSettings } from "../config/schema";
import { MONITORING_ROLE } from "../config/semantics";
import { renderInitScript } from "../constructs/postgres";
import { contractSettings } from "../constructs/service-contract";
import { asPostgres, type PostgresServer, SUPERUSER_PASSWORD, writeOwnedFile } from "./servers";

/**
 * The platform's database on `server`, as the image makes it on first start: the database
 * (POSTGRES_DB), then the generated init script (constructs/postgres.ts), which creates the
 * application role and the monitoring role.
 */
export async function initPlatformDatabase(server: PostgresServer, pg: PostgresSettings, passwords: { app: string; monitoring: string }): Promise<void> {
  const setup = server.superuser();
  await setup.connect();
  try {
    await setup.query(`CREATE DATABASE ${pg.database}`);
  } finally {
    await setup.end();
  }
  const app = join(server.dir, "app-password");
  const monitoring = join(server.dir, "monitoring-password");
  writeOwnedFile(app, passwords.app);
  writeOwnedFile(monitoring, passwords.monitoring);
  asPostgres("sh", ["-c", renderInitScript()], {
    POSTGRES_USER: "postgres",
    POSTGRES_DB: pg.database,
    APP_DB_USER: pg.appUser,
    APP_DB_PASSWORD_FILE: app,
    MONITORING_DB_USER: MONITORING_ROLE,
    MONITORING_DB_PASSWORD_FILE: monitoring,
    PGHOST: "127.0.0.1",
    PGPORT: String(server.port),
    PGPASSWORD: SUPERUSER_PASSWORD,
  });
}

/**
 * What every database-using pod opens at the peak, against `port`: one pool per worker of every
 * pod (both tracks, HPA maximum or replicas, surge), configured from the service contract as the
 * pods are, each filled to its maximum at once as a pod's workers do at start-up.
 * @returns the pools (end them) and the held connections (release them), also on failure.
 */
export async function openPeakPools(config: PlatformConfig, port: number, password: string, opened: { pools: Pool[]; held: PoolClient[] }): Promise<void> {
  for (const service of config.services.filter((s) => s.usesDatabase)) {
    const settings = contractSettings(config, service);
    const pods = serviceWorkloads(service).reduce((n, w) => n + peakPods(w), 0);
    for (let i = 0; i < pods * service.workerProcesses; i++) {
      const pool = new Pool({
        host: "127.0.0.1",
        port,
        database: settings.PLATFORM_DATABASE_NAME,
        user: settings.PLATFORM_DATABASE_USER,
        password,
        max: Number(settings.PLATFORM_DATABASE_POOL_MAX),
        connectionTimeoutMillis: Number(settings.PLATFORM_DATABASE_POOL_TIMEOUT_SECONDS) * 1000,
      });
      opened.pools.push(pool);
      opened.held.push(...(await Promise.all(Array.from({ length: pool.options.max! }, () => pool.connect()))));
    }
  }
}

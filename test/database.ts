/**
 * The platform's database in the tests: made as the Postgres image makes it from the synthesized
 * StatefulSet (postgres-image.ts), and loaded as the pods load it at the peak. Apart from
 * servers.ts so that tests which only start nginx or Redis do not load the constructs.
 */
import { Pool, type PoolClient } from "pg";
import { peakPods, serviceWorkloads } from "../config/capacity";
import type { PlatformConfig } from "../config/load";
import { SECRET_NAMES } from "../constructs/platform-secrets";
import { contractSettings } from "../constructs/service-contract";
import type { Json } from "./helpers";
import { layOutPod, type PodLayout, postgresOwner } from "./pod";
import { type ImagePostgres, startAsImage } from "./postgres-image";
import { isRoot } from "./servers";

/** The passwords of `postgres-auth` in the tests. */
export interface PlatformPasswords {
  readonly superuser: string;
  readonly app: string;
  readonly monitoring: string;
}

export const TEST_PASSWORDS: PlatformPasswords = { superuser: "superuser-test-password", app: "app-test-password", monitoring: "monitoring-test-password" };

/** The platform's Postgres, its pod laid out on this machine (the exporter's view included). */
export interface PlatformPostgres extends ImagePostgres {
  readonly pod: PodLayout;
}

/**
 * The StatefulSet `postgres` of a synthesized stack, started as the image starts it on an empty
 * volume: its container's env, args, ConfigMap files and Secret files (these passwords) laid out,
 * initdb with the image's arguments, the init script, then the server.
 */
export async function startPlatformPostgres(json: Json, passwords: PlatformPasswords = TEST_PASSWORDS): Promise<PlatformPostgres> {
  const owner = isRoot ? postgresOwner() : undefined;
  const pod = layOutPod(
    json,
    "postgres",
    {
      [`${SECRET_NAMES.postgres}/superuser-password`]: passwords.superuser,
      [`${SECRET_NAMES.postgres}/app-password`]: passwords.app,
      [`${SECRET_NAMES.postgres}/monitoring-password`]: passwords.monitoring,
    },
    { owner },
  );
  try {
    const server = await startAsImage(pod, "postgres", owner);
    const stopServer = server.stop;
    return Object.assign(server, {
      pod,
      stop() {
        stopServer();
        pod.remove();
      },
    });
  } catch (error) {
    pod.remove();
    throw error;
  }
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

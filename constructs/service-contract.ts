/**
 * The runtime contract between the platform and a service's code: the settings and files each
 * pod receives for its database pool, Redis, rate limits and cache. Pure functions of config, so
 * docs/design.md's contract and the tests read the same source.
 */
import { toYaml } from "./yaml";
import type { PlatformConfig, ServiceConfig } from "../config/load";
import { SECRETS_DIR } from "./deployment";
import { PGBOUNCER_NAME, PGBOUNCER_PORT } from "./pgbouncer";
import { POSTGRES_PORT } from "./postgres";
import { readWriteHost } from "./postgres-cluster-values";
import { REDIS_PORT, REDIS_USERS } from "./redis";

/** Where the service's files are mounted. */
export const CONTRACT_DIR = "/etc/platform";
export const RATE_LIMIT_FILE = "rate-limits.yaml";
export const CACHE_FILE = "cache.yaml";
export const DATABASE_PASSWORD_FILE = "database-password";
/** The password files of the Redis users a service may get, by purpose. */
export const REDIS_PASSWORD_FILES = { ratelimit: "redis-ratelimit-password", cache: "redis-cache-password" } as const;
/** A purpose a service uses Redis for, each with its own ACL user. */
export type ServiceRedisPurpose = keyof typeof REDIS_PASSWORD_FILES;

const host = (name: string, namespace: string) => `${name}.${namespace}.svc.cluster.local`;

/** Postgres itself (past any pooler): the StatefulSet's Service, or a cluster's read-write Service. */
export function databaseHost(config: PlatformConfig): string {
  const topology = config.postgres.topology;
  return topology.kind === "cloudnative-pg" ? readWriteHost(topology, config.namespace) : host("postgres", config.namespace);
}

/** What the service uses Redis for in this environment: rate limiting, caching, both or nothing. */
export function redisPurposes(config: PlatformConfig, service: ServiceConfig): ServiceRedisPurpose[] {
  if (!config.redis) return [];
  return [
    ...(service.rateLimit !== undefined && config.rateLimiting.backend === "redis" ? ["ratelimit" as const] : []),
    ...(service.cache !== undefined ? ["cache" as const] : []),
  ];
}

/** Whether the service talks to Redis in this environment. */
export function usesRedis(config: PlatformConfig, service: ServiceConfig): boolean {
  return redisPurposes(config, service).length > 0;
}

/** Plain (non-secret) settings for the service's environment. */
export function contractSettings(config: PlatformConfig, service: ServiceConfig): Record<string, string> {
  const settings: Record<string, string> = {
    // Structured logging: one JSON object per line on stdout, at this level and above.
    LOG_FORMAT: "json",
    LOG_LEVEL: config.logging.level,
    PLATFORM_CORRELATION_ID_HEADER: config.logging.correlationIdHeader,
    PLATFORM_METRICS_PATH: "/metrics",
    PLATFORM_METRICS_PORT: String(service.metricsPort),
  };
  if (service.usesDatabase) {
    const pg = config.postgres;
    // Through PgBouncer where it runs (transaction pooling), else straight to Postgres.
    Object.assign(settings, {
      PLATFORM_DATABASE_HOST: config.pgbouncer ? host(PGBOUNCER_NAME, config.namespace) : databaseHost(config),
      PLATFORM_DATABASE_PORT: String(config.pgbouncer ? PGBOUNCER_PORT : POSTGRES_PORT),
      PLATFORM_DATABASE_POOLING: config.pgbouncer ? `pgbouncer-${config.pgbouncer.poolMode}` : "direct",
      // libpq's sslmode: a CloudNativePG cluster admits the platform's roles over TLS only.
      PLATFORM_DATABASE_SSLMODE: !config.pgbouncer && config.postgres.topology.kind === "cloudnative-pg" ? "require" : "disable",
      PLATFORM_DATABASE_NAME: pg.database,
      PLATFORM_DATABASE_USER: pg.appUser,
      PLATFORM_DATABASE_PASSWORD_FILE: `${SECRETS_DIR}/${DATABASE_PASSWORD_FILE}`,
      PLATFORM_DATABASE_POOL_MIN: String(pg.pool.minConnections),
      PLATFORM_DATABASE_POOL_MAX: String(pg.pool.maxConnections),
      PLATFORM_DATABASE_POOL_TIMEOUT_SECONDS: String(pg.pool.timeoutSeconds),
      PLATFORM_DATABASE_POOL_RECYCLE_SECONDS: String(pg.pool.recycleSeconds),
      PLATFORM_DATABASE_POOL_PRE_PING: String(pg.pool.prePing),
      PLATFORM_WORKER_PROCESSES: String(service.workerProcesses),
    });
  }
  if (usesRedis(config, service)) {
    Object.assign(settings, {
      PLATFORM_REDIS_HOST: host("redis", config.namespace),
      PLATFORM_REDIS_PORT: String(REDIS_PORT),
    });
  }
  // One ACL user per purpose, and only for the purposes the service has.
  for (const purpose of redisPurposes(config, service)) {
    const key = purpose.toUpperCase();
    settings[`PLATFORM_REDIS_${key}_USER`] = REDIS_USERS[purpose].name;
    settings[`PLATFORM_REDIS_${key}_PASSWORD_FILE`] = `${SECRETS_DIR}/${REDIS_PASSWORD_FILES[purpose]}`;
  }
  if (service.rateLimit) settings.PLATFORM_RATE_LIMIT_CONFIG = `${CONTRACT_DIR}/${RATE_LIMIT_FILE}`;
  if (service.cache) settings.PLATFORM_CACHE_CONFIG = `${CONTRACT_DIR}/${CACHE_FILE}`;
  return settings;
}

/** Files mounted at /etc/platform, rendered with `yaml`. */
export function contractFiles(config: PlatformConfig, service: ServiceConfig): Record<string, string> {
  const files: Record<string, string> = {};
  const header = `# Rendered from config/${config.environment}.ts for ${service.name}. Contract: docs/design.md, "What every pod receives".\n`;
  if (service.rateLimit) {
    const backend = config.redis ? config.rateLimiting.backend : "memory";
    files[RATE_LIMIT_FILE] =
      header +
      toYaml({
        version: 1,
        service: service.name,
        backend,
        // A counter per window pair, O(1) memory per client: safe even for the 100000/60 s tier,
        // where a sliding log would store one entry per request.
        algorithm: "sliding_window_counter",
        ...(backend === "redis" ? { redisKeyPrefix: `ratelimit:${service.name}` } : {}),
        defaultTier: service.rateLimit.defaultTier,
        tiers: config.rateLimiting.tiers,
        endpoints: service.rateLimit.endpoints,
      });
  }
  if (service.cache) {
    files[CACHE_FILE] =
      header +
      toYaml({
        version: 1,
        service: service.name,
        backend: "redis",
        keyPrefix: `cache:${service.name}:v${service.cache.keyVersion}`,
        defaultTtlSeconds: service.cache.defaultTtlSeconds,
        ttlSeconds: service.cache.ttlSeconds,
      });
  }
  return files;
}

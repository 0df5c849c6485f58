/**
 * The validated configuration as everything downstream reads it. Types only: config/load.ts
 * builds these, config/capacity.ts and config/semantics.ts compute from them, and neither imports
 * the other.
 */
import type { CatalogEntry, DnsSettings, EnvironmentName, EnvironmentSettings, PgbouncerSettings, QuotaSettings, RedisSettings, ServiceSettings } from "./schema";

/** One service, as the constructs see it: catalogue facts plus this environment's settings. */
export interface ServiceConfig extends CatalogEntry, ServiceSettings {
  /** The catalogue key: `api-gateway`. Becomes the Kubernetes name of everything the service owns. */
  readonly name: string;
}

/** One environment, validated and with the run's overrides applied. */
export interface PlatformConfig {
  readonly environment: EnvironmentName;
  readonly namespace: string;
  readonly cluster: EnvironmentSettings["cluster"];
  readonly backend: EnvironmentSettings["backend"];
  /** Whether HPAs are emitted; the config file's flag unless ENABLE_AUTOSCALING overrides it. */
  readonly autoscalingEnabled: boolean;
  readonly imagePullPolicy: EnvironmentSettings["imagePullPolicy"];
  readonly ingressController: EnvironmentSettings["ingressController"];
  readonly ingress: EnvironmentSettings["ingress"];
  /** Every service runs the stand-in image (local only). */
  readonly standInImages: boolean;
  readonly monitoringNamespace: string;
  readonly nodeSize: EnvironmentSettings["nodeSize"];
  readonly dns: DnsSettings;
  readonly quota: QuotaSettings;
  /** In catalogue order, so output order never depends on the environment file's order. */
  readonly services: readonly ServiceConfig[];
  /** Absent when the environment runs without Redis. */
  readonly redis?: RedisSettings;
  readonly postgres: EnvironmentSettings["postgres"];
  /** Absent when the services connect to Postgres directly. */
  readonly pgbouncer?: PgbouncerSettings;
  readonly rateLimiting: EnvironmentSettings["rateLimiting"];
  readonly secrets: EnvironmentSettings["secrets"];
  readonly migrations: EnvironmentSettings["migrations"];
  readonly monitoring: EnvironmentSettings["monitoring"];
  readonly logging: EnvironmentSettings["logging"];
}

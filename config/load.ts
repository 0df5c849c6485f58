/**
 * Loads and validates one environment's configuration: the catalogue merged with the
 * environment's own file, checked file by file, then across the two.
 */
import { SERVED_HPA_METRICS } from "../dashboards/metrics";
import { connectionBudget } from "./capacity";
import { ConfigError, type ConfigProblem, problemsFromZod, renderValue } from "./errors";
import localConfig from "./local";
import productionConfig from "./production";
import {
  type Catalog,
  type CatalogEntry,
  catalogSchema,
  type EnvironmentName,
  type EnvironmentSettings,
  environmentSchema,
  type RedisSettings,
  type ServiceSettings,
} from "./schema";
import catalogData from "./services";
import stagingConfig from "./staging";

export const CATALOG_FILE = "config/services.ts";
export const environmentFile = (name: EnvironmentName): string => `config/${name}.ts`;

/** The raw data of each environment file, before validation. */
export const ENVIRONMENT_SOURCES: Readonly<Record<EnvironmentName, unknown>> = {
  local: localConfig,
  staging: stagingConfig,
  production: productionConfig,
};

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
  readonly monitoringNamespace: string;
  /** In catalogue order, so output order never depends on the environment file's order. */
  readonly services: readonly ServiceConfig[];
  /** Absent when the environment runs without Redis. */
  readonly redis?: RedisSettings;
  readonly postgres: EnvironmentSettings["postgres"];
  readonly rateLimiting: EnvironmentSettings["rateLimiting"];
  readonly secrets: EnvironmentSettings["secrets"];
  readonly migrations: EnvironmentSettings["migrations"];
  readonly monitoring: EnvironmentSettings["monitoring"];
  readonly logging: EnvironmentSettings["logging"];
}

export interface LoadOverrides {
  /** ENABLE_AUTOSCALING, when set. */
  readonly enableAutoscaling?: boolean;
  /** Running in CI (CI=true): local Terraform state is refused. */
  readonly ci?: boolean;
}

export function validateCatalog(raw: unknown, source = CATALOG_FILE): Catalog {
  const parsed = catalogSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(problemsFromZod(source, parsed.error, raw));
  return parsed.data;
}

/**
 * Validates one environment file against the schema and the catalogue.
 * @throws ConfigError naming every problem found, not just the first.
 */
export function validateEnvironment(
  raw: unknown,
  expected: EnvironmentName,
  catalog: Catalog,
  overrides: LoadOverrides = {},
  source = environmentFile(expected),
): PlatformConfig {
  const parsed = environmentSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(problemsFromZod(source, parsed.error, raw));
  const settings = parsed.data;

  const problems: ConfigProblem[] = [];
  if (settings.name !== expected) {
    problems.push({ source, field: "name", value: renderValue(settings.name), rule: `must be "${expected}", the name of this file` });
  }
  for (const name of Object.keys(catalog)) {
    if (!settings.services[name]) {
      problems.push({
        source,
        field: `services.${name}`,
        value: "(missing)",
        rule: `is in the service catalogue (${CATALOG_FILE}) and needs settings in every environment`,
      });
    }
  }
  for (const name of Object.keys(settings.services)) {
    if (!catalog[name]) {
      problems.push({
        source,
        field: `services.${name}`,
        value: renderValue(name),
        rule: `is not in the service catalogue (${CATALOG_FILE}): add it there first`,
      });
    }
  }
  if (overrides.ci && settings.backend.type === "local" && settings.backend.localStateIntended) {
    problems.push({
      source,
      field: "backend.localStateIntended",
      value: "true",
      rule: "is refused when CI=true: a CI runner discards local Terraform state after every job; declare an s3 or pg backend",
    });
  }
  const migrator = catalog[settings.migrations.service];
  if (!migrator) {
    problems.push({ source, field: "migrations.service", value: renderValue(settings.migrations.service), rule: `must name a service in the catalogue (${CATALOG_FILE})` });
  } else if (!migrator.usesDatabase) {
    problems.push({ source, field: "migrations.service", value: renderValue(settings.migrations.service), rule: "must name a service that uses the database (usesDatabase in the catalogue)" });
  }
  for (const [name, service] of Object.entries(settings.services)) {
    service.autoscaling.customMetrics.forEach((metric, i) => {
      if (metric.type !== "Pods" || !SERVED_HPA_METRICS.includes(metric.metric)) {
        problems.push({
          source,
          field: `services.${name}.autoscaling.customMetrics[${i}].metric`,
          value: renderValue(metric.metric),
          rule: `has no prometheus-adapter rule, so the HPA could never read it: use a Pods metric of ${SERVED_HPA_METRICS.join(", ")}, or add a rule in dashboards/metrics.ts`,
        });
      }
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const config: PlatformConfig = {
    environment: settings.name,
    namespace: settings.namespace,
    cluster: settings.cluster,
    backend: settings.backend,
    autoscalingEnabled: overrides.enableAutoscaling ?? settings.autoscaling.enabled,
    imagePullPolicy: settings.imagePullPolicy,
    ingressController: settings.ingressController,
    monitoringNamespace: settings.monitoringNamespace,
    services: Object.entries(catalog).map(([name, entry]) => ({ name, ...entry, ...settings.services[name]! })),
    ...(settings.redis.enabled ? { redis: settings.redis } : {}),
    postgres: settings.postgres,
    rateLimiting: settings.rateLimiting,
    secrets: settings.secrets,
    migrations: settings.migrations,
    monitoring: settings.monitoring,
    logging: settings.logging,
  };
  const budget = connectionBudget(config);
  if (!budget.fits) {
    throw new ConfigError([
      { source, field: "postgres.maxConnections", value: renderValue(settings.postgres.maxConnections), rule: `is too small for the connection budget${config.autoscalingEnabled ? " (autoscaling on: HPA maximums)" : ""}: ${budget.arithmetic}. Raise it, or lower pool.maxConnections or the replica counts` },
    ]);
  }
  return config;
}

/** Loads the named environments; every file is checked before any error is thrown. */
export function loadEnvironments(names: readonly EnvironmentName[], overrides: LoadOverrides = {}): PlatformConfig[] {
  const catalog = validateCatalog(catalogData);
  const problems: ConfigProblem[] = [];
  const configs: PlatformConfig[] = [];
  for (const name of names) {
    try {
      configs.push(validateEnvironment(ENVIRONMENT_SOURCES[name], name, catalog, overrides));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return configs;
}

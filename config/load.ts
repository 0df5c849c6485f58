/**
 * Loads and validates one environment's configuration: the catalogue merged with the
 * environment's own file, checked file by file, then across the two.
 */
import { HPA_METRIC_RULES, SERVED_HPA_METRICS } from "./metrics";
import { semanticProblems } from "./semantics";
import { secretFieldProblems } from "./secret-fields";
import { ConfigError, type ConfigProblem, problemsFromZod, renderValue } from "./errors";
import localConfig from "./local";
import productionConfig from "./production";
import { catalogNameProblems } from "./name-rules";
import { crossEnvironmentProblems, type LoadedEnvironment } from "./environment-rules";
import { type Catalog, catalogSchema, ENVIRONMENT_NAMES, type EnvironmentName, environmentSchema } from "./schema";
import type { PlatformConfig, ServiceConfig } from "./types";
import catalogData from "./services";
import stagingConfig from "./staging";

export type { PlatformConfig, ServiceConfig };

export const CATALOG_FILE = "config/services.ts";
export const environmentFile = (name: EnvironmentName): string => `config/${name}.ts`;

/** The raw data of each environment file, before validation. */
export const ENVIRONMENT_SOURCES: Readonly<Record<EnvironmentName, unknown>> = {
  local: localConfig,
  staging: stagingConfig,
  production: productionConfig,
};

export interface LoadOverrides {
  /** ENABLE_AUTOSCALING, when set. */
  readonly enableAutoscaling?: boolean;
  /** Running in CI (CI=true): local Terraform state is refused. */
  readonly ci?: boolean;
}

/**
 * The schema's problems and the secret walk's (config/secret-fields.ts), one per field: a field
 * the schema refuses and that also looks like a secret is reported once, with its value redacted.
 */
function shapeProblems(source: string, raw: unknown, error: import("zod").ZodError | undefined): ConfigProblem[] {
  const secrets = secretFieldProblems(raw, source);
  const schema = error ? problemsFromZod(source, error, raw) : [];
  const secretFields = new Set(secrets.map((p) => p.field));
  // A connection string under the pg backend: say where it belongs instead.
  const backendType = (raw as { backend?: { type?: unknown } } | null)?.backend?.type;
  for (const [i, p] of schema.entries()) {
    if (backendType === "pg" && /^backend\.[^.]*(conn|dsn|url|password|host)/i.test(p.field) && p.rule.startsWith("is not a known field"))
      schema[i] = { ...p, value: "(redacted)", rule: "is not a known field: Terraform's pg backend reads its connection string from PG_CONN_STR at terraform init, so no password is ever in the configuration, cdk.tf.json or a message" };
  }
  // Secrets first: a message lists a bounded number of problems, and these matter most.
  const schemaFields = new Set(schema.map((p) => p.field));
  return [
    ...secrets.filter((p) => !schemaFields.has(p.field)),
    ...schema.map((p) => (secretFields.has(p.field) ? { ...p, value: "(redacted)" } : p)),
  ];
}

export function validateCatalog(raw: unknown, source = CATALOG_FILE): Catalog {
  const parsed = catalogSchema.safeParse(raw);
  const problems = shapeProblems(source, raw, parsed.success ? undefined : parsed.error);
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const reserved = catalogNameProblems(Object.keys(parsed.data), source);
  if (reserved.length > 0) throw new ConfigError(reserved);
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
  const shape = shapeProblems(source, raw, parsed.success ? undefined : parsed.error);
  if (shape.length > 0 || !parsed.success) throw new ConfigError(shape);
  const settings = parsed.data;

  const problems: ConfigProblem[] = [];
  if (settings.name !== expected) {
    problems.push({ source, field: "name", value: renderValue(settings.name), rule: `must be "${expected}", the name of this file` });
  }
  const has = (record: object, key: string) => Object.hasOwn(record, key);
  for (const name of Object.keys(catalog)) {
    if (!has(settings.services, name)) {
      problems.push({
        source,
        field: `services.${name}`,
        value: "(missing)",
        rule: `is in the service catalogue (${CATALOG_FILE}) and needs settings in every environment`,
      });
    }
  }
  for (const name of Object.keys(settings.services)) {
    if (!has(catalog, name)) {
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
  const migrator = has(catalog, settings.migrations.service) ? catalog[settings.migrations.service] : undefined;
  if (!migrator) {
    problems.push({ source, field: "migrations.service", value: renderValue(settings.migrations.service), rule: `must name a service in the catalogue (${CATALOG_FILE})` });
  } else if (!migrator.usesDatabase) {
    problems.push({ source, field: "migrations.service", value: renderValue(settings.migrations.service), rule: "must name a service that uses the database (usesDatabase in the catalogue)" });
  }
  for (const [name, service] of Object.entries(settings.services)) {
    service.autoscaling.customMetrics.forEach((metric, i) => {
      if (metric.type !== "Pods" || !has(HPA_METRIC_RULES, metric.metric)) {
        problems.push({
          source,
          field: `services.${name}.autoscaling.customMetrics[${i}].metric`,
          value: renderValue(metric.metric),
          rule: `has no prometheus-adapter rule, so the HPA could never read it: use a Pods metric of ${SERVED_HPA_METRICS.join(", ")}, or add a rule in config/metrics.ts`,
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
    ingress: settings.ingress,
    standInImages: settings.standInImages,
    monitoringNamespace: settings.monitoringNamespace,
    nodeSize: settings.nodeSize,
    dns: settings.dns,
    quota: settings.quota,
    services: Object.entries(catalog).map(([name, entry]) => ({ name, ...entry, ...settings.services[name]! })),
    ...(settings.redis.enabled ? { redis: settings.redis } : {}),
    postgres: settings.postgres,
    ...(settings.pgbouncer.enabled ? { pgbouncer: settings.pgbouncer } : {}),
    rateLimiting: settings.rateLimiting,
    secrets: settings.secrets,
    migrations: settings.migrations,
    monitoring: settings.monitoring,
    logging: settings.logging,
  };
  const semantic = semanticProblems(config, source);
  if (semantic.length > 0) throw new ConfigError(semantic);
  return config;
}

/**
 * Loads the named environments; every file is checked before any error is thrown. The rules
 * across files (config/environment-rules.ts) see every environment file that is valid, selected
 * or not: synthesizing staging alone must still refuse a staging that would overwrite production.
 */
export function loadEnvironments(
  names: readonly EnvironmentName[],
  overrides: LoadOverrides = {},
  sources: Readonly<Record<EnvironmentName, unknown>> = ENVIRONMENT_SOURCES,
  catalogRaw: unknown = catalogData,
): PlatformConfig[] {
  const catalog = validateCatalog(catalogRaw);
  const problems: ConfigProblem[] = [];
  const configs: PlatformConfig[] = [];
  for (const name of names) {
    try {
      configs.push(validateEnvironment(sources[name], name, catalog, overrides));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
    }
  }
  const loaded: LoadedEnvironment[] = configs.map((config) => ({ config, source: environmentFile(config.environment) }));
  for (const name of ENVIRONMENT_NAMES) {
    if (names.includes(name)) continue;
    try {
      loaded.push({ config: validateEnvironment(sources[name], name, catalog, overrides), source: environmentFile(name) });
    } catch (error) {
      // An environment not synthesized in this run reports its own problems when it is.
      if (!(error instanceof ConfigError)) throw error;
    }
  }
  problems.push(...crossEnvironmentProblems(loaded, new Set(names)));
  if (problems.length > 0) throw new ConfigError(problems);
  return configs;
}

/**
 * Values that pass their field's shape but that the consumer refuses at the extremes: the API
 * server's size limits, Prometheus' duration range, Prometheus' template syntax, Postgres' GUC
 * ranges, Secret key lengths. Found by asking, for every field a user sets, what its consumer does
 * with the largest, smallest and strangest value the schema lets through (docs/validation.md,
 * "Configuration checks").
 */
import { type ConfigProblem, problemAt } from "./errors";
import { formatMemory, parseMemoryBytes } from "./quantity";
import type { PlatformConfig } from "./types";

/**
 * A ConfigMap's data, all keys and values together, is at most 1 MiB (the API server's
 * `ValidateConfigMap`: "must have at most 1048576 bytes"). A service's settings ConfigMap holds
 * its `env` plus the platform's own PLATFORM_* settings; this leaves them 64 KiB.
 */
export const MAX_ENV_BYTES = 2 ** 20 - 64 * 2 ** 10;

/** Prometheus parses durations into int64 nanoseconds (prometheus/common model.ParseDuration): about 292 years. */
const MAX_DURATION_MS = Number(2n ** 63n / 1_000_000n);
const DURATION_MS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** A Secret's data key: at most 253 characters (`IsConfigMapKey`, k8s.io/apimachinery validation). */
const MAX_SECRET_KEY = 253;

/** effective_cache_size's ceiling: 2147483647 pages of 8 kB (Postgres' guc_tables.c). */
const MAX_EFFECTIVE_CACHE_BYTES = 2147483647 * 8192;

export function extremeValueProblems(config: PlatformConfig, source: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (field: string, value: unknown, rule: string) => problems.push(problemAt(source, field, value, rule));

  for (const s of config.services) {
    const bytes = Object.entries(s.env).reduce((sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    if (bytes > MAX_ENV_BYTES)
      add(`services.${s.name}.env`, `(${Object.keys(s.env).length} variables)`, `holds ${formatMemory(bytes)} of settings: a ConfigMap holds at most 1 MiB (the API server refuses a larger one), and the platform's own settings need room; move bulk data to a file the image carries`);
  }

  const m = /^(\d+)([hdwy])$/.exec(config.monitoring.retention);
  if (m && Number(m[1]) * DURATION_MS[m[2]!]! >= MAX_DURATION_MS)
    add("monitoring.retention", config.monitoring.retention, "is longer than the 292 years Prometheus can represent (durations are int64 nanoseconds): Prometheus refuses to start with it");

  // Alert annotations are Go templates (Prometheus expands them per alert; promtool and the
  // operator's admission webhook parse them): a runbook URL with braces would break every rule.
  if (/\{\{|\}\}/.test(config.monitoring.runbookBaseUrl))
    add("monitoring.runbookBaseUrl", config.monitoring.runbookBaseUrl, "contains {{ or }}: it is written into every alert's runbook_url annotation, which Prometheus parses as a Go template; percent-encode the braces");

  for (const [field, key] of [
    ["monitoring.pagerduty.routingKeySecret.key", config.monitoring.pagerduty.routingKeySecret?.key],
    ["monitoring.warnings.webhookSecret.key", config.monitoring.warnings?.to === "slack" ? config.monitoring.warnings.webhookSecret.key : undefined],
  ] as const) {
    if (key !== undefined && (key.length > MAX_SECRET_KEY || key === "." || key === ".."))
      add(field, key, `is not a key a Secret can hold (at most ${MAX_SECRET_KEY} characters, not . or ..): Alertmanager would find no file to read`);
  }

  const pg = config.postgres;
  const cache = parseMemoryBytes(pg.effectiveCacheSize)!;
  if (cache > MAX_EFFECTIVE_CACHE_BYTES) add("postgres.effectiveCacheSize", pg.effectiveCacheSize, "is above Postgres' maximum for effective_cache_size (2147483647 x 8kB): Postgres refuses to start");
  else if (cache > parseMemoryBytes(pg.resources.limits.memory)!)
    add("postgres.effectiveCacheSize", pg.effectiveCacheSize, `is above the container's memory limit (${pg.resources.limits.memory}): the page cache Postgres can count on is charged to that limit, so the planner would assume memory it never has`);
  return problems;
}

/**
 * Values that pass their field's shape but that the consumer refuses at the extremes: the API
 * server's size limits, Prometheus' duration range, Prometheus' template syntax, Postgres' GUC
 * ranges, Secret key lengths. Found by asking, for every field a user sets, what its consumer does
 * with the largest, smallest and strangest value the schema lets through (docs/validation.md,
 * "Configuration checks").
 */
import { namespaceQuota } from "./capacity";
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

/**
 * Secrets the stack reads by name (constructs/platform-secrets.ts, constructs/monitoring-values.ts):
 * a TLS Secret of the same name would hand the ingress controller database or admin credentials
 * as a "certificate" (it would serve its fake certificate instead, and read the credentials).
 */
export const PLATFORM_SECRET_NAMES = ["postgres-auth", "redis-auth", "grafana-admin"];

/**
 * Headers that carry credentials or that HTTP itself uses: as the correlation-ID header, every
 * service would copy a credential into its logs and onward calls, or break requests.
 */
const NOT_A_CORRELATION_HEADER = ["authorization", "proxy-authorization", "cookie", "set-cookie", "host", "content-length", "content-type", "connection", "transfer-encoding", "upgrade", "x-api-key", "x-auth-token"];

/** A Docker image name is at most 255 characters (distribution/reference `NameTotalLengthMax`). */
const MAX_IMAGE_NAME = 255;

/**
 * The largest number a Kubernetes `int32` field holds. The API server decodes a larger one into
 * nothing and refuses the whole object ("json: cannot unmarshal number 2147483648 into Go struct
 * field … of type int32"); the kubernetes provider's `intstr.Parse` wraps it around instead.
 * Fields that reach one: an HPA scaling policy's `value` (autoscaling/v2 `HPAScalingPolicy.Value`)
 * and a PodDisruptionBudget's whole-number `maxUnavailable` (policy/v1, an `IntOrString` whose
 * `IntVal` is int32). The schema bounds every other integer that reaches the API server well below
 * it (replicas, ports, periods, windows; `minAvailable` stays below the replicas).
 */
export const MAX_INT32 = 2 ** 31 - 1;

/**
 * The first byte count a Kubernetes quantity cannot hold: 2^63 (8Ei). The API server keeps a
 * quantity's value in an int64 and stores 9223372036854775807 for anything larger (apimachinery
 * `resource.Quantity`; "100Ei" reads back as 9223372036854775807, checked against kube-apiserver
 * v1.35), so the object never matches its configuration: the kubernetes provider compares the two
 * as quantities (`suppressEquivalentResourceQuantity`) and plans a change on every run.
 */
export const QUANTITY_BYTES_LIMIT = 2 ** 63;

/**
 * Why a container cannot start with a NUL in its environment or arguments: both reach execve(2)
 * as C strings, and the container runtime's exec refuses them (runc's `unix.Exec`, Go's
 * `syscall.BytePtrFromString`: EINVAL, "invalid argument"), so the pod fails at every start.
 */
const NUL_RULE = "contains a NUL character, which no process environment or argument can hold: the container runtime's exec fails with EINVAL (invalid argument), so the pod never starts";

export function extremeValueProblems(config: PlatformConfig, source: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (field: string, value: unknown, rule: string) => problems.push(problemAt(source, field, value, rule));

  for (const s of config.services) {
    if (s.imageRepository.length > MAX_IMAGE_NAME)
      problems.push(problemAt("config/services.ts", `${s.name}.imageRepository`, s.imageRepository, `is ${s.imageRepository.length} characters: an image name is at most ${MAX_IMAGE_NAME} (the container runtime refuses to pull it)`));
  }
  for (const s of config.services) {
    for (const [name, value] of Object.entries(s.env)) if (value.includes("\u0000")) add(`services.${s.name}.env.${name}`, value, NUL_RULE);
  }
  config.migrations.command.forEach((arg, i) => {
    if (arg.includes("\u0000")) add(`migrations.command[${i}]`, arg, NUL_RULE);
  });

  for (const s of config.services) {
    const int32 = (field: string, value: unknown, what: string) => {
      if (typeof value === "number" && value > MAX_INT32)
        add(`services.${s.name}.${field}`, value, `is above ${MAX_INT32}, the largest number ${what} holds (a Kubernetes int32): the API server refuses the object`);
    };
    for (const direction of ["scaleUp", "scaleDown"] as const) {
      s.autoscaling.behavior[direction].policies.forEach((p, i) => int32(`autoscaling.behavior.${direction}.policies[${i}].value`, p.value, "an HPA scaling policy's value"));
    }
    int32("disruption.maxUnavailable", s.disruption.maxUnavailable, "a PodDisruptionBudget's maxUnavailable");
  }

  // Byte quantities the stack emits: every size the config sets, and the quota's sums of them.
  const sizes: [string, string | undefined][] = [
    ["nodeSize.memory", config.nodeSize.memory],
    ["postgres.storage.size", config.postgres.storage.size],
    ["redis.storage.size", config.redis?.storage?.size],
    ["monitoring.prometheusStorage.size", config.monitoring.prometheusStorage?.size],
    ["quota.ceiling.requestsMemory", config.quota.ceiling?.requestsMemory],
    ["quota.ceiling.limitsMemory", config.quota.ceiling?.limitsMemory],
  ];
  const resources: [string, { requests: { memory: string }; limits: { memory: string } } | undefined][] = [
    ...config.services.map((s) => [`services.${s.name}.resources`, s.resources] as [string, typeof s.resources]),
    ["postgres.resources", config.postgres.resources],
    ["redis.resources", config.redis?.resources],
    ["pgbouncer.resources", config.pgbouncer?.resources],
    ["monitoring.prometheusResources", config.monitoring.prometheusResources],
    ["monitoring.grafanaResources", config.monitoring.grafanaResources],
  ];
  for (const [field, r] of resources) if (r) sizes.push([`${field}.requests.memory`, r.requests.memory], [`${field}.limits.memory`, r.limits.memory]);
  const tooLarge = `at least 8Ei (2^63 bytes): the API server holds a quantity in an int64 and stores 9223372036854775807 instead, so the object never matches the configuration and every plan shows a change`;
  let oversized = false;
  for (const [field, size] of sizes) {
    if (size !== undefined && parseMemoryBytes(size)! >= QUANTITY_BYTES_LIMIT) {
      add(field, size, `is ${tooLarge}`);
      oversized = true;
    }
  }
  if (!oversized) {
    const hard = namespaceQuota(config).hard;
    const sums = Object.entries({ "requests.memory": hard.requestsMemoryBytes, "limits.memory": hard.limitsMemoryBytes, "requests.storage": hard.storageBytes }).filter(([, bytes]) => bytes >= QUANTITY_BYTES_LIMIT);
    if (sums.length > 0)
      add(
        "quota",
        Object.fromEntries(sums.map(([k, bytes]) => [k, formatMemory(bytes)])),
        `sizes the namespace's ResourceQuota (the peak plus quota.headroomPercent) ${tooLarge}; lower the sizes, replicas or HPA maximums it sums`,
      );
  }

  const tls = config.ingress.tls;
  const secretNames = [...PLATFORM_SECRET_NAMES, ...(config.monitoring.pagerduty.routingKeySecret ? [config.monitoring.pagerduty.routingKeySecret.name] : [])];
  if (tls.mode === "secret" && tls.secretName !== undefined && secretNames.includes(tls.secretName))
    add("ingress.tls.secretName", tls.secretName, "is a Secret the platform keeps credentials in, not a TLS certificate: the ingress controller would read it and serve its fake certificate; name the kubernetes.io/tls Secret of your certificate");
  if (NOT_A_CORRELATION_HEADER.includes(config.logging.correlationIdHeader.toLowerCase()))
    add("logging.correlationIdHeader", config.logging.correlationIdHeader, "is a header HTTP or authentication uses: every service would log it and pass it on as the correlation ID; use a header of its own such as X-Correlation-ID");

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

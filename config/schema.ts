/**
 * The shape of the platform's configuration, and every rule a single file can be checked against.
 *
 * Two kinds of file feed it:
 * - `config/services.ts`, the service catalogue: facts that are the same in every environment
 *   (ports, probe paths, who calls whom, image repositories);
 * - `config/<environment>.ts`, one per environment: sizing, tags, replicas, autoscaling, settings.
 *
 * Every object is strict: a mistyped key is an error, never silently dropped.
 */
import { z } from "zod";
import { kubeconfigPathProblem } from "./kubeconfig-path";
import { parseCidr } from "./network";
import { CPU_RULE, MEMORY_RULE, parseCpuMillis, parseMemoryBytes, wholeMebibytes } from "./quantity";
import { secretReason } from "./secrets";

// zod compiles a fast parser per object schema on its first parse; a synth parses three files
// once, so compiling costs more than it saves (about 9 ms of a 0.6 s synth, measured).
z.config({ jitless: true });

export const ENVIRONMENT_NAMES = ["local", "staging", "production"] as const;
export type EnvironmentName = (typeof ENVIRONMENT_NAMES)[number];

/** DNS-1035 label, short enough that `<name>-<suffix>` still fits Kubernetes' 63 characters. */
const dnsLabel = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS label: lower-case letters, digits and '-', starting with a letter");

export const serviceName = dnsLabel(40);

const httpPath = z.string().regex(/^\/[A-Za-z0-9._~/-]*$/, "must be an absolute HTTP path such as /healthz");

const cpuQuantity = z.string().refine((v) => parseCpuMillis(v) !== undefined, CPU_RULE);
const memoryQuantity = z.string().refine((v) => parseMemoryBytes(v) !== undefined, MEMORY_RULE);
/**
 * A Postgres memory setting: written to postgresql.conf in whole MB (Postgres' MB is 1024 kB), so
 * the quantity must be a whole number of MiB, at least 1Mi: `100M` (95.37 MiB) would otherwise be
 * rounded without a word. (Not a quantity at all: memoryQuantity's rule says so, once.)
 */
const postgresMemory = memoryQuantity.refine((v) => parseMemoryBytes(v) === undefined || wholeMebibytes(v) !== undefined, "must be a whole number of MiB, at least 1Mi (Postgres takes it in MB of 1024 kB): e.g. 64Mi, 1536Mi, 2Gi");

const labelValue = z
  .string()
  .max(63, "must be at most 63 characters")
  .regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/, "must be a Kubernetes label value");
const labelKey = z
  .string()
  .regex(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
    "must be a Kubernetes label key such as app.kubernetes.io/name",
  )
  // The prefix is a DNS subdomain, at most 253 characters (apimachinery `IsQualifiedName`: "prefix
  // part must be no more than 253 bytes"); the API server refuses a selector with a longer one.
  .refine((k) => !k.includes("/") || k.indexOf("/") <= 253, "must be a Kubernetes label key whose prefix (before the /) is at most 253 characters");
const labels = z.record(labelKey, labelValue);

/** Prometheus metric name, as the HPA and the adapter will both spell it. */
export const metricName = z
  .string()
  .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, "must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");


// Each name is a key of the service's settings ConfigMap: at most 253 characters (apimachinery
// `IsConfigMapKey`), or the API server refuses the ConfigMap.
const envName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, "must be an environment variable name in UPPER_SNAKE_CASE")
  .max(253, "must be at most 253 characters: it is a key of the service's settings ConfigMap, which the API server refuses otherwise");

// ---------------------------------------------------------------------------------------------
// The service catalogue (config/services.ts)
// ---------------------------------------------------------------------------------------------

export const catalogEntrySchema = z
  .strictObject({
  /** Human name, as the seed (the platform's original specification) spells it ("API Gateway"). */
  displayName: z.string().min(1).max(60),
  /** Image repository without tag, e.g. `ghcr.io/berrys/api-gateway`. The tag is per environment. */
  imageRepository: z
    .string()
    .regex(/^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/, "must be an image repository without tag or digest"),
  /** Port the container listens on; 1024 or above, since the containers run as a non-root user. */
  port: z.number().int().min(1024, "must be 1024 or above: containers run as non-root without NET_BIND_SERVICE").max(65535),
  /**
   * Port serving `GET /metrics`, apart from the API: only Prometheus' pods may reach it, and they
   * reach nothing else.
   * @default 9090
   */
  metricsPort: z.number().int().min(1024, "must be 1024 or above: containers run as non-root without NET_BIND_SERVICE").max(65535).default(9090),
  probes: z
    .strictObject({
      liveness: httpPath,
      readiness: httpPath,
      startup: httpPath,
    })
    .refine((p) => p.liveness !== p.readiness, {
      message: "liveness and readiness must be different endpoints: a readiness failure must not restart the pod",
      path: ["readiness"],
    }),
  /** `public`: reached through the ingress controller. `internal`: reached only by its callers. */
  exposure: z.enum(["public", "internal"]),
  /** Services this one calls; opens egress from it and ingress to them. */
  calls: z.array(serviceName).default([]),
  /** Outbound HTTPS to the internet (model providers, tool APIs). */
  internetEgress: z.boolean().default(false),
  /** Reads and writes the platform database (Postgres) through a connection pool. */
  usesDatabase: z.boolean().default(false),
  /** Worker processes per pod, each with its own connection pool (gunicorn/uvicorn workers). */
  workerProcesses: z.number().int().min(1).max(64).default(1),
  })
  .refine((e) => e.metricsPort !== e.port, { message: "must differ from port: the metrics port is reachable by Prometheus alone", path: ["metricsPort"] });

export const catalogSchema = z
  .record(serviceName, catalogEntrySchema)
  .superRefine((catalog, ctx) => {
    const names = Object.keys(catalog);
    if (names.length === 0) ctx.addIssue({ code: "custom", message: "must name at least one service", path: [] });
    for (const [name, entry] of Object.entries(catalog)) {
      entry.calls.forEach((callee, i) => {
        if (callee === name) ctx.addIssue({ code: "custom", message: "a service does not call itself", path: [name, "calls", i] });
        else if (!Object.hasOwn(catalog, callee))
          ctx.addIssue({ code: "custom", message: `must name a service in the catalogue (${names.join(", ")})`, path: [name, "calls", i] });
      });
    }
  });

export type CatalogEntry = z.infer<typeof catalogEntrySchema>;
export type Catalog = z.infer<typeof catalogSchema>;

// ---------------------------------------------------------------------------------------------
// Per-environment settings (config/<environment>.ts)
// ---------------------------------------------------------------------------------------------

const imageSchema = z
  .strictObject({
    /** An explicit version tag. `latest` is refused: it makes a deploy unrepeatable. */
    tag: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "must be a Docker tag")
      .refine((t) => t.toLowerCase() !== "latest", "must be an explicit version: 'latest' makes a deploy unrepeatable")
      .optional(),
    /** A content digest, `sha256:<64 hex>`. Wins over the tag when both are set. */
    digest: z.string().regex(/^sha256:[a-f0-9]{64}$/, "must be sha256: followed by 64 lower-case hex digits").optional(),
  })
  .refine((i) => i.tag !== undefined || i.digest !== undefined, {
    message: "must set a tag or a digest: an image without one resolves to 'latest'",
  });

const resourcePair = z.strictObject({ cpu: cpuQuantity, memory: memoryQuantity });

/**
 * Why a request/limit pair is likely inverted by a missing unit, for the "at least" message: the
 * unit check (config/semantics.ts) never runs once the schema refuses the pair, so the likely
 * cause is named here. A bare CPU of 100 or more is that many cores (millicores need `m`); a bare
 * memory below 1Mi is that many bytes.
 */
function unitHint(kind: "cpu" | "memory", pair: { requests: string; limits: string }): string {
  const hints = (["requests", "limits"] as const).flatMap((side) => {
    const value = pair[side];
    if (!/^\d+(\.\d+)?$/.test(value)) return [];
    if (kind === "cpu" && Number(value) >= 100) return [`${side}.cpu "${value}" is ${value} cores: for millicores write "${value}m"`];
    if (kind === "memory" && Number(value) < 2 ** 20) return [`${side}.memory "${value}" is ${value} bytes: add a unit, such as "${value}Mi"`];
    return [];
  });
  return hints.length > 0 ? `; ${hints.join("; ")}` : "";
}

const resourcesSchema = z
  .strictObject({ requests: resourcePair, limits: resourcePair })
  .superRefine((r, ctx) => {
    if (parseCpuMillis(r.limits.cpu)! < parseCpuMillis(r.requests.cpu)!)
      ctx.addIssue({
        code: "custom",
        message: `must be at least requests.cpu (${r.requests.cpu})${unitHint("cpu", { requests: r.requests.cpu, limits: r.limits.cpu })}`,
        path: ["limits", "cpu"],
      });
    if (parseMemoryBytes(r.limits.memory)! < parseMemoryBytes(r.requests.memory)!)
      ctx.addIssue({
        code: "custom",
        message: `must be at least requests.memory (${r.requests.memory})${unitHint("memory", { requests: r.requests.memory, limits: r.limits.memory })}`,
        path: ["limits", "memory"],
      });
  });

const scalingPolicySchema = z.strictObject({
  type: z.enum(["Pods", "Percent"]),
  value: z.number().int().min(1, "must be at least 1"),
  periodSeconds: z.number().int().min(1).max(1800, "must be at most 1800 (Kubernetes' limit)"),
});

const scalingRulesSchema = z.strictObject({
  stabilizationWindowSeconds: z.number().int().min(0).max(3600, "must be at most 3600 (Kubernetes' limit)"),
  selectPolicy: z.enum(["Max", "Min", "Disabled"]).default("Max"),
  policies: z.array(scalingPolicySchema).min(1, "must hold at least one policy"),
});

/**
 * A metric the HPA reads besides CPU and memory. `Pods` metrics come from the pods the HPA scales
 * (served by the custom metrics API), `External` ones from anywhere (the external metrics API).
 * @see https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale-walkthrough/#autoscaling-on-multiple-metrics-and-custom-metrics
 */
const customMetricSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("Pods"),
    /** The name the seed (the platform's original specification) gives it ("Queue Length"). */
    displayName: z.string().min(1),
    metric: metricName,
    /** Target per pod, as a Kubernetes quantity (`20`, `500m`). */
    targetAverageValue: z.string().regex(/^\d+(\.\d+)?m?$/, "must be a plain quantity such as 20 or 500m"),
  }),
  z.strictObject({
    type: z.literal("External"),
    displayName: z.string().min(1),
    metric: metricName,
    selector: labels.default({}),
    targetAverageValue: z.string().regex(/^\d+(\.\d+)?m?$/, "must be a plain quantity such as 20 or 500m"),
  }),
]);

const percent = z.number().int().min(1, "must be between 1 and 100").max(100, "must be between 1 and 100");

const autoscalingSchema = z
  .strictObject({
    minReplicas: z.number().int().min(1, "must be at least 1"),
    maxReplicas: z.number().int().min(1).max(100, "must be at most 100"),
    targetCpuUtilizationPercent: percent,
    targetMemoryUtilizationPercent: percent,
    customMetrics: z.array(customMetricSchema).default([]),
    behavior: z.strictObject({ scaleUp: scalingRulesSchema, scaleDown: scalingRulesSchema }),
  })
  .superRefine((a, ctx) => {
    if (a.minReplicas > a.maxReplicas)
      ctx.addIssue({ code: "custom", message: `must be <= maxReplicas (${a.maxReplicas})`, path: ["minReplicas"] });
    const seen = new Set<string>();
    a.customMetrics.forEach((m, i) => {
      if (seen.has(m.metric)) ctx.addIssue({ code: "custom", message: "is named twice", path: ["customMetrics", i, "metric"] });
      seen.add(m.metric);
    });
  });

const intOrPercent = z.union([
  z.number().int().min(0),
  z.string().regex(/^(100|[1-9]?[0-9])%$/, "must be a whole percentage such as 25%"),
]);

/**
 * How many pods a voluntary disruption (node drain) may take at once. Exactly one of the two.
 * @see https://kubernetes.io/docs/tasks/run-application/configure-pdb/
 */
const disruptionSchema = z
  .strictObject({ maxUnavailable: intOrPercent.optional(), minAvailable: intOrPercent.optional() })
  .superRefine((d, ctx) => {
    if ((d.maxUnavailable === undefined) === (d.minAvailable === undefined))
      ctx.addIssue({ code: "custom", message: "must set exactly one of maxUnavailable and minAvailable", path: [] });
    if (d.maxUnavailable === 0 || d.maxUnavailable === "0%")
      ctx.addIssue({ code: "custom", message: "must not be 0: a budget that allows no disruption blocks every node drain", path: ["maxUnavailable"] });
    if (d.minAvailable === "100%")
      ctx.addIssue({ code: "custom", message: "must be below 100%: it would block every node drain", path: ["minAvailable"] });
  });

export const RATE_LIMIT_TIERS = ["default", "low", "high", "critical", "unlimited"] as const;
export type RateLimitTier = (typeof RATE_LIMIT_TIERS)[number];

const tierSchema = z.strictObject({
  requests: z.number().int().min(1, "must be a positive number of requests").max(10_000_000),
  windowSeconds: z.number().int().min(1, "must be a positive number of seconds").max(86_400),
});

/** Per service: the tier that applies by default and per-endpoint overrides. */
const rateLimitSchema = z.strictObject({
  defaultTier: z.enum(RATE_LIMIT_TIERS),
  endpoints: z
    .array(
      z.strictObject({
        /** Path prefix, such as /v1/agents/run. */
        path: httpPath,
        method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE", "*"]).default("*"),
        tier: z.enum(RATE_LIMIT_TIERS),
      }),
    )
    .default([]),
});

const keyClass = z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, "must be a lower_snake_case key class");

/** Per service: Redis cache TTLs and the key prefix whose version bump invalidates everything. */
const cacheSchema = z.strictObject({
  defaultTtlSeconds: z.number().int().min(1, "must be at least 1 second").max(2_592_000, "must be at most 30 days"),
  ttlSeconds: z.record(keyClass, z.number().int().min(1, "must be at least 1 second").max(2_592_000, "must be at most 30 days")).default({}),
  /** Bump to invalidate every entry the service wrote: keys are `<prefix>:v<version>:<class>:<key>`. */
  keyVersion: z.number().int().min(1),
});

/**
 * How a new version reaches users.
 * - `rolling`: one Deployment, replaced pod by pod (surge first).
 * - `blue-green`: two Deployments (tracks `blue` and `green`) and one Service that routes to
 *   `active`. The active track runs `image`; the other keeps `previous`, ready for a rollback.
 *   A release sets `image` to the new version, `previous` to the old one, and flips `active`;
 *   scripts/deploy.sh then rolls the idle track, waits for it, and switches the Service.
 */
const releaseSchema = z.discriminatedUnion("strategy", [
  z.strictObject({ strategy: z.literal("rolling") }),
  z.strictObject({
    strategy: z.literal("blue-green"),
    active: z.enum(["blue", "green"]),
    previous: imageSchema,
  }),
]);

export const serviceSettingsSchema = z
  .strictObject({
    image: imageSchema,
    /** Pods when autoscaling is off. Ignored (and not emitted) while an HPA owns the Deployment. */
    replicas: z.number().int().min(1, "must be at least 1").max(100, "must be at most 100"),
    resources: resourcesSchema,
    /** Plain, non-secret settings for the container, delivered through a ConfigMap. */
    env: z.record(envName, z.string().max(4096)).default({}),
    autoscaling: autoscalingSchema,
    disruption: disruptionSchema.default({ maxUnavailable: 1 }),
    rateLimit: rateLimitSchema.optional(),
    cache: cacheSchema.optional(),
    release: releaseSchema.default({ strategy: "rolling" }),
  })
  .superRefine((s, ctx) => {
    for (const key of Object.keys(s.env)) {
      if (key === "PORT" || key === "LOG_FORMAT" || key === "LOG_LEVEL" || key.startsWith("PLATFORM_"))
        ctx.addIssue({ code: "custom", message: "is reserved: PORT, LOG_FORMAT, LOG_LEVEL and PLATFORM_* are set by the platform", path: ["env", key] });
      else {
        const reason = secretReason(key, s.env[key]);
        if (reason)
          ctx.addIssue({
            code: "custom",
            message: `looks like a secret (${reason}): secrets come from Kubernetes Secrets, never from plain settings`,
            path: ["env", key],
          });
      }
    }
    const { minAvailable } = s.disruption;
    if (typeof minAvailable === "number") {
      // Checked against both modes: ENABLE_AUTOSCALING can flip the mode at deploy time.
      const floor = Math.min(s.replicas, s.autoscaling.minReplicas);
      if (minAvailable >= floor)
        ctx.addIssue({
          code: "custom",
          message: `must be below replicas and autoscaling.minReplicas (${floor}): otherwise the budget blocks every node drain`,
          path: ["disruption", "minAvailable"],
        });
    }
  });

/** DNS-1123 subdomain (StorageClass and Secret names): labels joined by dots, at most 253. */
export const dnsSubdomain = z
  .string()
  .max(253, "must be at most 253 characters")
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "must be a DNS subdomain: lower-case letters, digits, '-' and '.'");

const storageSchema = z.strictObject({
  size: memoryQuantity,
  /** @default the cluster's default StorageClass */
  storageClass: dnsSubdomain.optional(),
});

const redisEnabledSchema = z
  .strictObject({
    enabled: z.literal(true),
    /** Redis' memory ceiling (`maxmemory`), below the container's memory limit. */
    maxmemory: memoryQuantity,
    maxmemoryPolicy: z.enum(["noeviction", "volatile-lru", "volatile-lfu", "volatile-ttl", "allkeys-lru", "allkeys-lfu"]),
    /** Append-only file and RDB snapshots on a volume; off means an in-memory Redis. */
    persistence: z.boolean(),
    storage: storageSchema.optional(),
    resources: resourcesSchema,
  })
  .superRefine((r, ctx) => {
    if (r.persistence && !r.storage)
      ctx.addIssue({ code: "custom", message: "is required when persistence is on", path: ["storage"] });
    const max = parseMemoryBytes(r.maxmemory);
    const limit = parseMemoryBytes(r.resources.limits.memory);
    if (max !== undefined && limit !== undefined && max > limit * 0.8)
      ctx.addIssue({
        code: "custom",
        message: `must leave 20% of the container's memory limit (${r.resources.limits.memory}) for Redis' own overhead and copy-on-write during saves`,
        path: ["maxmemory"],
      });
  });

/** Local may run without Redis (`{ enabled: false }`): rate limiting falls back to memory, caches are off. */
const redisSchema = z.discriminatedUnion("enabled", [z.strictObject({ enabled: z.literal(false) }), redisEnabledSchema]);

/**
 * Connection pool per pod, as the seed (the platform's original specification) specifies it in
 * its section 5.3, "Connection Pooling Configuration" (SQLAlchemy semantics).
 */
const poolSchema = z
  .strictObject({
    minConnections: z.number().int().min(0),
    maxConnections: z.number().int().min(1, "must be at least 1"),
    timeoutSeconds: z.number().int().min(1).max(600),
    recycleSeconds: z.number().int().min(1),
    prePing: z.boolean(),
  })
  .superRefine((p, ctx) => {
    if (p.minConnections > p.maxConnections)
      ctx.addIssue({ code: "custom", message: `must be <= maxConnections (${p.maxConnections})`, path: ["minConnections"] });
  });

/**
 * An address range a NetworkPolicy's ipBlock names: a canonical CIDR, never every address (a
 * policy that opens 0.0.0.0/0 must be declared in code, with its reason; see stacks/policy.ts).
 */
const cidr = z.string().superRefine((text, ctx) => {
  const parsed = parseCidr(text);
  if ("error" in parsed) ctx.addIssue({ code: "custom", message: parsed.error });
  else if (parsed.prefix === 0) ctx.addIssue({ code: "custom", message: "must not be every address (/0): name the range these addresses are in" });
});
const port = z.number().int().min(1).max(65535);

/** An S3 bucket name as S3 accepts it: 3-63 characters, no adjacent dots, not an IP address. */
const s3Bucket = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name: 3-63 lower-case letters, digits, '.' and '-'")
  .refine((b) => !b.includes("..") && !/^\d+\.\d+\.\d+\.\d+$/.test(b), "must be an S3 bucket name: no adjacent dots, not an IP address");
const awsRegion = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region such as eu-west-1");

/**
 * Where the database's backups and WAL go: an S3 bucket (AWS, or any S3-compatible server named by
 * `endpoint`). The credentials never appear here: they live in the Secret named
 * `credentialsSecretName`, under the keys `ACCESS_KEY_ID` and `ACCESS_SECRET_KEY`.
 * @see https://cloudnative-pg.io/plugin-barman-cloud/docs/object_stores/
 */
const objectStoreSchema = z.strictObject({
  bucket: s3Bucket,
  /** Prefix inside the bucket, with slashes at both ends: `/`, `/agent-platform/production/`. */
  path: z
    .string()
    .max(512)
    .regex(/^\/([A-Za-z0-9._-]+\/)*$/, "must be a path that starts and ends with '/', such as /agent-platform/production/")
    .default("/"),
  region: awsRegion,
  /**
   * An S3-compatible server's URL (MinIO, Ceph, R2, …), without credentials.
   * @default https://s3.<region>.amazonaws.com
   */
  endpoint: z
    .url({ protocol: /^https?$/, error: "must be an http(s) URL such as https://minio.example.com:9000" })
    .refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), "must not carry credentials: they belong in the Secret named by credentialsSecretName")
    .optional(),
  /** Secret in the platform's namespace with keys ACCESS_KEY_ID and ACCESS_SECRET_KEY. */
  credentialsSecretName: dnsSubdomain,
  /**
   * The endpoint's addresses where it is not on the internet (MinIO in the cluster, a private
   * endpoint in the VPC): the instances may reach exactly these.
   * @default the internet (every address but private, shared and link-local ranges)
   */
  cidrs: z.array(cidr).min(1).max(16).optional(),
  /**
   * Server-side encryption the uploads ask for (`-e` of barman-cloud); `none` for a server that
   * refuses the header.
   * @default AES256
   */
  serverSideEncryption: z.enum(["AES256", "aws:kms", "none"]).default("AES256"),
});

/** One field of a six-field cron expression (seconds first), numbers and `* / , -` only. */
const cronField = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/;

/**
 * Continuous backup of a CloudNativePG cluster through the Barman Cloud plugin: WAL archived as it
 * is written, a base backup on `schedule`, both kept for `retention`.
 * @see https://cloudnative-pg.io/plugin-barman-cloud/docs/usage/
 */
const databaseBackupSchema = z.strictObject({
  objectStore: objectStoreSchema,
  /** How long base backups and the WAL to replay them are kept: `30d`, `8w`, `6m`. */
  retention: z.string().regex(/^[1-9][0-9]*[dwm]$/, "must be a number of days, weeks or months such as 30d, 8w or 6m"),
  /**
   * When base backups run, as a ScheduledBackup's six-field cron expression, seconds first, in UTC:
   * `0 0 3 * * *` is every day at 03:00.
   */
  schedule: z
    .string()
    .refine((c) => c.trim().split(/\s+/).length === 6, "must have six fields, seconds first (CloudNativePG's ScheduledBackup): '0 0 3 * * *' is daily at 03:00 UTC")
    .refine((c) => c.trim().split(/\s+/).every((f) => cronField.test(f)), "must use numbers, '*', '/', ',' and '-' in each field, such as '0 0 3 * * *'"),
  /** @default gzip */
  walCompression: z.enum(["gzip", "bzip2", "snappy"]).default("gzip"),
  /** The plugin's sidecar in every instance pod (archives WAL, runs base backups). */
  sidecarResources: resourcesSchema,
});

/**
 * Synchronous replication: a commit returns only once `number` standbys hold it.
 * @see https://cloudnative-pg.io/documentation/current/replication/#synchronous-replication
 */
const synchronousSchema = z.strictObject({
  /** `any`: a quorum of the standbys; `first`: the first `number` in priority order. */
  method: z.enum(["any", "first"]),
  number: z.number().int().min(1, "must be at least 1"),
  /**
   * `required`: writes wait when too few standbys are up (no acknowledged commit is ever lost);
   * `preferred`: the primary waits only for the standbys that are up.
   */
  dataDurability: z.enum(["required", "preferred"]),
  /**
   * Promote only a standby that provably holds every synchronous commit (R + W > N), else wait.
   * @default false
   */
  failoverQuorum: z.boolean().default(false),
});

/**
 * How Postgres runs.
 * - `statefulset`: one instance from the official image, with its exporter beside it: a laptop's
 *   database (no operator, no object store).
 * - `cloudnative-pg`: a CloudNativePG `Cluster` of `instances` (one primary, the rest streaming
 *   standbys), automatic failover by the operator, continuous backup to an object store through
 *   the Barman Cloud plugin. The operator, the plugin and the cluster are Helm releases of this
 *   stack.
 * @see https://cloudnative-pg.io/documentation/current/
 */
const postgresTopologySchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("statefulset") }),
  z
    .strictObject({
      kind: z.literal("cloudnative-pg"),
      /**
       * The Cluster's name: its Services are `<name>-rw` (the primary), `-ro`, `-r`; its pods `<name>-<n>`.
       * @default postgres
       */
      name: dnsLabel(40).default("postgres"),
      /** One primary and `instances - 1` standbys, each on its own node. */
      instances: z.number().int().min(1, "must be at least 1").max(9, "must be at most 9"),
      /** @default asynchronous streaming replication */
      synchronous: synchronousSchema.optional(),
      /**
       * Zones (`topology.kubernetes.io/zone` values) the instances run in, one instance per zone.
       * @default any zone; instances on distinct nodes
       */
      zones: z.array(labelValue.min(1, "must not be empty")).min(2, "must name at least two zones, or none").optional(),
      /** @default no backups */
      backup: databaseBackupSchema.optional(),
      /** A separate volume for WAL per instance. @default WAL on the data volume */
      walStorage: storageSchema.optional(),
      /**
       * Namespace of the operator and the Barman Cloud plugin (the plugin must share it).
       * @default cnpg-system
       */
      operatorNamespace: dnsLabel(63).default("cnpg-system"),
    })
    .superRefine((t, ctx) => {
      const standbys = t.instances - 1;
      if (t.synchronous) {
        const s = t.synchronous;
        if (standbys === 0) ctx.addIssue({ code: "custom", message: "needs at least one standby: raise instances to 2 or more, or drop synchronous", path: ["synchronous"] });
        else if (s.number > standbys)
          ctx.addIssue({ code: "custom", message: `must be at most ${standbys}, the standbys of ${t.instances} instances`, path: ["synchronous", "number"] });
        else if (s.dataDurability === "required" && s.number > t.instances - 2)
          ctx.addIssue({
            code: "custom",
            message: `leaves no standby to spare: with dataDurability required, ${s.number} synchronous standby(s) of ${standbys} stop every write while one standby is drained, restarted or lost (the operator's disruption budget lets one go); raise instances to ${s.number + 2}, or use dataDurability preferred`,
            path: ["synchronous", "number"],
          });
      }
      if (t.zones) {
        const seen = new Set<string>();
        t.zones.forEach((zone, i) => {
          if (seen.has(zone)) ctx.addIssue({ code: "custom", message: "is named twice", path: ["zones", i] });
          seen.add(zone);
        });
        if (t.instances > t.zones.length)
          ctx.addIssue({
            code: "custom",
            message: `places ${t.instances} instances in ${t.zones.length} zones, but instances are kept one per zone (required anti-affinity): name at least ${t.instances} zones, or none`,
            path: ["zones"],
          });
      }
    }),
]);

const postgresSchema = z.strictObject({
  database: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case SQL identifier"),
  /** The role the services log in as (not a superuser, so reserved slots stay reserved). */
  appUser: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case SQL identifier"),
  maxConnections: z.number().int().min(10).max(10_000),
  superuserReservedConnections: z.number().int().min(1).max(100),
  /** Connections kept for humans and tools (psql, backups). */
  adminConnections: z.number().int().min(0),
  sharedBuffers: postgresMemory,
  workMem: postgresMemory,
  effectiveCacheSize: postgresMemory,
  pool: poolSchema,
  /** The data volume (of every instance). */
  storage: storageSchema,
  /** The Postgres container (of every instance). */
  resources: resourcesSchema,
  /** @default { kind: "statefulset" } */
  topology: postgresTopologySchema.default({ kind: "statefulset" }),
});

const rateLimitingSchema = z.strictObject({
  /** `redis`: one limit across all pods. `memory`: per pod, so N pods allow N times the tier. */
  backend: z.enum(["redis", "memory"]),
  /**
   * Distinct clients (API keys, IPs) limited within one window, across all services: sizes the
   * Redis key space rate limiting needs (two counters per client, tier and window).
   */
  trackedClients: z.number().int().min(1, "must be at least 1").max(100_000_000),
  tiers: z.strictObject(Object.fromEntries(RATE_LIMIT_TIERS.map((t) => [t, tierSchema])) as Record<RateLimitTier, typeof tierSchema>),
});

/**
 * Where passwords come from. Neither way puts a value in the synthesized JSON.
 * - `existing`: Secrets created outside Terraform (a secret manager, sealed-secrets, kubectl);
 *   the value is not even in Terraform state.
 * - `variable`: Terraform creates the Secrets from sensitive variables (TF_VAR_...), which the
 *   deploy script generates for local clusters.
 */
const secretsSchema = z.strictObject({
  mode: z.enum(["existing", "variable"]),
});

const migrationsSchema = z.strictObject({
  /** Catalogue service whose image carries the migrations. */
  service: serviceName,
  /** The command that applies pending migrations; must be idempotent. */
  command: z.array(z.string().min(1)).min(1, "must name a command"),
  backoffLimit: z.number().int().min(0).max(5, "must be at most 5: a failing migration should stop the release, not retry for an hour"),
  timeoutSeconds: z.number().int().min(30).max(3600),
});

const ratio = z.number().gt(0, "must be between 0 and 1 (exclusive)").lt(1, "must be between 0 and 1 (exclusive)");

/**
 * Alert thresholds, one place per environment. Each alert in dashboards/alerts.ts reads exactly one.
 */
const alertThresholdsSchema = z.strictObject({
  /** Share of requests answered 5xx over 5 minutes, per service, before AgentPlatformHighErrorRatio fires. */
  errorRatio: ratio,
  /** p95 request latency in seconds, per service, sustained 10 minutes. */
  latencyP95Seconds: z.number().gt(0, "must be above 0").max(300, "must be at most 300 seconds"),
  /** Container restarts within 15 minutes that count as crash looping. */
  crashLoopRestarts: z.number().int().min(1, "must be at least 1").max(100),
  /** Minutes a Deployment may run below its desired replicas before alerting. */
  replicasUnavailableMinutes: z.number().int().min(1).max(1440),
  /** Minutes an HPA may sit at its maximum before alerting (the platform needs more headroom). */
  hpaAtMaxMinutes: z.number().int().min(1).max(1440),
  /** Share of max_connections in use before AgentPlatformPostgresConnectionsNearLimit fires. */
  postgresConnectionRatio: ratio,
  /** Share of Redis maxmemory in use before AgentPlatformRedisMemoryHigh fires. */
  redisMemoryRatio: ratio,
  /** Share of rate-limit decisions that are rejections, per service, sustained 10 minutes. */
  rateLimitRejectionRatio: ratio,
  /** Queue length above which a still-growing queue alerts. */
  queueLength: z.number().int().min(1, "must be at least 1"),
  /** Seconds the oldest client may wait for a PgBouncer server connection before alerting. */
  poolerMaxWaitSeconds: z.number().min(0).max(600).default(1),
  /** Seconds a standby may lag behind the primary's replay before alerting (CloudNativePG only). */
  replicationLagSeconds: z.number().gt(0, "must be above 0").max(86_400).default(30),
  /**
   * Hours since the last successful base backup before alerting (CloudNativePG with backups);
   * longer than the backup schedule's interval.
   */
  backupMaxAgeHours: z.number().gt(0, "must be above 0").max(24 * 60).default(26),
});

/** The control-plane scrape targets `monitoring.controlPlaneTargets` may name. */
export const CONTROL_PLANE_TARGETS = ["kube-controller-manager", "kube-scheduler", "etcd", "kube-proxy"] as const;

const monitoringSchema = z
  .strictObject({
    /** How long Prometheus keeps samples, e.g. 15d. */
    retention: z.string().regex(/^[1-9][0-9]*(h|d|w|y)$/, "must be a Prometheus duration in hours, days, weeks or years, such as 15d"),
    prometheusResources: resourcesSchema,
    grafanaResources: resourcesSchema,
    /** Prometheus' volume; absent means an emptyDir (data lost on restart). */
    prometheusStorage: storageSchema.optional(),
    /** Alert rules and Alertmanager. Off locally: basic metrics only. */
    alerting: z.boolean(),
    /**
     * PagerDuty for critical alerts: the routing key is read from this Secret key, mounted into
     * Alertmanager; it never appears in the JSON.
     */
    pagerduty: z
      .strictObject({
        enabled: z.boolean(),
        routingKeySecret: z.strictObject({ name: dnsLabel(63), key: z.string().regex(/^[-._a-zA-Z0-9]+$/, "must be a Secret key") }).optional(),
      })
      .superRefine((p, ctx) => {
        if (p.enabled && !p.routingKeySecret)
          ctx.addIssue({ code: "custom", message: "is required when PagerDuty is enabled: name the Secret and key that hold the routing key", path: ["routingKeySecret"] });
      })
      .default({ enabled: false }),
    /**
     * Where alerting is on but PagerDuty is not: the reason nobody is paged for a critical alert
     * (at least 20 characters). Without PagerDuty and without this, synth refuses the config:
     * critical alerts must reach someone, or the config must say that they do not.
     */
    criticalAlertsUnrouted: z.string().trim().min(20, "must give a reason of at least 20 characters").max(300).optional(),
    /**
     * Where warning alerts go. PagerDuty: the same service as critical alerts, sent with severity
     * `warning` (PagerDuty's event rules can make them low-urgency). Slack: an incoming webhook
     * whose URL is read from this Secret key, mounted into Alertmanager (`api_url_file`).
     * @default nowhere (the summary says so: they show only in Alertmanager and Grafana)
     */
    warnings: z
      .discriminatedUnion("to", [
        z.strictObject({ to: z.literal("pagerduty") }),
        z.strictObject({
          to: z.literal("slack"),
          webhookSecret: z.strictObject({ name: dnsLabel(63), key: z.string().regex(/^[-._a-zA-Z0-9]+$/, "must be a Secret key") }),
          /** The channel the webhook posts to, as Slack spells it (`#platform-alerts`). */
          channel: z.string().regex(/^#[a-z0-9][a-z0-9._-]{0,79}$/, "must be a Slack channel such as #platform-alerts (lower case, at most 80 characters)"),
        }),
      ])
      .optional(),
    /** Base of every alert's runbook_url: <base>/<AlertName>. */
    runbookBaseUrl: z.url({ protocol: /^https$/, error: "must be an https URL" }),
    thresholds: alertThresholdsSchema,
    /**
     * Metrics APIs the cluster already serves (a managed metrics-server, KEDA's external metrics):
     * the stack then installs no provider of its own for them, and refuses a config that would
     * need a second one.
     * @default none
     */
    clusterMetricsApis: z.array(z.enum(["metrics.k8s.io", "custom.metrics.k8s.io", "external.metrics.k8s.io"])).default([]),
    /**
     * Control-plane components Prometheus scrapes (with the chart's alert rules for them).
     * kube-prometheus-stack scrapes all four by default, on the nodes' addresses; a managed
     * control plane (EKS, GKE, AKS) exposes none of them to pods, and kube-proxy binds its metrics
     * to 127.0.0.1 unless configured otherwise (and Cilium clusters run none). An unreachable
     * target fires the chart's critical `...Down` rules forever, which page. List a component
     * only where its metrics port is reachable from the pod network (a self-managed, kubeadm-style
     * control plane with its bind addresses opened).
     * @default none
     */
    controlPlaneTargets: z.array(z.enum(CONTROL_PLANE_TARGETS)).max(CONTROL_PLANE_TARGETS.length).default([]),
    /**
     * metrics-server skips verifying the kubelets' serving certificates (kind's are self-signed).
     * Local clusters only.
     * @default false
     */
    kubeletInsecureTls: z.boolean().default(false),
  })
  .superRefine((m, ctx) => {
    if (m.pagerduty.enabled && !m.alerting)
      ctx.addIssue({ code: "custom", message: "needs alerting: true (PagerDuty receives Alertmanager's alerts)", path: ["pagerduty", "enabled"] });
    if (m.alerting && !m.pagerduty.enabled && m.criticalAlertsUnrouted === undefined)
      ctx.addIssue({
        code: "custom",
        message:
          "is false while alerting is on, so a critical alert reaches no receiver: enable PagerDuty, or say why nobody is paged in monitoring.criticalAlertsUnrouted",
        path: ["pagerduty", "enabled"],
      });
    if (m.pagerduty.enabled && m.criticalAlertsUnrouted !== undefined)
      ctx.addIssue({ code: "custom", message: "contradicts pagerduty.enabled: critical alerts do reach PagerDuty; remove it", path: ["criticalAlertsUnrouted"] });
  });

const loggingSchema = z.strictObject({
  /** Minimum level the services log; output is always JSON. */
  level: z.enum(["debug", "info", "warning", "error"]),
  /** Header carrying the correlation ID across services; generated at the gateway when absent. */
  correlationIdHeader: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,63}$/, "must be an HTTP header name").default("X-Correlation-ID"),
});

/**
 * Where Terraform keeps this environment's state. No credential is ever part of it: S3 reads the
 * AWS credential chain (environment, profile, instance role), pg reads PG_CONN_STR.
 * @see https://developer.hashicorp.com/terraform/language/backend
 */
const backendSchema = z.discriminatedUnion("type", [
  /**
   * terraform.<env>.tfstate in the project root (relative path: the JSON stays machine-independent).
   * Only `local` may use it without saying so: a staging or production stack deployed from a CI
   * runner would lose its state with the runner.
   */
  z.strictObject({
    type: z.literal("local"),
    /** Required outside `local`: says that state on this machine is intended. Refused when CI=true. */
    localStateIntended: z.literal(true).optional(),
  }),
  z.strictObject({
    type: z.literal("s3"),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name"),
    /** @default agent-platform/<environment>.tfstate */
    key: z.string().regex(/^[A-Za-z0-9!_.*'()/-]+$/, "must be an S3 object key").optional(),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region such as eu-west-1"),
    /**
     * A DynamoDB table (LockID string partition key) that locks the state as well as S3-native
     * locking (`use_lockfile`, always on): only to migrate from an older setup, since Terraform
     * 1.11 deprecates DynamoDB locking.
     * @default none: S3-native locking alone
     */
    dynamodbTable: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, "must be a DynamoDB table name").optional(),
    /** @default true: state holds secrets of `variable`-mode environments */
    encrypt: z.boolean().default(true),
  }),
  z.strictObject({
    type: z.literal("pg"),
    /** Schema holding this environment's state; locking uses Postgres advisory locks. */
    schemaName: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case SQL identifier"),
  }),
]);

/**
 * PgBouncer between the services and Postgres. Transaction pooling: a server connection is held
 * only for the length of a transaction, so thousands of client connections share a few dozen.
 * @see https://www.pgbouncer.org/config.html
 */
const pgbouncerEnabledSchema = z
  .strictObject({
    enabled: z.literal(true),
    /** Pods; the connection budget holds with one of them unavailable (drain or rollout). */
    replicas: z.number().int().min(2, "must be at least 2: the budget assumes one pod may be unavailable").max(20),
    poolMode: z.enum(["transaction", "session"]),
    /** Server connections per database and user, per PgBouncer pod (`default_pool_size`). */
    defaultPoolSize: z.number().int().min(1).max(1000),
    /** Extra server connections for a pool whose clients waited `reservePoolTimeoutSeconds`. */
    reservePoolSize: z.number().int().min(0).max(1000),
    reservePoolTimeoutSeconds: z.number().int().min(1).max(60),
    /** Client connections one PgBouncer pod accepts (`max_client_conn`). */
    maxClientConn: z.number().int().min(1).max(100_000),
    /** Close a server connection this old once it is free (`server_lifetime`), so it recycles. */
    serverLifetimeSeconds: z.number().int().min(60).max(86_400),
    /** Close a server connection idle this long (`server_idle_timeout`). */
    serverIdleTimeoutSeconds: z.number().int().min(10).max(86_400),
    resources: resourcesSchema,
  })
  .superRefine((p, ctx) => {
    if (p.maxClientConn < p.defaultPoolSize)
      ctx.addIssue({ code: "custom", message: `must be at least defaultPoolSize (${p.defaultPoolSize})`, path: ["maxClientConn"] });
  });

/** Local may go direct (`{ enabled: false }`); staging and production pool. */
const pgbouncerSchema = z.discriminatedUnion("enabled", [z.strictObject({ enabled: z.literal(false) }), pgbouncerEnabledSchema]);

/**
 * The Namespace's ResourceQuota: the need at maximum scale (both blue-green tracks, rollout
 * surge, HPA maximums in either autoscaling mode, data tier, migration Job) plus this headroom.
 */
const quotaSchema = z.strictObject({
  /** Room above the computed need, for a debugging pod or a manual Job. */
  headroomPercent: z.number().int().min(0).max(200),
  /**
   * What the cluster's owners grant this namespace. Synth refuses a config whose need exceeds it;
   * the quota is the need plus headroom, capped here.
   * @default no ceiling
   */
  ceiling: z
    .strictObject({
      requestsCpu: cpuQuantity.optional(),
      requestsMemory: memoryQuantity.optional(),
      limitsCpu: cpuQuantity.optional(),
      limitsMemory: memoryQuantity.optional(),
      pods: z.number().int().min(1).optional(),
    })
    .optional(),
});

/** A host an Ingress routes: a DNS subdomain, or a wildcard (`*.example.com`). */
const hostName = z
  .string()
  .max(253, "must be at most 253 characters")
  .regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "must be a host name such as api.example.com (lower case; a leading *. for a wildcard)");

/**
 * How traffic from outside reaches the public services: one Ingress (networking.k8s.io/v1) per
 * public service, for the ingress controller named by `className`.
 * @see https://kubernetes.io/docs/concepts/services-networking/ingress/
 */
const ingressSchema = z.strictObject({
  /** The IngressClass of the controller (`nginx` for ingress-nginx). */
  className: dnsSubdomain,
  /**
   * TLS termination at the controller: `none` (local only), `secret` (a Secret per route, created
   * outside Terraform, named `secretName` or `<service>-tls`), or `cert-manager` (its
   * ClusterIssuer issues `<service>-tls`).
   */
  tls: z.discriminatedUnion("mode", [
    z.strictObject({ mode: z.literal("none") }),
    z.strictObject({ mode: z.literal("secret"), secretName: dnsSubdomain.optional() }),
    z.strictObject({ mode: z.literal("cert-manager"), clusterIssuer: dnsSubdomain }),
  ]),
  /** One route per public service (exposure: public in the catalogue), and none for another. */
  routes: z.record(serviceName, z.strictObject({ host: hostName, paths: z.array(httpPath).min(1).default(["/"]) })),
  /**
   * Grafana through the same controller, at this host.
   * @default not exposed (kubectl port-forward)
   */
  grafanaHost: hostName.optional(),
});

/** Where pods resolve names: the cluster DNS, and NodeLocal DNSCache where the cluster runs it. */
const dnsSchema = z.strictObject({
  /** Namespace of the cluster DNS pods. */
  namespace: dnsLabel(63),
  /** Labels of the cluster DNS pods (`k8s-app: kube-dns` on kubeadm, kind, GKE, EKS, AKS). */
  podLabels: labels,
  /**
   * NodeLocal DNSCache's link-local address (169.254.20.10 by default), where it runs: pods then
   * send queries to it, not to the DNS pods.
   * @default none
   */
  nodeLocalAddress: z.ipv4().optional(),
});

const clusterSchema = z.strictObject({
  /** Path to a kubeconfig, `~/…` only (config/kubeconfig-path.ts says why). Credentials never live in this repo. */
  kubeconfigPath: z
    .string()
    .min(1)
    .superRefine((p, ctx) => {
      const problem = kubeconfigPathProblem(p);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
  /** The kubeconfig context the stack deploys to. */
  context: z
    .string()
    .min(1)
    .max(253)
    .regex(/^[^\u0000-\u001f\u007f]+$/, "must not contain control characters"),
  /**
   * The Kubernetes API server as pods reach it: the addresses and ports of its endpoints
   * (`kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes`), which
   * NetworkPolicy sees after the `kubernetes` Service's address is translated. The monitoring
   * namespace may reach exactly these, and admits exactly these to the aggregated APIs and the
   * operator's webhook.
   * @default every private IPv4 range on 443 and 6443 (config/network.ts); synth warns outside local
   */
  apiServer: z.strictObject({ cidrs: z.array(cidr).min(1).max(16), ports: z.array(port).min(1).max(4) }).optional(),
  /**
   * The nodes' addresses (`kubectl get nodes -o wide`, INTERNAL-IP): Prometheus scrapes the
   * kubelets and the host-network exporters there, metrics-server reads the kubelets.
   * @default every private IPv4 range (config/network.ts); synth warns outside local
   */
  nodeCidrs: z.array(cidr).min(1).max(16).optional(),
});

export const environmentSchema = z
  .strictObject({
    name: z.enum(ENVIRONMENT_NAMES),
    /** Namespace that holds the platform. Never `default` or a system namespace. */
    namespace: dnsLabel(63).refine(
      (n) => n !== "default" && !n.startsWith("kube-"),
      "must not be 'default' or a kube-* namespace: the platform gets a namespace of its own",
    ),
    cluster: clusterSchema,
    backend: backendSchema.default({ type: "local" }),
    /** Off unless set: the seed (the platform's original specification) runs locally without autoscaling. */
    autoscaling: z.strictObject({ enabled: z.boolean().default(false) }).default({ enabled: false }),
    /** `Always` re-checks the registry on every pod start; `IfNotPresent` suits images side-loaded into kind. */
    imagePullPolicy: z.enum(["Always", "IfNotPresent"]),
    /** Where the ingress controller runs, so the public services admit traffic from it alone. */
    ingressController: z.strictObject({ namespace: dnsLabel(63), podLabels: labels }),
    ingress: ingressSchema,
    /**
     * Run every service from a small stand-in image (pinned in config/versions.ts) that answers
     * the catalogue's probe paths and /metrics: the whole platform comes up on a laptop without
     * the real images. Local only.
     * @default false
     */
    standInImages: z.boolean().default(false),
    /** Namespace of the Prometheus that scrapes the services. */
    monitoringNamespace: dnsLabel(63),
    /**
     * Allocatable CPU and memory of the smallest node a pod must fit on: every pod's requests must
     * fit, and quantities that would only make sense with a missing unit are refused against it.
     */
    nodeSize: z.strictObject({ cpu: cpuQuantity, memory: memoryQuantity }),
    /** @default kube-system pods labelled k8s-app=kube-dns, no NodeLocal DNSCache */
    dns: dnsSchema.default({ namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } }),
    quota: quotaSchema,
    pgbouncer: pgbouncerSchema,
    services: z.record(serviceName, serviceSettingsSchema),
    redis: redisSchema,
    postgres: postgresSchema,
    rateLimiting: rateLimitingSchema,
    secrets: secretsSchema,
    migrations: migrationsSchema,
    monitoring: monitoringSchema,
    logging: loggingSchema,
  })
  .superRefine((env, ctx) => {
    if (env.name !== "local" && env.backend.type === "local" && !env.backend.localStateIntended)
      ctx.addIssue({
        code: "custom",
        message:
          'keeps Terraform state in a local file, which a CI runner discards after every job (the next deploy then tries to create everything again): declare an s3 or pg backend (docs/operations.md, "State backends"), or set localStateIntended: true',
        path: ["backend", "type"],
      });
    if (env.rateLimiting.backend === "redis" && !env.redis.enabled)
      ctx.addIssue({ code: "custom", message: "is redis, but redis.enabled is false: use memory, or enable Redis", path: ["rateLimiting", "backend"] });
    if (env.rateLimiting.backend === "redis" && env.redis.enabled === true && env.redis.maxmemoryPolicy !== "noeviction")
      ctx.addIssue({
        code: "custom",
        message: "must be noeviction while Redis holds rate-limit counters: every counter has a TTL, so volatile-* and allkeys-* policies may evict it",
        path: ["redis", "maxmemoryPolicy"],
      });
    const topology = env.postgres.topology;
    if (env.name === "production") {
      // Production survives the loss of a node and of its data: replicated, and backed up.
      if (topology.kind !== "cloudnative-pg")
        ctx.addIssue({
          code: "custom",
          message: 'must be cloudnative-pg in production: a single Postgres pod stops every write while its node is lost, and has no backup (docs/design.md, "Database: topology, failover, backups")',
          path: ["postgres", "topology", "kind"],
        });
      else {
        if (topology.instances < 2)
          ctx.addIssue({ code: "custom", message: "must be at least 2 in production: a primary and a standby to fail over to", path: ["postgres", "topology", "instances"] });
        if (!topology.backup)
          ctx.addIssue({ code: "custom", message: "is required in production: without WAL archiving and base backups, a deleted volume or a bad migration cannot be undone", path: ["postgres", "topology", "backup"] });
      }
    }
    for (const [name, service] of Object.entries(env.services)) {
      if (service.cache && !env.redis.enabled)
        ctx.addIssue({ code: "custom", message: "needs Redis, but redis.enabled is false in this environment: remove the cache block or enable Redis", path: ["services", name, "cache"] });
    }
  });

export type EnvironmentSettings = z.infer<typeof environmentSchema>;
export type EnvironmentInput = z.input<typeof environmentSchema>;
export type CatalogInput = z.input<typeof catalogSchema>;
export type ServiceSettings = z.infer<typeof serviceSettingsSchema>;
export type AutoscalingSettings = z.infer<typeof autoscalingSchema>;
export type CustomMetric = z.infer<typeof customMetricSchema>;
export type ScalingRules = z.infer<typeof scalingRulesSchema>;
export type DisruptionSettings = z.infer<typeof disruptionSchema>;
export type RedisSettings = z.infer<typeof redisEnabledSchema>;
export type PostgresSettings = z.infer<typeof postgresSchema>;
export type PostgresTopology = z.infer<typeof postgresTopologySchema>;
/** A CloudNativePG topology, as the constructs read it. */
export type CloudNativePgSettings = Extract<PostgresTopology, { kind: "cloudnative-pg" }>;
export type DatabaseBackupSettings = z.infer<typeof databaseBackupSchema>;
export type PgbouncerSettings = z.infer<typeof pgbouncerEnabledSchema>;
export type QuotaSettings = z.infer<typeof quotaSchema>;
export type DnsSettings = z.infer<typeof dnsSchema>;
export type IngressSettings = z.infer<typeof ingressSchema>;
export type PoolSettings = z.infer<typeof poolSchema>;
export type RateLimitingSettings = z.infer<typeof rateLimitingSchema>;
export type RateLimitSettings = z.infer<typeof rateLimitSchema>;
export type CacheSettings = z.infer<typeof cacheSchema>;
export type ReleaseSettings = z.infer<typeof releaseSchema>;
export type BackendSettings = z.infer<typeof backendSchema>;
export type MonitoringSettings = z.infer<typeof monitoringSchema>;
export type AlertThresholds = z.infer<typeof alertThresholdsSchema>;
export type LoggingSettings = z.infer<typeof loggingSchema>;
export type MigrationSettings = z.infer<typeof migrationsSchema>;
export type ScalingBehaviorInput = z.input<typeof autoscalingSchema>["behavior"];

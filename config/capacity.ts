/**
 * Capacity arithmetic: every workload the platform runs in its namespace, what each pod costs, how
 * many pods run at the least, at the most, and at the peak of a rollout at maximum scale — in both
 * autoscaling modes, since ENABLE_AUTOSCALING may flip the mode at deploy time. The quota, the
 * connection budget and the summary all read this one model; a test sums the emitted JSON's
 * containers and compares.
 */
import { parseCpuMillis, parseMemoryBytes } from "./quantity";
import { ROLLING_MAX_SURGE_PERCENT, SIZES, type ContainerResources } from "./sizes";
import type { CloudNativePgSettings } from "./schema";
import type { PlatformConfig, ServiceConfig } from "./types";

export interface Resources {
  readonly cpuRequestMillis: number;
  readonly memoryRequestBytes: number;
  readonly cpuLimitMillis: number;
  readonly memoryLimitBytes: number;
}

export const NO_RESOURCES: Resources = { cpuRequestMillis: 0, memoryRequestBytes: 0, cpuLimitMillis: 0, memoryLimitBytes: 0 };

export function resourcesOf(r: ContainerResources): Resources {
  return {
    cpuRequestMillis: parseCpuMillis(r.requests.cpu)!,
    memoryRequestBytes: parseMemoryBytes(r.requests.memory)!,
    cpuLimitMillis: parseCpuMillis(r.limits.cpu)!,
    memoryLimitBytes: parseMemoryBytes(r.limits.memory)!,
  };
}

export function addResources(a: Resources, b: Resources, times = 1): Resources {
  return {
    cpuRequestMillis: a.cpuRequestMillis + times * b.cpuRequestMillis,
    memoryRequestBytes: a.memoryRequestBytes + times * b.memoryRequestBytes,
    cpuLimitMillis: a.cpuLimitMillis + times * b.cpuLimitMillis,
    memoryLimitBytes: a.memoryLimitBytes + times * b.memoryLimitBytes,
  };
}

/** Pods of one workload in one autoscaling mode. */
export interface PodRange {
  readonly min: number;
  readonly max: number;
  /** Extra pods while it rolls at `max` (surge), 0 for workloads that replace in place. */
  readonly surge: number;
}

export interface Workload {
  /** The Kubernetes name: `api-gateway-blue`, `postgres`, `pgbouncer`, `db-migrate`. */
  readonly name: string;
  /** `Cluster`: a CloudNativePG Cluster, whose pods the operator creates. */
  readonly kind: "Deployment" | "StatefulSet" | "Job" | "Cluster";
  readonly component: "service" | "database" | "cache" | "pooler" | "migration";
  /** Containers of one pod (init containers run before, and are counted by Kubernetes as the max). */
  readonly containers: readonly { readonly name: string; readonly resources: Resources }[];
  readonly initContainers: readonly { readonly name: string; readonly resources: Resources }[];
  /** What one pod requests and is limited to, as Kubernetes counts it (max of init and sum of containers). */
  readonly perPod: Resources;
  readonly pods: { readonly off: PodRange; readonly on: PodRange };
  /** Bytes of volume claims per pod. */
  readonly storageBytes: number;
  /** Volume claims per pod (data, and WAL where it has a volume of its own). */
  readonly claimsPerPod: number;
}

/** Pods Kubernetes adds while a Deployment of `replicas` rolls (maxSurge rounds up). */
export function surgeOf(replicas: number): number {
  return Math.ceil((replicas * ROLLING_MAX_SURGE_PERCENT) / 100);
}

function podResources(containers: readonly { resources: Resources }[], init: readonly { resources: Resources }[]): Resources {
  const sum = containers.reduce((a, c) => addResources(a, c.resources), NO_RESOURCES);
  // Kubernetes: a pod's effective request is max(sum of containers, largest init container).
  const largest = (key: keyof Resources) => Math.max(sum[key], ...init.map((c) => c.resources[key]));
  return { cpuRequestMillis: largest("cpuRequestMillis"), memoryRequestBytes: largest("memoryRequestBytes"), cpuLimitMillis: largest("cpuLimitMillis"), memoryLimitBytes: largest("memoryLimitBytes") };
}

function workload(
  name: string,
  kind: Workload["kind"],
  component: Workload["component"],
  containers: { name: string; resources: ContainerResources }[],
  pods: { off: PodRange; on: PodRange },
  storageBytes = 0,
  initContainers: { name: string; resources: ContainerResources }[] = [],
  claimsPerPod = storageBytes > 0 ? 1 : 0,
): Workload {
  const c = containers.map((x) => ({ name: x.name, resources: resourcesOf(x.resources) }));
  const i = initContainers.map((x) => ({ name: x.name, resources: resourcesOf(x.resources) }));
  return { name, kind, component, containers: c, initContainers: i, perPod: podResources(c, i), pods, storageBytes, claimsPerPod };
}

/**
 * The pods of a CloudNativePG cluster, as the operator (1.30) builds them: the `postgres`
 * container with the cluster's resources, the Barman Cloud plugin's sidecar where backups are on
 * (a restartable init container, which Kubernetes counts like a container), and the
 * `bootstrap-controller` init container, again with the cluster's resources. Its surge is the one
 * Job pod (initdb, join or recovery, sized like an instance) the operator runs while it creates an
 * instance; instances are replaced in place, never surged.
 */
function cloudNativePgWorkload(config: PlatformConfig, topology: CloudNativePgSettings): Workload {
  const pg = config.postgres;
  const containers = [
    { name: "postgres", resources: pg.resources },
    ...(topology.backup ? [{ name: "plugin-barman-cloud", resources: topology.backup.sidecarResources }] : []),
  ];
  const storage = parseMemoryBytes(pg.storage.size)! + (topology.walStorage ? parseMemoryBytes(topology.walStorage.size)! : 0);
  const n = topology.instances;
  return workload(topology.name, "Cluster", "database", containers, { off: fixed(n, 1), on: fixed(n, 1) }, storage, [{ name: "bootstrap-controller", resources: pg.resources }], topology.walStorage ? 2 : 1);
}

const fixed = (n: number, surge = 0): PodRange => ({ min: n, max: n, surge });

/** The Deployments of a service: one, or blue and green. */
export function serviceWorkloads(service: ServiceConfig): Workload[] {
  const tracks = service.release.strategy === "blue-green" ? ["blue", "green"] : [undefined];
  const a = service.autoscaling;
  return tracks.map((track) =>
    workload(
      track ? `${service.name}-${track}` : service.name,
      "Deployment",
      "service",
      [{ name: "app", resources: service.resources }],
      {
        off: fixed(service.replicas, surgeOf(service.replicas)),
        on: { min: a.minReplicas, max: a.maxReplicas, surge: surgeOf(a.maxReplicas) },
      },
    ),
  );
}

/** Every workload in the platform's namespace, in the order the stack creates them. */
export function platformWorkloads(config: PlatformConfig): Workload[] {
  const out: Workload[] = [];
  const exporter = { name: "metrics", resources: SIZES.exporter };
  const pg = config.postgres;
  if (pg.topology.kind === "cloudnative-pg") out.push(cloudNativePgWorkload(config, pg.topology));
  else out.push(workload("postgres", "StatefulSet", "database", [{ name: "postgres", resources: pg.resources }, exporter], { off: fixed(1), on: fixed(1) }, parseMemoryBytes(pg.storage.size)!));
  if (config.redis) {
    const storage = config.redis.persistence && config.redis.storage ? parseMemoryBytes(config.redis.storage.size)! : 0;
    out.push(
      workload("redis", "StatefulSet", "cache", [{ name: "redis", resources: config.redis.resources }, exporter], { off: fixed(1), on: fixed(1) }, storage, [
        { name: "acl", resources: SIZES.dataInit },
      ]),
    );
  }
  if (config.pgbouncer) {
    const n = config.pgbouncer.replicas;
    out.push(
      workload("pgbouncer", "Deployment", "pooler", [{ name: "pgbouncer", resources: config.pgbouncer.resources }, exporter], { off: fixed(n, surgeOf(n)), on: fixed(n, surgeOf(n)) }, 0, [
        { name: "auth-file", resources: SIZES.poolerInit },
      ]),
    );
  }
  // On CloudNativePG the Job first waits for the read-write Service (constructs/migration-job.ts).
  const wait = pg.topology.kind === "cloudnative-pg" ? [{ name: "wait-for-database", resources: SIZES.databaseWait }] : [];
  out.push(workload("db-migrate", "Job", "migration", [{ name: "migrate", resources: SIZES.migration }], { off: fixed(1), on: fixed(1) }, 0, wait));
  for (const service of config.services) out.push(...serviceWorkloads(service));
  return out;
}

export interface Totals {
  readonly pods: number;
  readonly resources: Resources;
}

function total(workloads: readonly Workload[], pods: (w: Workload) => number): Totals {
  return workloads.reduce(
    (t, w) => ({ pods: t.pods + pods(w), resources: addResources(t.resources, w.perPod, pods(w)) }),
    { pods: 0, resources: NO_RESOURCES } as Totals,
  );
}

export interface EnvironmentCapacity {
  readonly workloads: readonly Workload[];
  /** Steady state at the fewest pods, in the run's autoscaling mode. */
  readonly min: Totals;
  /** Steady state at the most pods, in the run's autoscaling mode. */
  readonly max: Totals;
  /**
   * The peak the namespace must admit: every workload at its maximum and rolling (surge), in
   * whichever autoscaling mode needs more, since ENABLE_AUTOSCALING can flip it at deploy time.
   */
  readonly peak: Totals;
  /** Volume claims and their bytes. */
  readonly claims: number;
  readonly storageBytes: number;
}

/** Pods of a workload at the peak: the larger of both modes' maximum plus surge. */
export const peakPods = (w: Workload): number => Math.max(w.pods.off.max + w.pods.off.surge, w.pods.on.max + w.pods.on.surge);

export function environmentCapacity(config: PlatformConfig): EnvironmentCapacity {
  const workloads = platformWorkloads(config);
  const mode = (w: Workload) => (config.autoscalingEnabled ? w.pods.on : w.pods.off);
  // Claims belong to pods that stay (a surge pod or an operator's Job claims nothing of its own).
  const stayingPods = (w: Workload) => Math.max(w.pods.off.max, w.pods.on.max);
  return {
    workloads,
    min: total(workloads, (w) => mode(w).min),
    max: total(workloads, (w) => mode(w).max),
    peak: total(workloads, peakPods),
    claims: workloads.reduce((n, w) => n + w.claimsPerPod * stayingPods(w), 0),
    storageBytes: workloads.reduce((s, w) => s + w.storageBytes * stayingPods(w), 0),
  };
}

// ------------------------------------------------------------------------------------------------
// The connection budget
// ------------------------------------------------------------------------------------------------

/** Connections the migration Job may hold (Alembic uses one; one spare for a lock session). */
export const MIGRATION_CONNECTIONS = 2;
/** Connections postgres_exporter may hold (the StatefulSet's sidecar). */
export const EXPORTER_CONNECTIONS = 2;

/**
 * What CloudNativePG 1.30's own processes hold on an instance. The instance manager keeps a pool
 * of at most 3 connections per database it uses (pkg/management/postgres/pool/pool.go,
 * `SetMaxOpenConns(3)`): as the superuser to `postgres`, `template1` and the application database;
 * as `cnpg_metrics_exporter` to `postgres` and the application database (the default queries'
 * `target_databases: '*'` skip templates); and each standby's to the primary, as
 * `streaming_replica`. WAL senders do not count in `max_connections` (PostgreSQL 12 and later).
 */
export const CNPG_CONNECTIONS = {
  instanceManager: 3 * 3,
  exporter: 2 * 3,
  perStandby: 3,
  /** barman-cloud-backup's session in the plugin's sidecar, and one spare. */
  backup: 2,
} as const;
/** pg_basebackup (a joining standby) streams with two WAL senders. */
export const BASEBACKUP_WAL_SENDERS = 2;
/** PostgreSQL's default `max_wal_senders`, which CloudNativePG leaves as is. */
export const MAX_WAL_SENDERS = 10;

/** The server-side connections besides the clients' (or PgBouncer's), as terms of a sum. */
export function serverSideConnections(config: PlatformConfig): { label: string; count: number }[] {
  const pg = config.postgres;
  const topology = pg.topology;
  const terms = [{ label: "migration", count: MIGRATION_CONNECTIONS }];
  if (topology.kind === "cloudnative-pg") {
    terms.push(
      { label: "exporter", count: CNPG_CONNECTIONS.exporter },
      { label: "instance manager", count: CNPG_CONNECTIONS.instanceManager },
      { label: `standbys ${topology.instances - 1}x${CNPG_CONNECTIONS.perStandby}`, count: (topology.instances - 1) * CNPG_CONNECTIONS.perStandby },
      ...(topology.backup ? [{ label: "backup", count: CNPG_CONNECTIONS.backup }] : []),
    );
  } else {
    terms.push({ label: "exporter", count: EXPORTER_CONNECTIONS });
  }
  terms.push({ label: "admin", count: pg.adminConnections }, { label: "reserved", count: pg.superuserReservedConnections });
  return terms;
}

export interface ClientLoad {
  readonly name: string;
  /** Pods at the peak (both tracks, maximum, surge, in the mode that needs more). */
  readonly pods: number;
  readonly workers: number;
  readonly pool: number;
  readonly connections: number;
}

export interface BudgetLayer {
  readonly label: string;
  readonly need: number;
  readonly capacity: number;
  readonly fits: boolean;
  /** The sum written out, for messages and the summary. */
  readonly arithmetic: string;
  /** Config field a reader raises to make it fit. */
  readonly field: string;
  /** That field's value, where it is not the capacity itself (session mode: "session"). */
  readonly value?: unknown;
}

export interface ConnectionBudget {
  readonly clients: readonly ClientLoad[];
  /** Direct: one layer (clients → Postgres). Pooled: clients → PgBouncer, PgBouncer → Postgres. */
  readonly layers: readonly BudgetLayer[];
  readonly fits: boolean;
}

/**
 * Proves that every connection the platform may open at once is accepted, at the peak: every
 * database-using pod at its maximum (HPA maximum or replicas, whichever mode needs more), both
 * blue-green tracks, and rollout surge, each worker process holding a full pool.
 *
 * - Direct: Σ clients + migration + exporter + admin + superuser-reserved ≤ max_connections.
 * - Through PgBouncer: Σ clients ≤ max_client_conn × (replicas − 1), so the budget holds with one
 *   PgBouncer pod drained; and PgBouncer's server pools at its own peak (replicas + surge) ×
 *   (default_pool_size + reserve_pool_size) + migration + exporter + admin + reserved ≤
 *   max_connections.
 * - On CloudNativePG, the server side also counts the operator's own connections
 *   ({@link CNPG_CONNECTIONS}) and holds on every instance, since any may be promoted; and the
 *   primary's WAL senders (one per standby, two for a joining standby) fit `max_wal_senders`.
 */
export function connectionBudget(config: PlatformConfig): ConnectionBudget {
  const pg = config.postgres;
  const workloads = config.services.filter((s) => s.usesDatabase).flatMap((s) => serviceWorkloads(s).map((w) => ({ s, w })));
  const byService = new Map<string, ClientLoad>();
  for (const { s, w } of workloads) {
    const previous = byService.get(s.name);
    const pods = (previous?.pods ?? 0) + peakPods(w);
    byService.set(s.name, { name: s.name, pods, workers: s.workerProcesses, pool: pg.pool.maxConnections, connections: pods * s.workerProcesses * pg.pool.maxConnections });
  }
  const clients = [...byService.values()];
  const clientSum = clients.reduce((a, c) => a + c.connections, 0);
  const terms = clients.map((c) => `${c.name} ${c.pods}x${c.workers}x${c.pool}=${c.connections}`).join(" + ");
  const serverTerms = serverSideConnections(config);
  const others = serverTerms.reduce((n, t) => n + t.count, 0);
  const othersText = serverTerms.map((t) => `${t.label}${/x\d+$/.test(t.label) ? "=" : " "}${t.count}`).join(" + ");
  const topology = pg.topology;
  // Every instance carries the same max_connections, and any of them may become the primary.
  const maxConnectionsText =
    topology.kind === "cloudnative-pg" ? `max_connections ${pg.maxConnections} on each of ${topology.instances} instance(s) (any may become the primary)` : `max_connections ${pg.maxConnections}`;
  const layer = (label: string, need: number, capacity: number, sum: string, capacityText: string, field: string): BudgetLayer => ({
    label,
    need,
    capacity,
    fits: need <= capacity,
    arithmetic: `${sum} = ${need} ${need <= capacity ? "<=" : ">"} ${capacityText}`,
    field,
  });
  const layers: BudgetLayer[] = [];
  if (!config.pgbouncer) {
    layers.push(layer("clients -> Postgres", clientSum + others, pg.maxConnections, `${terms || "no database users"} + ${othersText}`, maxConnectionsText, "postgres.maxConnections"));
  } else {
    const b = config.pgbouncer;
    const available = b.replicas - 1;
    layers.push(
      layer(
        "clients -> PgBouncer",
        clientSum,
        b.maxClientConn * available,
        terms || "no database users",
        `max_client_conn ${b.maxClientConn} x ${available} PgBouncer pod(s) (${b.replicas} with one unavailable)`,
        "pgbouncer.maxClientConn",
      ),
    );
    if (b.poolMode === "session") {
      // Session pooling pins a server connection to each client for as long as it is connected,
      // and the services' pools stay connected: every client needs a server connection of its
      // own. A Service spreads connections over PgBouncer pods at random (and a drain moves them
      // all to the pods left), so one pod's pool must hold every client.
      layers.push({
        ...layer(
          "clients -> PgBouncer server pool (session mode: one server connection per client)",
          clientSum,
          b.defaultPoolSize + b.reservePoolSize,
          terms || "no database users",
          `default_pool_size ${b.defaultPoolSize} + reserve_pool_size ${b.reservePoolSize} of one PgBouncer pod (clients land on pods at random; a drain moves them all)`,
          "pgbouncer.poolMode",
        ),
        value: b.poolMode,
      });
    }
    const poolerPods = b.replicas + surgeOf(b.replicas);
    const server = poolerPods * (b.defaultPoolSize + b.reservePoolSize);
    layers.push(
      layer(
        "PgBouncer -> Postgres",
        server + others,
        pg.maxConnections,
        `PgBouncer ${poolerPods} pods (${b.replicas} + surge ${surgeOf(b.replicas)}) x (pool ${b.defaultPoolSize} + reserve ${b.reservePoolSize})=${server} + ${othersText}`,
        maxConnectionsText,
        "postgres.maxConnections",
      ),
    );
  }
  if (topology.kind === "cloudnative-pg") {
    const standbys = topology.instances - 1;
    layers.push(
      layer(
        "replication (WAL senders on the primary)",
        standbys + BASEBACKUP_WAL_SENDERS,
        MAX_WAL_SENDERS,
        `standbys ${standbys} + a joining standby's pg_basebackup ${BASEBACKUP_WAL_SENDERS}`,
        `max_wal_senders ${MAX_WAL_SENDERS}`,
        "postgres.topology.instances",
      ),
    );
  }
  return { clients, layers, fits: layers.every((l) => l.fits) };
}

// ------------------------------------------------------------------------------------------------
// The namespace quota
// ------------------------------------------------------------------------------------------------

export interface QuotaAmounts {
  readonly requestsCpuMillis: number;
  readonly requestsMemoryBytes: number;
  readonly limitsCpuMillis: number;
  readonly limitsMemoryBytes: number;
  readonly pods: number;
  readonly claims: number;
  readonly storageBytes: number;
}

export interface NamespaceQuota {
  /** What the namespace needs at its peak. */
  readonly need: QuotaAmounts;
  /** The ResourceQuota's `hard`: the need plus headroom, rounded up, capped by the ceiling. */
  readonly hard: QuotaAmounts;
}

const roundUp = (value: number, step: number) => Math.ceil(value / step) * step;

/**
 * The ResourceQuota of the platform's namespace: the peak (every workload at its maximum and
 * rolling, in whichever autoscaling mode needs more) plus `quota.headroomPercent`, rounded up to
 * 100m CPU and 64Mi, and never above `quota.ceiling` (config/semantics.ts refuses a need above it).
 */
export function namespaceQuota(config: PlatformConfig): NamespaceQuota {
  const c = environmentCapacity(config);
  const need: QuotaAmounts = {
    requestsCpuMillis: c.peak.resources.cpuRequestMillis,
    requestsMemoryBytes: c.peak.resources.memoryRequestBytes,
    limitsCpuMillis: c.peak.resources.cpuLimitMillis,
    limitsMemoryBytes: c.peak.resources.memoryLimitBytes,
    pods: c.peak.pods,
    claims: c.claims,
    storageBytes: c.storageBytes,
  };
  const h = 1 + config.quota.headroomPercent / 100;
  const ceiling = config.quota.ceiling ?? {};
  const cap = (value: number, limit: number | undefined) => (limit === undefined ? value : Math.max(Math.min(value, limit), 0));
  const mi64 = 64 * 2 ** 20;
  const hard: QuotaAmounts = {
    requestsCpuMillis: cap(roundUp(need.requestsCpuMillis * h, 100), ceiling.requestsCpu ? parseCpuMillis(ceiling.requestsCpu) : undefined),
    requestsMemoryBytes: cap(roundUp(need.requestsMemoryBytes * h, mi64), ceiling.requestsMemory ? parseMemoryBytes(ceiling.requestsMemory) : undefined),
    limitsCpuMillis: cap(roundUp(need.limitsCpuMillis * h, 100), ceiling.limitsCpu ? parseCpuMillis(ceiling.limitsCpu) : undefined),
    limitsMemoryBytes: cap(roundUp(need.limitsMemoryBytes * h, mi64), ceiling.limitsMemory ? parseMemoryBytes(ceiling.limitsMemory) : undefined),
    pods: cap(Math.ceil(need.pods * h), ceiling.pods),
    claims: need.claims,
    storageBytes: roundUp(need.storageBytes, 2 ** 30),
  };
  return { need, hard };
}

/**
 * Limits that contradict each other: a container limit the stack's own LimitRange refuses, a
 * LimitRange the API server refuses, a monitoring pod no node can hold, a Redis volume its own
 * persistence cannot fit on.
 */
import { platformWorkloads } from "./capacity";
import { type ConfigProblem, problemAt } from "./errors";
import { formatCpu, formatMemory, parseCpuMillis, parseMemoryBytes } from "./quantity";
import type { PlatformConfig } from "./types";

/**
 * The LimitRange's default limit and request for a container that sets none
 * (constructs/namespace-quota.ts). The API server refuses a LimitRange whose default exceeds its
 * max (pkg/apis/core/validation `ValidateLimitRange`: "default value … must be less than or equal
 * to max value"), and the max is the node size.
 */
export const LIMIT_RANGE_DEFAULT = { cpu: "250m", memory: "256Mi" } as const;

/**
 * On-disk bytes Redis may need per byte of `maxmemory` with persistence on, at the worst moment.
 * Redis 7 keeps an RDB snapshot (dump.rdb, up to the dataset) and a multi-part AOF: a base file
 * (the dataset, RDB-encoded) plus an incremental file that grows until it is as large again as
 * the base (auto-aof-rewrite-percentage 100, the default) before a rewrite starts. A rewrite
 * writes a new base beside the old base and incremental file, and a BGSAVE writes a temporary RDB
 * beside dump.rdb; Redis never runs the two at once. Peak: dump.rdb + old base + old increment +
 * new base (or temp RDB) = 4 x the dataset, which maxmemory bounds. Short of that, the save or the
 * rewrite fails with ENOSPC and, with stop-writes-on-bgsave-error yes (the default), Redis
 * refuses every write with MISCONF.
 * @see https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/
 */
export const REDIS_DISK_PER_MAXMEMORY = 4;

export function limitProblems(config: PlatformConfig, source: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (field: string, value: unknown, rule: string) => problems.push(problemAt(source, field, value, rule));
  const nodeCpu = parseCpuMillis(config.nodeSize.cpu)!;
  const nodeMemory = parseMemoryBytes(config.nodeSize.memory)!;

  // The LimitRange itself: its default limit must not exceed its max (the node).
  const defaultCpu = parseCpuMillis(LIMIT_RANGE_DEFAULT.cpu)!;
  const defaultMemory = parseMemoryBytes(LIMIT_RANGE_DEFAULT.memory)!;
  if (nodeCpu < defaultCpu)
    add("nodeSize.cpu", config.nodeSize.cpu, `is below the namespace LimitRange's default container limit (${LIMIT_RANGE_DEFAULT.cpu}): the API server refuses a LimitRange whose default exceeds its max (the node size); no node that small runs this platform`);
  if (nodeMemory < defaultMemory)
    add("nodeSize.memory", config.nodeSize.memory, `is below the namespace LimitRange's default container limit (${LIMIT_RANGE_DEFAULT.memory}): the API server refuses a LimitRange whose default exceeds its max (the node size); no node that small runs this platform`);

  // Every container's limits against the LimitRange's max (= nodeSize): the LimitRanger admission
  // plugin refuses a pod with a container limited above it ("maximum cpu usage per Container is …").
  const fieldOf = (component: string, workload: string, container: string): string | undefined => {
    if (component === "service" && container === "app") return `services.${workload.replace(/-(blue|green)$/, "")}.resources.limits`;
    if (component === "database" && container === "postgres") return "postgres.resources.limits";
    if (component === "cache" && container === "redis") return "redis.resources.limits";
    if (component === "pooler" && container === "pgbouncer") return "pgbouncer.resources.limits";
    return undefined;
  };
  const reported = new Set<string>();
  for (const w of platformWorkloads(config)) {
    for (const c of [...w.containers, ...w.initContainers]) {
      const field = fieldOf(w.component, w.name, c.name);
      const check = (kind: "cpu" | "memory", limit: number, max: number, show: (n: number) => string, configured: string | undefined) => {
        if (limit <= max) return;
        const at = field ? `${field}.${kind}` : `nodeSize.${kind}`;
        if (reported.has(at)) return;
        reported.add(at);
        add(
          at,
          field ? configured : config.nodeSize[kind],
          field
            ? `is above the LimitRange maximum the stack sets for every container in the namespace (nodeSize.${kind} = ${config.nodeSize[kind]}): the API server's LimitRanger refuses every ${w.name} pod; lower the limit or raise nodeSize (the smallest node's allocatable ${kind})`
            : `is below the ${show(limit)} the ${w.name} pod's ${c.name} container is limited to (a fixed size, config/sizes.ts): the namespace LimitRange (max = nodeSize) would refuse every ${w.name} pod`,
        );
      };
      const limits = field ? resolveField(config, field) : undefined;
      check("cpu", c.resources.cpuLimitMillis, nodeCpu, formatCpu, limits?.cpu);
      check("memory", c.resources.memoryLimitBytes, nodeMemory, formatMemory, limits?.memory);
    }
  }

  // Monitoring pods run outside that LimitRange, but a pod that requests more than a node has
  // stays Pending forever.
  for (const [field, r] of [
    ["monitoring.prometheusResources.requests", config.monitoring.prometheusResources],
    ["monitoring.grafanaResources.requests", config.monitoring.grafanaResources],
  ] as const) {
    if (parseCpuMillis(r.requests.cpu)! > nodeCpu) add(`${field}.cpu`, r.requests.cpu, `is more CPU than the smallest node allocates (nodeSize.cpu = ${config.nodeSize.cpu}): the pod would stay Pending`);
    if (parseMemoryBytes(r.requests.memory)! > nodeMemory) add(`${field}.memory`, r.requests.memory, `is more memory than the smallest node allocates (nodeSize.memory = ${config.nodeSize.memory}): the pod would stay Pending`);
  }

  // Redis' persistence must fit on its volume at the worst moment.
  const redis = config.redis;
  if (redis?.persistence && redis.storage) {
    const max = parseMemoryBytes(redis.maxmemory)!;
    const disk = parseMemoryBytes(redis.storage.size)!;
    if (disk < REDIS_DISK_PER_MAXMEMORY * max)
      add(
        "redis.storage.size",
        redis.storage.size,
        `is below ${REDIS_DISK_PER_MAXMEMORY} x maxmemory (${redis.maxmemory}) = ${formatMemory(REDIS_DISK_PER_MAXMEMORY * max)}, what the RDB snapshot and the AOF need at the peak of a rewrite (dump.rdb + old AOF base + its increment + the new base): short of it a save fails and Redis refuses writes with MISCONF`,
      );
  }

  // Prometheus' volume holds the write-ahead log (128 MiB segments, three at least) and the head
  // block before any block retentionSize counts (80% of the volume, constructs/monitoring-values.ts).
  const prometheusVolume = config.monitoring.prometheusStorage?.size;
  if (prometheusVolume !== undefined && parseMemoryBytes(prometheusVolume)! < PROMETHEUS_MIN_VOLUME)
    add(
      "monitoring.prometheusStorage.size",
      prometheusVolume,
      `is below ${formatMemory(PROMETHEUS_MIN_VOLUME)}: Prometheus' write-ahead log alone takes three 128Mi segments, and retentionSize (80% of the volume) would leave no room for a block; a full volume stops Prometheus and every alert`,
    );
  return problems;
}

/** The smallest volume Prometheus is given: its WAL, the head block and a few blocks. */
export const PROMETHEUS_MIN_VOLUME = 2 ** 30;

function resolveField(config: PlatformConfig, field: string): { cpu: string; memory: string } | undefined {
  const [head, name] = field.split(".");
  if (head === "services") return config.services.find((s) => s.name === name)?.resources.limits;
  if (head === "postgres") return config.postgres.resources.limits;
  if (head === "redis") return config.redis?.resources.limits;
  if (head === "pgbouncer") return config.pgbouncer?.resources.limits;
  return undefined;
}

/**
 * What a well-formed configuration may still get wrong: values the API server, Postgres or Redis
 * would refuse or misread, and sums that do not fit. The schema (config/schema.ts) checks each
 * field's shape; these rules check what the fields mean together, on the assembled configuration,
 * and name the field, the value and the arithmetic.
 */
import { connectionBudget, environmentCapacity, platformWorkloads, type Resources } from "./capacity";
import type { ConfigProblem } from "./errors";
import { type MetricsApi, metricsApiPlan } from "./metrics";
import { formatCpu, formatMemory, parseCpuMillis, parseMemoryBytes } from "./quantity";
import type { DisruptionSettings } from "./schema";
import { REDIS_BYTES_PER_COUNTER } from "./redis-sizing";
import { renderValue } from "./text";
import type { PlatformConfig } from "./types";
import { backendProblems } from "./backend-rules";
import { extremeValueProblems } from "./extreme-rules";
import { ingressRouteProblems } from "./ingress-rules";
import { limitProblems } from "./limit-rules";
import { derivedNameProblems } from "./name-rules";
import { pagingProblems } from "./paging-rules";

/** Role names Postgres reserves or this platform uses for itself. */
export const RESERVED_ROLES = ["postgres", "public", "none", "current_user", "current_role", "session_user", "user", "all", "pgbouncer"] as const;
/** The role postgres_exporter and the PgBouncer exporter log in as (pg_monitor). */
export const MONITORING_ROLE = "agent_platform_monitor";
const RESERVED_DATABASES = ["postgres", "template0", "template1", "pgbouncer"];

/** How many pods a percentage of `pods` means: Kubernetes rounds PDB percentages up. */
export function scaledPercent(value: string, pods: number): number {
  return Math.ceil((pods * Number(value.slice(0, -1))) / 100);
}

/** Evictions a budget allows when all `pods` are healthy. */
export function allowedDisruptions(d: DisruptionSettings, pods: number): number {
  if (d.maxUnavailable !== undefined) return typeof d.maxUnavailable === "number" ? d.maxUnavailable : scaledPercent(d.maxUnavailable, pods);
  const min = typeof d.minAvailable === "number" ? d.minAvailable : scaledPercent(d.minAvailable!, pods);
  return Math.max(0, pods - min);
}

export function semanticProblems(config: PlatformConfig, source: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (field: string, value: unknown, rule: string) => problems.push({ source, field, value: renderValue(value), rule });
  const nodeCpu = parseCpuMillis(config.nodeSize.cpu)!;
  const nodeMemory = parseMemoryBytes(config.nodeSize.memory)!;

  // Units that parse but mean something else: "500" CPU is 500 cores, "512" memory is 512 bytes.
  const cpu = (field: string, value: string) => {
    const millis = parseCpuMillis(value);
    if (millis !== undefined && !value.endsWith("m") && millis > nodeCpu && field !== "nodeSize.cpu") {
      add(field, value, `is ${value} cores, more than the ${formatCpu(nodeCpu)} cores of a node (nodeSize.cpu): write millicores with m, such as "${value}m"`);
    }
  };
  const memory = (field: string, value: string) => {
    if (/^\d+(\.\d+)?$/.test(value) && parseMemoryBytes(value)! < 2 ** 20) {
      add(field, value, `is ${value} bytes, less than 1Mi: add a unit, such as "${value}Mi"`);
    }
  };
  const pair = (prefix: string, r: { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } }) => {
    for (const kind of ["requests", "limits"] as const) {
      cpu(`${prefix}.${kind}.cpu`, r[kind].cpu);
      memory(`${prefix}.${kind}.memory`, r[kind].memory);
    }
  };
  cpu("nodeSize.cpu", config.nodeSize.cpu);
  memory("nodeSize.memory", config.nodeSize.memory);
  if (!config.nodeSize.cpu.endsWith("m") && nodeCpu > 512_000) add("nodeSize.cpu", config.nodeSize.cpu, "is more cores than any node has: write cores such as 8, or millicores such as 8000m");
  for (const s of config.services) pair(`services.${s.name}.resources`, s.resources);
  pair("postgres.resources", config.postgres.resources);
  for (const f of ["sharedBuffers", "workMem", "effectiveCacheSize"] as const) memory(`postgres.${f}`, config.postgres[f]);
  memory("postgres.storage.size", config.postgres.storage.size);
  if (config.redis) {
    pair("redis.resources", config.redis.resources);
    memory("redis.maxmemory", config.redis.maxmemory);
    if (config.redis.storage) memory("redis.storage.size", config.redis.storage.size);
  }
  if (config.pgbouncer) pair("pgbouncer.resources", config.pgbouncer.resources);
  pair("monitoring.prometheusResources", config.monitoring.prometheusResources);
  pair("monitoring.grafanaResources", config.monitoring.grafanaResources);
  if (config.monitoring.prometheusStorage) memory("monitoring.prometheusStorage.size", config.monitoring.prometheusStorage.size);
  const alreadyWrong = new Set(problems.map((p) => p.field));

  // Every pod must fit on the smallest node.
  const fits = (r: Resources) => r.cpuRequestMillis <= nodeCpu && r.memoryRequestBytes <= nodeMemory;
  for (const w of platformWorkloads(config)) {
    if (fits(w.perPod)) continue;
    const field =
      w.component === "service" ? `services.${w.name.replace(/-(blue|green)$/, "")}.resources.requests` : w.component === "pooler" ? "pgbouncer.resources.requests" : w.component === "cache" ? "redis.resources.requests" : w.component === "database" ? "postgres.resources.requests" : "migrations";
    if ([...alreadyWrong].some((f) => f.startsWith(field))) continue;
    add(
      field,
      { cpu: formatCpu(w.perPod.cpuRequestMillis), memory: formatMemory(w.perPod.memoryRequestBytes) },
      `a ${w.name} pod requests ${formatCpu(w.perPod.cpuRequestMillis)} CPU and ${formatMemory(w.perPod.memoryRequestBytes)} (with its sidecars), more than the smallest node allocates (nodeSize ${config.nodeSize.cpu} CPU, ${config.nodeSize.memory}): it would stay Pending`,
    );
  }

  for (const s of config.services) {
    // HPA targets: the API server refuses a target that is not positive.
    s.autoscaling.customMetrics.forEach((m, i) => {
      const value = m.targetAverageValue.endsWith("m") ? Number(m.targetAverageValue.slice(0, -1)) / 1000 : Number(m.targetAverageValue);
      if (!(value > 0)) add(`services.${s.name}.autoscaling.customMetrics[${i}].targetAverageValue`, m.targetAverageValue, "must be above 0: the API server refuses a target of 0");
    });
    // Disruption budgets with Kubernetes' rounding, at every size the workload runs at.
    const sizes = [...new Set([s.replicas, s.autoscaling.minReplicas])];
    for (const pods of sizes) {
      if (allowedDisruptions(s.disruption, pods) >= 1) continue;
      const d = s.disruption;
      const which = d.minAvailable !== undefined ? `minAvailable ${d.minAvailable}` : `maxUnavailable ${d.maxUnavailable}`;
      const how = typeof d.minAvailable === "string" ? ` (${d.minAvailable} of ${pods} rounds up to ${scaledPercent(d.minAvailable, pods)}: Kubernetes rounds percentages up)` : "";
      add(
        `services.${s.name}.disruption`,
        d,
        `${which} leaves no pod evictable at ${pods} pod(s)${how}, so every node drain blocks; use maxUnavailable: 1`,
      );
      break;
    }
  }

  // Ingress: a route for every public service and none for another; TLS outside local.
  const routes = config.ingress.routes;
  for (const s of config.services) {
    const routed = Object.hasOwn(routes, s.name);
    if (s.exposure === "public" && !routed) add(`ingress.routes.${s.name}`, undefined, "is required: the service is public (exposure in config/services.ts), and without a route nothing reaches it");
    if (s.exposure !== "public" && routed) add(`ingress.routes.${s.name}`, routes[s.name], "must not exist: the service is internal (exposure in config/services.ts); its callers reach it inside the cluster");
  }
  for (const name of Object.keys(routes)) {
    if (!config.services.some((s) => s.name === name)) add(`ingress.routes.${name}`, routes[name], "names no service in the catalogue (config/services.ts)");
  }
  // One message per field: a rule below stays quiet about a field an earlier one refused.
  const fresh = (more: ConfigProblem[]) => {
    for (const p of more) if (!problems.some((q) => q.field === p.field)) problems.push(p);
  };
  // Hosts, paths and collisions, as the API server and ingress-nginx check them.
  fresh(ingressRouteProblems(config, source));
  if (config.environment !== "local" && config.ingress.tls.mode === "none")
    add("ingress.tls.mode", "none", "must be secret or cert-manager outside local: the public services carry credentials and sessions");
  if (config.standInImages && config.environment !== "local")
    add("standInImages", true, "is for local clusters only: staging and production run the services' own images");

  // Namespaces (the platform's own, distinct from the others it works with), derived names and
  // service names the stack reserves.
  fresh(derivedNameProblems(config, source));

  // Postgres: reserved names, memory.
  const pg = config.postgres;
  if ((RESERVED_ROLES as readonly string[]).includes(pg.appUser) || pg.appUser.startsWith("pg_") || pg.appUser === MONITORING_ROLE)
    add("postgres.appUser", pg.appUser, `is reserved (${RESERVED_ROLES.join(", ")}, ${MONITORING_ROLE} and every pg_* name): the services must log in as a role of their own, not the superuser`);
  if (RESERVED_DATABASES.includes(pg.database)) add("postgres.database", pg.database, `is reserved (${RESERVED_DATABASES.join(", ")}): name the platform's own database`);
  const pgLimit = parseMemoryBytes(pg.resources.limits.memory)!;
  const pgNeed = parseMemoryBytes(pg.sharedBuffers)! + pg.maxConnections * parseMemoryBytes(pg.workMem)!;
  if (!alreadyWrong.has("postgres.sharedBuffers") && !alreadyWrong.has("postgres.workMem") && pgNeed > pgLimit) {
    add(
      "postgres.sharedBuffers",
      pg.sharedBuffers,
      `shared_buffers ${pg.sharedBuffers} + max_connections ${pg.maxConnections} x work_mem ${pg.workMem} = ${formatMemory(pgNeed)} > the container's memory limit ${pg.resources.limits.memory}: Postgres would be OOM-killed under load; lower them or raise postgres.resources.limits.memory`,
    );
  }

  // CloudNativePG names its Services and pods after the Cluster: a service of the same name would
  // collide with them.
  if (pg.topology.kind === "cloudnative-pg") {
    const name = pg.topology.name;
    const taken = [name, `${name}-rw`, `${name}-ro`, `${name}-r`];
    for (const s of config.services) {
      if (taken.includes(s.name))
        add("postgres.topology.name", name, `makes the Cluster's Services ${taken.slice(1).join(", ")}, and the service ${s.name} (config/services.ts) would collide with them: rename the Cluster`);
    }
  }

  // Redis: room for every rate-limit counter, whatever the caches hold.
  if (config.redis && config.rateLimiting.backend === "redis") {
    const limited = config.services.filter((s) => s.rateLimit);
    const tiersPerService = limited.map((s) => new Set([s.rateLimit!.defaultTier, ...s.rateLimit!.endpoints.map((e) => e.tier)]).size);
    const counters = config.rateLimiting.trackedClients * tiersPerService.reduce((a, b) => a + b, 0) * 2;
    const floor = Math.ceil(counters * REDIS_BYTES_PER_COUNTER * 1.5);
    const max = parseMemoryBytes(config.redis.maxmemory)!;
    if (!alreadyWrong.has("redis.maxmemory") && max < floor) {
      add(
        "redis.maxmemory",
        config.redis.maxmemory,
        `is below what rate limiting needs: ${config.rateLimiting.trackedClients} clients x ${tiersPerService.reduce((a, b) => a + b, 0)} service tiers x 2 windows x ${REDIS_BYTES_PER_COUNTER} bytes per counter x 1.5 (fragmentation) = ${formatMemory(floor)}; with noeviction, a full Redis refuses new counters`,
      );
    }
  }

  // Connections at the peak, in both autoscaling modes at once, through PgBouncer where it runs.
  for (const l of connectionBudget(config).layers) {
    if (!l.fits && l.value !== undefined) add(l.field, l.value, `cannot serve these clients: ${l.arithmetic}; use transaction pooling (docs/capacity.md, "Pool modes"), or raise defaultPoolSize and postgres.maxConnections to hold one server connection per client`);
    else if (!l.fits) add(l.field, l.field === "postgres.maxConnections" ? pg.maxConnections : config.pgbouncer?.maxClientConn, `is too small for the connection budget (${l.label}, at the peak: HPA maximums or replicas, both blue-green tracks, rollout surge): ${l.arithmetic}`);
  }

  // Metrics APIs: with autoscaling on (ENABLE_AUTOSCALING may turn it on at deploy time), every
  // metric an HPA reads must have exactly one provider.
  const plan = metricsApiPlan({
    autoscaling: true,
    customMetrics: config.services.flatMap((s) => s.autoscaling.customMetrics.map((m) => m.metric)),
    clusterApis: config.monitoring.clusterMetricsApis as MetricsApi[],
  });
  for (const [api, needs] of Object.entries(plan.needs) as [MetricsApi, readonly string[]][]) {
    const providers = plan.providers[api];
    if (needs.length > 0 && providers.length !== 1)
      add(
        "monitoring.clusterMetricsApis",
        config.monitoring.clusterMetricsApis,
        providers.length === 0
          ? `leaves ${api} unserved, which the HPAs read (${needs.join(", ")})`
          : `says the cluster serves ${api}, and the HPAs' ${needs.join(", ")} need ${providers.filter((p) => p !== "the cluster").join(", ")} for it: two providers of one metrics API cannot both be registered (the APIService conflicts). Drop ${api} from the list or the HPA metrics that need the stack's provider`,
      );
  }
  if (config.monitoring.kubeletInsecureTls && config.environment !== "local")
    add("monitoring.kubeletInsecureTls", true, "is for local clusters only (kind's self-signed kubelet certificates): elsewhere metrics-server verifies the kubelets");

  // The namespace's quota ceiling, if its owners set one.
  const ceiling = config.quota.ceiling;
  if (ceiling) {
    const peak = environmentCapacity(config).peak;
    const check = (field: keyof NonNullable<typeof ceiling>, need: number, limit: number | undefined, show: (n: number) => string) => {
      if (limit !== undefined && need > limit)
        add(`quota.ceiling.${field}`, ceiling[field], `is below what the namespace needs at its peak (every workload at its maximum and rolling, either autoscaling mode): ${show(need)} > ${show(limit)}; raise the ceiling with the cluster's owners, or lower replicas, HPA maximums or sizes`);
    };
    check("requestsCpu", peak.resources.cpuRequestMillis, ceiling.requestsCpu ? parseCpuMillis(ceiling.requestsCpu) : undefined, formatCpu);
    check("requestsMemory", peak.resources.memoryRequestBytes, ceiling.requestsMemory ? parseMemoryBytes(ceiling.requestsMemory) : undefined, formatMemory);
    check("limitsCpu", peak.resources.cpuLimitMillis, ceiling.limitsCpu ? parseCpuMillis(ceiling.limitsCpu) : undefined, formatCpu);
    check("limitsMemory", peak.resources.memoryLimitBytes, ceiling.limitsMemory ? parseMemoryBytes(ceiling.limitsMemory) : undefined, formatMemory);
    check("pods", peak.pods, ceiling.pods, String);
  }
  // Limits against the LimitRange and the node, Redis' disk; the state backend; who is paged;
  // what the consumers refuse at the extremes.
  fresh([...limitProblems(config, source), ...backendProblems(config, source), ...pagingProblems(config, source), ...extremeValueProblems(config, source)]);
  return problems;
}

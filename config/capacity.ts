import type { PlatformConfig, ServiceConfig } from "./load";
import { parseCpuMillis, parseMemoryBytes } from "./quantity";

/** What one service can cost the cluster, at its smallest and largest. */
export interface ServiceCapacity {
  readonly name: string;
  /** 2 for a blue-green service (both tracks run), else 1. */
  readonly tracks: number;
  /** Pods in steady state: `replicas`, or the HPA minimum when autoscaling is on. */
  readonly minPods: number;
  /** Pods at the most: `replicas`, or the HPA maximum when autoscaling is on. */
  readonly maxPods: number;
  readonly autoscaled: boolean;
  readonly cpuRequestMillis: number;
  readonly cpuLimitMillis: number;
  readonly memoryRequestBytes: number;
  readonly memoryLimitBytes: number;
}

export interface EnvironmentCapacity {
  readonly services: readonly ServiceCapacity[];
  readonly min: Totals;
  readonly max: Totals;
}

export interface Totals {
  readonly pods: number;
  readonly cpuRequestMillis: number;
  readonly memoryRequestBytes: number;
  readonly cpuLimitMillis: number;
  readonly memoryLimitBytes: number;
}

export function serviceCapacity(service: ServiceConfig, autoscaling: boolean): ServiceCapacity {
  // Blue-green keeps both tracks running: the old one stays up for a rollback.
  const tracks = service.release.strategy === "blue-green" ? 2 : 1;
  return {
    name: service.name,
    tracks,
    minPods: tracks * (autoscaling ? service.autoscaling.minReplicas : service.replicas),
    maxPods: tracks * (autoscaling ? service.autoscaling.maxReplicas : service.replicas),
    autoscaled: autoscaling,
    cpuRequestMillis: parseCpuMillis(service.resources.requests.cpu)!,
    cpuLimitMillis: parseCpuMillis(service.resources.limits.cpu)!,
    memoryRequestBytes: parseMemoryBytes(service.resources.requests.memory)!,
    memoryLimitBytes: parseMemoryBytes(service.resources.limits.memory)!,
  };
}

export function environmentCapacity(config: PlatformConfig): EnvironmentCapacity {
  const services = config.services.map((s) => serviceCapacity(s, config.autoscalingEnabled));
  const total = (pods: (s: ServiceCapacity) => number): Totals => ({
    pods: sum(services.map(pods)),
    cpuRequestMillis: sum(services.map((s) => pods(s) * s.cpuRequestMillis)),
    memoryRequestBytes: sum(services.map((s) => pods(s) * s.memoryRequestBytes)),
    cpuLimitMillis: sum(services.map((s) => pods(s) * s.cpuLimitMillis)),
    memoryLimitBytes: sum(services.map((s) => pods(s) * s.memoryLimitBytes)),
  });
  return { services, min: total((s) => s.minPods), max: total((s) => s.maxPods) };
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

/** Connections the migration Job may hold (Alembic uses one; one spare for a lock session). */
export const MIGRATION_CONNECTIONS = 2;
/** Connections postgres_exporter may hold. */
export const EXPORTER_CONNECTIONS = 2;

export interface ConnectionBudget {
  /** Per service that uses the database: pods at the most × worker processes × pool maximum. */
  readonly services: readonly { readonly name: string; readonly pods: number; readonly workers: number; readonly pool: number; readonly connections: number }[];
  readonly total: number;
  readonly maxConnections: number;
  readonly fits: boolean;
  /** The sum written out, for error messages and the summary. */
  readonly arithmetic: string;
}

/**
 * Proves that the database can accept every connection the platform may open at once:
 * Σ(max pods × workers × pool max) + migration + exporter + admin + superuser-reserved ≤ max_connections.
 */
export function connectionBudget(config: PlatformConfig): ConnectionBudget {
  const pg = config.postgres;
  const services = config.services
    .filter((s) => s.usesDatabase)
    .map((s) => {
      // Both tracks of a blue-green service hold pools.
      const pods = serviceCapacity(s, config.autoscalingEnabled).maxPods;
      return { name: s.name, pods, workers: s.workerProcesses, pool: pg.pool.maxConnections, connections: pods * s.workerProcesses * pg.pool.maxConnections };
    });
  const total =
    sum(services.map((s) => s.connections)) + MIGRATION_CONNECTIONS + EXPORTER_CONNECTIONS + pg.adminConnections + pg.superuserReservedConnections;
  const terms = services.map((s) => `${s.name} ${s.pods}x${s.workers}x${s.pool}=${s.connections}`);
  const arithmetic = `${terms.join(" + ")} + migration ${MIGRATION_CONNECTIONS} + exporter ${EXPORTER_CONNECTIONS} + admin ${pg.adminConnections} + reserved ${pg.superuserReservedConnections} = ${total} ${total <= pg.maxConnections ? "<=" : ">"} max_connections ${pg.maxConnections}`;
  return { services, total, maxConnections: pg.maxConnections, fits: total <= pg.maxConnections, arithmetic };
}

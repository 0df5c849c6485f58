import type { PlatformConfig, ServiceConfig } from "../config/load";
import { parseCpuMillis, parseMemoryBytes } from "../config/quantity";

/** What one service can cost the cluster, at its smallest and largest. */
export interface ServiceCapacity {
  readonly name: string;
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
  return {
    name: service.name,
    minPods: autoscaling ? service.autoscaling.minReplicas : service.replicas,
    maxPods: autoscaling ? service.autoscaling.maxReplicas : service.replicas,
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

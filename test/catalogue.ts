/**
 * Services the tests pick by what they are, never by name: the catalogue (config/services.ts) and
 * the environment files decide which one that is. A test that needs "a public service" or "a
 * service released blue-green" asks for one here, so adding, renaming or reordering services
 * changes which service a test picks, not whether it holds. Only the shipped-configuration group
 * (test/shipped-configuration.test.ts) names services, because it pins the seed's figures.
 */
import assert from "node:assert/strict";
import type { PlatformConfig, ServiceConfig } from "../config/load";

/** The first service, in catalogue order, that `is`; fails the test, saying what was looked for, when none is. */
export function serviceWhere(config: PlatformConfig, what: string, is: (s: ServiceConfig) => boolean): ServiceConfig {
  const found = config.services.find(is);
  assert.ok(found, `the test needs ${what} in ${config.environment}, and config/services.ts with config/${config.environment}.ts has none`);
  return found;
}

/** Every service that `is`, in catalogue order (possibly none). */
export const servicesWhere = (config: PlatformConfig, is: (s: ServiceConfig) => boolean): ServiceConfig[] => config.services.filter(is);

export const isPublic = (s: ServiceConfig) => s.exposure === "public";
export const isInternal = (s: ServiceConfig) => s.exposure === "internal";
export const isBlueGreen = (s: ServiceConfig) => s.release.strategy === "blue-green";
export const isRolling = (s: ServiceConfig) => s.release.strategy === "rolling";
export const usesDatabase = (s: ServiceConfig) => s.usesDatabase;

export const publicService = (c: PlatformConfig) => serviceWhere(c, "a public service", isPublic);
export const internalService = (c: PlatformConfig) => serviceWhere(c, "an internal service", isInternal);
export const blueGreenService = (c: PlatformConfig) => serviceWhere(c, "a service released blue-green", isBlueGreen);
export const rollingService = (c: PlatformConfig) => serviceWhere(c, "a service released rolling", isRolling);
export const databaseUser = (c: PlatformConfig) => serviceWhere(c, "a service that uses the database", usesDatabase);
export const nonDatabaseUser = (c: PlatformConfig) => serviceWhere(c, "a service that does not use the database", (s) => !s.usesDatabase);
/** A service whose HPA reads at least `n` custom metrics. */
export const withCustomMetrics = (c: PlatformConfig, n = 1) => serviceWhere(c, `a service with ${n} or more custom HPA metrics`, (s) => s.autoscaling.customMetrics.length >= n);
/** A service that calls another. */
export const caller = (c: PlatformConfig) => serviceWhere(c, "a service that calls another", (s) => s.calls.length > 0);
/** A service with a rate-limit block naming per-endpoint tiers. */
export const withRateLimitEndpoints = (c: PlatformConfig) => serviceWhere(c, "a service with per-endpoint rate limits", (s) => (s.rateLimit?.endpoints.length ?? 0) > 0);
/** A service with a cache block. */
export const withCache = (c: PlatformConfig) => serviceWhere(c, "a service with a cache", (s) => s.cache !== undefined);

/** The names of a service's Deployments: one per track. */
export const deploymentNames = (s: ServiceConfig): string[] => (isBlueGreen(s) ? [`${s.name}-blue`, `${s.name}-green`] : [s.name]);

/** A string for a RegExp that matches `text` literally. */
export const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

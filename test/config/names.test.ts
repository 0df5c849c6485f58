/**
 * The names config/name-rules.ts reserves are all the names the stack derives: for every object
 * the stack creates in the platform's namespace that no service owns, a sixth service of that name
 * is either refused by the configuration checks, or synthesizes without a clash (no two objects
 * of one kind and name, no two workloads selected by one name label). Found from the synthesized
 * stacks, so an object a construct adds later is covered without editing this test.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../config/errors";
import { validateCatalog, validateEnvironment } from "../../config/load";
import { serviceName } from "../../config/schema";
import type { EnvironmentName } from "../../config/schema";
import { PlatformStack } from "../../stacks/platform-stack";
import { duplicateObjects } from "../../stacks/object-names";
import { isInternal, isRolling, serviceWhere } from "../catalogue";
import { type Json, loadConfig, rawCatalog, rawEnvironment, synthChecked, synthEnvironment, testApp } from "../helpers";

const ENVIRONMENTS: EnvironmentName[] = ["local", "production"];

/** Names of the objects in the platform's namespace, minus those a catalogue service owns. */
function stackNames(env: EnvironmentName): string[] {
  const json = synthEnvironment(env, { enableAutoscaling: true });
  const [platformId, platform] = Object.entries(json.resource.kubernetes_namespace_v1 as Json).find(([, n]) => n.metadata.name === rawEnvironment(env).namespace)!;
  const inPlatform = new Set([platform.metadata.name, `\${kubernetes_namespace_v1.${platformId}.metadata[0].name}`]);
  const services = Object.keys(rawCatalog());
  const owned = (name: string) => services.some((s) => name === s || name.startsWith(`${s}-`));
  const names = new Set<string>();
  for (const byId of Object.values(json.resource as Record<string, Json>)) {
    for (const body of Object.values(byId)) {
      const meta = Array.isArray(body.metadata) ? body.metadata[0] : body.metadata;
      if (typeof meta?.name !== "string" || meta.name === platform.metadata.name) continue;
      if (!inPlatform.has(meta.namespace)) continue;
      if (!owned(meta.name)) names.add(meta.name);
    }
  }
  return [...names].sort();
}

/** The service the extra one copies: internal and released rolling (test/catalogue.ts). */
const COPIED = serviceWhere(loadConfig("production"), "an internal service released rolling", (s) => isInternal(s) && isRolling(s)).name;

/** A stack with a sixth service called `name`, or the ConfigError that refuses it. */
function withService(env: EnvironmentName, name: string): Json | ConfigError {
  const catalog = rawCatalog();
  catalog[name] = { ...catalog[COPIED], calls: [] };
  const raw = rawEnvironment(env);
  raw.services[name] = structuredClone(raw.services[COPIED]);
  try {
    return synthChecked(new PlatformStack(testApp(), { config: validateEnvironment(raw, env, validateCatalog(catalog)) }));
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
}

/** Workloads in one namespace selected by one `app.kubernetes.io/name` (a service's blue and green excepted). */
function sharedSelectors(json: Json): string[] {
  const seen = new Map<string, string>();
  const shared: string[] = [];
  for (const type of ["kubernetes_deployment_v1", "kubernetes_stateful_set_v1", "kubernetes_job_v1"]) {
    for (const w of Object.values((json.resource[type] ?? {}) as Json)) {
      const key = `${w.metadata.namespace}/${w.spec.template.metadata.labels["app.kubernetes.io/name"]}`;
      const owner = String(w.metadata.name).replace(/-(blue|green)$/, "");
      const first = seen.get(key);
      if (first !== undefined && first !== owner) shared.push(`${first} and ${w.metadata.name} (${key})`);
      seen.set(key, owner);
    }
  }
  return shared;
}

describe("names the stack derives, as service names", () => {
  for (const env of ENVIRONMENTS) {
    it(`${env}: a service named like any object the stack creates is refused, or does not clash`, () => {
      const names = stackNames(env).filter((n) => serviceName.safeParse(n).success);
      assert.ok(names.includes("postgres") && names.includes("db-migrate"), names.join(", "));
      for (const name of names) {
        const result = withService(env, name);
        if (result instanceof ConfigError) {
          assert.equal(result.problems.length, 1, result.message);
          continue;
        }
        assert.deepEqual(duplicateObjects(result), [], name);
        assert.deepEqual(sharedSelectors(result), [], name);
      }
    });
  }
});

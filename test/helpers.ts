/**
 * Shared test helpers: configs to mutate, stacks synthesized to JSON, resources looked up by type.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { Testing } from "cdktf";
import { ENVIRONMENT_SOURCES, type LoadOverrides, type PlatformConfig, validateCatalog, validateEnvironment } from "../config/load";
import type { EnvironmentName } from "../config/schema";
import catalogData from "../config/services";
import { checkStack, SynthesisError } from "../stacks/checks";
import { PlatformStack } from "../stacks/platform-stack";

export type Json = Record<string, any>;

/** A deep copy of an environment file's raw data, safe to break. */
export function rawEnvironment(name: EnvironmentName): Json {
  return structuredClone(ENVIRONMENT_SOURCES[name]) as Json;
}

export function rawCatalog(): Json {
  return structuredClone(catalogData) as Json;
}

export function loadConfig(name: EnvironmentName, overrides: LoadOverrides = {}, raw: unknown = rawEnvironment(name)): PlatformConfig {
  return validateEnvironment(raw, name, validateCatalog(catalogData), overrides);
}

/**
 * Resolves a stack as synth does and runs synth's checks on it (the interpolation guard, the
 * policy gate, the stack's own rules), throwing SynthesisError as synth would.
 * @returns the stack's Terraform JSON, `//` comment blocks (suppressions) included
 */
export function synthChecked(stack: PlatformStack): Json {
  const json = JSON.parse(JSON.stringify(stack.toTerraform())) as Json;
  const { problems } = checkStack(stack, json);
  if (problems.length > 0) throw new SynthesisError(problems);
  return json;
}

/** Synthesizes one environment's stack with synth's checks; returns its Terraform JSON. */
export function synthEnvironment(name: EnvironmentName, overrides: LoadOverrides = {}, raw?: unknown): Json {
  const config = loadConfig(name, overrides, raw ?? rawEnvironment(name));
  return synthChecked(new PlatformStack(Testing.app({ stackTraces: false }), { config }));
}

/** Every resource of a Terraform type, keyed by its logical id. */
export function resources(json: Json, type: string): Record<string, Json> {
  return (json.resource?.[type] ?? {}) as Record<string, Json>;
}

/** The resource of a type whose metadata.name is `name`. */
export function named(json: Json, type: string, name: string): Json {
  const found = Object.values(resources(json, type)).filter((r) => r.metadata?.name === name);
  if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
  return found[0]!;
}

/** Every container and init container of every pod template in the stack, with its owner. */
export function containers(json: Json): { owner: string; container: Json; pod: Json }[] {
  const out: { owner: string; container: Json; pod: Json }[] = [];
  for (const type of ["kubernetes_deployment_v1", "kubernetes_stateful_set_v1", "kubernetes_job_v1"]) {
    for (const [id, r] of Object.entries(resources(json, type))) {
      const pod = r.spec.template.spec;
      for (const c of [...(pod.container ?? []), ...(pod.init_container ?? [])]) out.push({ owner: `${type}.${id}`, container: c, pod });
    }
  }
  return out;
}

/** Every file below `dir`, by relative path, with its bytes: for "nothing changed" assertions. */
export function readTree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d)) {
      const p = join(d, entry);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

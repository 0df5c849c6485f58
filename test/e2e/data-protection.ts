/**
 * The e2e's part of data protection (constructs/data-bearing.ts, scripts/plan-guard.ts), on a
 * deployed stack:
 * - the applied copy drops `prevent_destroy` so the run can destroy what it made, after checking
 *   that staging and production carry it on every data-bearing resource;
 * - a renamed namespace and (where Redis keeps a volume) Redis persistence turned off are planned
 *   for real against the deployed stack. The rename keeps the resources in the config, so
 *   prevent_destroy makes Terraform refuse it (staging, production); turning persistence off
 *   unmarks the StatefulSet in the new config, which is all prevent_destroy reads, so only the
 *   guard stops that one. Without prevent_destroy the guard refuses exactly what holds data.
 *   Nothing of it is applied; the working directory's configuration is restored afterwards.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DATA_BEARING_OUTPUT } from "../../config/terraform-names";
import { DATA_TYPES } from "../../scripts/plan-guard";
import { chartsDir, prepareReleases } from "./charts";
import { platformNamespace } from "../../scripts/platform-namespace";
import { dropDependenciesOnLeftOut } from "./cloudnative-pg";

type Json = Record<string, any>;

const GUARD = resolve(__dirname, "..", "..", "scripts", "plan-guard.js");

/** Data-bearing addresses without prevent_destroy (must be none in staging and production). */
export function unprotected(stack: Json): string[] {
  const listed = (stack.output?.[DATA_BEARING_OUTPUT]?.value ?? []) as string[];
  return listed.filter((address) => {
    const [type, id] = address.split(".") as [string, string];
    return stack.resource?.[type]?.[id]?.lifecycle?.prevent_destroy !== true;
  });
}

/** Drops left-out resources of `type` (the run's helm_release) from the data-bearing output (in place). */
export function forgetLeftOut(json: Json, type: string): void {
  const output = json.output?.[DATA_BEARING_OUTPUT];
  const kept = (json.resource?.[type] ?? {}) as Record<string, unknown>;
  if (output) output.value = (output.value as string[]).filter((address) => !address.startsWith(`${type}.`) || address.slice(type.length + 1) in kept);
}

/** Removes every prevent_destroy (in place), so the run's own destroy can run. */
export function dropPreventDestroy(json: Json): void {
  for (const resources of Object.values((json.resource ?? {}) as Record<string, Record<string, Json>>)) {
    for (const r of Object.values(resources)) {
      if (!r.lifecycle?.prevent_destroy) continue;
      delete r.lifecycle.prevent_destroy;
      if (Object.keys(r.lifecycle).length === 0) delete r.lifecycle;
    }
  }
}

interface Terraform {
  run(args: string[]): { status: number | null; stdout: string; stderr: string };
}

export interface GuardScenario {
  readonly name: string;
  /** The changed stack as applied (prevent_destroy dropped), and as synthesized (kept). */
  readonly applied: Json;
  readonly synthesized: Json;
  /** The addresses the guard must refuse, no more, no fewer. */
  readonly expected: readonly string[];
  /** Whether prevent_destroy (where the environment sets it) makes Terraform refuse the plan itself. */
  readonly terraformRefuses: boolean;
}

/** Addresses the guard refuses when the platform namespace `nsAddress` is replaced: it, and the data-typed resources in it. */
export function refusedOnNamespaceReplace(stack: Json, nsAddress: string): string[] {
  const [, nsId] = nsAddress.split(".");
  const ref = `\${kubernetes_namespace_v1.${nsId}.metadata[0].name}`;
  const inside = Object.entries((stack.resource ?? {}) as Record<string, Record<string, Json>>)
    .filter(([type]) => DATA_TYPES[type])
    .flatMap(([type, rs]) => Object.entries(rs).filter(([, r]) => r.metadata?.namespace === ref).map(([id]) => `${type}.${id}`));
  return [nsAddress, ...inside].sort();
}

/**
 * Plans each scenario in `dir` (a deployed stack's working directory), checks Terraform and the
 * guard, and restores the configuration. Returns one result per check.
 */
export function checkDestroyGuard(
  tf: Terraform,
  dir: string,
  scenarios: readonly GuardScenario[],
  preventDestroy: boolean,
): { name: string; ok: boolean; detail: string }[] {
  const file = join(dir, "cdk.tf.json");
  const original = readFileSync(file);
  const results: { name: string; ok: boolean; detail: string }[] = [];
  try {
    for (const s of scenarios) {
      if (preventDestroy) {
        writeFileSync(file, JSON.stringify(s.synthesized));
        const planned = tf.run(["plan", "-input=false", "-no-color", "-lock=false"]);
        const refused = planned.status === 1 && /Instance cannot be destroyed/.test(`${planned.stdout}${planned.stderr}`.replace(/\s+/g, " "));
        results.push({
          name: `${s.name}: Terraform ${s.terraformRefuses ? "refuses the plan (prevent_destroy)" : "plans it (prevent_destroy reads the new config), so the guard is what stops it"}`,
          ok: s.terraformRefuses ? refused : planned.status === 0,
          detail: `plan exited ${planned.status}`,
        });
      }
      writeFileSync(file, JSON.stringify(s.applied));
      const plan = tf.run(["plan", "-input=false", "-no-color", "-lock=false", "-out=guard.tfplan"]);
      if (plan.status !== 0) {
        results.push({ name: `${s.name}: the guard refuses exactly the data`, ok: false, detail: `plan failed: ${plan.stderr.slice(-500)}` });
        continue;
      }
      const shown = tf.run(["show", "-json", "guard.tfplan"]);
      const guard = spawnSync(process.execPath, [GUARD], { input: shown.stdout, encoding: "utf8" });
      const listed = [...guard.stderr.matchAll(/^ {2}(\S+) /gm)].map((m) => m[1]!).sort();
      const ok = guard.status === 1 && JSON.stringify(listed) === JSON.stringify([...s.expected].sort());
      results.push({ name: `${s.name}: the guard refuses exactly the data`, ok, detail: ok ? listed.join(", ") : `exit ${guard.status}; listed ${listed.join(", ")}; expected ${s.expected.join(", ")}` });
      const allowed = spawnSync(process.execPath, [GUARD, ...s.expected.map((a) => `--allow-destroy=${a}`)], { input: shown.stdout, encoding: "utf8" });
      results.push({ name: `${s.name}: --allow-destroy for each lets it through`, ok: allowed.status === 0, detail: allowed.status === 0 ? "" : allowed.stderr.slice(0, 500) });
    }
  } finally {
    writeFileSync(file, original);
  }
  return results;
}

/** What the run applies of a synthesized stack: its own state, the releases as run.ts's applicableCopy has them. */
function asRun(stack: Json): Json {
  const json = structuredClone(stack);
  json.terraform.backend = { local: { path: "terraform.tfstate" } };
  if (prepareReleases(json).leftOut.length > 0) forgetLeftOut(json, "helm_release");
  dropDependenciesOnLeftOut(json);
  return json;
}

/**
 * The changes an operator makes by mistake: the platform namespace renamed, Redis persistence
 * turned off (its StatefulSet replaced), a CloudNativePG cluster renamed (its release replaced:
 * with the charts installed). `variant` synthesizes the environment with a change
 * applied to its raw config.
 */
export function guardScenarios(stack: Json, variant: (mutate: (raw: Json) => void, name: string) => Json): GuardScenario[] {
  const byName = (type: string, name: string) => {
    const id = Object.entries((stack.resource[type] ?? {}) as Record<string, Json>).find(([, r]) => r.metadata?.name === name)?.[0];
    if (!id) throw new Error(`the stack has no ${type} named ${name}`);
    return `${type}.${id}`;
  };
  const scenario = (name: string, mutate: (raw: Json) => void, expected: string[], terraformRefuses: boolean): GuardScenario => {
    const synthesized = asRun(variant(mutate, name.replace(/\W+/g, "-")));
    const applied = structuredClone(synthesized);
    dropPreventDestroy(applied);
    return { name, synthesized, applied, expected, terraformRefuses };
  };
  const platform = platformNamespace(stack)!.name;
  const scenarios = [scenario("namespace renamed", (raw) => (raw.namespace = `${platform}-renamed`), refusedOnNamespaceReplace(stack, byName("kubernetes_namespace_v1", platform)), true)];
  const redis = Object.values((stack.resource.kubernetes_stateful_set_v1 ?? {}) as Record<string, Json>).find((r) => r.metadata.name === "redis");
  if ((redis?.spec.volume_claim_template ?? []).length > 0) {
    const off = (raw: Json) => {
      raw.redis.persistence = false;
      delete raw.redis.storage;
    };
    scenarios.push(scenario("Redis persistence turned off", off, [byName("kubernetes_stateful_set_v1", "redis")], false));
  }
  // A CloudNativePG cluster renamed: its release is named after it, so the release is replaced
  // (Helm would delete the Cluster, the operator its volumes): both layers must refuse it.
  const cluster = Object.entries((stack.resource.helm_release ?? {}) as Record<string, Json>).find(([, r]) => r.chart === "cluster");
  if (cluster && chartsDir()) {
    const rename = (raw: Json) => (raw.postgres.topology.name = `${raw.postgres.topology.name ?? "postgres"}-renamed`);
    scenarios.push(scenario("database cluster renamed", rename, [`helm_release.${cluster[0]}`], true));
  }
  return scenarios;
}

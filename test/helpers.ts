/**
 * Shared test helpers: configs to mutate, stacks synthesized to JSON, resources looked up by type.
 */
import { createHash } from "node:crypto";
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import type { App } from "cdktf";
import type { Construct } from "constructs";
import { ENVIRONMENT_SOURCES, type LoadOverrides, type PlatformConfig, validateCatalog, validateEnvironment } from "../config/load";
import type { EnvironmentName } from "../config/schema";
import catalogData from "../config/services";
import type { PlatformStack } from "../stacks/platform-stack";

/**
 * cdktf, the providers and the stack load only when a test builds a stack (about 0.4 s of CPU):
 * the files that only read configs, cached stacks or the tree of a directory never pay for them.
 */
const cdktf = () => require("cdktf") as typeof import("cdktf");
const stacks = () => ({
  ...(require("../stacks/checks") as typeof import("../stacks/checks")),
  ...(require("../stacks/platform-stack") as typeof import("../stacks/platform-stack")),
});

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
  const { checkStack, SynthesisError } = stacks();
  const { problems } = checkStack(stack, json);
  if (problems.length > 0) throw new SynthesisError(problems);
  return json;
}

const DIST = resolve(__dirname, "..");

/** Temporary directories of this test process, removed when it exits, whatever the outcome. */
const tempDirs: string[] = [];
process.once("exit", () => tempDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A fresh temporary directory (`<tmp>/<prefix>XXXXXX`), removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Copies the compiled app (dist/ without the tests and their cache) to `dest`, where a test may break it. */
export function copyApp(dest: string): void {
  const skipped = [join(DIST, "test"), join(DIST, ".test-cache")];
  cpSync(DIST, dest, { recursive: true, filter: (src) => !skipped.some((s) => src === s || src.startsWith(`${s}/`)) });
}

/**
 * One output directory per test process for every app the tests create (cdktf's Testing.app()
 * makes a new temporary directory per call, and never removes it).
 */
let appDir: string | undefined;
export function testApp(): App {
  appDir ??= tempDir("platform-test-app-");
  return cdktf().Testing.app({ stackTraces: false, outdir: appDir });
}

/** Testing.synthScope on {@link testApp}: the scope's constructs in a stack, as Terraform JSON text. */
export function synthScope(fn: (scope: Construct) => void): string {
  const { TerraformStack, Testing } = cdktf();
  const stack = new TerraformStack(testApp(), "stack");
  fn(stack);
  return Testing.synth(stack);
}

/** A fingerprint of the compiled program: the cache below is valid for exactly this build. */
let buildFingerprint: string | undefined;
function fingerprint(): string {
  if (buildFingerprint) return buildFingerprint;
  const hash = createHash("sha256");
  for (const dir of ["config", "constructs", "stacks", "dashboards"]) {
    const root = join(DIST, dir);
    for (const file of readdirSync(root).sort()) {
      const st = statSync(join(root, file));
      hash.update(`${dir}/${file}:${st.size}:${st.mtimeMs}\n`);
    }
  }
  buildFingerprint = hash.digest("hex").slice(0, 16);
  return buildFingerprint;
}

/**
 * Synthesizes one environment's stack with synth's checks; returns its Terraform JSON (a fresh
 * copy, safe to mutate). The shipped configs' stacks are shared between test files through a
 * cache keyed by the build: every file reads the same JSON instead of synthesizing it again.
 */
export function synthEnvironment(name: EnvironmentName, overrides: LoadOverrides = {}, raw?: unknown): Json {
  const build = (data?: unknown) => synthChecked(new (stacks().PlatformStack)(testApp(), { config: loadConfig(name, overrides, data) }));
  if (raw !== undefined) return build(raw);
  const file = join(DIST, ".test-cache", fingerprint(), `${name}-${JSON.stringify(overrides).replace(/[^a-z0-9]+/gi, "_")}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as Json;
  const json = build();
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(json));
  renameSync(tmp, file);
  return json;
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
      const stat = lstatSync(p);
      // A symbolic link is recorded as where it points, never followed (node_modules is one).
      if (stat.isSymbolicLink()) out.set(relative(dir, p), Buffer.from(`-> ${readlinkSync(p)}`));
      else if (stat.isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

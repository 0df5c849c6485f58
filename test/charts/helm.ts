/**
 * Real Helm for the chart checks: `helm template` of the pinned charts in `HELM_CHARTS_DIR` (the
 * layout `helm pull` leaves: `<chart>-<version>.tgz`, subcharts inside; scripts/pull-charts.sh fills
 * it), with the values the stacks render, for the Kubernetes version the stacks target.
 *
 * Renders are cached by everything that decides their output (helm's version, the archive's
 * bytes, the arguments, the values): in memory for this process and on disk under
 * `.cache/helm-renders` (git-ignored, gzipped) for the other test processes and later runs; a lock
 * file makes one process render while the others wait for its result. Entries unused for two
 * weeks are removed.
 */
import { createHash } from "node:crypto";
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import type { TestContext } from "node:test";
import { parseAllDocuments } from "yaml";
import { tempDir } from "../helpers";

export type Json = Record<string, any>;

/**
 * The Kubernetes release the charts are rendered for: the e2e's control plane
 * (test/e2e/build-control-plane.sh), overridden the same way. The environments do not declare
 * their clusters' versions; charts gate templates on the minor (`semverCompare`), and 1.35 is what
 * the e2e admits every object against.
 */
export const KUBERNETES_VERSION = process.env.KUBERNETES_VERSION ?? "v1.35.4";

/** Why every chart check skips when the charts are absent. */
export const SKIP_NO_CHARTS =
  "HELM_CHARTS_DIR is unset: the pinned charts cannot be downloaded here (fill a directory with scripts/pull-charts.sh and set HELM_CHARTS_DIR; docs/validation.md)";

export interface Helm {
  readonly binary: string;
  readonly version: string;
  readonly chartsDir: string;
}

let found: Helm | string | undefined;

/**
 * Helm and the charts, or why the chart checks skip. With HELM_CHARTS_DIR set, a missing helm is
 * an error, not a skip: someone asked for the checks.
 */
export function helmSetup(): Helm | string {
  if (found !== undefined) return found;
  const chartsDir = process.env.HELM_CHARTS_DIR;
  if (!chartsDir) return (found = SKIP_NO_CHARTS);
  const binary = process.env.HELM ?? "helm";
  const probe = spawnSync(binary, ["version", "--template", "{{.Version}}"], { encoding: "utf8" });
  if (probe.status !== 0 || !/^v3\./.test(probe.stdout.trim())) {
    throw new Error(`HELM_CHARTS_DIR is set but ${binary} is not a working helm v3 (${(probe.error?.message ?? probe.stderr ?? probe.stdout).trim() || "no output"}); set HELM or put helm on PATH (.ci/run builds it)`);
  }
  return (found = { binary, version: probe.stdout.trim(), chartsDir: resolve(chartsDir) });
}

/** `<HELM_CHARTS_DIR>/<chart>-<version>.tgz`, which must exist. */
export function chartArchive(helm: Helm, chart: string, version: string): string {
  const path = join(helm.chartsDir, `${chart}-${version}.tgz`);
  if (!existsSync(path)) throw new Error(`${path} is missing: HELM_CHARTS_DIR must hold ${chart} ${version} as helm pull leaves it (scripts/pull-charts.sh)`);
  return path;
}

export interface RenderRequest {
  readonly chart: string;
  readonly version: string;
  readonly release: string;
  readonly namespace: string;
  /** The values, as the YAML documents the release passes to helm, in order. */
  readonly values: readonly string[];
  /** API versions the cluster serves beyond the built-in ones (CRDs another release installs). */
  readonly apiVersions?: readonly string[];
}

/** A rendered object, with the template it came from. */
export interface RenderedObject extends Json {
  readonly kind: string;
  readonly metadata: Json;
}

export interface Rendered {
  readonly request: RenderRequest;
  /** helm's output, CRDs included (`--include-crds`, as the helm provider installs them). */
  readonly text: string;
  /** Every object, `kind: List` flattened, each carrying `source` (its template) as a non-enumerable field. */
  readonly objects: readonly RenderedObject[];
}

/** A render that only needs to be compared: its digest and which sentinels appear in it. */
export interface RenderSummary {
  /** null when helm failed: `error` says why. */
  readonly digest: string | null;
  readonly error?: string;
  readonly found: readonly string[];
}

const archiveDigests = new Map<string, string>();
function archiveDigest(path: string): string {
  let digest = archiveDigests.get(path);
  if (!digest) {
    digest = createHash("sha256").update(readFileSync(path)).digest("hex");
    archiveDigests.set(path, digest);
  }
  return digest;
}

function args(helm: Helm, req: RenderRequest): string[] {
  return [
    "template",
    req.release,
    chartArchive(helm, req.chart, req.version),
    "--namespace",
    req.namespace,
    "--kube-version",
    KUBERNETES_VERSION,
    "--include-crds",
    // The helm provider never runs `helm test`; its test pods are not installed.
    "--skip-tests",
    ...(req.apiVersions ?? []).flatMap((v) => ["--api-versions", v]),
  ];
}

function cacheKey(helm: Helm, req: RenderRequest): string {
  return createHash("sha256")
    .update(JSON.stringify({ helm: helm.version, archive: archiveDigest(chartArchive(helm, req.chart, req.version)), args: args(helm, req), values: req.values }))
    .digest("hex");
}

/** At most two helm processes per test process: the machines have two cores. */
let running = 0;
const waiting: (() => void)[] = [];
async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

let helmHome: string | undefined;
function runHelm(helm: Helm, req: RenderRequest): Promise<{ status: number | null; stdout: string; stderr: string }> {
  // Helm reads its repositories and plugins from these: an empty home makes the render depend on
  // the archive and the values only.
  helmHome ??= tempDir("helm-home-");
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: helmHome, HELM_CACHE_HOME: join(helmHome, "cache"), HELM_CONFIG_HOME: join(helmHome, "config"), HELM_DATA_HOME: join(helmHome, "data") };
  return slot(
    () =>
      new Promise((resolvePromise, reject) => {
        // One file per values document, in order: helm merges them as it merges the helm
        // provider's `values` list (maps merge key by key, anything else is replaced).
        const files = req.values.map((v, i) => {
          const file = join(helmHome!, `values-${process.pid}-${++valueFiles}-${i}.yaml`);
          writeFileSync(file, v, { mode: 0o600 });
          return file;
        });
        const child = spawn(helm.binary, [...args(helm, req), ...files.flatMap((f) => ["--values", f])], { env, stdio: ["ignore", "pipe", "pipe"] });
        const out: Buffer[] = [];
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => out.push(d));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (status) => {
          for (const f of files) rmSync(f, { force: true });
          resolvePromise({ status, stdout: Buffer.concat(out).toString("utf8"), stderr });
        });
      }),
  );
}
let valueFiles = 0;

const CACHE_DIR = resolve(__dirname, "..", "..", "..", ".cache", "helm-renders");
const CACHE_DAYS = 14;
let pruned = false;

/** Removes cache entries nobody read for {@link CACHE_DAYS} days (reads touch them). */
function pruneCache(): void {
  if (pruned) return;
  pruned = true;
  const cutoff = Date.now() - CACHE_DAYS * 86_400_000;
  for (const name of readdirSync(CACHE_DIR)) {
    try {
      if (name.endsWith(".json.gz") && statSync(join(CACHE_DIR, name)).mtimeMs < cutoff) rmSync(join(CACHE_DIR, name), { force: true });
    } catch {
      /* another process removed it */
    }
  }
}

/**
 * One result through the disk cache: the first process to ask produces it (holding a lock file),
 * the others wait for it.
 */
async function cached<T>(key: string, produce: () => Promise<T>): Promise<T> {
  mkdirSync(CACHE_DIR, { recursive: true });
  pruneCache();
  const file = join(CACHE_DIR, `${key}.json.gz`);
  const lock = join(CACHE_DIR, `${key}.lock`);
  for (;;) {
    if (existsSync(file)) {
      const now = new Date();
      utimesSync(file, now, now);
      return JSON.parse(gunzipSync(readFileSync(file)).toString("utf8")) as T;
    }
    let fd: number | undefined;
    try {
      fd = openSync(lock, "wx");
    } catch {
      // Another process renders it; a lock older than two minutes belongs to a process that died.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { force: true });
      } catch {
        /* gone meanwhile */
      }
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    closeSync(fd);
    try {
      const value = await produce();
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, gzipSync(JSON.stringify(value)));
      renameSync(tmp, file);
      return value;
    } finally {
      rmSync(lock, { force: true });
    }
  }
}

const renders = new Map<string, Promise<Rendered>>();

/** Renders a chart with `helm template`; throws with helm's message when it fails. */
export function render(helm: Helm, req: RenderRequest): Promise<Rendered> {
  const key = cacheKey(helm, req);
  let pending = renders.get(key);
  if (!pending) {
    pending = cached(`full-${key}`, async () => {
      const r = await runHelm(helm, req);
      return r.status === 0 ? { text: r.stdout } : { error: `helm template ${req.release} (${req.chart} ${req.version}) failed: ${r.stderr.trim()}` };
    }).then((r: { text?: string; error?: string }) => {
      if (r.error !== undefined) throw new Error(r.error);
      return { request: req, text: r.text!, objects: parseObjects(r.text!) };
    });
    renders.set(key, pending);
  }
  return pending;
}

const SENTINEL = /zqv\d{5}q|\b99\d{4}\b/g;

/**
 * Renders and summarizes: the output's digest and the sentinels (`zqv00042q`, `990042`) found in it, also
 * inside Secrets' base64 data (Alertmanager's configuration travels that way).
 */
export function renderSummary(helm: Helm, req: RenderRequest): Promise<RenderSummary> {
  return cached(`sum-${cacheKey(helm, req)}`, async () => {
    const r = await runHelm(helm, req);
    if (r.status !== 0) return { digest: null, error: r.stderr.trim(), found: [] };
    const found = new Set<string>(r.stdout.match(SENTINEL) ?? []);
    for (const token of r.stdout.match(/[A-Za-z0-9+/]{24,}={0,2}/g) ?? []) {
      for (const s of Buffer.from(token, "base64").toString("latin1").match(SENTINEL) ?? []) found.add(s);
    }
    return { digest: createHash("sha256").update(r.stdout).digest("hex"), found: [...found].sort() };
  });
}

/** The sentinel string for index `i`, matched by {@link renderSummary}. */
export function sentinel(i: number): string {
  return `zqv${String(i).padStart(5, "0")}q`;
}

/** The sentinel number for index `i` (six digits, 99xxxx: helm prints larger ones in exponent form), matched by {@link renderSummary}. */
export function numericSentinel(i: number): number {
  return 990_000 + i;
}

/** helm's multi-document output as objects; `kind: List` items flattened. */
export function parseObjects(text: string): RenderedObject[] {
  const out: RenderedObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    const comment = `${doc.commentBefore ?? ""}\n${(doc.contents as { commentBefore?: string } | null)?.commentBefore ?? ""}`;
    const source = /Source: (\S+)/.exec(comment)?.[1] ?? "";
    const value = doc.toJS() as Json | null;
    if (!value || typeof value !== "object") continue;
    const items = value.kind === "List" ? (value.items as Json[]) : [value];
    for (const item of items) {
      Object.defineProperty(item, "source", { value: source, enumerable: false });
      out.push(item as RenderedObject);
    }
  }
  return out;
}

/** helm for a test, or undefined after marking the test skipped with the reason (no charts, no helm). */
export function helmOrSkip(t: TestContext): Helm | undefined {
  const setup = helmSetup();
  if (typeof setup === "string") {
    t.skip(setup);
    return undefined;
  }
  return setup;
}

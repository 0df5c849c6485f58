/**
 * The dead-key check: every key path of the values this program renders must be read by the
 * chart. Helm ignores keys a chart never reads, and none of these charts ships a values schema, so
 * a misspelled key is a setting that silently does not exist.
 *
 * A key is read when changing it, or removing it, changes helm's output (CRDs, hooks and Secrets'
 * decoded data included). To stay fast, one render replaces every string and number with a unique
 * sentinel (`zqv00042q`, `990042`) and looks for each in the output, which settles most keys at
 * once; the rest (booleans, empty lists and maps, values the chart transforms) get one render
 * each, changed, then removed. Renders are cached by chart and values (test/charts/helm.ts).
 *
 * Keys that reach a custom resource can still be dead: the API server prunes fields its CRD's
 * schema does not define. {@link unknownCustomResourceFields} checks every rendered custom resource
 * against the CRD the same render installs.
 */
import { type Helm, type Json, numericSentinel, type RenderedObject, type RenderRequest, renderSummary, sentinel } from "./helm";
import { stringify } from "yaml";

/** One step of a key path: a map key or a list index. */
export type Segment = string | number;

export interface Leaf {
  readonly path: readonly Segment[];
  readonly value: unknown;
}

/** `a.b["app.kubernetes.io/name"][0]`: how a key path is written in reports and the allow-list. */
export function formatPath(path: readonly Segment[]): string {
  return path.map((s, i) => (typeof s === "number" ? `[${s}]` : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(s) ? `${i === 0 ? "" : "."}${s}` : `[${JSON.stringify(s)}]`)).join("");
}

/** Every leaf of a values tree: scalars, and lists or maps that are empty. */
export function leaves(value: unknown, path: Segment[] = []): Leaf[] {
  if (Array.isArray(value)) return value.length === 0 ? [{ path, value }] : value.flatMap((v, i) => leaves(v, [...path, i]));
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Json);
    return entries.length === 0 ? [{ path, value }] : entries.flatMap(([k, v]) => leaves(v, [...path, k]));
  }
  return [{ path, value }];
}

/** A deep copy of `tree` with the leaf at `path` set to `value`, or removed (`undefined`). */
export function withLeaf(tree: unknown, path: readonly Segment[], value: unknown): unknown {
  const copy = structuredClone(tree) as Json;
  let node: any = copy;
  for (const s of path.slice(0, -1)) node = node[s];
  const last = path[path.length - 1]!;
  if (value === undefined) {
    if (Array.isArray(node)) node.splice(last as number, 1);
    else delete node[last];
  } else node[last] = value;
  return copy;
}

/** A different value of the same kind, to see whether the chart reads the key at all. */
function changed(value: unknown, i: number): unknown {
  if (typeof value === "boolean") return !value;
  if (typeof value === "number") return value + 1;
  if (Array.isArray(value)) return [sentinel(i)];
  if (value && typeof value === "object") return { [sentinel(i)]: sentinel(i) };
  return sentinel(i);
}

/** A key the chart reads nowhere, or reads only at runtime (allow-listed). */
export interface DeadKey {
  readonly path: string;
  readonly value: unknown;
}

export interface DeadKeyReport {
  readonly keys: number;
  readonly dead: readonly DeadKey[];
  /** Allow-listed keys that changed nothing, with the list's reason. */
  readonly allowed: readonly { readonly path: string; readonly reason: string }[];
  /** Allow-list entries for this chart that matched no unread key: stale. */
  readonly staleAllowances: readonly string[];
  readonly renders: number;
}

/**
 * Keys that change no rendered object but are kept on purpose, per chart, each with why. Empty
 * today: every key the stacks set is read by its chart at the pinned version.
 */
export const RUNTIME_ONLY_KEYS: Readonly<Record<string, readonly { readonly path: string; readonly reason: string }[]>> = {};

/**
 * Checks every key path of `values` (one values document) against the chart `req` names. `req`'s
 * own values are ignored: each render passes the variant under test.
 */
export async function deadKeys(helm: Helm, req: Omit<RenderRequest, "values">, values: Json): Promise<DeadKeyReport> {
  let renders = 0;
  const summary = async (tree: unknown) => {
    renders++;
    return renderSummary(helm, { ...req, values: [stringify(tree)] });
  };
  const base = await summary(values);
  if (base.digest === null) throw new Error(`the base values do not render: ${base.error}`);
  const all = leaves(values).filter((l) => l.path.length > 0);
  const read = new Set<number>();

  // 1. Every string and number at once (bisecting when a sentinel breaks a template): its
  //    sentinel found in the output = read.
  const marked = all.map((l, i) => ({ ...l, i })).filter((l) => typeof l.value === "string" || typeof l.value === "number");
  const mark = (l: (typeof marked)[number]) => (typeof l.value === "number" ? numericSentinel(l.i) : sentinel(l.i));
  const batch = async (group: typeof marked): Promise<void> => {
    if (group.length === 0) return;
    let tree: unknown = values;
    for (const l of group) tree = withLeaf(tree, l.path, mark(l));
    const r = await summary(tree);
    if (r.digest === null) {
      if (group.length === 1) read.add(group[0]!.i); // the template fails on another value: it reads this one
      else await Promise.all([batch(group.slice(0, group.length >> 1)), batch(group.slice(group.length >> 1))]);
      return;
    }
    // A sentinel the chart prints anyway (a number in a CRD) proves nothing.
    for (const l of group) if (r.found.includes(String(mark(l))) && !base.found.includes(String(mark(l)))) read.add(l.i);
  };
  await batch(marked);

  // 2. The rest, one by one: changed, then removed.
  const dead: DeadKey[] = [];
  await Promise.all(
    all.map(async (l, i) => {
      if (read.has(i)) return;
      for (const variant of [changed(l.value, i), undefined]) {
        const r = await summary(withLeaf(values, l.path, variant));
        if (r.digest !== base.digest) return;
      }
      dead.push({ path: formatPath(l.path), value: l.value });
    }),
  );
  dead.sort((a, b) => a.path.localeCompare(b.path));
  const allowances = RUNTIME_ONLY_KEYS[req.chart] ?? [];
  return {
    keys: all.length,
    dead: dead.filter((d) => !allowances.some((a) => a.path === d.path)),
    allowed: allowances.filter((a) => dead.some((d) => d.path === a.path)),
    staleAllowances: allowances.filter((a) => !dead.some((d) => d.path === a.path)).map((a) => a.path),
    renders,
  };
}

/**
 * Fields of rendered custom resources that their CRD's schema (from the same render) does not
 * define: the API server would prune them, so the values that produced them are dead too.
 */
export function unknownCustomResourceFields(objects: readonly RenderedObject[]): string[] {
  const crds = new Map<string, Json>();
  for (const c of objects.filter((o) => o.kind === "CustomResourceDefinition")) {
    for (const v of (c.spec.versions ?? []) as Json[]) crds.set(`${c.spec.group}/${v.name}/${c.spec.names.kind}`, v.schema?.openAPIV3Schema ?? {});
  }
  const out: string[] = [];
  const walk = (value: unknown, schema: Json | undefined, path: string, where: string) => {
    if (!schema || schema["x-kubernetes-preserve-unknown-fields"] === true) return;
    if (Array.isArray(value)) return value.forEach((v, i) => walk(v, schema.items, `${path}[${i}]`, where));
    if (value && typeof value === "object") {
      if (schema.additionalProperties !== undefined && schema.properties === undefined) {
        if (typeof schema.additionalProperties === "object") for (const [k, v] of Object.entries(value)) walk(v, schema.additionalProperties, `${path}.${k}`, where);
        return;
      }
      const props = (schema.properties ?? {}) as Json;
      for (const [k, v] of Object.entries(value as Json)) {
        if (path === "" && ["apiVersion", "kind", "metadata"].includes(k)) continue;
        if (!(k in props)) out.push(`${where}: ${path ? `${path}.` : ""}${k} is not in the CRD's schema (the API server prunes it)`);
        else walk(v, props[k], `${path ? `${path}.` : ""}${k}`, where);
      }
    }
  };
  for (const o of objects) {
    const [group, version] = String(o.apiVersion).includes("/") ? String(o.apiVersion).split("/") : ["", o.apiVersion];
    const schema = crds.get(`${group}/${version}/${o.kind}`);
    if (schema) walk(o, schema, "", `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`);
  }
  return out;
}

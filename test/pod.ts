/**
 * A pod of the synthesized JSON laid out on this machine as the kubelet lays it out: one local
 * directory per volume (ConfigMap files, the Secret keys a projected volume lists, empty
 * directories for emptyDirs and volume claims), and per container a view in which its mount paths
 * point at those directories. The tests then run what the JSON says (commands, args, env, probes)
 * with the paths moved, against the real servers, instead of a copy of it.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execFileSync } from "node:child_process";
import { unescapeLiteral } from "../constructs/terraform-text-plain";
import type { Json } from "./helpers";

/** What a container is given, with every path below one of its mounts moved to this machine. */
export interface ContainerView {
  readonly name: string;
  readonly command: readonly string[];
  readonly args: readonly string[];
  /** Plain env values (a Secret env var would be a finding of the policy gate). */
  readonly env: Readonly<Record<string, string>>;
  /** The probe command (readiness), moved. */
  readonly probe?: readonly string[];
  /** A container path on this machine. */
  at(path: string): string;
  /** Every container path in `text` moved to this machine. */
  move(text: string): string;
}

export interface PodLayout {
  readonly root: string;
  /** The local directory of a volume. */
  volume(name: string): string;
  container(name: string): ContainerView;
  /** Removes the layout. */
  remove(): void;
}

/** Owners to give the files: the postgres user's, for a server that must own its data directory. */
export interface LayoutOptions {
  readonly owner?: { readonly uid: number; readonly gid: number };
}

const blocks = (x: unknown): Json[] => (Array.isArray(x) ? (x as Json[]) : x && typeof x === "object" ? [x as Json] : []);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const mode = (m: unknown, fallback: number) => (m === undefined ? fallback : parseInt(String(m), 8));

/**
 * Lays out the pod of the workload named `name` (a StatefulSet, Deployment or Job) in `json`.
 * `secrets` gives each Secret key's value, by `<secret>/<key>`; a key the pod mounts and the map
 * lacks is an error, as the kubelet would fail to mount it.
 */
export function layOutPod(json: Json, name: string, secrets: Readonly<Record<string, string>>, options: LayoutOptions = {}): PodLayout {
  const workload = ["kubernetes_stateful_set_v1", "kubernetes_deployment_v1", "kubernetes_job_v1"]
    .flatMap((type) => Object.values((json.resource?.[type] ?? {}) as Record<string, Json>))
    .find((w) => w.metadata?.name === name);
  if (!workload) throw new Error(`no workload named ${name}`);
  const pod = workload.spec.template.spec as Json;
  const configMaps = (json.resource?.kubernetes_config_map_v1 ?? {}) as Record<string, Json>;
  const configMapData = (ref: string): Record<string, string> => {
    const id = /^\$\{kubernetes_config_map_v1\.([^.}]+)\.metadata\[0\]\.name\}$/.exec(ref)?.[1];
    const found = id !== undefined ? configMaps[id] : Object.values(configMaps).find((m) => m.metadata?.name === ref);
    if (!found) throw new Error(`${name}: no ConfigMap ${ref}`);
    return found.data as Record<string, string>;
  };

  const root = mkdtempSync(join(tmpdir(), `pod-${name}-`));
  chmodSync(root, 0o755);
  const own = (path: string) => {
    if (options.owner) chownSync(path, options.owner.uid, options.owner.gid);
  };
  const write = (path: string, content: string, fileMode: number) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    chmodSync(path, fileMode);
    own(path);
  };
  const volumeDir = (volume: string) => join(root, "volumes", volume);
  const volumes = new Map<string, Json>();
  for (const v of [...(pod.volume ?? []), ...(workload.spec.volume_claim_template ?? []).map((c: Json) => ({ name: c.metadata.name, claim: true }))] as Json[]) {
    volumes.set(v.name, v);
    const dir = volumeDir(v.name);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    own(dir);
    for (const c of blocks(v.config_map)) {
      for (const [file, content] of Object.entries(configMapData(c.name))) write(join(dir, file), unescapeLiteral(content), mode(c.default_mode, 0o644));
    }
    for (const p of blocks(v.projected)) {
      for (const source of p.sources ?? []) {
        for (const s of blocks(source.secret)) {
          for (const item of s.items ?? []) {
            const value = secrets[`${s.name}/${item.key}`];
            if (value === undefined) throw new Error(`${name}: volume ${v.name} mounts Secret ${s.name} key ${item.key}, which the test did not give`);
            write(join(dir, item.path), value, mode(p.default_mode, 0o644));
          }
        }
      }
    }
  }

  const view = (c: Json): ContainerView => {
    // Longest mount path first, so /var/lib/postgresql/data wins over a shorter prefix.
    const mounts = ((c.volume_mount ?? []) as Json[])
      .map((m) => ({ path: String(m.mount_path).replace(/\/+$/, ""), dir: volumeDir(m.name) }))
      .sort((a, b) => b.path.length - a.path.length);
    const at = (path: string) => {
      const m = mounts.find((x) => path === x.path || path.startsWith(`${x.path}/`));
      if (!m) throw new Error(`${c.name}: ${path} is not below any of its mounts`);
      return m.dir + path.slice(m.path.length);
    };
    // One pass over the text: a moved path (itself below /tmp) is never moved again.
    const pattern = new RegExp(`(^|[^A-Za-z0-9._/-])(${mounts.map((m) => escape(m.path)).join("|")})(?=/|$|[^A-Za-z0-9._-])`, "g");
    const move = (text: string) => (mounts.length === 0 ? text : text.replace(pattern, (_, lead: string, path: string) => `${lead}${mounts.find((m) => m.path === path)!.dir}`));
    const list = (x: unknown) => ((x ?? []) as string[]).map((s) => move(unescapeLiteral(s)));
    return {
      name: c.name,
      command: list(c.command),
      args: list(c.args),
      env: Object.fromEntries(((c.env ?? []) as Json[]).filter((e) => e.value !== undefined).map((e) => [e.name, move(unescapeLiteral(e.value))])),
      probe: c.readiness_probe?.exec ? list(c.readiness_probe.exec.command) : undefined,
      at,
      move,
    };
  };
  const containers = [...(pod.init_container ?? []), ...(pod.container ?? [])] as Json[];
  return {
    root,
    volume: (v) => {
      if (!volumes.has(v)) throw new Error(`${name}: no volume ${v}`);
      return volumeDir(v);
    },
    container: (n) => {
      const c = containers.find((x) => x.name === n);
      if (!c) throw new Error(`${name}: no container ${n}`);
      return view(c);
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** The postgres user's ids (Debian's), for layouts Postgres must own when the tests run as root. */
export function postgresOwner(): { uid: number; gid: number } {
  return {
    uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })),
    gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" })),
  };
}

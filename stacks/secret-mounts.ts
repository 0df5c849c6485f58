/**
 * Which Secret keys each container of a pod template mounts, and which of them it uses: the
 * policy gate's KS-SECRET-MOUNT rule (stacks/policy.ts). Every container of a pod shares the pod's
 * fsGroup, so a key mounted into a container is readable by whatever runs in it; a sidecar that
 * mounts the superuser's password holds a superuser login.
 *
 * Definitions, on the stack's Terraform JSON:
 * - A container **mounts** Secret S's key K at file F when one of its volume mounts (path M,
 *   optional subPath) is a `secret` volume of S, or a `projected` volume with a source of S, whose
 *   `items` map K to path P, and F = M/P (with a subPath, only the item under it, at M). A `secret`
 *   volume or source without `items`, and an `envFrom.secretRef`, hand over every key of S, present
 *   and future: always a finding.
 * - A container **uses** the key it mounts at F when F, as a whole path, appears in the text the
 *   container is given: its command, its args, its env values, or the data of a ConfigMap it reads
 *   (through `envFrom.configMapRef`, `env.valueFrom.configMapKeyRef`, or a configMap or projected
 *   configMap volume it mounts). That is how every workload here tells its process where a secret
 *   is (`POSTGRES_PASSWORD_FILE`, `PLATFORM_DATABASE_PASSWORD_FILE`, the init scripts).
 * - A key mounted and not used is a finding. (A Secret key read as an env var is used by
 *   definition; KS-SECRET-ENV refuses that separately.)
 */

type Json = Record<string, any>;

/** A provider block may be written as an object or as a one-element list. */
const blocks = (x: unknown): Json[] => (Array.isArray(x) ? (x as Json[]) : x && typeof x === "object" ? [x as Json] : []);

/** ConfigMap data by reference (`${kubernetes_config_map_v1.<id>.metadata[0].name}`) or by name. */
export type ConfigMapLookup = (nameOrReference: string) => Record<string, string> | undefined;

/** A lookup over the stack's `kubernetes_config_map_v1` resources in one namespace. */
export function configMapLookup(stack: Json, namespace: unknown): ConfigMapLookup {
  const maps = (stack.resource?.kubernetes_config_map_v1 ?? {}) as Record<string, Json>;
  return (ref) => {
    const id = /^\$\{kubernetes_config_map_v1\.([^.}]+)\.metadata\[0\]\.name\}$/.exec(ref)?.[1];
    const found = id !== undefined ? maps[id] : Object.values(maps).find((m) => m.metadata?.name === ref && m.metadata?.namespace === namespace);
    return found?.data as Record<string, string> | undefined;
  };
}

interface MountedKey {
  readonly secret: string;
  readonly key: string;
  readonly file: string;
}

const join = (dir: string, path: string) => `${dir.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;

/** The keys one volume mount exposes, and the Secrets it exposes whole. */
function mountedKeys(mount: Json, volume: Json): { keys: MountedKey[]; whole: string[] } {
  const keys: MountedKey[] = [];
  const whole: string[] = [];
  const dir = String(mount.mount_path ?? "");
  const subPath = mount.sub_path ? String(mount.sub_path).replace(/\/+$/, "") : undefined;
  const add = (secret: string, items: Json[] | undefined) => {
    if (!items || items.length === 0) return void whole.push(secret);
    for (const item of items) {
      const path = String(item.path);
      if (subPath === undefined) keys.push({ secret, key: String(item.key), file: join(dir, path) });
      else if (path === subPath) keys.push({ secret, key: String(item.key), file: dir });
      else if (path.startsWith(`${subPath}/`)) keys.push({ secret, key: String(item.key), file: join(dir, path.slice(subPath.length + 1)) });
    }
  };
  for (const s of blocks(volume.secret)) add(String(s.secret_name), s.items);
  for (const p of blocks(volume.projected)) for (const source of p.sources ?? []) for (const s of blocks(source.secret)) add(String(s.name), s.items);
  return { keys, whole };
}

/** Everything the container is told: command, args, env values, and the ConfigMaps it reads. */
function containerText(container: Json, volumes: Map<string, Json>, configMaps: ConfigMapLookup): string[] {
  const text: string[] = [...(container.command ?? []), ...(container.args ?? [])].map(String);
  const mapValues = (ref: unknown, keys?: readonly string[]) => {
    const data = configMaps(String(ref)) ?? {};
    return Object.entries(data).filter(([k]) => !keys || keys.includes(k)).map(([, v]) => String(v));
  };
  for (const e of container.env ?? []) {
    if (e.value !== undefined) text.push(String(e.value));
    for (const ref of blocks(e.value_from?.config_map_key_ref)) text.push(...mapValues(ref.name, [String(ref.key)]));
  }
  for (const from of container.env_from ?? []) for (const ref of blocks(from.config_map_ref)) text.push(...mapValues(ref.name));
  for (const mount of container.volume_mount ?? []) {
    const volume = volumes.get(mount.name);
    if (!volume) continue;
    const itemKeys = (items: Json[] | undefined) => (items && items.length > 0 ? items.map((i) => String(i.key)) : undefined);
    for (const c of blocks(volume.config_map)) text.push(...mapValues(c.name, itemKeys(c.items)));
    for (const p of blocks(volume.projected)) for (const source of p.sources ?? []) for (const c of blocks(source.config_map)) text.push(...mapValues(c.name, itemKeys(c.items)));
  }
  return text;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Whether `file` appears in `text` as a whole path (not as part of a longer one). */
export function namesFile(text: string, file: string): boolean {
  return new RegExp(`(^|[^A-Za-z0-9._/-])${escape(file)}($|[^A-Za-z0-9._-])`).test(text);
}

/**
 * Every Secret key a container of `pod` mounts without using it, and every Secret a container
 * takes whole, as messages naming the container, the Secret, the key and the file.
 */
export function secretMountFindings(pod: Json, configMaps: ConfigMapLookup): string[] {
  const findings: string[] = [];
  const volumes = new Map<string, Json>((pod.volume ?? []).map((v: Json) => [String(v.name), v]));
  for (const container of [...(pod.init_container ?? []), ...(pod.container ?? [])] as Json[]) {
    const where = `container ${container.name}`;
    for (const from of container.env_from ?? []) for (const ref of blocks(from.secret_ref)) findings.push(`${where} takes every key of Secret ${ref.name} (envFrom.secretRef)`);
    const text = containerText(container, volumes, configMaps);
    for (const mount of container.volume_mount ?? []) {
      const volume = volumes.get(mount.name);
      if (!volume) continue;
      const { keys, whole } = mountedKeys(mount, volume);
      for (const secret of whole) findings.push(`${where} mounts every key of Secret ${secret} at ${mount.mount_path} (volume ${mount.name} lists no items)`);
      for (const k of keys) {
        if (!text.some((t) => namesFile(t, k.file))) {
          findings.push(`${where} mounts Secret ${k.secret} key ${k.key} at ${k.file} but nothing it is given (command, args, env, its ConfigMaps) names that file`);
        }
      }
    }
  }
  return findings;
}

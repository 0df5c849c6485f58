/**
 * Secret-looking literals in a synthesized stack, by the one rule set of config/secrets.ts: env
 * values of every container (by name or shape), ConfigMap data (by key and shape where the
 * ConfigMap becomes a container's environment, by shape where it is mounted as files), and every
 * other string of the stack by shape — commands and args, annotations, chart values, provider and
 * backend settings, outputs (`secretStrings`). The policy gate fails synth on these;
 * scripts/check.ts runs the same scan on a written stack.
 */
import { secretReason, secretShape } from "../config/secrets";
import { unescapeLiteral } from "../constructs/terraform-text-plain";

type Json = Record<string, any>;

export interface SecretFinding {
  /** `kubernetes_deployment_v1.x`. */
  readonly resource: string;
  readonly path: string;
  /** Where in the resource, without the value. */
  readonly where: string;
  readonly reason: string;
}

const WORKLOADS = ["kubernetes_deployment_v1", "kubernetes_stateful_set_v1", "kubernetes_job_v1"];

export function secretLiterals(stack: Json): SecretFinding[] {
  const resources = (stack.resource ?? {}) as Record<string, Record<string, Json>>;
  const findings: SecretFinding[] = [];
  const envConfigMaps = new Set<string>();
  for (const type of WORKLOADS) {
    for (const [id, w] of Object.entries(resources[type] ?? {})) {
      const pod = w.spec?.template?.spec ?? {};
      for (const c of [...(pod.container ?? []), ...(pod.init_container ?? [])] as Json[]) {
        for (const e of (c.env ?? []) as Json[]) {
          if (e.value === undefined) continue;
          const reason = secretReason(String(e.name), unescapeLiteral(String(e.value)));
          if (reason) findings.push({ resource: `${type}.${id}`, path: w["//"]?.metadata?.path ?? id, where: `container ${c.name}: env ${e.name}`, reason });
        }
        for (const from of (c.env_from ?? []) as Json[]) if (from.config_map_ref?.name) envConfigMaps.add(String(from.config_map_ref.name));
      }
    }
  }
  for (const [id, cm] of Object.entries(resources.kubernetes_config_map_v1 ?? {})) {
    const ref = `\${kubernetes_config_map_v1.${id}.metadata[0].name}`;
    const asEnv = envConfigMaps.has(ref) || envConfigMaps.has(String(cm.metadata?.name));
    for (const [key, raw] of Object.entries((cm.data ?? {}) as Record<string, string>)) {
      const value = unescapeLiteral(String(raw));
      const reason = asEnv ? secretReason(key, value) : secretShape(value) ? `its value looks like ${secretShape(value)}` : undefined;
      if (reason) findings.push({ resource: `kubernetes_config_map_v1.${id}`, path: cm["//"]?.metadata?.path ?? id, where: `data ${key}${asEnv ? " (an env var)" : ""}`, reason });
    }
  }
  return findings;
}

/** A string of the stack that looks like a secret, outside env values and ConfigMap data. */
export interface SecretString {
  /** JSON path in the stack, such as `resource.kubernetes_job_v1.x.spec.template.spec.container[0].command[2]`. */
  readonly where: string;
  readonly reason: string;
}

/**
 * Every string value of the stack, by shape, except where a reason says otherwise (keys are
 * construct ids, resource types and field names, never configuration text, except ConfigMap data
 * and env names, which `secretLiterals` reads):
 * - `//` blocks hold cdktf's construct paths and the policy's suppression reasons (prose);
 * - container env values and ConfigMap data are `secretLiterals`' (by name too);
 * - an image's `@sha256:<digest>` and a `*sha256*`/`*checksum*` annotation are content hashes, an
 *   image's `:tag` and the version label made from it are public (often a commit SHA);
 * - a `${…}` reference and a `depends_on` entry are addresses Terraform resolves, not text.
 * Command arrays are also read joined, so `["sh", "-c", "PGPASSWORD=… psql"]` is found.
 */
export function secretStrings(stack: Json, files: Readonly<Record<string, string>> = {}): SecretString[] {
  const found: SecretString[] = [];
  const check = (where: string, text: string) => {
    const shape = secretShape(text);
    if (shape) found.push({ where, reason: `looks like ${shape}` });
  };
  const visit = (node: unknown, where: string, key: string) => {
    if (typeof node === "string") {
      if (/sha256|checksum/i.test(key) || key === "depends_on" || key === VERSION_LABEL) return;
      const before = found.length;
      check(where, textOf(key === "image" ? withoutVersion(node) : node));
      // A Helm release's values are YAML text (constructs/yaml.ts: never folded): a quoted
      // string escapes its quotes, which hides JSON inside it from the text as a whole.
      if (found.length === before && key === "values" && /\.helm_release\./.test(where) && node.includes('\\"')) check(where, textOf(node).replace(/\\(["\\])/g, "$1"));
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((v, i) => visit(v, `${where}[${i}]`, key));
      if (node.length > 1 && node.every((v) => typeof v === "string") && !found.some((f) => f.where.startsWith(`${where}[`))) check(where, node.map((v) => textOf(v as string)).join(" "));
      return;
    }
    if (node === null || typeof node !== "object") return;
    for (const [k, v] of Object.entries(node)) {
      if (k === "//") continue;
      if ((k === "env" && Array.isArray(v)) || (k === "data" && where.includes(".kubernetes_config_map_v1."))) continue;
      visit(v, `${where}.${k}`, k);
    }
  };
  const { "//": _comments, ...rest } = stack;
  visit(rest, "stack", "");
  for (const [file, content] of Object.entries(files)) check(`monitoring file ${file}`, content);
  return found;
}

/**
 * The version label is the image tag made label-safe (config/names.ts): public, like the tag, and
 * often a commit SHA, which has the shape of a random key.
 */
const VERSION_LABEL = "app.kubernetes.io/version";

/**
 * An image reference without what identifies its version: the `@sha256:` digest (a content hash)
 * or the `:tag` (often a commit SHA). Both are published by the registry; the configuration walk
 * exempts the same fields (config/secret-fields.ts, PUBLIC_RANDOM). A registry's `:port` is kept:
 * a tag never contains `/`.
 */
function withoutVersion(image: string): string {
  return image.replace(/@sha256:[0-9a-f]{64}$/, "").replace(/:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "");
}

/** A Terraform string as text: literal escapes undone, `${…}` references (addresses) left out. */
function textOf(value: string): string {
  return unescapeLiteral(value).replace(/(?<!\$)\$\{[^}]*\}/g, "");
}

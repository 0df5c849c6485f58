/**
 * The last net under config/name-rules.ts: two objects of one kind with one name in one
 * namespace (or two Helm releases of one name in one namespace) in a synthesized stack. The API
 * server would answer AlreadyExists half-way through the apply; synth refuses the stack instead.
 */
type Json = Record<string, any>;

/** `kubernetes_network_policy_v1 db-migrate in namespace ${…}`, for every name used twice. */
export function duplicateObjects(stack: Json): string[] {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const [type, resources] of Object.entries((stack.resource ?? {}) as Record<string, Record<string, Json>>)) {
    for (const [id, body] of Object.entries(resources)) {
      const meta = Array.isArray(body.metadata) ? body.metadata[0] : body.metadata;
      const name = type === "helm_release" ? body.name : meta?.name;
      if (typeof name !== "string") continue;
      const namespace = String((type === "helm_release" ? body.namespace : meta?.namespace) ?? "");
      // The API groups one kind's objects by name and namespace (cluster-scoped kinds: by name).
      const key = `${type}\u0000${namespace}\u0000${name}`;
      const first = seen.get(key);
      if (first) problems.push(`${type}.${id} and ${type}.${first} are both named ${name}${namespace ? ` in namespace ${namespace}` : ""}: the API server would refuse the second (AlreadyExists). Rename one in the configuration`);
      else seen.set(key, id);
    }
  }
  return problems;
}

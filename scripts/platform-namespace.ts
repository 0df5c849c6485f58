/**
 * The platform's namespace in a synthesized stack: the one its ResourceQuota lives in. Not "the
 * restricted one": the database operator's namespace is restricted too, and the JSON lists
 * resources in no order a reader may rely on.
 */

type Json = Record<string, any>;

/** The platform namespace's resource id and name, or undefined when the stack has none. */
export function platformNamespace(stack: Json): { id: string; name: string } | undefined {
  const namespaces = (stack.resource?.kubernetes_namespace_v1 ?? {}) as Record<string, Json>;
  for (const quota of Object.values((stack.resource?.kubernetes_resource_quota_v1 ?? {}) as Record<string, Json>)) {
    const id = /^\$\{kubernetes_namespace_v1\.([^.]+)\.metadata\[0\]\.name\}$/.exec(String(quota.metadata?.namespace ?? ""))?.[1];
    const namespace = id === undefined ? undefined : namespaces[id];
    if (id !== undefined && namespace) return { id, name: String(namespace.metadata.name) };
  }
  return undefined;
}

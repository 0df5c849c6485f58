/**
 * Label conventions. Selector labels never carry a version or anything else that changes over a
 * workload's life: a Deployment's selector is immutable, and a changed one replaces the resource.
 * @see https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
 */

export const PART_OF = "agent-platform";
export const NAME_LABEL = "app.kubernetes.io/name";

/** The labels a Service, PDB, HPA and NetworkPolicy select a service's pods by. */
export function selectorLabels(name: string): Record<string, string> {
  return { [NAME_LABEL]: name, "app.kubernetes.io/part-of": PART_OF };
}

/** Labels for every object a component owns; `version` only where it may change freely. */
export function objectLabels(name: string, component: string, version?: string): Record<string, string> {
  return {
    ...selectorLabels(name),
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/managed-by": "cdktf",
    ...(version === undefined ? {} : { "app.kubernetes.io/version": version }),
  };
}

/** Kubernetes' own label naming a namespace, set on every namespace since 1.21. */
export function namespaceSelector(namespace: string): { matchLabels: Record<string, string> } {
  return { matchLabels: { "kubernetes.io/metadata.name": namespace } };
}

/**
 * PromQL label selectors, defined once for dashboards and alert rules. Service metrics are
 * labelled by the Prometheus scrape with `namespace` and `service` (the Kubernetes Service name,
 * which is the catalogue name).
 */

/** Escapes a label value for a PromQL string literal. */
export function promString(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** `{namespace="agent-platform",service="api-gateway"}`; services omitted means every service. */
export function serviceSelector(namespace: string, service?: string): string {
  const matchers = [`namespace=${promString(namespace)}`];
  if (service !== undefined) matchers.push(`service=${promString(service)}`);
  return `{${matchers.join(",")}}`;
}

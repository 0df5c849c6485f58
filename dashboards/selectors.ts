/**
 * PromQL string literals for label matchers, shared by the dashboards and the alert rules. Service
 * metrics are labelled by the scrape with `namespace` and `service` (the Kubernetes Service name,
 * which is the catalogue name).
 */

/** Escapes a label value for a PromQL string literal. */
export function promString(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/**
 * The database the dashboards and alerts watch: the StatefulSet (postgres_exporter's metrics), or
 * a CloudNativePG cluster (its instances' metrics; the plugin's where it backs up).
 */
export type MonitoredDatabase =
  | { readonly kind: "statefulset" }
  | { readonly kind: "cloudnative-pg"; readonly cluster: string; readonly instances: number; readonly backups: boolean };

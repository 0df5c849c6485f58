/**
 * Network peers the platform's policies name more than once.
 */
import { namespaceSelector } from "./labels";

/** Pod labels the Prometheus Operator puts on every Prometheus pod. */
export const PROMETHEUS_POD_LABELS = { "app.kubernetes.io/name": "prometheus" } as const;

/**
 * Who may scrape a metrics port: Prometheus' pods in the monitoring namespace, nothing else there
 * (Grafana, Alertmanager and the operator have no business with the platform's pods).
 */
export function monitoringPeers(monitoringNamespace: string) {
  return [{ namespaceSelector: namespaceSelector(monitoringNamespace), podSelector: { matchLabels: { ...PROMETHEUS_POD_LABELS } } }];
}

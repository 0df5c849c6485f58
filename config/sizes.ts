/**
 * Sizes of the containers the platform adds around the services and data servers, pinned in one
 * place like the images they run (config/versions.ts): the capacity arithmetic (quota, summary)
 * and the constructs read the same numbers.
 */

export interface ContainerResources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu: string; readonly memory: string };
}

const size = (requestCpu: string, requestMemory: string, limitCpu: string, limitMemory: string): ContainerResources => ({
  requests: { cpu: requestCpu, memory: requestMemory },
  limits: { cpu: limitCpu, memory: limitMemory },
});

export const SIZES = {
  /** redis_exporter, postgres_exporter, pgbouncer_exporter sidecars. */
  exporter: size("10m", "32Mi", "100m", "64Mi"),
  /** The migration Job's container. */
  migration: size("100m", "256Mi", "500m", "512Mi"),
  /** The init container that writes PgBouncer's auth file from the Secret. */
  poolerInit: size("10m", "16Mi", "50m", "32Mi"),
  /** The init container that writes Redis' ACL file (hashes) and the exporter's password file. */
  dataInit: size("10m", "16Mi", "50m", "32Mi"),
  /** Monitoring chart components whose size is not per environment. */
  prometheusOperator: size("50m", "128Mi", "200m", "256Mi"),
  prometheusConfigReloader: size("10m", "32Mi", "50m", "64Mi"),
  kubeStateMetrics: size("20m", "64Mi", "100m", "256Mi"),
  nodeExporter: size("20m", "32Mi", "200m", "64Mi"),
  alertmanager: size("50m", "64Mi", "200m", "128Mi"),
  grafanaSidecar: size("20m", "64Mi", "100m", "128Mi"),
  prometheusAdapter: size("50m", "128Mi", "250m", "256Mi"),
  metricsServer: size("50m", "64Mi", "250m", "128Mi"),
  /** The operator admission webhook's certificate Jobs (kube-webhook-certgen), run at install and upgrade. */
  webhookCertgen: size("10m", "32Mi", "50m", "64Mi"),
  /** The CloudNativePG operator (its own namespace). */
  cnpgOperator: size("100m", "128Mi", "500m", "512Mi"),
  /** The Barman Cloud plugin's operator-side deployment (its instance sidecars are sized in config). */
  barmanCloudPlugin: size("50m", "64Mi", "250m", "256Mi"),
  /** The migration Job's init container that waits for the database's read-write Service. */
  databaseWait: size("10m", "16Mi", "50m", "32Mi"),
} as const;

/** Replicas of the CloudNativePG operator: two, so a failover never waits for it to be rescheduled. */
export const CNPG_OPERATOR_REPLICAS = 2;

/** Deployments roll surge-first: this many extra pods (of the replica count, rounded up) at once. */
export const ROLLING_MAX_SURGE_PERCENT = 25;

/** Replicas of prometheus-adapter and metrics-server: two, so a drain never stops autoscaling. */
export const METRICS_API_REPLICAS = 2;

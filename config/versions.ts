/**
 * Every third-party image and chart version, pinned in one place. Official images only: Bitnami's
 * versioned Redis/Postgres images left the public catalogue in 2025.
 */
export const IMAGES = {
  /** Official Redis image; Debian-based, runs as uid 999. */
  redis: "redis:7.4.2-bookworm",
  /** Official Postgres image, pinned major and minor; runs as uid 999. */
  postgres: "postgres:17.2-bookworm",
  redisExporter: "oliver006/redis_exporter:v1.67.0",
  postgresExporter: "quay.io/prometheuscommunity/postgres-exporter:v0.16.0",
  /** CloudNativePG's PgBouncer image (the one its Pooler runs): Debian, non-root uid 998. */
  pgbouncer: "ghcr.io/cloudnative-pg/pgbouncer:1.24.1",
  pgbouncerExporter: "quay.io/prometheuscommunity/pgbouncer-exporter:v0.12.1",
  /** The local stand-in for every service (standInImages): nginx, non-root, listens above 1024. */
  standIn: "nginxinc/nginx-unprivileged:1.27.0-alpine",
  /**
   * CloudNativePG's PostgreSQL image (operand), the major the StatefulSet runs: the `standard`
   * flavour (extensions and locales, no Barman: backups run in the plugin's sidecar). UID 26.
   */
  cnpgPostgres: "ghcr.io/cloudnative-pg/postgresql:17.6-standard-trixie",
  /** The CloudNativePG operator, the release its chart below installs. */
  cnpgOperator: "ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0",
  /** The Barman Cloud plugin (its chart's appVersion), and the sidecar it injects into instances. */
  barmanCloudPlugin: "ghcr.io/cloudnative-pg/plugin-barman-cloud:v0.13.0",
  barmanCloudSidecar: "ghcr.io/cloudnative-pg/plugin-barman-cloud-sidecar:v0.13.0",
} as const;

/** The PostgreSQL major both database paths run (the StatefulSet's image and CloudNativePG's). */
export const POSTGRES_MAJOR = 17;
/** UID and GID of `postgres` in CloudNativePG's images (the chart's default). */
export const CNPG_POSTGRES_UID = 26;

/** UID and GID of the `pgbouncer` user in the PgBouncer image; its exporter runs as the same. */
export const POOLER_UID = 998;
export const POOLER_GID = 996;

/** UID/GID of the `redis` and `postgres` users in the official images. */
export const DATA_SERVICE_UID = 999;
/** postgres_exporter's image runs as `nobody`. */
export const EXPORTER_UID = 65534;

/** Helm charts, pinned. Helm never upgrades CRDs: bumping kube-prometheus-stack's major needs its CRDs applied first. */
export const CHARTS = {
  kubePrometheusStack: {
    repository: "https://prometheus-community.github.io/helm-charts",
    chart: "kube-prometheus-stack",
    version: "67.8.0",
  },
  prometheusAdapter: {
    repository: "https://prometheus-community.github.io/helm-charts",
    chart: "prometheus-adapter",
    version: "4.13.0",
  },
  /** The resource metrics API (metrics.k8s.io) for the HPAs' CPU and memory targets. */
  metricsServer: {
    repository: "https://kubernetes-sigs.github.io/metrics-server/",
    chart: "metrics-server",
    version: "3.13.0",
  },
  /** The CloudNativePG operator (1.30.0) and its CRDs. Its CRDs carry helm.sh/resource-policy: keep. */
  cloudnativePg: {
    repository: "https://cloudnative-pg.github.io/charts",
    chart: "cloudnative-pg",
    version: "0.29.0",
  },
  /** The Barman Cloud plugin (v0.13.0) for CloudNativePG's WAL archiving and backups; needs cert-manager. */
  barmanCloudPlugin: {
    repository: "https://cloudnative-pg.github.io/charts",
    chart: "plugin-barman-cloud",
    version: "0.7.0",
  },
  /** One CloudNativePG `Cluster`, its ObjectStore and ScheduledBackup. */
  cnpgCluster: {
    repository: "https://cloudnative-pg.github.io/charts",
    chart: "cluster",
    version: "0.8.1",
  },
} as const;

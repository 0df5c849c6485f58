/**
 * Production. Edit this file to change the platform; `cdktf diff production` shows the effect.
 *
 * Replica bounds and utilization targets are the seed's autoscaling table (the seed: the
 * platform's original specification, "Production Deployment and Scaling Implementation", section
 * 5.1). Autoscaling itself is off unless `autoscaling.enabled` is true here or
 * ENABLE_AUTOSCALING=true at synth time; while off, each service runs `replicas` pods (the table's
 * minimum).
 */
import type { EnvironmentInput, ScalingBehaviorInput } from "./schema";

const tiers = {
  default: { requests: 100, windowSeconds: 60 },
  low: { requests: 50, windowSeconds: 60 },
  high: { requests: 200, windowSeconds: 60 },
  critical: { requests: 500, windowSeconds: 60 },
  unlimited: { requests: 100000, windowSeconds: 60 },
};

/** Scale up fast (double, or +4 pods, per minute); scale down slowly after 5 minutes of calm. */
const behavior: ScalingBehaviorInput = {
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: "Max",
    policies: [
      { type: "Percent", value: 100, periodSeconds: 60 },
      { type: "Pods", value: 4, periodSeconds: 60 },
    ],
  },
  scaleDown: {
    stabilizationWindowSeconds: 300,
    selectPolicy: "Min",
    policies: [{ type: "Percent", value: 10, periodSeconds: 60 }],
  },
};

export default {
  name: "production",
  namespace: "agent-platform",
  cluster: { kubeconfigPath: "~/.kube/config", context: "agent-platform-production" },
  // Terraform state outlives the CI runner that deploys: S3, locked by S3-native locking
  // (use_lockfile). Placeholder: replace the bucket and region with your own (docs/operations.md,
  // "State backends") before the first deploy; synth warns while the bucket is unchanged.
  backend: {
    type: "s3",
    bucket: "replace-with-your-state-bucket",
    key: "agent-platform/production.tfstate",
    region: "eu-west-1",
  },
  autoscaling: { enabled: false },
  imagePullPolicy: "Always",
  ingressController: { namespace: "ingress-nginx", podLabels: { "app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller" } },
  // cert-manager's ClusterIssuer issues <service>-tls for each host.
  ingress: {
    className: "nginx",
    tls: { mode: "cert-manager", clusterIssuer: "letsencrypt-prod" },
    routes: { "api-gateway": { host: "api.berrys-agents.dev" }, "web-dashboard": { host: "app.berrys-agents.dev" } },
  },
  monitoringNamespace: "monitoring",
  // Allocatable on the smallest node pool's nodes (8 vCPU / 32 GiB, minus system reservations):
  // every pod must fit on one.
  nodeSize: { cpu: "7", memory: "28Gi" },
  // The namespace may claim its peak (HPA maximums, both blue-green tracks, rollout surge, data
  // tier, migration) plus 20% for a debugging pod or a manual Job.
  quota: { headroomPercent: 20 },
  // Transaction pooling: the services' 1180 connections at the peak share 135 server connections.
  pgbouncer: {
    enabled: true,
    replicas: 2,
    poolMode: "transaction",
    defaultPoolSize: 40,
    reservePoolSize: 5,
    reservePoolTimeoutSeconds: 3,
    // Enough for every client at the peak on one pod, while the other is drained.
    maxClientConn: 2000,
    serverLifetimeSeconds: 3600,
    serverIdleTimeoutSeconds: 600,
    resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { cpu: "1", memory: "256Mi" } },
  },
  services: {
    "api-gateway": {
      image: { tag: "1.0.0" },
      // Public entry points: a bad release is rolled back by switching the Service, in seconds.
      release: { strategy: "blue-green", active: "blue", previous: { tag: "1.0.0" } },
      replicas: 3,
      resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "1", memory: "1Gi" } },
      rateLimit: {
        defaultTier: "default",
        endpoints: [
          { path: "/v1/agents/runs", method: "POST", tier: "low" },
          { path: "/v1/models/completions", method: "POST", tier: "low" },
          { path: "/v1/admin", tier: "critical" },
        ],
      },
      cache: { defaultTtlSeconds: 300, ttlSeconds: { session: 900 }, keyVersion: 1 },
      autoscaling: {
        minReplicas: 3,
        maxReplicas: 10,
        targetCpuUtilizationPercent: 70,
        targetMemoryUtilizationPercent: 75,
        behavior,
      },
    },
    "agent-orchestrator": {
      image: { tag: "1.0.0" },
      replicas: 2,
      resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } },
      rateLimit: { defaultTier: "unlimited" },
      cache: { defaultTtlSeconds: 300, ttlSeconds: { agent_definition: 3600, run_status: 5 }, keyVersion: 1 },
      autoscaling: {
        minReplicas: 2,
        maxReplicas: 8,
        targetCpuUtilizationPercent: 75,
        targetMemoryUtilizationPercent: 80,
        customMetrics: [
          // Pending agent tasks per pod.
          { type: "Pods", displayName: "Queue Length", metric: "queue_length", targetAverageValue: "20" },
        ],
        behavior,
      },
    },
    "model-orchestration": {
      image: { tag: "1.0.0" },
      replicas: 3,
      resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } },
      rateLimit: { defaultTier: "unlimited" },
      cache: { defaultTtlSeconds: 600, ttlSeconds: { model_catalog: 3600, completion: 600 }, keyVersion: 1 },
      autoscaling: {
        minReplicas: 3,
        maxReplicas: 12,
        targetCpuUtilizationPercent: 70,
        targetMemoryUtilizationPercent: 75,
        customMetrics: [
          // Pending model calls per pod.
          { type: "Pods", displayName: "Queue Length", metric: "queue_length", targetAverageValue: "10" },
          // p95 request latency per pod, seconds (2500m = 2.5 s).
          { type: "Pods", displayName: "Latency", metric: "http_request_duration_seconds_p95", targetAverageValue: "2500m" },
        ],
        behavior,
      },
    },
    "tool-integration": {
      image: { tag: "1.0.0" },
      replicas: 2,
      resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "1", memory: "1Gi" } },
      rateLimit: { defaultTier: "critical" },
      cache: { defaultTtlSeconds: 300, ttlSeconds: { tool_schema: 3600 }, keyVersion: 1 },
      autoscaling: {
        minReplicas: 2,
        maxReplicas: 6,
        targetCpuUtilizationPercent: 75,
        targetMemoryUtilizationPercent: 80,
        behavior,
      },
    },
    "web-dashboard": {
      image: { tag: "1.0.0" },
      // Public entry points: a bad release is rolled back by switching the Service, in seconds.
      release: { strategy: "blue-green", active: "blue", previous: { tag: "1.0.0" } },
      replicas: 2,
      resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
      rateLimit: { defaultTier: "high" },
      autoscaling: {
        minReplicas: 2,
        maxReplicas: 6,
        targetCpuUtilizationPercent: 75,
        targetMemoryUtilizationPercent: 80,
        customMetrics: [
          // HTTP requests per second per pod.
          { type: "Pods", displayName: "Requests/Second", metric: "http_requests_per_second", targetAverageValue: "50" },
        ],
        behavior,
      },
    },
  },
  redis: {
    enabled: true,
    maxmemory: "1536Mi",
    // Rate-limit counters must never be evicted; cache writes fail at maxmemory and clients treat that as a miss.
    maxmemoryPolicy: "noeviction",
    persistence: true,
    storage: { size: "10Gi" },
    resources: { requests: { cpu: "250m", memory: "2Gi" }, limits: { cpu: "1", memory: "2Gi" } },
  },
  postgres: {
    database: "agent_platform",
    appUser: "agent_platform",
    // Behind PgBouncer: (2 pods + 1 surge) x (pool 40 + reserve 5) + migration 2 + the
    // operator's own 23 (exporter 6, instance manager 9, standbys 2 x 3, backup 2) + admin 5 +
    // reserved 3 = 168, on every instance. Going direct would need 1192 (all pods at the peak x 20).
    maxConnections: 200,
    superuserReservedConnections: 3,
    adminConnections: 5,
    sharedBuffers: "2Gi",
    workMem: "4Mi",
    effectiveCacheSize: "6Gi",
    // The seed's connection pool: its section 5.3, "Connection Pooling Configuration".
    pool: { minConnections: 5, maxConnections: 20, timeoutSeconds: 30, recycleSeconds: 3600, prePing: true },
    // Per instance.
    storage: { size: "100Gi" },
    resources: { requests: { cpu: "2", memory: "8Gi" }, limits: { cpu: "4", memory: "8Gi" } },
    // A CloudNativePG cluster: a primary and two standbys, one per zone. A commit returns once one
    // standby holds it (RPO 0); the operator promotes only a standby that provably holds every such
    // commit (failover quorum). A node drain takes one standby at a time and writes go on.
    topology: {
      kind: "cloudnative-pg",
      name: "postgres",
      instances: 3,
      synchronous: { method: "any", number: 1, dataDurability: "required", failoverQuorum: true },
      zones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
      // WAL archived as it is written, a base backup every night, 30 days of point-in-time
      // recovery. Placeholder bucket: replace it with your own (synth warns until you do). The
      // Secret holds ACCESS_KEY_ID and ACCESS_SECRET_KEY (docs/operations.md, "Secrets").
      backup: {
        objectStore: { bucket: "replace-with-your-backup-bucket", path: "/agent-platform/production/", region: "eu-west-1", credentialsSecretName: "postgres-backup-s3" },
        retention: "30d",
        schedule: "0 0 3 * * *",
        sidecarResources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "512Mi" } },
      },
    },
  },
  rateLimiting: { backend: "redis", trackedClients: 100_000, tiers },
  secrets: { mode: "existing" },
  migrations: {
    service: "agent-orchestrator",
    command: ["python", "-m", "alembic", "upgrade", "head"],
    backoffLimit: 2,
    timeoutSeconds: 600,
  },
  monitoring: {
    retention: "15d",
    prometheusResources: { requests: { cpu: "500m", memory: "4Gi" }, limits: { cpu: "2", memory: "4Gi" } },
    grafanaResources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
    prometheusStorage: { size: "100Gi" },
    alerting: true,
    // Critical alerts page the on-call engineer. The Secret must exist before the first deploy
    // (docs/operations.md, "Before your first deploy"): Alertmanager mounts it and does not start without it.
    pagerduty: { enabled: true, routingKeySecret: { name: "pagerduty", key: "routing-key" } },
    runbookBaseUrl: "https://runbooks.berrys-agents.dev/agent-platform",
    thresholds: {
      // 5% of requests failing for 5 minutes pages someone.
      errorRatio: 0.05,
      // Model calls dominate latency; 2 s p95 for 10 minutes is already degraded.
      latencyP95Seconds: 2,
      crashLoopRestarts: 3,
      replicasUnavailableMinutes: 10,
      hpaAtMaxMinutes: 15,
      // 80% of max_connections: the budget is exhausted soon after.
      postgresConnectionRatio: 0.8,
      // noeviction: at 100% cache writes fail, so warn at 90%.
      redisMemoryRatio: 0.9,
      rateLimitRejectionRatio: 0.2,
      queueLength: 100,
      // A standby 30 s behind would lose that much on promotion without synchronous replication,
      // and is slow to take over.
      replicationLagSeconds: 30,
      // Backups run nightly: a day and two hours without a successful one is a missed backup.
      backupMaxAgeHours: 26,
    },
  },
  logging: { level: "info" },
} satisfies EnvironmentInput;

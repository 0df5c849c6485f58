/**
 * Staging: production's shape at a smaller scale, so that a change is tried here first.
 * Autoscaling follows the same rules as production when it is switched on.
 */
import type { EnvironmentInput, ScalingBehaviorInput } from "./schema";

const tiers = {
  default: { requests: 100, windowSeconds: 60 },
  low: { requests: 50, windowSeconds: 60 },
  high: { requests: 200, windowSeconds: 60 },
  critical: { requests: 500, windowSeconds: 60 },
  unlimited: { requests: 100000, windowSeconds: 60 },
};

const behavior: ScalingBehaviorInput = {
  scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: "Max", policies: [{ type: "Pods", value: 2, periodSeconds: 60 }] },
  scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: "Min", policies: [{ type: "Pods", value: 1, periodSeconds: 60 }] },
};

export default {
  name: "staging",
  namespace: "agent-platform-staging",
  cluster: { kubeconfigPath: "~/.kube/config", context: "agent-platform-staging" },
  // Terraform state outlives the CI runner that deploys: S3, locked by S3-native locking
  // (use_lockfile). Placeholder: replace the bucket and region with your own (docs/operations.md,
  // "State backends") before the first deploy; synth warns while the bucket is unchanged.
  backend: {
    type: "s3",
    bucket: "replace-with-your-state-bucket",
    key: "agent-platform/staging.tfstate",
    region: "eu-west-1",
  },
  autoscaling: { enabled: false },
  imagePullPolicy: "Always",
  ingressController: { namespace: "ingress-nginx", podLabels: { "app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller" } },
  // cert-manager's ClusterIssuer issues <service>-tls for each host.
  ingress: {
    className: "nginx",
    tls: { mode: "cert-manager", clusterIssuer: "letsencrypt-prod" },
    routes: { "api-gateway": { host: "api.staging.berrys-agents.dev" }, "web-dashboard": { host: "app.staging.berrys-agents.dev" } },
  },
  monitoringNamespace: "monitoring",
  nodeSize: { cpu: "3500m", memory: "14Gi" },
  quota: { headroomPercent: 20 },
  // Production's pooling at a smaller scale, so that a change to it is tried here first.
  pgbouncer: {
    enabled: true,
    replicas: 2,
    poolMode: "transaction",
    defaultPoolSize: 20,
    reservePoolSize: 5,
    reservePoolTimeoutSeconds: 3,
    maxClientConn: 1000,
    serverLifetimeSeconds: 3600,
    serverIdleTimeoutSeconds: 600,
    resources: { requests: { cpu: "50m", memory: "32Mi" }, limits: { cpu: "500m", memory: "128Mi" } },
  },
  services: {
    "api-gateway": {
      image: { tag: "1.0.0" },
      // Public entry points: a bad release is rolled back by switching the Service, in seconds.
      release: { strategy: "blue-green", active: "blue", previous: { tag: "1.0.0" } },
      replicas: 2,
      resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } },
      rateLimit: {
        defaultTier: "default",
        endpoints: [
          { path: "/v1/agents/runs", method: "POST", tier: "low" },
          { path: "/v1/models/completions", method: "POST", tier: "low" },
          { path: "/v1/admin", tier: "critical" },
        ],
      },
      cache: { defaultTtlSeconds: 300, ttlSeconds: { session: 900 }, keyVersion: 1 },
      autoscaling: { minReplicas: 2, maxReplicas: 4, targetCpuUtilizationPercent: 70, targetMemoryUtilizationPercent: 75, behavior },
    },
    "agent-orchestrator": {
      image: { tag: "1.0.0" },
      replicas: 2,
      resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "1", memory: "1Gi" } },
      rateLimit: { defaultTier: "unlimited" },
      cache: { defaultTtlSeconds: 300, ttlSeconds: { agent_definition: 3600, run_status: 5 }, keyVersion: 1 },
      autoscaling: {
        minReplicas: 2,
        maxReplicas: 4,
        targetCpuUtilizationPercent: 75,
        targetMemoryUtilizationPercent: 80,
        customMetrics: [{ type: "Pods", displayName: "Queue Length", metric: "queue_length", targetAverageValue: "20" }],
        behavior,
      },
    },
    "model-orchestration": {
      image: { tag: "1.0.0" },
      replicas: 2,
      resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "1", memory: "1Gi" } },
      rateLimit: { defaultTier: "unlimited" },
      cache: { defaultTtlSeconds: 600, ttlSeconds: { model_catalog: 3600, completion: 600 }, keyVersion: 1 },
      autoscaling: {
        minReplicas: 2,
        maxReplicas: 4,
        targetCpuUtilizationPercent: 70,
        targetMemoryUtilizationPercent: 75,
        customMetrics: [
          { type: "Pods", displayName: "Queue Length", metric: "queue_length", targetAverageValue: "10" },
          { type: "Pods", displayName: "Latency", metric: "http_request_duration_seconds_p95", targetAverageValue: "2500m" },
        ],
        behavior,
      },
    },
    "tool-integration": {
      image: { tag: "1.0.0" },
      replicas: 2,
      resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
      rateLimit: { defaultTier: "critical" },
      cache: { defaultTtlSeconds: 300, ttlSeconds: { tool_schema: 3600 }, keyVersion: 1 },
      autoscaling: { minReplicas: 2, maxReplicas: 3, targetCpuUtilizationPercent: 75, targetMemoryUtilizationPercent: 80, behavior },
    },
    "web-dashboard": {
      image: { tag: "1.0.0" },
      // Public entry points: a bad release is rolled back by switching the Service, in seconds.
      release: { strategy: "blue-green", active: "blue", previous: { tag: "1.0.0" } },
      replicas: 2,
      resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "250m", memory: "256Mi" } },
      rateLimit: { defaultTier: "high" },
      autoscaling: {
        minReplicas: 2,
        maxReplicas: 3,
        targetCpuUtilizationPercent: 75,
        targetMemoryUtilizationPercent: 80,
        customMetrics: [{ type: "Pods", displayName: "Requests/Second", metric: "http_requests_per_second", targetAverageValue: "50" }],
        behavior,
      },
    },
  },
  redis: {
    enabled: true,
    maxmemory: "512Mi",
    maxmemoryPolicy: "noeviction",
    persistence: true,
    storage: { size: "2Gi" },
    resources: { requests: { cpu: "100m", memory: "768Mi" }, limits: { cpu: "500m", memory: "768Mi" } },
  },
  postgres: {
    database: "agent_platform",
    appUser: "agent_platform",
    // Behind PgBouncer: (2 pods + 1 surge) x (pool 20 + reserve 5) + migration 2 + the
    // operator's own 20 (exporter 6, instance manager 9, standby 3, backup 2) + admin 5 +
    // reserved 3 = 105, on both instances.
    maxConnections: 150,
    superuserReservedConnections: 3,
    adminConnections: 5,
    sharedBuffers: "512Mi",
    workMem: "4Mi",
    effectiveCacheSize: "1536Mi",
    pool: { minConnections: 5, maxConnections: 20, timeoutSeconds: 30, recycleSeconds: 3600, prePing: true },
    storage: { size: "10Gi" },
    resources: { requests: { cpu: "250m", memory: "2Gi" }, limits: { cpu: "1", memory: "2Gi" } },
    // Production's operator and backups at a smaller scale: a primary and one standby on two
    // nodes. Synchronous while the standby is up; with it down (a drain), writes go on.
    topology: {
      kind: "cloudnative-pg",
      name: "postgres",
      instances: 2,
      synchronous: { method: "any", number: 1, dataDurability: "preferred" },
      backup: {
        objectStore: { bucket: "replace-with-your-backup-bucket", path: "/agent-platform/staging/", region: "eu-west-1", credentialsSecretName: "postgres-backup-s3" },
        retention: "7d",
        schedule: "0 0 3 * * *",
        sidecarResources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
      },
    },
  },
  rateLimiting: { backend: "redis", trackedClients: 10_000, tiers },
  secrets: { mode: "existing" },
  migrations: {
    service: "agent-orchestrator",
    command: ["python", "-m", "alembic", "upgrade", "head"],
    backoffLimit: 2,
    timeoutSeconds: 600,
  },
  monitoring: {
    retention: "7d",
    prometheusResources: { requests: { cpu: "250m", memory: "2Gi" }, limits: { cpu: "1", memory: "2Gi" } },
    grafanaResources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "250m", memory: "256Mi" } },
    prometheusStorage: { size: "20Gi" },
    alerting: true,
    criticalAlertsUnrouted: "staging pages nobody: its alerts are read in Alertmanager and Grafana during working hours",
    runbookBaseUrl: "https://runbooks.berrys-agents.dev/agent-platform",
    thresholds: {
      errorRatio: 0.1,
      latencyP95Seconds: 3,
      crashLoopRestarts: 3,
      replicasUnavailableMinutes: 15,
      hpaAtMaxMinutes: 15,
      postgresConnectionRatio: 0.8,
      redisMemoryRatio: 0.9,
      rateLimitRejectionRatio: 0.3,
      queueLength: 100,
    },
  },
  logging: { level: "info" },
} satisfies EnvironmentInput;

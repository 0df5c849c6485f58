/**
 * A CloudNativePG database as pure functions of config: the values of the operator, Barman Cloud
 * plugin and `cluster` charts, the `Cluster` spec those values render, its Postgres parameters and
 * pg_hba rules, and the manifest of a point-in-time restore into a new cluster. The constructs put
 * these into Helm releases; the summary, scripts/restore-manifest.ts and the drills read the same
 * objects (no cdktf here, so a failing config never loads it).
 * @see https://cloudnative-pg.io/documentation/current/cloudnative-pg.v1/
 */
import { postgresMegabytes } from "../config/quantity";
import type { CloudNativePgSettings, PostgresSettings } from "../config/schema";
import { MONITORING_ROLE } from "../config/semantics";
import { CNPG_OPERATOR_REPLICAS, SIZES } from "../config/sizes";
import type { PlatformConfig } from "../config/types";
import { internetPeer, monitoringPeers } from "./network";
import { CNPG_POSTGRES_UID, IMAGES } from "../config/versions";

/** The Barman Cloud plugin's name, as Clusters and ScheduledBackups refer to it. */
export const BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io";
/** The label CloudNativePG puts on every pod (instances and Jobs) of a Cluster. */
export const CLUSTER_LABEL = "cnpg.io/cluster";
/** `instance` on the instance pods (not on the operator's Jobs). */
export const POD_ROLE_LABEL = "cnpg.io/podRole";
/** The instance manager's status endpoint, which the operator polls (HTTPS). */
export const STATUS_PORT = 8000;
/** The instance manager's metrics endpoint. */
export const INSTANCE_METRICS_PORT = 9187;
/** The operator's admission webhook, called by the API server. */
export const OPERATOR_WEBHOOK_PORT = 9443;
/** The plugin's gRPC endpoint, called by the operator. */
export const PLUGIN_PORT = 9090;
/** Helm release names in the operator's namespace. */
export const OPERATOR_RELEASE = "cnpg";
export const PLUGIN_RELEASE = "barman-cloud";
/** Pod labels the charts give the operator and the plugin (their `selectorLabels`). */
export const OPERATOR_POD_LABELS = { "app.kubernetes.io/name": "cloudnative-pg" } as const;
export const PLUGIN_POD_LABELS = { "app.kubernetes.io/name": "plugin-barman-cloud" } as const;
/** The zone label the scheduler and the anti-affinity read. */
const ZONE_KEY = "topology.kubernetes.io/zone";
const HOST_KEY = "kubernetes.io/hostname";

export interface ClusterInputs {
  /** The platform's namespace, where the Cluster runs. */
  readonly namespace: string;
  readonly postgres: PostgresSettings;
  readonly topology: CloudNativePgSettings;
  readonly imagePullPolicy: "Always" | "IfNotPresent";
}

/** The inputs of an environment whose database is a CloudNativePG cluster; undefined otherwise. */
export function clusterInputs(config: PlatformConfig): ClusterInputs | undefined {
  const topology = config.postgres.topology;
  if (topology.kind !== "cloudnative-pg") return undefined;
  return { namespace: config.namespace, postgres: config.postgres, topology, imagePullPolicy: config.imagePullPolicy };
}

/** The read-write Service: it follows the primary through every failover and switchover. */
export function readWriteHost(topology: CloudNativePgSettings, namespace: string): string {
  return `${topology.name}-rw.${namespace}.svc.cluster.local`;
}

/**
 * The Secrets the cluster reads (`kubernetes.io/basic-auth`, keys `username` and `password`, as
 * CloudNativePG requires): the application role (the database's owner, created by initdb) and
 * the monitoring role (a managed role in `pg_monitor`). The operator creates `<name>-ca`, whose
 * `ca.crt` PgBouncer verifies the server with.
 */
export function clusterSecrets(topology: CloudNativePgSettings) {
  return { app: `${topology.name}-app`, monitoring: `${topology.name}-monitoring`, ca: `${topology.name}-ca` } as const;
}

/** The keys of the object store's credentials Secret, as the cluster chart's ObjectStore reads them. */
export const BACKUP_SECRET_KEYS = { accessKeyId: "ACCESS_KEY_ID", secretAccessKey: "ACCESS_SECRET_KEY" } as const;

/** The ObjectStore the cluster chart creates for the plugin. */
export const objectStoreName = (topology: CloudNativePgSettings): string => `${topology.name}-backups`;

/**
 * The Postgres parameters this program sets; the operator adds its own (replication, archiving,
 * TLS, logging) and refuses to let them be overridden.
 * @see https://cloudnative-pg.io/documentation/current/postgresql_conf/
 */
export function clusterParameters(pg: PostgresSettings): Record<string, string> {
  return {
    max_connections: String(pg.maxConnections),
    superuser_reserved_connections: String(pg.superuserReservedConnections),
    shared_buffers: postgresMegabytes(pg.sharedBuffers),
    work_mem: postgresMegabytes(pg.workMem),
    effective_cache_size: postgresMegabytes(pg.effectiveCacheSize),
    password_encryption: "scram-sha-256",
    log_min_duration_statement: "1000",
  };
}

/**
 * pg_hba rules after the operator's fixed ones (local peer for its own processes, certificates
 * for replication): the application and monitoring roles, over TLS with SCRAM, to the platform's
 * database only; everything else is refused before the operator's catch-all rule.
 */
export function clusterHbaRules(pg: PostgresSettings): string[] {
  return [`hostssl ${pg.database} ${pg.appUser} all scram-sha-256`, `hostssl ${pg.database} ${MONITORING_ROLE} all scram-sha-256`, "host all all all reject"];
}

/** Anti-affinity: one instance per node, or per zone where zones are named (restricted to them). */
function affinity(topology: CloudNativePgSettings): Record<string, unknown> {
  return {
    enablePodAntiAffinity: true,
    podAntiAffinityType: "required",
    topologyKey: topology.zones ? ZONE_KEY : HOST_KEY,
    ...(topology.zones
      ? { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: ZONE_KEY, operator: "In", values: [...topology.zones] }] }] } } }
      : {}),
  };
}

/** The monitoring role, declared to the operator: it creates it and keeps its password in sync. */
function managedRoles(topology: CloudNativePgSettings) {
  return [
    {
      name: MONITORING_ROLE,
      ensure: "present",
      login: true,
      superuser: false,
      inRoles: ["pg_monitor"],
      connectionLimit: 5,
      passwordSecret: { name: clusterSecrets(topology).monitoring },
    },
  ];
}

const encryption = (sse: string) => (sse === "none" ? "" : sse);

/** Values of the `cluster` chart (CHARTS.cnpgCluster). */
export function clusterChartValues(inputs: ClusterInputs): Record<string, unknown> {
  const { postgres: pg, topology } = inputs;
  const backup = topology.backup;
  return {
    fullnameOverride: topology.name,
    // The release's record lives with the operator's (constructs/postgres-cluster.ts); the
    // Cluster, its ObjectStore and ScheduledBackup in the platform's namespace.
    namespaceOverride: inputs.namespace,
    // No `type` or `version`: with `cluster.imageName` set (the pinned major is in its tag) the
    // chart reads neither (the chart-render test's dead-key check found them unread).
    mode: "standalone",
    cluster: {
      instances: topology.instances,
      imageName: IMAGES.cnpgPostgres,
      imagePullPolicy: inputs.imagePullPolicy,
      postgresUID: CNPG_POSTGRES_UID,
      postgresGID: CNPG_POSTGRES_UID,
      storage: { size: pg.storage.size, storageClass: pg.storage.storageClass ?? "" },
      walStorage: topology.walStorage ? { enabled: true, size: topology.walStorage.size, storageClass: topology.walStorage.storageClass ?? "" } : { enabled: false },
      resources: { requests: { ...pg.resources.requests }, limits: { ...pg.resources.limits } },
      // A rolling update restarts the standbys first, then switches over to one of them.
      primaryUpdateMethod: "switchover",
      primaryUpdateStrategy: "unsupervised",
      logLevel: "info",
      affinity: affinity(topology),
      // No superuser password at all: administrators use the operator's local peer access.
      enableSuperuserAccess: false,
      // The operator's budgets: the primary is never evicted (it is switched over first), one
      // standby at a time.
      enablePDB: true,
      roles: managedRoles(topology),
      // The instances are scraped through kube-prometheus-stack's pod monitor (constructs/monitoring-values.ts).
      monitoring: { enabled: false, instrumentation: { logicalReplication: false, pgStatStatements: false } },
      postgresql: {
        parameters: clusterParameters(pg),
        ...(topology.synchronous ? { synchronous: { ...topology.synchronous } } : {}),
        pg_hba: clusterHbaRules(pg),
      },
      initdb: { database: pg.database, owner: pg.appUser, secret: { name: clusterSecrets(topology).app } },
    },
    backups: backup
      ? {
          enabled: true,
          method: "plugin",
          pluginConfiguration: { name: BARMAN_PLUGIN },
          provider: "s3",
          ...(backup.objectStore.endpoint ? { endpointURL: backup.objectStore.endpoint } : {}),
          s3: { region: backup.objectStore.region, bucket: backup.objectStore.bucket, path: backup.objectStore.path },
          secret: { create: false, name: backup.objectStore.credentialsSecretName },
          wal: { compression: backup.walCompression, encryption: encryption(backup.objectStore.serverSideEncryption), maxParallel: 2 },
          data: { compression: "gzip", encryption: encryption(backup.objectStore.serverSideEncryption), jobs: 2 },
          scheduledBackups: [
            { name: "scheduled", schedule: backup.schedule, backupOwnerReference: "self", method: "plugin", pluginConfiguration: { name: BARMAN_PLUGIN } },
          ],
          retentionPolicy: backup.retention,
          instanceSidecarConfiguration: { resources: { requests: { ...backup.sidecarResources.requests }, limits: { ...backup.sidecarResources.limits } } },
        }
      : { enabled: false },
  };
}

/** The S3 destination the plugin writes under: `s3://<bucket><path>` (the chart's own rule). */
export function destinationPath(topology: CloudNativePgSettings): string | undefined {
  const store = topology.backup?.objectStore;
  return store ? `s3://${store.bucket}${store.path}` : undefined;
}

/** The endpoint the plugin talks to: the configured one, else AWS's for the region (the chart's rule). */
export function endpointUrl(topology: CloudNativePgSettings): string | undefined {
  const store = topology.backup?.objectStore;
  return store ? (store.endpoint ?? `https://s3.${store.region}.amazonaws.com`) : undefined;
}

/**
 * The `Cluster` spec the cluster chart renders from {@link clusterChartValues} (its
 * templates/cluster.yaml), with `bootstrap` replaceable: the restore manifest reuses everything
 * else. A test renders the chart with `helm template` (when the charts are at hand) and compares.
 */
export function clusterSpec(inputs: ClusterInputs, bootstrap?: Record<string, unknown>): Record<string, unknown> {
  const values = clusterChartValues(inputs) as { cluster: Record<string, any>; backups: Record<string, any> };
  const c = values.cluster;
  const { topology } = inputs;
  return {
    instances: c.instances,
    imageName: c.imageName,
    imagePullPolicy: c.imagePullPolicy,
    postgresUID: c.postgresUID,
    postgresGID: c.postgresGID,
    storage: { size: c.storage.size, ...(c.storage.storageClass ? { storageClass: c.storage.storageClass } : {}) },
    ...(c.walStorage.enabled ? { walStorage: { size: c.walStorage.size, ...(c.walStorage.storageClass ? { storageClass: c.walStorage.storageClass } : {}) } } : {}),
    resources: c.resources,
    affinity: c.affinity,
    primaryUpdateMethod: c.primaryUpdateMethod,
    primaryUpdateStrategy: c.primaryUpdateStrategy,
    // The chart's default, which it always renders: the pods' termination grace period too.
    stopDelay: 1800,
    logLevel: c.logLevel,
    enableSuperuserAccess: c.enableSuperuserAccess,
    enablePDB: c.enablePDB,
    postgresql: { pg_hba: c.postgresql.pg_hba, ...(c.postgresql.synchronous ? { synchronous: c.postgresql.synchronous } : {}), parameters: c.postgresql.parameters },
    managed: { roles: c.roles },
    monitoring: { disableDefaultQueries: false, tls: { enabled: false } },
    bootstrap: bootstrap ?? { initdb: c.initdb },
    ...(topology.backup
      ? { plugins: [{ name: BARMAN_PLUGIN, enabled: true, isWALArchiver: true, parameters: { barmanObjectName: objectStoreName(topology) } }] }
      : {}),
  };
}

/** Values of the operator chart (CHARTS.cloudnativePg). */
export function operatorChartValues(platformNamespace: string, imagePullPolicy: "Always" | "IfNotPresent"): Record<string, unknown> {
  const [repository, tag] = splitImage(IMAGES.cnpgOperator);
  return {
    fullnameOverride: "cnpg-operator",
    // Two, with leader election: a failover never waits for the operator to be rescheduled.
    replicaCount: CNPG_OPERATOR_REPLICAS,
    image: { repository, tag, pullPolicy: imagePullPolicy },
    crds: { create: true },
    webhook: { mutating: { create: true, failurePolicy: "Fail" }, validating: { create: true, failurePolicy: "Fail" } },
    // Cluster-wide RBAC (it creates Secrets, Services and PDBs wherever a Cluster lives), but it
    // watches the platform's namespace only. Through its environment: the operator builds its
    // watch cache before it reads the ConfigMap, so WATCH_NAMESPACE there (as the chart's values
    // suggest) is ignored: cloudnative-pg 1.30.0, run against a real API server, logged
    // "Listening for changes on all namespaces" and reconciled a Cluster in another namespace; with
    // the variable in its environment it logged watchNamespaces [<platform>] and left that one alone.
    config: { create: true, clusterWide: true },
    additionalEnv: [{ name: "WATCH_NAMESPACE", value: platformNamespace }],
    resources: SIZES.cnpgOperator,
    affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: HOST_KEY, labelSelector: { matchLabels: { ...OPERATOR_POD_LABELS } } } }] } },
    monitoring: { podMonitorEnabled: false, grafanaDashboard: { create: false } },
  };
}

/**
 * Values of the Barman Cloud plugin chart (CHARTS.barmanCloudPlugin). No `image.pullPolicy`: the
 * chart (0.7.0) declares it but its Deployment never renders one (the chart-render test's dead-key
 * check found it), so the API server's default for a pinned tag applies, IfNotPresent.
 */
export function pluginChartValues(): Record<string, unknown> {
  const [, tag] = splitImage(IMAGES.barmanCloudPlugin);
  return {
    fullnameOverride: PLUGIN_RELEASE,
    image: { tag },
    sidecarImage: { tag: splitImage(IMAGES.barmanCloudSidecar)[1] },
    crds: { create: true },
    resources: SIZES.barmanCloudPlugin,
  };
}

function splitImage(image: string): [string, string] {
  const at = image.lastIndexOf(":");
  return [image.slice(0, at), image.slice(at + 1)];
}

/** Who may talk to a cluster's pods, besides the pods themselves. */
export interface ClusterPeers {
  /** Pod labels admitted to Postgres' port: PgBouncer (or the services, without it) and the migration Job. */
  readonly clients: readonly Record<string, string>[];
  /** Namespace of the operator, which polls every instance's status port. */
  readonly operatorNamespace: string;
  /** Namespace of Prometheus, which scrapes the instances' metrics port. */
  readonly monitoringNamespace: string;
  /** The API server's endpoint addresses and ports (the instance manager watches its Cluster). */
  readonly apiServer: { readonly cidrs: readonly string[]; readonly ports: readonly number[] };
}

const tcp = (...ports: readonly number[]) => ports.map((port) => ({ port: String(port), protocol: "TCP" }));

/** The object store's port: the endpoint's, else 443. */
export function objectStorePort(topology: CloudNativePgSettings): number | undefined {
  const url = endpointUrl(topology);
  if (!url) return undefined;
  const parsed = new URL(url);
  return parsed.port ? Number(parsed.port) : parsed.protocol === "http:" ? 80 : 443;
}

/**
 * The NetworkPolicy of a cluster's pods (its instances and the operator's initdb, join and
 * recovery Jobs, all labelled `cnpg.io/cluster`), in the kubernetes provider's shape: streaming
 * replication and pg_basebackup between the cluster's own pods on 5432; the clients on 5432; the
 * operator on the status port; Prometheus on the metrics port; out to the API server's addresses
 * (the instance manager watches its Cluster) and to the object store (WAL and backups): its
 * configured addresses, else the internet (never private, shared or link-local ranges, so never
 * the cloud metadata address). DNS comes from the namespace's policy.
 */
export function clusterNetworkPolicySpec(clusterName: string, topology: CloudNativePgSettings, peers: ClusterPeers): Record<string, any> {
  const self = { podSelector: { matchLabels: { [CLUSTER_LABEL]: clusterName } } };
  const storePort = objectStorePort(topology);
  const store = topology.backup?.objectStore;
  return {
    podSelector: { matchLabels: { [CLUSTER_LABEL]: clusterName } },
    policyTypes: ["Ingress", "Egress"],
    ingress: [
      { from: [self, ...peers.clients.map((matchLabels) => ({ podSelector: { matchLabels: { ...matchLabels } } }))], ports: tcp(5432) },
      // By the instance's port names (`status` 8000, `metrics` 9187).
      {
        from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": peers.operatorNamespace } }, podSelector: { matchLabels: { ...OPERATOR_POD_LABELS } } }],
        ports: [{ port: "status", protocol: "TCP" }],
      },
      { from: monitoringPeers(peers.monitoringNamespace), ports: [{ port: "metrics", protocol: "TCP" }] },
    ],
    egress: [
      { to: [self], ports: tcp(5432) },
      { to: peers.apiServer.cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: tcp(...peers.apiServer.ports) },
      ...(store && storePort !== undefined ? [{ to: store.cidrs ? store.cidrs.map((cidr) => ({ ipBlock: { cidr } })) : [internetPeer()], ports: tcp(storePort) }] : []),
    ],
  };
}

/** Why a cluster's pods reach the internet, where they do: the policy gate lists it. */
export function objectStoreEgressReason(topology: CloudNativePgSettings): string | undefined {
  const store = topology.backup?.objectStore;
  if (!store || store.cidrs) return undefined;
  return `WAL archiving and base backups go to the object store ${endpointUrl(topology)} (port ${objectStorePort(topology)}), on the internet; set postgres.topology.backup.objectStore.cidrs where it is on a private network`;
}

/** A provider-shaped NetworkPolicy spec as a Kubernetes manifest's: numeric ports as numbers. */
export function manifestNetworkPolicySpec(spec: Record<string, any>): Record<string, any> {
  const ports = (rules: Record<string, any>[] | undefined) =>
    (rules ?? []).map((r) => ({ ...r, ports: (r.ports ?? []).map((p: { port: string; protocol: string }) => ({ protocol: p.protocol, port: /^\d+$/.test(p.port) ? Number(p.port) : p.port })) }));
  return { ...spec, ingress: ports(spec.ingress), egress: ports(spec.egress) };
}

/** A name the restore may give its new cluster: a DNS label short enough for its Services. */
export const RESTORE_NAME = /^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/;

/**
 * The manifest of a new Cluster, `into`, recovered from the backups of the running one to
 * `targetTime` (RFC 3339): the same spec, bootstrapped from the plugin's object store (the running
 * cluster's ObjectStore, its server name), archiving under a server name of its own so it never
 * writes over the original's WAL. Created with `kubectl create`, which refuses an existing name.
 * @see https://cloudnative-pg.io/plugin-barman-cloud/docs/usage/#restoring-a-cluster
 */
export function restoreManifest(inputs: ClusterInputs, into: string, targetTime: string, peers: Omit<ClusterPeers, "clients">): Record<string, unknown> {
  const { topology, postgres: pg } = inputs;
  if (!topology.backup) throw new Error(`postgres.topology.backup is not set: the ${topology.name} cluster has no backups to restore from`);
  if (!RESTORE_NAME.test(into)) throw new Error(`'${into}' is not a cluster name: a lower-case DNS label of at most 40 characters, starting with a letter`);
  if (into === topology.name) throw new Error(`'${into}' is the running cluster's name: a restore creates a new cluster and never overwrites the running one`);
  const store = objectStoreName(topology);
  const spec = clusterSpec(inputs, {
    recovery: {
      source: "origin",
      recoveryTarget: { targetTime },
      database: pg.database,
      owner: pg.appUser,
      secret: { name: clusterSecrets(topology).app },
    },
  });
  const labels = { "app.kubernetes.io/part-of": "agent-platform", "agent-platform/restored-from": topology.name };
  // The namespace denies everything by default: the new cluster's pods need their own policy
  // (replication, the operator, the API server, the object store). No client is admitted: look at
  // the restored data with `kubectl cnpg psql` or a port-forward, then switch over by config.
  const policy = {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: into, namespace: inputs.namespace, labels },
    spec: manifestNetworkPolicySpec(clusterNetworkPolicySpec(into, topology, { ...peers, clients: [] })),
  };
  const cluster = {
    apiVersion: "postgresql.cnpg.io/v1",
    kind: "Cluster",
    metadata: { name: into, namespace: inputs.namespace, labels, annotations: { "agent-platform/restore-target-time": targetTime } },
    spec: {
      ...spec,
      externalClusters: [{ name: "origin", plugin: { name: BARMAN_PLUGIN, parameters: { barmanObjectName: store, serverName: topology.name } } }],
      plugins: [{ name: BARMAN_PLUGIN, enabled: true, isWALArchiver: true, parameters: { barmanObjectName: store, serverName: into } }],
    },
  };
  return { apiVersion: "v1", kind: "List", items: [policy, cluster] };
}

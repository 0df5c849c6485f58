/**
 * The CloudNativePG database as the stacks emit it: the operator, the plugin and the cluster as
 * Helm releases, their values per prop, the network policies around them, the restore manifest.
 * Expectations come from the config.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { DEFAULT_API_SERVER } from "../../config/network";
import { CHARTS } from "../../config/versions";
import { NON_INTERNET_CIDRS } from "../../constructs/network";
import {
  clusterChartValues,
  clusterInputs,
  clusterNetworkPolicySpec,
  clusterSpec,
  restoreManifest,
  type ClusterInputs,
} from "../../constructs/postgres-cluster-values";
import { unescapeLiteral } from "../../constructs/terraform-text-plain";
import { type Json, loadConfig, named, rawEnvironment, resources, synthEnvironment } from "../helpers";

const release = (json: Json, chart: string) => Object.values(resources(json, "helm_release")).find((r) => r.chart === chart);
const values = (json: Json, chart: string) => parse(unescapeLiteral(release(json, chart)!.values[0])) as Json;

describe("the CloudNativePG database", () => {
  const production = synthEnvironment("production");
  const config = loadConfig("production");
  const topology = config.postgres.topology;
  assert.equal(topology.kind, "cloudnative-pg");
  const inputs = clusterInputs(config)!;

  it("installs the operator, the plugin and the cluster from their pinned charts, in order", () => {
    const operator = release(production, "cloudnative-pg")!;
    const plugin = release(production, "plugin-barman-cloud")!;
    const cluster = release(production, "cluster")!;
    for (const [r, chart] of [[operator, CHARTS.cloudnativePg], [plugin, CHARTS.barmanCloudPlugin], [cluster, CHARTS.cnpgCluster]] as const) {
      assert.equal(r.version, chart.version);
      assert.equal(r.repository, chart.repository);
    }
    const id = (chart: string) => `helm_release.${Object.entries(resources(production, "helm_release")).find(([, r]) => r.chart === chart)![0]}`;
    assert.ok(plugin.depends_on.includes(id("cloudnative-pg")));
    assert.ok(cluster.depends_on.includes(id("plugin-barman-cloud")));
    // The data-bearing release is never rolled back or cleaned up by Helm (either deletes the Cluster).
    assert.equal(cluster.atomic, false);
    assert.equal(cluster.cleanup_on_fail, false);
    // The operator and the plugin live in their own namespace, the Cluster in the platform's; the
    // cluster's release record stays with the operator's, so no plan lists the platform's Secrets.
    assert.match(operator.namespace, /database-operator_namespace/);
    assert.equal(cluster.namespace, operator.namespace);
    assert.equal(values(production, "cluster").namespaceOverride, config.namespace);
  });

  it("renders instances, synchronous replication, anti-affinity and the operator's budgets from config", () => {
    const v = values(production, "cluster");
    assert.equal(v.fullnameOverride, topology.name);
    assert.equal(v.cluster.instances, topology.instances);
    assert.deepEqual(v.cluster.postgresql.synchronous, topology.synchronous);
    assert.equal(v.cluster.enablePDB, true);
    assert.equal(v.cluster.enableSuperuserAccess, false);
    // Zones named: one instance per zone, only in those zones.
    assert.equal(v.cluster.affinity.podAntiAffinityType, "required");
    assert.equal(v.cluster.affinity.topologyKey, "topology.kubernetes.io/zone");
    assert.deepEqual(v.cluster.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values, topology.zones);
    // Without zones: one instance per node.
    const raw = rawEnvironment("production");
    delete raw.postgres.topology.zones;
    const noZones = clusterChartValues(clusterInputs(loadConfig("production", {}, raw))!) as Json;
    assert.deepEqual(noZones.cluster.affinity, { enablePodAntiAffinity: true, podAntiAffinityType: "required", topologyKey: "kubernetes.io/hostname" });
    // Per-instance resources and storage.
    assert.deepEqual(v.cluster.resources, config.postgres.resources);
    assert.equal(v.cluster.storage.size, config.postgres.storage.size);
  });

  it("configures Postgres from config, admits the platform's roles over TLS only, and refuses the rest", () => {
    const v = values(production, "cluster");
    assert.equal(v.cluster.postgresql.parameters.max_connections, String(config.postgres.maxConnections));
    assert.deepEqual(v.cluster.postgresql.pg_hba, [
      `hostssl ${config.postgres.database} ${config.postgres.appUser} all scram-sha-256`,
      `hostssl ${config.postgres.database} agent_platform_monitor all scram-sha-256`,
      "host all all all reject",
    ]);
    assert.deepEqual(v.cluster.initdb, { database: config.postgres.database, owner: config.postgres.appUser, secret: { name: `${topology.name}-app` } });
    assert.deepEqual(v.cluster.roles.map((r: Json) => [r.name, r.inRoles, r.passwordSecret.name]), [["agent_platform_monitor", ["pg_monitor"], `${topology.name}-monitoring`]]);
  });

  it("backs up to the configured object store through the plugin, with credentials only from a Secret", () => {
    const v = values(production, "cluster");
    const backup = topology.kind === "cloudnative-pg" ? topology.backup! : undefined!;
    assert.equal(v.backups.method, "plugin");
    assert.deepEqual(v.backups.s3, { region: backup.objectStore.region, bucket: backup.objectStore.bucket, path: backup.objectStore.path });
    assert.deepEqual(v.backups.secret, { create: false, name: backup.objectStore.credentialsSecretName });
    assert.equal(v.backups.retentionPolicy, backup.retention);
    assert.equal(v.backups.scheduledBackups[0].schedule, backup.schedule);
    assert.equal(v.backups.scheduledBackups[0].method, "plugin");
    assert.deepEqual(v.backups.instanceSidecarConfiguration.resources, backup.sidecarResources);
    assert.ok(!/accessKey|secretKey|ACCESS_SECRET/.test(release(production, "cluster")!.values[0]), "credentials in the values");
    // An S3-compatible endpoint, and no backups at all.
    const raw = rawEnvironment("staging");
    raw.postgres.topology.backup.objectStore.endpoint = "https://minio.example.com:9000";
    raw.postgres.topology.backup.objectStore.serverSideEncryption = "none";
    const minio = clusterChartValues(clusterInputs(loadConfig("staging", {}, raw))!) as Json;
    assert.equal(minio.backups.endpointURL, "https://minio.example.com:9000");
    assert.equal(minio.backups.wal.encryption, "");
    delete raw.postgres.topology.backup;
    const json = synthEnvironment("staging", {}, raw);
    assert.deepEqual(values(json, "cluster").backups, { enabled: false });
    assert.equal(release(json, "plugin-barman-cloud"), undefined, "no plugin without backups");
  });

  it("lets the cluster's pods talk to each other, their clients, the operator, Prometheus, the API server and the object store, and nothing else", () => {
    const policy = named(production, "kubernetes_network_policy_v1", topology.name).spec;
    assert.deepEqual(policy.pod_selector, { match_labels: { "cnpg.io/cluster": topology.name } });
    assert.deepEqual(policy.ingress.map((r: Json) => r.ports.map((p: Json) => p.port)), [["5432"], ["status"], ["metrics"]]);
    assert.deepEqual(policy.ingress[1].from[0].namespace_selector.match_labels, { "kubernetes.io/metadata.name": topology.operatorNamespace });
    // Its own pods, the API server's configured addresses, and the object store on the internet
    // (never a private or link-local address: the cloud metadata endpoint stays out), declared.
    assert.deepEqual(policy.egress.map((r: Json) => r.ports.map((p: Json) => p.port)), [["5432"], DEFAULT_API_SERVER.ports.map(String), ["443"]]);
    assert.deepEqual(policy.egress[1].to.map((t: Json) => t.ip_block.cidr), [...DEFAULT_API_SERVER.cidrs]);
    assert.deepEqual(policy.egress[2].to, [{ ip_block: { cidr: "0.0.0.0/0", except: [...NON_INTERNET_CIDRS] } }]);
    const declared = Object.values(resources(production, "kubernetes_network_policy_v1")).find((p) => p.metadata.name === topology.name)!["//"].suppressions;
    assert.match(declared[0].reason, /WAL archiving and base backups go to the object store https:\/\/s3\.eu-west-1\.amazonaws\.com \(port 443\)/);
    // An object store on a private network, on its own port: exactly its addresses and port, nothing declared.
    const raw = rawEnvironment("production");
    raw.postgres.topology.backup.objectStore.endpoint = "http://minio.storage.svc:9000";
    raw.postgres.topology.backup.objectStore.cidrs = ["10.96.12.0/24"];
    const spec = clusterNetworkPolicySpec(topology.name, loadConfig("production", {}, raw).postgres.topology as Extract<ClusterInputs["topology"], object>, { clients: [], operatorNamespace: "cnpg-system", monitoringNamespace: "monitoring", apiServer: DEFAULT_API_SERVER });
    assert.deepEqual(spec.egress[2], { to: [{ ipBlock: { cidr: "10.96.12.0/24" } }], ports: [{ port: "9000", protocol: "TCP" }] });
    assert.equal(Object.values(resources(synthEnvironment("production", {}, raw), "kubernetes_network_policy_v1")).find((p) => p.metadata.name === topology.name)!["//"]?.suppressions, undefined);
  });

  it("denies all traffic in the operator's namespace but the webhook, the status port, the plugin and the API server", () => {
    const policies = Object.values(resources(production, "kubernetes_network_policy_v1")).filter((p) => String(p.metadata.namespace).includes("database-operator_namespace"));
    const byName = new Map(policies.map((p) => [p.metadata.name, p.spec]));
    assert.deepEqual([...byName.keys()].sort(), ["allow-apiserver-egress", "allow-dns-egress", "barman-cloud-plugin", "cnpg-operator", "default-deny-all"]);
    assert.deepEqual(byName.get("cnpg-operator").ingress[0].ports, [{ port: "9443", protocol: "TCP" }]);
    assert.deepEqual(byName.get("cnpg-operator").egress[0].ports, [{ port: "8000", protocol: "TCP" }]);
    assert.deepEqual(byName.get("barman-cloud-plugin").ingress[0].from, [{ pod_selector: { match_labels: { "app.kubernetes.io/name": "cloudnative-pg" } } }]);
    const ns = Object.values(resources(production, "kubernetes_namespace_v1")).find((n) => n.metadata.name === topology.operatorNamespace)!;
    assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
    // The operator watches the platform's namespace only, with two replicas.
    const v = values(production, "cloudnative-pg");
    assert.deepEqual(v.additionalEnv, [{ name: "WATCH_NAMESPACE", value: config.namespace }]);
    assert.equal(v.config.data, undefined, "WATCH_NAMESPACE in the operator's ConfigMap is read after its watch cache is built: it must not look like the setting");
    assert.equal(v.replicaCount, 2);
  });

  it("points PgBouncer at the read-write Service, verifying the server's certificate with the cluster's CA only", () => {
    const ini = named(production, "kubernetes_config_map_v1", "pgbouncer-config").data["pgbouncer.ini"];
    assert.match(ini, new RegExp(`^${config.postgres.database} = host=${topology.name}-rw\\.${config.namespace}\\.svc\\.cluster\\.local port=5432 dbname=`, "m"));
    assert.match(ini, /^server_tls_sslmode = verify-full$/m);
    const volume = named(production, "kubernetes_deployment_v1", "pgbouncer").spec.template.spec.volume.find((v: Json) => v.name === "server-ca");
    assert.deepEqual(volume.projected[0].sources, [{ secret: [{ name: `${topology.name}-ca`, items: [{ key: "ca.crt", path: "ca.crt" }] }] }]);
  });

  it("renders a restore into a new cluster: the same spec, recovered to the time, archiving under its own name", () => {
    const manifest = restoreManifest(inputs, "postgres-pitr", "2026-12-01T10:04:00Z", { operatorNamespace: "cnpg-system", monitoringNamespace: "monitoring", apiServer: DEFAULT_API_SERVER }) as Json;
    const [policy, cluster] = manifest.items as Json[];
    assert.equal(cluster.kind, "Cluster");
    assert.equal(cluster.metadata.name, "postgres-pitr");
    assert.deepEqual(cluster.spec.bootstrap.recovery.recoveryTarget, { targetTime: "2026-12-01T10:04:00Z" });
    assert.deepEqual(cluster.spec.externalClusters[0].plugin.parameters, { barmanObjectName: `${topology.name}-backups`, serverName: topology.name });
    assert.deepEqual(cluster.spec.plugins[0].parameters, { barmanObjectName: `${topology.name}-backups`, serverName: "postgres-pitr" });
    const base = clusterSpec(inputs) as Json;
    for (const key of ["instances", "imageName", "storage", "resources", "affinity", "postgresql", "managed", "enablePDB"]) assert.deepEqual(cluster.spec[key], base[key], key);
    // Its own policy, with numeric ports as a manifest wants them, and no client admitted.
    assert.equal(policy.kind, "NetworkPolicy");
    assert.deepEqual(policy.spec.podSelector, { matchLabels: { "cnpg.io/cluster": "postgres-pitr" } });
    assert.deepEqual(policy.spec.ingress[0].ports, [{ protocol: "TCP", port: 5432 }]);
    assert.equal(policy.spec.ingress[0].from.length, 1);
    // Never over the running cluster, never a name the Services cannot carry.
    assert.throws(() => restoreManifest(inputs, topology.name, "2026-12-01T10:04:00Z", { operatorNamespace: "cnpg-system", monitoringNamespace: "monitoring", apiServer: DEFAULT_API_SERVER }), /never overwrites the running one/);
    assert.throws(() => restoreManifest(inputs, "Bad_Name", "2026-12-01T10:04:00Z", { operatorNamespace: "cnpg-system", monitoringNamespace: "monitoring", apiServer: DEFAULT_API_SERVER }), /is not a cluster name/);
  });
});

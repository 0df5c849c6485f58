import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { CONFIG_CHECKSUM_ANNOTATION, configChecksum } from "./config-checksum";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { Construct } from "constructs";
import type { PgbouncerSettings } from "../config/schema";
import { SIZES } from "../config/sizes";
import { IMAGES, POOLER_GID, POOLER_UID } from "../config/versions";
import { objectLabels, selectorLabels } from "./labels";
import type { NamespaceRef } from "./platform-namespace";
import { type SecretKeyRef, secretFilesVolume } from "./platform-secrets";
import { DisruptionBudget } from "./pod-disruption-budget";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "./security";
import { monitoringPeers } from "./network";
import { suppress, suppressSideLoadedPullPolicy } from "./suppressions";
import { literalList, literalMap } from "./terraform-text";
import { nodeFailureTolerations, spreadOverNodesAndZones, surgeOnlyRollingUpdate } from "./scheduling";

export const PGBOUNCER_NAME = "pgbouncer";
export const PGBOUNCER_PORT = 6432;
export const PGBOUNCER_METRICS_PORT = 9127;
/** Where the init container writes the auth file, and PgBouncer reads it. */
export const AUTH_DIR = "/etc/pgbouncer/auth";
const CONFIG_DIR = "/etc/pgbouncer/config";
const SECRETS_DIR = "/run/secrets/platform";
/** Where the server's CA certificate is mounted, when PgBouncer verifies the server. */
const SERVER_CA_DIR = "/etc/pgbouncer/server-ca";

export interface PgbouncerProps {
  readonly namespace: NamespaceRef;
  readonly settings: PgbouncerSettings;
  /** The database PgBouncer serves, and the Postgres Service it connects to. */
  readonly database: string;
  readonly postgresHost: string;
  readonly postgresPort: number;
  /** Pod labels of the Postgres pods PgBouncer may reach (every instance of a cluster). */
  readonly postgresLabels: Record<string, string>;
  /**
   * Verify the server over TLS against this CA certificate (CloudNativePG's `<cluster>-ca`, key
   * `ca.crt`): the read-write Service's name must be in the server's certificate.
   * @default plain TCP (the StatefulSet, inside the pod network)
   */
  readonly serverCa?: SecretKeyRef;
  /** The role the services log in as, and its password. */
  readonly appUser: string;
  readonly appPassword: SecretKeyRef;
  /** The monitoring role (PgBouncer's `stats_users`), and its password. */
  readonly monitoringUser: string;
  readonly monitoringPassword: SecretKeyRef;
  /** Pod labels of the clients admitted: the database-using services. */
  readonly clients: readonly Record<string, string>[];
  readonly monitoringNamespace: string;
  readonly imagePullPolicy: "Always" | "IfNotPresent";
}

/**
 * `pgbouncer.ini` from typed config. Accepted by PgBouncer 1.18 (Debian's, which the tests run)
 * and 1.24 (the image): no setting newer than 1.18 (so no `max_prepared_statements`; clients turn
 * off server-side prepared statements instead, see the README).
 * @see https://www.pgbouncer.org/config.html
 */
export function renderPgbouncerIni(
  props: Pick<PgbouncerProps, "settings" | "database" | "postgresHost" | "postgresPort" | "monitoringUser" | "serverCa">,
  where: { readonly authFile?: string; readonly hbaFile?: string; readonly listenAddress?: string; readonly listenPort?: number; readonly serverCaFile?: string } = {},
): string {
  const s = props.settings;
  return [
    "; Rendered from config/<environment>.ts by constructs/pgbouncer.ts. Do not edit by hand.",
    "[databases]",
    `${props.database} = host=${props.postgresHost} port=${props.postgresPort} dbname=${props.database}`,
    "",
    "[pgbouncer]",
    `listen_addr = ${where.listenAddress ?? "0.0.0.0"}`,
    `listen_port = ${where.listenPort ?? PGBOUNCER_PORT}`,
    // No Unix socket: the root filesystem is read-only, and every client comes over TCP.
    "unix_socket_dir =",
    // scram-sha-256 for every client, but the exporter beside PgBouncer in the same pod (see pg_hba.conf).
    "auth_type = hba",
    `auth_hba_file = ${where.hbaFile ?? `${CONFIG_DIR}/pg_hba.conf`}`,
    `auth_file = ${where.authFile ?? `${AUTH_DIR}/userlist.txt`}`,
    `pool_mode = ${s.poolMode}`,
    `default_pool_size = ${s.defaultPoolSize}`,
    `reserve_pool_size = ${s.reservePoolSize}`,
    `reserve_pool_timeout = ${s.reservePoolTimeoutSeconds}`,
    // The server side never exceeds the pools, whatever the clients do.
    `max_db_connections = ${s.defaultPoolSize + s.reservePoolSize}`,
    `max_client_conn = ${s.maxClientConn}`,
    `server_lifetime = ${s.serverLifetimeSeconds}`,
    `server_idle_timeout = ${s.serverIdleTimeoutSeconds}`,
    // Session state must not leak between clients sharing a server connection.
    `server_reset_query = ${s.poolMode === "session" ? "DISCARD ALL" : ""}`,
    // Drivers send these at startup; PgBouncer would otherwise refuse the connection.
    "ignore_startup_parameters = extra_float_digits,options",
    // After a failover the read-write Service answers from the new primary within seconds: retry a
    // failed server login after 1 s, not the default 15.
    "server_login_retry = 1",
    // A server whose node vanished sends no reset: keepalives find the dead connection in about a minute.
    "tcp_keepalive = 1",
    "tcp_keepidle = 30",
    "tcp_keepintvl = 10",
    "tcp_keepcnt = 3",
    ...(props.serverCa ? ["server_tls_sslmode = verify-full", `server_tls_ca_file = ${where.serverCaFile ?? `${SERVER_CA_DIR}/ca.crt`}`] : []),
    `stats_users = ${props.monitoringUser}`,
    "log_connections = 0",
    "log_disconnections = 0",
    "log_pooler_errors = 1",
    "",
  ].join("\n");
}

/**
 * Who may connect how: the monitoring role to the admin console from inside the pod (the
 * exporter, over loopback) without a password, so the exporter needs no secret at all; every
 * other connection with scram-sha-256.
 * @see https://www.pgbouncer.org/config.html#hba-file-format
 */
export function renderPgbouncerHba(monitoringUser: string): string {
  return [
    "# Rendered by constructs/pgbouncer.ts. Do not edit by hand.",
    `host pgbouncer ${monitoringUser} 127.0.0.1/32 trust`,
    "host all all 0.0.0.0/0 scram-sha-256",
    "host all all ::/0 scram-sha-256",
    "",
  ].join("\n");
}

/**
 * The init container's script: the auth file from the Secret's files, one `"user" "password"` line
 * per role, quotes doubled as PgBouncer's format wants, mode 0600.
 */
export function renderAuthScript(appUser: string, monitoringUser: string, dirs: { readonly secrets?: string; readonly auth?: string } = {}): string {
  const secrets = dirs.secrets ?? SECRETS_DIR;
  return [
    "set -eu",
    "umask 077",
    `q() { sed 's/"/""/g' "$1"; }`,
    `printf '"%s" "%s"\\n' ${appUser} "$(q ${secrets}/app-password)" ${monitoringUser} "$(q ${secrets}/monitoring-password)" >${dirs.auth ?? AUTH_DIR}/userlist.txt`,
  ].join("\n");
}

/** pgbouncer_exporter's connection: the admin console over loopback, as the monitoring role. */
export function exporterConnection(monitoringUser: string, port = PGBOUNCER_PORT): string {
  return `--pgBouncer.connectionString=postgres://${monitoringUser}@127.0.0.1:${port}/pgbouncer?sslmode=disable`;
}

/** The readiness probe: PgBouncer answers the protocol (an authentication refusal is an answer). */
export function readinessCommand(monitoringUser: string, port = PGBOUNCER_PORT): string[] {
  return ["pg_isready", "-h", "127.0.0.1", "-p", String(port), "-U", monitoringUser, "-d", "pgbouncer"];
}

/**
 * PgBouncer in front of Postgres: a Deployment (the pooler is stateless), its auth file written
 * from the Secret by an init container, pgbouncer_exporter beside it, a Service, a PDB and a
 * NetworkPolicy that admits exactly the database-using services and lets PgBouncer reach Postgres
 * and nothing else.
 */
export class Pgbouncer extends Construct {
  readonly deployment: DeploymentV1;
  readonly service: ServiceV1;
  readonly host: string;
  readonly port = PGBOUNCER_PORT;

  constructor(scope: Construct, id: string, props: PgbouncerProps) {
    super(scope, id);
    const namespace = props.namespace.name;
    const name = PGBOUNCER_NAME;
    const selector = selectorLabels(name);
    const labels = objectLabels(name, "pooler");
    this.host = `${name}.${props.namespace.literalName}.svc.cluster.local`;
    const runAs = { user: POOLER_UID, group: POOLER_GID };

    const account = new ServiceAccountV1(this, "service-account", { metadata: { name, namespace, labels }, automountServiceAccountToken: false });
    const configFiles = {
      "pgbouncer.ini": renderPgbouncerIni(props),
      "pg_hba.conf": renderPgbouncerHba(props.monitoringUser),
      "write-auth-file.sh": renderAuthScript(props.appUser, props.monitoringUser),
    };
    const config = new ConfigMapV1(this, "config", {
      metadata: { name: `${name}-config`, namespace, labels },
      data: literalMap(configFiles),
    });

    const secrets = secretFilesVolume("secrets", [
      { file: "app-password", ref: props.appPassword },
      { file: "monitoring-password", ref: props.monitoringPassword },
    ]);
    const tcp = { tcpSocket: [{ port: "pgbouncer" }] };
    this.deployment = new DeploymentV1(this, "deployment", {
      metadata: { name, namespace, labels },
      waitForRollout: true,
      spec: {
        replicas: String(props.settings.replicas),
        revisionHistoryLimit: 5,
        selector: { matchLabels: selector },
        strategy: surgeOnlyRollingUpdate(),
        template: {
          // PgBouncer reads its files at start; a changed pool size or HBA rule rolls the pods
          // (surge first, so the pool never shrinks) instead of waiting for their next restart.
          metadata: { labels, annotations: { [CONFIG_CHECKSUM_ANNOTATION]: configChecksum({ [`${name}-config`]: configFiles }) } },
          spec: {
            serviceAccountName: account.metadata.name,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            // Clients reconnect on close; give them the pool's lifetime to finish in-flight work.
            terminationGracePeriodSeconds: 60,
            securityContext: restrictedPodSecurityContext(runAs),
            topologySpreadConstraint: spreadOverNodesAndZones(selector),
            // Stateless like the services: off a failed node in 30 s, not the cluster's 300 s.
            toleration: nodeFailureTolerations(),
            initContainer: [
              {
                name: "auth-file",
                image: IMAGES.pgbouncer,
                imagePullPolicy: props.imagePullPolicy,
                command: literalList(["sh", `${CONFIG_DIR}/write-auth-file.sh`]),
                resources: { requests: { ...SIZES.poolerInit.requests }, limits: { ...SIZES.poolerInit.limits } },
                securityContext: restrictedContainerSecurityContext(runAs),
                volumeMount: [
                  { name: "config", mountPath: CONFIG_DIR, readOnly: true },
                  { name: "auth", mountPath: AUTH_DIR },
                  { name: "secrets", mountPath: SECRETS_DIR, readOnly: true },
                ],
              },
            ],
            container: [
              {
                name: "pgbouncer",
                image: IMAGES.pgbouncer,
                imagePullPolicy: props.imagePullPolicy,
                command: literalList(["pgbouncer", `${CONFIG_DIR}/pgbouncer.ini`]),
                port: [{ name: "pgbouncer", containerPort: PGBOUNCER_PORT, protocol: "TCP" }],
                resources: { requests: { ...props.settings.resources.requests }, limits: { ...props.settings.resources.limits } },
                securityContext: restrictedContainerSecurityContext(runAs),
                livenessProbe: { ...tcp, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
                // Ready once it answers the protocol (an authentication refusal is an answer).
                readinessProbe: {
                  exec: { command: literalList(readinessCommand(props.monitoringUser)) },
                  periodSeconds: 5,
                  timeoutSeconds: 3,
                  failureThreshold: 3,
                },
                volumeMount: [
                  { name: "config", mountPath: CONFIG_DIR, readOnly: true },
                  { name: "auth", mountPath: AUTH_DIR, readOnly: true },
                  ...(props.serverCa ? [{ name: "server-ca", mountPath: SERVER_CA_DIR, readOnly: true }] : []),
                ],
              },
              {
                name: "metrics",
                image: IMAGES.pgbouncerExporter,
                imagePullPolicy: props.imagePullPolicy,
                // Over loopback, which pg_hba.conf trusts for the monitoring role: no password.
                args: literalList([exporterConnection(props.monitoringUser), `--web.listen-address=:${PGBOUNCER_METRICS_PORT}`]),
                port: [{ name: "metrics", containerPort: PGBOUNCER_METRICS_PORT, protocol: "TCP" }],
                resources: { requests: { ...SIZES.exporter.requests }, limits: { ...SIZES.exporter.limits } },
                securityContext: restrictedContainerSecurityContext(runAs),
                livenessProbe: { httpGet: { path: "/", port: "metrics" }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
                readinessProbe: { httpGet: { path: "/metrics", port: "metrics" }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
              },
            ],
            volume: [
              { name: "config", configMap: { name: config.metadata.name, defaultMode: "0444" } },
              { name: "auth", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
              secrets,
              // The CA's certificate only: the Secret also holds the CA's private key.
              ...(props.serverCa ? [secretFilesVolume("server-ca", [{ file: "ca.crt", ref: props.serverCa }])] : []),
            ],
          },
        },
      },
    });
    suppress(
      this.deployment,
      "CKV_K8S_43",
      "PgBouncer and its exporter are pinned by version tag in config/versions.ts; pin them by digest there to pin them by content",
    );
    suppressSideLoadedPullPolicy(this.deployment, props.imagePullPolicy);

    this.service = new ServiceV1(this, "service", {
      metadata: { name, namespace, labels },
      spec: {
        type: "ClusterIP",
        selector,
        port: [
          { name: "pgbouncer", port: PGBOUNCER_PORT, targetPort: "pgbouncer", protocol: "TCP" },
          { name: "metrics", port: PGBOUNCER_METRICS_PORT, targetPort: "metrics", protocol: "TCP" },
        ],
      },
    });

    new DisruptionBudget(this, "disruption-budget", { namespace, name, labels, selector, guaranteedReplicas: props.settings.replicas, maxUnavailable: 1 });

    new NetworkPolicyV1(this, "network-policy", {
      metadata: { name, namespace, labels },
      spec: {
        podSelector: { matchLabels: selector },
        policyTypes: ["Ingress", "Egress"],
        ingress: [
          ...(props.clients.length > 0 ? [{ from: props.clients.map((matchLabels) => ({ podSelector: { matchLabels } })), ports: [{ port: "pgbouncer", protocol: "TCP" }] }] : []),
          { from: monitoringPeers(props.monitoringNamespace), ports: [{ port: "metrics", protocol: "TCP" }] },
        ],
        egress: [{ to: [{ podSelector: { matchLabels: props.postgresLabels } }], ports: [{ port: String(props.postgresPort), protocol: "TCP" }] }],
      },
    });
  }
}

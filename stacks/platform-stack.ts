import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import {
  Annotations,
  DefaultTokenResolver,
  dependable,
  LocalBackend,
  PgBackend,
  type PgBackendConfig,
  S3Backend,
  StringConcat,
  TerraformElement,
  TerraformOutput,
  type TerraformResource,
  TerraformStack,
  Tokenization,
} from "cdktf";
import { deepMerge } from "cdktf/lib/util";
import { resolveFast } from "./resolve";
import type { Construct } from "constructs";
import type { PlatformConfig } from "../config/load";
import { objectLabels, selectorLabels } from "../constructs/labels";
import { MIGRATION_NAME, MigrationJob } from "../constructs/migration-job";
import { DiffIdentity } from "../constructs/diff-identity";
import { Monitoring } from "../constructs/monitoring";
import { imageReference, Microservice } from "../constructs/microservice";
import { PlatformNamespace } from "../constructs/platform-namespace";
import { PlatformSecrets, type SecretFile } from "../constructs/platform-secrets";
import { Postgres } from "../constructs/postgres";
import { DatabaseOperator } from "../constructs/database-operator";
import { PostgresCluster } from "../constructs/postgres-cluster";
import { CLUSTER_LABEL, clusterSecrets, POD_ROLE_LABEL } from "../constructs/postgres-cluster-values";
import type { CloudNativePgSettings } from "../config/schema";
import { Redis } from "../constructs/redis";
import { contractFiles, contractSettings, DATABASE_PASSWORD_FILE, REDIS_PASSWORD_FILES, redisPurposes, usesRedis } from "../constructs/service-contract";
import { namespaceQuota, serviceWorkloads } from "../config/capacity";
import { MONITORING_ROLE } from "../config/semantics";
import { NamespaceQuota } from "../constructs/namespace-quota";
import { GRAFANA_NAME, monitoredDatabase } from "../constructs/monitoring-values";
import { ServiceIngress } from "../constructs/service-ingress";
import { STAND_IN_MIGRATION_COMMAND } from "../constructs/stand-in";
import { IMAGES } from "../config/versions";
import { Pgbouncer, PGBOUNCER_NAME } from "../constructs/pgbouncer";
import { literal } from "../constructs/terraform-text";
import { markDataBearing, protectDataBearing } from "../constructs/data-bearing";
import { LOCAL_BACKEND } from "./local-state";
import { DEFAULT_API_SERVER, DEFAULT_NODE_CIDRS } from "../config/network";

/** The oldest Terraform whose S3 backend locks with `use_lockfile` (1.10.0). */
export const S3_LOCKFILE_TERRAFORM = ">= 1.10.0";

export interface PlatformStackProps {
  readonly config: PlatformConfig;
  /**
   * Data-bearing resources (constructs/data-bearing.ts) whose `prevent_destroy` this synth lifts,
   * by Terraform address: `scripts/deploy.sh --allow-destroy`.
   * @default none
   */
  readonly allowDestroy?: readonly string[];
}

/**
 * One environment of the platform: providers, backend, namespace, data tier, migrations and the
 * services. The stack's id is the environment's name, which `cdktf diff <env>` takes.
 */
export class PlatformStack extends TerraformStack {
  readonly config: PlatformConfig;
  readonly namespace: PlatformNamespace;
  readonly services: readonly Microservice[];
  readonly redis?: Redis;
  /** The StatefulSet database (topology `statefulset`). */
  readonly postgres?: Postgres;
  /** The CloudNativePG cluster (topology `cloudnative-pg`), and its operator. */
  readonly cluster?: PostgresCluster;
  readonly databaseOperator?: DatabaseOperator;
  /** Absent when the services connect to Postgres directly. */
  readonly pgbouncer?: Pgbouncer;
  readonly quota: NamespaceQuota;
  /** One Ingress per public service. */
  readonly ingresses: readonly ServiceIngress[];
  readonly migration: MigrationJob;
  readonly monitoring: Monitoring;
  /** The read-only identity of a pull request's plan: reads what this stack manages. */
  readonly diffIdentity: DiffIdentity;
  /**
   * The Terraform JSON of the stack as the last `toTerraform()` (the one synth writes) produced it:
   * the policy gate and the interpolation guard evaluate exactly this, without resolving again.
   */
  private synthesizedJson?: Record<string, any>;

  constructor(scope: Construct, props: PlatformStackProps) {
    const { config } = props;
    super(scope, config.environment);
    this.config = config;

    this.addBackend(config);

    const cluster = { configPath: literal(config.cluster.kubeconfigPath), configContext: literal(config.cluster.context) };
    new KubernetesProvider(this, "kubernetes", cluster);
    new HelmProvider(this, "helm", { kubernetes: cluster });

    this.namespace = new PlatformNamespace(this, "namespace", { name: config.namespace, dns: config.dns });
    this.quota = new NamespaceQuota(this, "quota", { namespace: this.namespace.name, hard: namespaceQuota(config).hard, nodeSize: config.nodeSize });
    const topology = config.postgres.topology;
    const clusterNames = topology.kind === "cloudnative-pg" ? clusterSecrets(topology) : undefined;
    const secrets = new PlatformSecrets(this, "secrets", {
      namespace: this.namespace.name,
      mode: config.secrets.mode,
      redis: !!config.redis,
      cluster:
        topology.kind === "cloudnative-pg"
          ? {
              appSecret: clusterNames!.app,
              appUser: config.postgres.appUser,
              monitoringSecret: clusterNames!.monitoring,
              monitoringUser: MONITORING_ROLE,
              backupSecret: topology.backup?.objectStore.credentialsSecretName,
            }
          : undefined,
    });

    const dbClients = config.services.filter((s) => s.usesDatabase);
    const redisClients = config.services.filter((s) => usesRedis(config, s));

    // Postgres admits PgBouncer where it runs, else the database-using services; and the
    // migration Job, which always connects directly (session features).
    const postgresClients = [...(config.pgbouncer ? [selectorLabels(PGBOUNCER_NAME)] : dbClients.map((s) => selectorLabels(s.name))), selectorLabels(MIGRATION_NAME)];
    // Where Postgres answers, whatever runs it, and what must exist before its clients start.
    let server: { host: string; port: number; labels: Record<string, string>; ready: TerraformResource };
    if (topology.kind === "cloudnative-pg") {
      this.databaseOperator = new DatabaseOperator(this, "database-operator", {
        namespace: topology.operatorNamespace,
        platformNamespace: config.namespace,
        plugin: !!topology.backup,
        imagePullPolicy: config.imagePullPolicy,
        dns: config.dns,
        apiServer: config.cluster.apiServer ?? DEFAULT_API_SERVER,
      });
      this.cluster = new PostgresCluster(this, "postgres-cluster", {
        namespace: this.namespace,
        releaseNamespace: this.databaseOperator.namespaceResource.metadata.name,
        postgres: config.postgres,
        topology,
        imagePullPolicy: config.imagePullPolicy,
        peers: { clients: postgresClients, operatorNamespace: topology.operatorNamespace, monitoringNamespace: config.monitoringNamespace, apiServer: config.cluster.apiServer ?? DEFAULT_API_SERVER },
      });
      // The Cluster's CRDs and webhook come with the operator, its ObjectStore's with the plugin.
      // The release's record lives in the operator's namespace, its pods in the platform's: it
      // waits for the policies of both (test/stacks/release-order.test.ts).
      this.cluster.release.dependsOn = [
        dependable(this.databaseOperator.plugin ?? this.databaseOperator.operator),
        dependable(this.cluster.networkPolicy),
        ...this.databaseOperator.networkPolicies.map((p) => dependable(p)),
      ];
      this.warnAboutPlaceholderBucket(topology);
      server = { host: this.cluster.host, port: this.cluster.port, labels: { [CLUSTER_LABEL]: topology.name, [POD_ROLE_LABEL]: "instance" }, ready: this.cluster.release };
    } else {
      this.postgres = new Postgres(this, "postgres", {
        namespace: this.namespace,
        settings: config.postgres,
        superuserPassword: secrets.postgresSuperuserPassword!,
        appPassword: secrets.postgresAppPassword,
        monitoringPassword: secrets.postgresMonitoringPassword,
        clients: postgresClients,
        monitoringNamespace: config.monitoringNamespace,
      });
      server = { host: `postgres.${config.namespace}.svc.cluster.local`, port: this.postgres.port, labels: selectorLabels("postgres"), ready: this.postgres.server.statefulSet };
    }
    if (config.pgbouncer) {
      this.pgbouncer = new Pgbouncer(this, "pgbouncer", {
        namespace: this.namespace,
        settings: config.pgbouncer,
        database: config.postgres.database,
        postgresHost: server.host,
        postgresPort: server.port,
        postgresLabels: server.labels,
        serverCa: clusterNames ? { secretName: clusterNames.ca, key: "ca.crt" } : undefined,
        appUser: config.postgres.appUser,
        appPassword: secrets.postgresAppPassword,
        monitoringUser: MONITORING_ROLE,
        monitoringPassword: secrets.postgresMonitoringPassword,
        clients: dbClients.map((s) => selectorLabels(s.name)),
        monitoringNamespace: config.monitoringNamespace,
        imagePullPolicy: config.imagePullPolicy,
      });
      this.pgbouncer.deployment.dependsOn = [dependable(server.ready)];
    }
    const database = this.pgbouncer ? { labels: selectorLabels(PGBOUNCER_NAME), port: this.pgbouncer.port } : { labels: server.labels, port: server.port };
    if (config.redis) {
      this.redis = new Redis(this, "redis", {
        namespace: this.namespace,
        settings: config.redis,
        passwords: secrets.redisPasswords!,
        clients: redisClients.map((s) => selectorLabels(s.name)),
        monitoringNamespace: config.monitoringNamespace,
      });
    }

    const callersOf = (name: string) => config.services.filter((s) => s.calls.includes(name)).map((s) => s.name);
    const portOf = new Map(config.services.map((s) => [s.name, s.port]));
    const dbPassword: SecretFile = { file: DATABASE_PASSWORD_FILE, ref: secrets.postgresAppPassword };

    const built = config.services.map((service) => {
      const purposes = redisPurposes(config, service);
      const redis = purposes.length > 0;
      return new Microservice(this, service.name, {
        namespace: this.namespace,
        environment: config.environment,
        service,
        autoscaling: config.autoscalingEnabled,
        imagePullPolicy: config.imagePullPolicy,
        callees: service.calls.map((name) => ({ name, port: portOf.get(name)! })),
        callers: callersOf(service.name),
        ingressController: config.ingressController,
        monitoringNamespace: config.monitoringNamespace,
        platformSettings: contractSettings(config, service),
        files: contractFiles(config, service),
        secretFiles: [
          ...(service.usesDatabase ? [dbPassword] : []),
          ...purposes.map((p) => ({ file: REDIS_PASSWORD_FILES[p], ref: secrets.redisPasswords![p] })),
        ],
        standIn: config.standInImages,
        dataServices: [
          ...(service.usesDatabase ? [database] : []),
          ...(redis && this.redis ? [{ labels: selectorLabels("redis"), port: this.redis.port }] : []),
        ],
      });
    });
    this.services = built;

    // Migrations run with the migrating service's image and settings, before any Deployment rolls.
    const migrator = built.find((m) => m.name === config.migrations.service)!;
    const migratorConfig = config.services.find((s) => s.name === config.migrations.service)!;
    this.migration = new MigrationJob(this, "migration", {
      namespace: this.namespace,
      release: migratorConfig.image,
      image: config.standInImages ? IMAGES.standIn : imageReference(migratorConfig),
      imagePullPolicy: config.imagePullPolicy,
      command: config.standInImages ? STAND_IN_MIGRATION_COMMAND : config.migrations.command,
      configMapName: migrator.configMap.metadata.name,
      secretFiles: [dbPassword],
      backoffLimit: config.migrations.backoffLimit,
      timeoutSeconds: config.migrations.timeoutSeconds,
      database: { host: server.host, labels: server.labels, port: server.port, sslmode: topology.kind === "cloudnative-pg" ? "require" : "disable" },
      waitImage: topology.kind === "cloudnative-pg" ? IMAGES.cnpgPostgres : undefined,
    });
    // The schema is migrated before any database user rolls; the Job waits for Postgres.
    this.migration.job.dependsOn = [dependable(server.ready)];
    for (const [i, service] of built.entries()) {
      if (!config.services[i]!.usesDatabase) continue;
      const after = [dependable(this.migration.job), ...(this.pgbouncer ? [dependable(this.pgbouncer.deployment)] : [])];
      for (const track of service.tracks) track.deployment.resource.dependsOn = after;
    }

    // Public services, reached through the ingress controller: one Ingress per route.
    this.ingresses = built
      .filter((m) => Object.hasOwn(config.ingress.routes, m.name))
      .map((m) => {
        const route = config.ingress.routes[m.name]!;
        return new ServiceIngress(m, "ingress", {
          namespace: this.namespace.name,
          name: m.name,
          labels: objectLabels(m.name, "service"),
          host: route.host,
          paths: route.paths,
          service: { name: m.service.metadata.name, port: "http" },
          className: config.ingress.className,
          tls: config.ingress.tls,
        });
      });

    this.monitoring = new Monitoring(this, "monitoring", {
      platformNamespace: this.namespace,
      namespace: config.monitoringNamespace,
      environment: config.environment,
      settings: config.monitoring,
      hpaMetrics: built.flatMap((m) => m.tracks.flatMap((t) => t.autoscaler?.customMetricNames ?? [])),
      secretsMode: config.secrets.mode,
      pooler: !!config.pgbouncer,
      redis: !!config.redis,
      database: monitoredDatabase(config),
      autoscaling: config.autoscalingEnabled,
      dns: config.dns,
      apiServer: config.cluster.apiServer ?? DEFAULT_API_SERVER,
      nodeCidrs: config.cluster.nodeCidrs ?? DEFAULT_NODE_CIDRS,
      grafanaIngressFrom: config.ingress.grafanaHost ? config.ingressController : undefined,
    });
    if (config.ingress.grafanaHost) {
      new ServiceIngress(this.monitoring, "grafana-ingress", {
        namespace: this.monitoring.namespaceResource.metadata.name,
        name: GRAFANA_NAME,
        labels: { "app.kubernetes.io/part-of": "agent-platform", "app.kubernetes.io/managed-by": "cdktf" },
        host: config.ingress.grafanaHost,
        paths: ["/"],
        service: { name: GRAFANA_NAME, port: 80 },
        className: config.ingress.className,
        tls: config.ingress.tls,
      });
    }
    // Last: it reads every resource above to grant exactly their reads.
    this.diffIdentity = new DiffIdentity(this, "diff-identity", { namespace: this.namespace, stack: this });
    this.warnAboutPerPodRateLimits();

    // What a deletion or re-creation loses. The StatefulSets with volumes mark themselves
    // (constructs/stateful-service.ts); deleting a namespace deletes every volume claim and
    // hand-made Secret in it; the monitoring release owns Prometheus' volume claim.
    markDataBearing(this.namespace.resource, `namespace ${config.namespace}: the database's and Redis' volume claims, and the Secrets made by hand`);
    markDataBearing(this.monitoring.namespaceResource, `namespace ${config.monitoringNamespace}: Prometheus' volume claim and the Secrets made by hand (grafana-admin, pagerduty)`);
    markDataBearing(this.monitoring.stack, "kube-prometheus-stack: Prometheus' metrics history (its volume claim)");
    // A laptop's cluster is rebuilt at will and `terraform destroy` must just work there; staging
    // and production refuse, in Terraform itself, any plan that deletes these.
    protectDataBearing(this, { preventDestroy: config.environment !== "local", allowDestroy: props.allowDestroy });
    this.warnAboutDefaultClusterAddresses();
  }

  /** Resolves the stack (once per synth) and keeps the result for the checks that follow. */
  override toTerraform(): any {
    this.synthesizedJson = this.resolveOnce();
    return this.synthesizedJson;
  }

  /**
   * cdktf 0.21's `TerraformStack.toTerraform()`, minus its last step. cdktf resolves every
   * element's fragment, merges them, and then resolves the whole merged tree a second time, where
   * only the stack-level overrides can still hold tokens: about a third of synth's time, for
   * nothing. This resolves each fragment and the stack's overrides once, in the same order (with
   * `resolveFast`, which leaves cdktf only the values that hold tokens), and drops the
   * `undefined` the second pass would have dropped. cdktf is final upstream, so this cannot drift;
   * a test holds its output byte-identical to cdktf's own for every stack.
   */
  private resolveOnce(): Record<string, any> {
    const self = this as unknown as { rawOverrides: Record<string, unknown>; cdktfVersion: string };
    const slow = (obj: unknown) => Tokenization.resolve(obj, { scope: this, preparing: false, resolver: RESOLVER });
    const resolve = (obj: unknown) => resolveFast(obj, slow) as any;
    const elements = terraformElements(this);
    const metadata: Record<string, unknown> = {
      version: self.cdktfVersion,
      stackName: this.node.id,
      backend: "local",
      cloud: undefined,
      ...(Object.keys(self.rawOverrides).length > 0 ? { overrides: { stack: Object.keys(self.rawOverrides) } } : {}),
    };
    for (const element of elements) deepMerge(metadata, resolve(element.toMetadata()));
    if (metadata.cloud === undefined) delete metadata.cloud;
    const outputs: Record<string, unknown> = {};
    for (const element of elements) {
      if (!TerraformOutput.isTerraformOutput(element)) continue;
      deepMerge(
        outputs,
        element.node.path.split("/").reduceRight<Record<string, unknown>>((inner, part) => (Object.keys(inner).length === 0 ? { [part]: element.friendlyUniqueId } : { [part]: inner }), {}),
      );
    }
    const tf: Record<string, any> = { "//": { metadata, outputs } };
    for (const element of elements) deepMerge(tf, resolve(element.toTerraform()));
    deepMerge(tf, resolve(self.rawOverrides));
    return tf;
  }

  /** The JSON synth wrote; resolves now if the stack was never synthesized. */
  get synthesized(): Record<string, any> {
    return this.synthesizedJson ?? this.toTerraform();
  }

  private addBackend(config: PlatformConfig): void {
    const backend = config.backend;
    switch (backend.type) {
      case "local":
        // Relative to the stack's folder, where Terraform runs: `state` there is synth's link to
        // the project's private .state/<env>/ (stacks/local-state.ts). The same path for every
        // output directory, machine and clone.
        new LocalBackend(this, { path: literal(LOCAL_BACKEND.path), workspaceDir: literal(LOCAL_BACKEND.workspaceDir) });
        return;
      case "s3":
        {
          const placeholders = (["bucket", "dynamodbTable"] as const).filter((field) => backend[field]?.startsWith("replace-with-"));
          if (placeholders.length > 0) {
            Annotations.of(this).addWarning(
              `${config.environment}: ${placeholders.map((f) => `backend.${f}`).join(" and ")} in config/${config.environment}.ts still ${placeholders.length === 1 ? "holds the shipped placeholder" : "hold the shipped placeholders"}; terraform init fails until ${placeholders.length === 1 ? "it names" : "they name"} your own (docs/operations.md, "State backends")`,
            );
          }
        }
        new S3Backend(this, {
          bucket: backend.bucket,
          key: backend.key ?? `agent-platform/${config.environment}.tfstate`,
          region: backend.region,
          encrypt: backend.encrypt,
          ...(backend.dynamodbTable ? { dynamodbTable: backend.dynamodbTable } : {}),
        });
        // S3-native state locking (Terraform >= 1.10; the DynamoDB table is deprecated since
        // 1.11). cdktf 0.21's S3Backend has no field for it, so it is set as an override.
        this.addOverride("terraform.backend.s3.use_lockfile", true);
        // An older Terraform then stops with "Unsupported Terraform Core version" naming this
        // constraint, instead of "An argument named use_lockfile is not expected here" at init.
        this.addOverride("terraform.required_version", S3_LOCKFILE_TERRAFORM);
        return;
      case "pg":
        // conn_str is left out on purpose: Terraform reads it from PG_CONN_STR at init, so the
        // connection's password is never in the JSON. The binding's type insists on it.
        new PgBackend(this, { schemaName: backend.schemaName } as PgBackendConfig);
        return;
    }
  }

  /** Every metric an HPA reads must be served by the adapter, or the HPA never scales on it. */
  unservedHpaMetrics(): string[] {
    const served = new Set(this.monitoring.servedMetrics);
    return this.services.flatMap((m) =>
      m.tracks
        .flatMap((t) => t.autoscaler?.customMetricNames ?? [])
        .filter((metric) => !served.has(metric))
        .map((metric) => `${m.name}: its HPA reads '${metric}', which no prometheus-adapter rule serves`),
    );
  }

  /**
   * Outside local, the API server's and the nodes' addresses cannot be guessed: the defaults
   * (every private range) work on most clusters but are wider than the cluster. Say so at synth.
   */
  private warnAboutDefaultClusterAddresses(): void {
    const { config } = this;
    if (config.environment === "local") return;
    const unset = [...(config.cluster.apiServer ? [] : ["cluster.apiServer"]), ...(config.cluster.nodeCidrs ? [] : ["cluster.nodeCidrs"])];
    if (unset.length === 0) return;
    Annotations.of(this).addWarning(
      `${config.environment}: ${unset.join(" and ")} ${unset.length === 1 ? "is" : "are"} not set in config/${config.environment}.ts, so the monitoring namespace's policies take every private range ` +
        `(${DEFAULT_NODE_CIDRS.join(", ")}) for the API server (ports ${DEFAULT_API_SERVER.ports.join(", ")}) and the nodes; set them to your cluster's addresses (docs/configuration.md, "Cluster addresses")`,
    );
  }

  /** The shipped configs' backup bucket is a placeholder, like the state backend's: say so at synth. */
  private warnAboutPlaceholderBucket(topology: CloudNativePgSettings): void {
    const bucket = topology.backup?.objectStore.bucket;
    if (bucket?.startsWith("replace-with-")) {
      Annotations.of(this).addWarning(
        `${this.config.environment}: postgres.topology.backup.objectStore.bucket in config/${this.config.environment}.ts still holds the shipped placeholder; WAL archiving and backups fail until it names your own bucket (docs/operations.md, "Database backups and restore")`,
      );
    }
  }

  /** A memory backend counts per pod: N pods admit N times the tier. Say so at synth. */
  private warnAboutPerPodRateLimits(): void {
    const { config } = this;
    const backend = config.redis ? config.rateLimiting.backend : "memory";
    if (backend !== "memory") return;
    for (const [i, service] of config.services.entries()) {
      if (!service.rateLimit) continue;
      // Only the active track serves traffic, so count one track's pods.
      const track = serviceWorkloads(service)[0]!.pods;
      const pods = config.autoscalingEnabled ? track.on.max : track.off.max;
      if (pods <= 1) continue;
      const tier = config.rateLimiting.tiers[service.rateLimit.defaultTier];
      Annotations.of(this.services[i]!).addWarning(
        `${service.name}: rate limiting uses the in-memory backend with up to ${pods} pods, so the effective limit is ` +
          `${pods} x the tier (${service.rateLimit.defaultTier}: ${pods * tier.requests} requests per ${tier.windowSeconds} s, not ${tier.requests}). ` +
          'Use rateLimiting.backend "redis" for one limit across pods.',
      );
    }
  }
}

const RESOLVER = new DefaultTokenResolver(new StringConcat());

/** The stack's Terraform elements in construct order, not descending into nested stacks (as cdktf). */
function terraformElements(node: Construct, into: TerraformElement[] = []): TerraformElement[] {
  if (TerraformElement.isTerraformElement(node)) into.push(node);
  for (const child of node.node.children) if (!TerraformStack.isStack(child)) terraformElements(child, into);
  return into;
}

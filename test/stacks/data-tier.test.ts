import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, it } from "node:test";
import { Testing } from "cdktf";
import { parse } from "yaml";
import { ENVIRONMENT_NAMES } from "../../config/schema";
import { REDIS_SECRET_KEYS } from "../../constructs/redis";
import { PlatformStack } from "../../stacks/platform-stack";
import { type Json, loadConfig, named, rawEnvironment, resources, synthEnvironment, testApp } from "../helpers";
import { unescapeLiteral } from "../../constructs/terraform-text-plain";
import { BACKUP_SECRET_KEYS, clusterSecrets } from "../../constructs/postgres-cluster-values";
import { MONITORING_ROLE } from "../../config/semantics";
import { IMAGES, POSTGRES_MAJOR } from "../../config/versions";
import { constructWarnings } from "../../stacks/synthesize";
import { MIGRATION_NAME, releaseSlug } from "../../constructs/migration-job";
import { usesRedis } from "../../constructs/service-contract";
import { deploymentNames, isBlueGreen, serviceWhere, withCache, withRateLimitEndpoints } from "../catalogue";

/** The values of a stack's CloudNativePG cluster release. */
const clusterValues = (json: Json): Json => parse(unescapeLiteral(Object.values(resources(json, "helm_release")).find((r) => r.chart === "cluster")!.values[0])) as Json;

// Services picked by what they are (test/catalogue.ts), from the shipped configs.
const productionConfig = loadConfig("production");
const localConfig = loadConfig("local");
/** Uses the database and Redis: its pods mount both passwords. */
const DB_AND_REDIS = serviceWhere(productionConfig, "a service that uses the database and Redis", (s) => s.usesDatabase && usesRedis(productionConfig, s));
const trackVariable = (service: string) => `active_track_${service.replace(/-/g, "_")}`;

const podEnv = (json: Json, deployment: string) => named(json, "kubernetes_deployment_v1", deployment).spec.template.spec.container[0];

describe("PlatformStack data tier", () => {
  const production = synthEnvironment("production");
  const local = synthEnvironment("local");

  it("runs Redis and Postgres from the official images, pinned", () => {
    const images = (json: Json) => Object.values(resources(json, "kubernetes_stateful_set_v1")).flatMap((s) => s.spec.template.spec.container.map((c: Json) => c.image)).sort();
    // Production's Postgres is a CloudNativePG cluster (CloudNativePG's own image, the same major).
    assert.deepEqual(images(production), ["oliver006/redis_exporter:v1.67.0", "redis:7.4.2-bookworm"]);
    assert.equal(clusterValues(production).cluster.imageName, IMAGES.cnpgPostgres);
    assert.match(IMAGES.cnpgPostgres, new RegExp(`:${POSTGRES_MAJOR}\\.`));
    assert.match(IMAGES.postgres, new RegExp(`^postgres:${POSTGRES_MAJOR}\\.`));
    assert.deepEqual(images(local), [IMAGES.postgres, IMAGES.postgresExporter].sort());
  });

  it("runs Postgres as the config's topology says: a StatefulSet locally, a CloudNativePG cluster elsewhere", () => {
    for (const [env, json] of [["local", local], ["staging", synthEnvironment("staging")], ["production", production]] as const) {
      const topology = loadConfig(env).postgres.topology;
      const statefulSets = Object.values(resources(json, "kubernetes_stateful_set_v1")).map((s) => s.metadata.name);
      const clusters = Object.values(resources(json, "helm_release")).filter((r) => r.chart === "cluster");
      if (topology.kind === "statefulset") {
        assert.ok(statefulSets.includes("postgres"), env);
        assert.equal(clusters.length, 0, env);
      } else {
        assert.ok(!statefulSets.includes("postgres"), env);
        assert.equal(clusters.length, 1, env);
        assert.equal(clusterValues(json).cluster.instances, topology.instances, env);
      }
    }
    // No Redis locally.
    assert.ok(!Object.values(resources(local, "kubernetes_stateful_set_v1")).some((s) => s.metadata.name === "redis"));
  });

  it("moves every Deployment off a failed node after 30 s, and leaves the data tier on the cluster's 300 s", () => {
    for (const [id, d] of Object.entries(resources(production, "kubernetes_deployment_v1"))) {
      const seconds = (d.spec.template.spec.toleration ?? []).map((t: Json) => `${t.key}=${t.toleration_seconds}`);
      assert.deepEqual(seconds, ["node.kubernetes.io/not-ready=30", "node.kubernetes.io/unreachable=30"], id);
    }
    // No toleration of its own: the DefaultTolerationSeconds admission plugin adds 300 s.
    for (const [id, s] of Object.entries(resources(production, "kubernetes_stateful_set_v1"))) assert.equal(s.spec.template.spec.toleration, undefined, id);
  });

  it("keeps every password out of the JSON: Secrets by reference in production, sensitive variables locally", () => {
    // Production's only variables are the blue-green switches, which hold no secret.
    assert.deepEqual(Object.keys(production.variable ?? {}).sort(), productionConfig.services.filter(isBlueGreen).map((s) => trackVariable(s.name)).sort());
    assert.deepEqual(resources(production, "kubernetes_secret_v1"), {});
    assert.deepEqual(Object.keys(local.variable).sort(), ["grafana_admin_password", "postgres_app_password", "postgres_monitoring_password", "postgres_superuser_password"]);
    // With Redis in variable mode: one sensitive variable per Redis user, one key each in redis-auth.
    const raw = rawEnvironment("staging");
    raw.secrets = { mode: "variable" };
    const variable = synthEnvironment("staging", {}, raw);
    assert.deepEqual(named(variable, "kubernetes_secret_v1", "redis-auth").data, {
      "cache-password": "${var.redis_cache_password}",
      "exporter-password": "${var.redis_exporter_password}",
      "ratelimit-password": "${var.redis_ratelimit_password}",
    });
    for (const v of ["redis_cache_password", "redis_exporter_password", "redis_ratelimit_password"]) assert.equal(variable.variable[v].sensitive, true, v);
    for (const v of Object.values(local.variable as Record<string, Json>)) assert.equal(v.sensitive, true);
    const secret = named(local, "kubernetes_secret_v1", "postgres-auth");
    assert.deepEqual(secret.data, {
      "app-password": "${var.postgres_app_password}",
      "monitoring-password": "${var.postgres_monitoring_password}",
      "superuser-password": "${var.postgres_superuser_password}",
    });
  });

  it("never puts a password in a literal env value", () => {
    for (const json of [production, local]) {
      const text = JSON.stringify(json);
      for (const match of text.matchAll(/\{"name":"([A-Z_]*(PASSWORD|PASS|AUTH)[A-Z_]*)","value":"([^"]*)"/g)) {
        // *_FILE variables name a mounted Secret file, or the exporter's file Redis' init container writes from one.
        if (!match[1]!.endsWith("_FILE")) assert.fail(`literal value for ${match[1]}`);
        assert.match(match[3]!, /^\/(run\/secrets\/platform|etc\/platform-secrets|run\/redis\/exporter)\//, match[1]);
      }
    }
  });

  it("delivers the services' passwords as files from a projected Secret volume, not env", () => {
    const deployment = deploymentNames(DB_AND_REDIS)[0]!;
    const container = podEnv(production, deployment);
    assert.equal(container.env, undefined);
    assert.ok(container.volume_mount.some((m: Json) => m.name === "secrets" && m.mount_path === "/etc/platform-secrets" && m.read_only === true));
    const volume = named(production, "kubernetes_deployment_v1", deployment).spec.template.spec.volume.find((v: Json) => v.name === "secrets");
    assert.equal(volume.projected[0].default_mode, "0440");
    // The gateway uses the database, rate-limits with Redis and caches: one file per purpose. On
    // CloudNativePG, the application role's basic-auth Secret (key password), as the operator reads it.
    const topology = loadConfig("production").postgres.topology;
    const app = topology.kind === "cloudnative-pg" ? [clusterSecrets(topology).app, "password"] : ["postgres-auth", "app-password"];
    assert.deepEqual(
      volume.projected[0].sources.map((s: Json) => [s.secret[0].name, s.secret[0].items[0].key, s.secret[0].items[0].path]),
      [
        [...app, "database-password"],
        ["redis-auth", "ratelimit-password", "redis-ratelimit-password"],
        ["redis-auth", "cache-password", "redis-cache-password"],
      ],
    );
    const settings = named(production, "kubernetes_config_map_v1", `${DB_AND_REDIS.name}-settings`).data;
    assert.equal(settings.PLATFORM_DATABASE_PASSWORD_FILE, "/etc/platform-secrets/database-password");
    assert.equal(settings.PLATFORM_REDIS_RATELIMIT_USER, "ratelimit");
    assert.equal(settings.PLATFORM_REDIS_RATELIMIT_PASSWORD_FILE, "/etc/platform-secrets/redis-ratelimit-password");
    assert.equal(settings.PLATFORM_REDIS_CACHE_USER, "cache");
    assert.equal(settings.PLATFORM_REDIS_CACHE_PASSWORD_FILE, "/etc/platform-secrets/redis-cache-password");
    assert.equal(settings.PLATFORM_REDIS_PASSWORD_FILE, undefined);
  });

  it("gives each service a Redis user per purpose it has, and only those", () => {
    const config = loadConfig("production");
    for (const service of config.services) {
      const data = named(production, "kubernetes_config_map_v1", `${service.name}-settings`).data;
      const spec = Object.values(resources(production, "kubernetes_deployment_v1")).find((d) => d.metadata.name.startsWith(service.name))!.spec.template.spec;
      const keys = (spec.volume.find((v: Json) => v.name === "secrets")?.projected[0].sources ?? []).map((s: Json) => s.secret[0].items[0].key);
      const rateLimits = service.rateLimit !== undefined && config.rateLimiting.backend === "redis";
      assert.equal(data.PLATFORM_REDIS_RATELIMIT_USER, rateLimits ? "ratelimit" : undefined, service.name);
      assert.equal(data.PLATFORM_REDIS_CACHE_USER, service.cache ? "cache" : undefined, service.name);
      assert.equal(keys.includes("ratelimit-password"), rateLimits, service.name);
      assert.equal(keys.includes("cache-password"), service.cache !== undefined, service.name);
    }
    // With the memory backend, nobody gets the rate limiter's user.
    const raw = rawEnvironment("staging");
    raw.rateLimiting.backend = "memory";
    const memory = synthEnvironment("staging", {}, raw);
    assert.ok(!JSON.stringify(memory).includes("PLATFORM_REDIS_RATELIMIT_USER"));
    assert.ok(JSON.stringify(memory).includes("PLATFORM_REDIS_CACHE_USER"));
  });

  it("mounts in each container of the data tier only the Secret keys it uses", () => {
    const mounted = (workload: Json, container: string) => {
      const spec = workload.spec.template.spec;
      const c = [...(spec.init_container ?? []), ...spec.container].find((x: Json) => x.name === container);
      return ((c.volume_mount ?? []) as Json[])
        .map((m) => spec.volume.find((v: Json) => v.name === m.name))
        .flatMap((v: Json | undefined) => (v?.projected?.[0].sources ?? []).map((s: Json) => `${s.secret[0].name}/${s.secret[0].items[0].key}`))
        .sort();
    };
    // The StatefulSet topology (local): the postgres-auth keys, each where it is read.
    const postgres = named(local, "kubernetes_stateful_set_v1", "postgres");
    assert.deepEqual(mounted(postgres, "postgres"), ["postgres-auth/app-password", "postgres-auth/monitoring-password", "postgres-auth/superuser-password"]);
    assert.deepEqual(mounted(postgres, "metrics"), ["postgres-auth/monitoring-password"]);
    assert.deepEqual(mounted(Object.values(resources(local, "kubernetes_job_v1"))[0]!, "migrate"), ["postgres-auth/app-password"]);
    const redis = named(production, "kubernetes_stateful_set_v1", "redis");
    assert.deepEqual(mounted(redis, "acl"), ["redis-auth/cache-password", "redis-auth/exporter-password", "redis-auth/ratelimit-password"]);
    assert.deepEqual(mounted(redis, "redis"), []);
    assert.deepEqual(mounted(redis, "metrics"), []);
    // The CloudNativePG topology (production): the cluster's basic-auth Secrets; no superuser
    // password exists anywhere (the chart's enableSuperuserAccess is false).
    const topology = loadConfig("production").postgres.topology;
    assert.equal(topology.kind, "cloudnative-pg");
    const secrets = clusterSecrets(topology);
    const pgbouncer = named(production, "kubernetes_deployment_v1", "pgbouncer");
    assert.deepEqual(mounted(pgbouncer, "auth-file"), [`${secrets.app}/password`, `${secrets.monitoring}/password`].sort());
    // The cluster's CA certificate (public), to verify the server it connects to.
    assert.deepEqual(mounted(pgbouncer, "pgbouncer"), [`${secrets.ca}/ca.crt`]);
    assert.deepEqual(mounted(pgbouncer, "metrics"), []);
    const migration = Object.values(resources(production, "kubernetes_job_v1"))[0]!;
    assert.deepEqual(mounted(migration, "migrate"), [`${secrets.app}/password`]);
    assert.ok(!JSON.stringify(production).includes("superuser-password"));
  });

  it("documents redis-auth with exactly the keys the Redis users read", () => {
    const docs = readFileSync(resolve(__dirname, "../../../docs/operations.md"), "utf8");
    const commands = [...docs.matchAll(/create secret generic redis-auth((?:[^\n]*\\\n)*[^\n]*)/g)].map((m) => m[1]!);
    assert.ok(commands.length >= 2, "the first deploy and the upgrade both create redis-auth");
    for (const command of commands) {
      assert.deepEqual([...command.matchAll(/--from-literal=([a-z-]+)=/g)].map((m) => m[1]).sort(), Object.values(REDIS_SECRET_KEYS).sort(), command);
    }
  });

  it("documents the cluster's Secrets with exactly the names, types, user names and keys the stack reads", () => {
    const docs = readFileSync(resolve(__dirname, "../../../docs/operations.md"), "utf8");
    const config = loadConfig("production");
    const topology = config.postgres.topology;
    assert.equal(topology.kind, "cloudnative-pg");
    const names = clusterSecrets(topology);
    const command = (name: string) => new RegExp(`create secret generic ${name}((?:[^\\n]*\\\\\\n)*[^\\n]*)`).exec(docs)?.[1] ?? "";
    const keys = (text: string) => [...text.matchAll(/--from-literal=([A-Za-z_-]+)=/g)].map((m) => m[1]).sort();
    for (const [name, user] of [[names.app, config.postgres.appUser], [names.monitoring, MONITORING_ROLE]] as const) {
      const text = command(name);
      assert.match(text, /--type=kubernetes\.io\/basic-auth/, name);
      assert.deepEqual(keys(text), ["password", "username"], name);
      assert.match(text, new RegExp(`--from-literal=username=${user} `), name);
    }
    assert.deepEqual(keys(command(topology.backup!.objectStore.credentialsSecretName)), Object.values(BACKUP_SECRET_KEYS).sort());
  });

  it("initialises the StatefulSet's Postgres with scram-sha-256 for socket and loopback logins too", () => {
    const env = named(local, "kubernetes_stateful_set_v1", "postgres").spec.template.spec.container[0].env as Json[];
    assert.equal(env.find((e) => e.name === "POSTGRES_INITDB_ARGS")?.value, "--auth-local=scram-sha-256 --auth-host=scram-sha-256");
  });

  it("delivers the configured pool to every database user, through PgBouncer where it runs, and to no other service", () => {
    const settings = (json: Json, name: string) => named(json, "kubernetes_config_map_v1", `${name}-settings`).data;
    const { pool } = productionConfig.postgres;
    for (const service of productionConfig.services) {
      const s = settings(production, service.name);
      if (!service.usesDatabase) {
        assert.equal(s.PLATFORM_DATABASE_HOST, undefined, service.name);
        continue;
      }
      assert.deepEqual(
        [s.PLATFORM_DATABASE_POOL_MIN, s.PLATFORM_DATABASE_POOL_MAX, s.PLATFORM_DATABASE_POOL_TIMEOUT_SECONDS, s.PLATFORM_DATABASE_POOL_RECYCLE_SECONDS, s.PLATFORM_DATABASE_POOL_PRE_PING],
        [pool.minConnections, pool.maxConnections, pool.timeoutSeconds, pool.recycleSeconds, pool.prePing].map(String),
        service.name,
      );
      // Through PgBouncer in production; the pool mode tells the driver what it may not do.
      assert.equal(s.PLATFORM_DATABASE_HOST, `pgbouncer.${productionConfig.namespace}.svc.cluster.local`);
      assert.equal(s.PLATFORM_DATABASE_PORT, "6432");
      assert.equal(s.PLATFORM_DATABASE_POOLING, `pgbouncer-${productionConfig.pgbouncer!.poolMode}`);
    }
    // Local goes straight to Postgres.
    const direct = settings(local, localConfig.services.find((x) => x.usesDatabase)!.name);
    assert.deepEqual([direct.PLATFORM_DATABASE_HOST, direct.PLATFORM_DATABASE_PORT, direct.PLATFORM_DATABASE_POOLING], [`postgres.${localConfig.namespace}.svc.cluster.local`, "5432", "direct"]);
  });

  it("mounts the rate-limit file with the environment's tiers and the service's overrides", () => {
    const limited = withRateLimitEndpoints(productionConfig);
    const files = named(production, "kubernetes_config_map_v1", `${limited.name}-files`).data;
    const limits = parse(files["rate-limits.yaml"]);
    assert.deepEqual(limits.tiers, productionConfig.rateLimiting.tiers);
    assert.equal(limits.backend, "redis");
    assert.equal(limits.defaultTier, limited.rateLimit!.defaultTier);
    assert.deepEqual(limits.endpoints, limited.rateLimit!.endpoints);
    const container = podEnv(production, deploymentNames(limited).at(-1)!);
    assert.deepEqual(container.volume_mount[1], { name: "platform", mount_path: "/etc/platform", read_only: true });
    assert.equal(named(production, "kubernetes_config_map_v1", `${limited.name}-settings`).data.PLATFORM_RATE_LIMIT_CONFIG, "/etc/platform/rate-limits.yaml");
  });

  it("falls back to in-memory rate limiting where there is no Redis", () => {
    const limited = serviceWhere(localConfig, "a rate-limited service", (s) => s.rateLimit !== undefined).name;
    const limits = parse(named(local, "kubernetes_config_map_v1", `${limited}-files`).data["rate-limits.yaml"]);
    assert.equal(limits.backend, "memory");
    assert.equal(limits.redisKeyPrefix, undefined);
    assert.equal(named(local, "kubernetes_config_map_v1", `${limited}-settings`).data.PLATFORM_REDIS_HOST, undefined);
  });

  it("mounts the cache file with TTLs and a versioned key prefix", () => {
    const cached = withCache(productionConfig);
    const cache = parse(named(production, "kubernetes_config_map_v1", `${cached.name}-files`).data["cache.yaml"]);
    assert.deepEqual(cache, {
      version: 1,
      service: cached.name,
      backend: "redis",
      keyPrefix: `cache:${cached.name}:v${cached.cache!.keyVersion}`,
      defaultTtlSeconds: cached.cache!.defaultTtlSeconds,
      ttlSeconds: cached.cache!.ttlSeconds,
    });
  });

  it("admits only Redis' users to Redis; to Postgres, PgBouncer and the migration where PgBouncer runs, else the database users", () => {
    const clients = (json: Json, name: string) =>
      named(json, "kubernetes_network_policy_v1", name).spec.ingress[0].from.map((f: Json) => f.pod_selector.match_labels["app.kubernetes.io/name"]);
    const dbUsers = productionConfig.services.filter((s) => s.usesDatabase).map((s) => s.name);
    assert.deepEqual(clients(production, "redis"), productionConfig.services.filter((s) => usesRedis(productionConfig, s)).map((s) => s.name));
    // The cluster's pods admit each other (replication), then PgBouncer and the migration.
    const cluster = named(production, "kubernetes_network_policy_v1", "postgres").spec.ingress[0].from;
    assert.deepEqual(cluster[0], { pod_selector: { match_labels: { "cnpg.io/cluster": "postgres" } } });
    assert.deepEqual(cluster.slice(1).map((f: Json) => f.pod_selector.match_labels["app.kubernetes.io/name"]), ["pgbouncer", "db-migrate"]);
    assert.deepEqual(clients(production, "pgbouncer"), dbUsers);
    assert.deepEqual(clients(local, "postgres"), [...dbUsers, "db-migrate"]);
    // PgBouncer itself reaches the cluster's instances and nothing else.
    const egress = named(production, "kubernetes_network_policy_v1", "pgbouncer").spec.egress;
    assert.deepEqual(egress, [{ to: [{ pod_selector: { match_labels: { "cnpg.io/cluster": "postgres", "cnpg.io/podRole": "instance" } } }], ports: [{ port: "5432", protocol: "TCP" }] }]);
    const localEgress = named(local, "kubernetes_network_policy_v1", "db-migrate").spec.egress;
    assert.deepEqual(localEgress, [{ to: [{ pod_selector: { match_labels: { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": "agent-platform" } } }], ports: [{ port: "5432", protocol: "TCP" }] }]);
  });

  it("runs the migration straight against Postgres, past the pooler (session features): the primary, over TLS, once it answers", () => {
    const job = Object.values(resources(production, "kubernetes_job_v1"))[0]!.spec.template.spec;
    assert.deepEqual(Object.fromEntries((job.container[0].env as Json[]).map((e) => [e.name, e.value])), {
      PLATFORM_DATABASE_HOST: "postgres-rw.agent-platform.svc.cluster.local",
      PLATFORM_DATABASE_PORT: "5432",
      PLATFORM_DATABASE_POOLING: "direct",
      PLATFORM_DATABASE_SSLMODE: "require",
    });
    // Helm does not wait for a Cluster: the Job's init container waits for the read-write Service.
    assert.deepEqual(job.init_container[0].command, ["sh", "-c", "until pg_isready -q -h postgres-rw.agent-platform.svc.cluster.local -p 5432; do sleep 2; done"]);
    assert.equal(job.init_container[0].image, IMAGES.cnpgPostgres);
    const localJob = Object.values(resources(local, "kubernetes_job_v1"))[0]!.spec.template.spec;
    assert.equal(localJob.init_container, undefined);
    assert.deepEqual(Object.fromEntries((localJob.container[0].env as Json[]).map((e) => [e.name, e.value])), {
      PLATFORM_DATABASE_HOST: "postgres.agent-platform.svc.cluster.local",
      PLATFORM_DATABASE_PORT: "5432",
      PLATFORM_DATABASE_POOLING: "direct",
      PLATFORM_DATABASE_SSLMODE: "disable",
    });
  });

  it("runs the migration once per release, before the database users roll", () => {
    const jobs = Object.entries(resources(production, "kubernetes_job_v1"));
    assert.equal(jobs.length, 1);
    const [id, job] = jobs[0]!;
    const migrator = productionConfig.services.find((s) => s.name === productionConfig.migrations.service)!;
    assert.equal(job.metadata.name, `${MIGRATION_NAME}-${releaseSlug(migrator.image)}`);
    const databaseUsers = new Set(productionConfig.services.filter((s) => s.usesDatabase).flatMap(deploymentNames));
    assert.equal(job.wait_for_completion, true);
    assert.equal(job.spec.backoff_limit, 2);
    assert.equal(job.spec.ttl_seconds_after_finished, undefined);
    const pooler = Object.keys(resources(production, "kubernetes_deployment_v1")).find((k) => k.startsWith("pgbouncer"))!;
    // The Job waits for the database release (and, in the pod, for the read-write Service).
    const clusterId = Object.entries(resources(production, "helm_release")).find(([, r]) => r.chart === "cluster")![0];
    assert.deepEqual(job.depends_on, [`helm_release.${clusterId}`]);
    for (const d of Object.values(resources(production, "kubernetes_deployment_v1"))) {
      if (d.metadata.name === "pgbouncer") assert.deepEqual(d.depends_on, [`helm_release.${clusterId}`]);
      else if (databaseUsers.has(d.metadata.name)) assert.deepEqual(d.depends_on, [`kubernetes_job_v1.${id}`, `kubernetes_deployment_v1.${pooler}`], d.metadata.name);
      else assert.equal(d.depends_on, undefined, d.metadata.name);
    }
  });

  it("names the migration after the release it carries", () => {
    const raw = rawEnvironment("staging");
    raw.services[raw.migrations.service].image = { tag: "2.3.0-rc.1" };
    assert.equal(Object.values(resources(synthEnvironment("staging", {}, raw), "kubernetes_job_v1"))[0]!.metadata.name, "db-migrate-2-3-0-rc-1");
  });

  it("gives Redis a volume only when persistence is on", () => {
    const redis = named(production, "kubernetes_stateful_set_v1", "redis");
    assert.equal(redis.spec.volume_claim_template[0].spec.resources.requests.storage, "10Gi");
    const raw = rawEnvironment("staging");
    raw.redis.persistence = false;
    delete raw.redis.storage;
    const ephemeral = named(synthEnvironment("staging", {}, raw), "kubernetes_stateful_set_v1", "redis");
    assert.equal(ephemeral.spec.volume_claim_template, undefined);
    assert.deepEqual(ephemeral.spec.template.spec.volume[0], { name: "data", empty_dir: {} });
  });

  it("probes Redis as its probe user and Postgres with pg_isready", () => {
    const redis = named(production, "kubernetes_stateful_set_v1", "redis").spec.template.spec.container[0];
    assert.deepEqual(redis.readiness_probe.exec.command, [
      "sh",
      "-c",
      'REDISCLI_AUTH="$(cat /run/redis/acl/probe-password)" redis-cli --user probe -h 127.0.0.1 -p 6379 ping | grep -q PONG',
    ]);
    assert.deepEqual(redis.command, ["redis-server", "/etc/redis/redis.conf", "--dir", "/data"]);
    const pg = named(local, "kubernetes_stateful_set_v1", "postgres").spec.template.spec.container[0];
    assert.equal(pg.readiness_probe.exec.command[0], "pg_isready");
  });

  it("warns that an in-memory limit multiplies by the pod count", () => {
    const raw = rawEnvironment("staging");
    raw.rateLimiting.backend = "memory";
    const app = testApp();
    const config = loadConfig("staging", {}, raw);
    const stack = new PlatformStack(app, { config });
    Testing.synth(stack);
    const warnings = constructWarnings(stack);
    // A rate-limited service running several pods with autoscaling off.
    const limited = serviceWhere(config, "a rate-limited service of several pods", (s) => s.rateLimit !== undefined && s.replicas > 1);
    const [pods, tierName] = [limited.replicas, limited.rateLimit!.defaultTier];
    const tier = config.rateLimiting.tiers[tierName];
    const expected = `${limited.name}: rate limiting uses the in-memory backend with up to ${pods} pods, so the effective limit is ${pods} x the tier (${tierName}: ${pods * tier.requests} requests per ${tier.windowSeconds} s, not ${tier.requests})`;
    assert.ok(warnings.some((w) => w.startsWith(expected)), `${expected}\nnot in:\n${warnings.join("\n")}`);
  });

  it("warns about nothing in the shipped configs but the state-backend placeholders and the cluster's unknown addresses", () => {
    for (const env of ENVIRONMENT_NAMES) {
      const app = testApp();
      const stack = new PlatformStack(app, { config: loadConfig(env) });
      const warnings = constructWarnings(stack);
      assert.deepEqual(
        warnings,
        env === "local"
          ? []
          : [
              `${env}: backend.bucket in config/${env}.ts still holds the shipped placeholder; terraform init fails until it names your own (docs/operations.md, "State backends")`,
              `${env}: postgres.topology.backup.objectStore.bucket in config/${env}.ts still holds the shipped placeholder; WAL archiving and backups fail until it names your own bucket (docs/operations.md, "Database backups and restore")`,
              `${env}: cluster.apiServer and cluster.nodeCidrs are not set in config/${env}.ts, so the monitoring namespace's policies take every private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) for the API server (ports 443, 6443) and the nodes; set them to your cluster's addresses (docs/configuration.md, "Cluster addresses")`,
            ],
        env,
      );
    }
  });
});

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
import { constructWarnings } from "../../stacks/synthesize";

const podEnv = (json: Json, deployment: string) => named(json, "kubernetes_deployment_v1", deployment).spec.template.spec.container[0];

describe("PlatformStack data tier", () => {
  const production = synthEnvironment("production");
  const local = synthEnvironment("local");

  it("runs Redis and Postgres from the official images, pinned", () => {
    const images = Object.values(resources(production, "kubernetes_stateful_set_v1")).flatMap((s) => s.spec.template.spec.container.map((c: Json) => c.image));
    assert.deepEqual(images.sort(), [
      "oliver006/redis_exporter:v1.67.0",
      "postgres:17.2-bookworm",
      "quay.io/prometheuscommunity/postgres-exporter:v0.16.0",
      "redis:7.4.2-bookworm",
    ]);
  });

  it("runs no Redis locally, and a Postgres everywhere", () => {
    assert.deepEqual(
      Object.values(resources(local, "kubernetes_stateful_set_v1")).map((s) => s.metadata.name),
      ["postgres"],
    );
  });

  it("keeps every password out of the JSON: Secrets by reference in production, sensitive variables locally", () => {
    // Production's only variables are the blue-green switches, which hold no secret.
    assert.deepEqual(Object.keys(production.variable).sort(), ["active_track_api_gateway", "active_track_web_dashboard"]);
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
    const container = podEnv(production, "api-gateway-blue");
    assert.equal(container.env, undefined);
    assert.ok(container.volume_mount.some((m: Json) => m.name === "secrets" && m.mount_path === "/etc/platform-secrets" && m.read_only === true));
    const volume = named(production, "kubernetes_deployment_v1", "api-gateway-blue").spec.template.spec.volume.find((v: Json) => v.name === "secrets");
    assert.equal(volume.projected[0].default_mode, "0440");
    // The gateway uses the database, rate-limits with Redis and caches: one file per purpose.
    assert.deepEqual(
      volume.projected[0].sources.map((s: Json) => [s.secret[0].name, s.secret[0].items[0].key, s.secret[0].items[0].path]),
      [
        ["postgres-auth", "app-password", "database-password"],
        ["redis-auth", "ratelimit-password", "redis-ratelimit-password"],
        ["redis-auth", "cache-password", "redis-cache-password"],
      ],
    );
    const settings = named(production, "kubernetes_config_map_v1", "api-gateway-settings").data;
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
    const postgres = named(production, "kubernetes_stateful_set_v1", "postgres");
    assert.deepEqual(mounted(postgres, "postgres"), ["postgres-auth/app-password", "postgres-auth/monitoring-password", "postgres-auth/superuser-password"]);
    assert.deepEqual(mounted(postgres, "metrics"), ["postgres-auth/monitoring-password"]);
    const redis = named(production, "kubernetes_stateful_set_v1", "redis");
    assert.deepEqual(mounted(redis, "acl"), ["redis-auth/cache-password", "redis-auth/exporter-password", "redis-auth/ratelimit-password"]);
    assert.deepEqual(mounted(redis, "redis"), []);
    assert.deepEqual(mounted(redis, "metrics"), []);
    const pgbouncer = named(production, "kubernetes_deployment_v1", "pgbouncer");
    assert.deepEqual(mounted(pgbouncer, "auth-file"), ["postgres-auth/app-password", "postgres-auth/monitoring-password"]);
    assert.deepEqual(mounted(pgbouncer, "pgbouncer"), []);
    assert.deepEqual(mounted(pgbouncer, "metrics"), []);
    const migration = Object.values(resources(production, "kubernetes_job_v1"))[0]!;
    assert.deepEqual(mounted(migration, "migrate"), ["postgres-auth/app-password"]);
  });

  it("documents redis-auth with exactly the keys the Redis users read", () => {
    const docs = readFileSync(resolve(__dirname, "../../../docs/operations.md"), "utf8");
    const commands = [...docs.matchAll(/create secret generic redis-auth((?:[^\n]*\\\n)*[^\n]*)/g)].map((m) => m[1]!);
    assert.ok(commands.length >= 2, "the first deploy and the upgrade both create redis-auth");
    for (const command of commands) {
      assert.deepEqual([...command.matchAll(/--from-literal=([a-z-]+)=/g)].map((m) => m[1]).sort(), Object.values(REDIS_SECRET_KEYS).sort(), command);
    }
  });

  it("initialises Postgres with scram-sha-256 for socket and loopback logins too", () => {
    const env = named(production, "kubernetes_stateful_set_v1", "postgres").spec.template.spec.container[0].env as Json[];
    assert.equal(env.find((e) => e.name === "POSTGRES_INITDB_ARGS")?.value, "--auth-local=scram-sha-256 --auth-host=scram-sha-256");
  });

  it("delivers the seed's pool to every database user, and to no other service", () => {
    const settings = (name: string) => named(production, "kubernetes_config_map_v1", `${name}-settings`).data;
    for (const name of ["api-gateway", "agent-orchestrator", "model-orchestration", "tool-integration"]) {
      const s = settings(name);
      assert.deepEqual(
        [s.PLATFORM_DATABASE_POOL_MIN, s.PLATFORM_DATABASE_POOL_MAX, s.PLATFORM_DATABASE_POOL_TIMEOUT_SECONDS, s.PLATFORM_DATABASE_POOL_RECYCLE_SECONDS, s.PLATFORM_DATABASE_POOL_PRE_PING],
        ["5", "20", "30", "3600", "true"],
        name,
      );
      // Through PgBouncer in production; the pool mode tells the driver what it may not do.
      assert.equal(s.PLATFORM_DATABASE_HOST, "pgbouncer.agent-platform.svc.cluster.local");
      assert.equal(s.PLATFORM_DATABASE_PORT, "6432");
      assert.equal(s.PLATFORM_DATABASE_POOLING, "pgbouncer-transaction");
    }
    assert.equal(settings("web-dashboard").PLATFORM_DATABASE_HOST, undefined);
    // Local goes straight to Postgres.
    const direct = named(local, "kubernetes_config_map_v1", "agent-orchestrator-settings").data;
    assert.deepEqual([direct.PLATFORM_DATABASE_HOST, direct.PLATFORM_DATABASE_PORT, direct.PLATFORM_DATABASE_POOLING], ["postgres.agent-platform.svc.cluster.local", "5432", "direct"]);
  });

  it("mounts the rate-limit file with the seed's five tiers and the service's overrides", () => {
    const files = named(production, "kubernetes_config_map_v1", "api-gateway-files").data;
    const limits = parse(files["rate-limits.yaml"]);
    assert.deepEqual(limits.tiers, {
      default: { requests: 100, windowSeconds: 60 },
      low: { requests: 50, windowSeconds: 60 },
      high: { requests: 200, windowSeconds: 60 },
      critical: { requests: 500, windowSeconds: 60 },
      unlimited: { requests: 100000, windowSeconds: 60 },
    });
    assert.equal(limits.backend, "redis");
    assert.equal(limits.defaultTier, "default");
    assert.deepEqual(limits.endpoints[0], { path: "/v1/agents/runs", method: "POST", tier: "low" });
    const container = podEnv(production, "api-gateway-green");
    assert.deepEqual(container.volume_mount[1], { name: "platform", mount_path: "/etc/platform", read_only: true });
    assert.equal(named(production, "kubernetes_config_map_v1", "api-gateway-settings").data.PLATFORM_RATE_LIMIT_CONFIG, "/etc/platform/rate-limits.yaml");
  });

  it("falls back to in-memory rate limiting where there is no Redis", () => {
    const limits = parse(named(local, "kubernetes_config_map_v1", "api-gateway-files").data["rate-limits.yaml"]);
    assert.equal(limits.backend, "memory");
    assert.equal(limits.redisKeyPrefix, undefined);
    assert.equal(named(local, "kubernetes_config_map_v1", "api-gateway-settings").data.PLATFORM_REDIS_HOST, undefined);
  });

  it("mounts the cache file with TTLs and a versioned key prefix", () => {
    const cache = parse(named(production, "kubernetes_config_map_v1", "agent-orchestrator-files").data["cache.yaml"]);
    assert.deepEqual(cache, {
      version: 1,
      service: "agent-orchestrator",
      backend: "redis",
      keyPrefix: "cache:agent-orchestrator:v1",
      defaultTtlSeconds: 300,
      ttlSeconds: { agent_definition: 3600, run_status: 5 },
    });
  });

  it("admits only Redis' users to Redis; to Postgres, PgBouncer and the migration where PgBouncer runs, else the database users", () => {
    const clients = (json: Json, name: string) =>
      named(json, "kubernetes_network_policy_v1", name).spec.ingress[0].from.map((f: Json) => f.pod_selector.match_labels["app.kubernetes.io/name"]);
    const dbUsers = loadConfig("production").services.filter((s) => s.usesDatabase).map((s) => s.name);
    assert.deepEqual(clients(production, "redis"), ["api-gateway", "agent-orchestrator", "model-orchestration", "tool-integration", "web-dashboard"]);
    assert.deepEqual(clients(production, "postgres"), ["pgbouncer", "db-migrate"]);
    assert.deepEqual(clients(production, "pgbouncer"), dbUsers);
    assert.deepEqual(clients(local, "postgres"), [...dbUsers, "db-migrate"]);
    // PgBouncer itself reaches Postgres and nothing else.
    const egress = named(production, "kubernetes_network_policy_v1", "pgbouncer").spec.egress;
    assert.deepEqual(egress, [{ to: [{ pod_selector: { match_labels: { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": "agent-platform" } } }], ports: [{ port: "5432", protocol: "TCP" }] }]);
  });

  it("runs the migration straight against Postgres, past the pooler (session features)", () => {
    const env = Object.values(resources(production, "kubernetes_job_v1"))[0]!.spec.template.spec.container[0].env as Json[];
    assert.deepEqual(Object.fromEntries(env.map((e) => [e.name, e.value])), {
      PLATFORM_DATABASE_HOST: "postgres.agent-platform.svc.cluster.local",
      PLATFORM_DATABASE_PORT: "5432",
      PLATFORM_DATABASE_POOLING: "direct",
    });
  });

  it("runs the migration once per release, before the database users roll", () => {
    const jobs = Object.entries(resources(production, "kubernetes_job_v1"));
    assert.equal(jobs.length, 1);
    const [id, job] = jobs[0]!;
    assert.equal(job.metadata.name, "db-migrate-1-0-0");
    assert.equal(job.wait_for_completion, true);
    assert.equal(job.spec.backoff_limit, 2);
    assert.equal(job.spec.ttl_seconds_after_finished, undefined);
    const pooler = Object.keys(resources(production, "kubernetes_deployment_v1")).find((k) => k.startsWith("pgbouncer"))!;
    for (const d of Object.values(resources(production, "kubernetes_deployment_v1"))) {
      if (d.metadata.name.startsWith("web-dashboard")) assert.equal(d.depends_on, undefined);
      else if (d.metadata.name === "pgbouncer") assert.deepEqual(d.depends_on, [`kubernetes_stateful_set_v1.${Object.keys(resources(production, "kubernetes_stateful_set_v1")).find((k) => k.startsWith("postgres"))}`]);
      else assert.deepEqual(d.depends_on, [`kubernetes_job_v1.${id}`, `kubernetes_deployment_v1.${pooler}`], d.metadata.name);
    }
  });

  it("names the migration after the release it carries", () => {
    const raw = rawEnvironment("staging");
    raw.services["agent-orchestrator"].image = { tag: "2.3.0-rc.1" };
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
    const pg = named(production, "kubernetes_stateful_set_v1", "postgres").spec.template.spec.container[0];
    assert.equal(pg.readiness_probe.exec.command[0], "pg_isready");
  });

  it("warns that an in-memory limit multiplies by the pod count", () => {
    const raw = rawEnvironment("staging");
    raw.rateLimiting.backend = "memory";
    const app = testApp();
    const stack = new PlatformStack(app, { config: loadConfig("staging", {}, raw) });
    Testing.synth(stack);
    const warnings = constructWarnings(stack);
    assert.ok(
      warnings.some((w) => /api-gateway: rate limiting uses the in-memory backend with up to 2 pods, so the effective limit is 2 x the tier \(default: 200 requests per 60 s, not 100\)/.test(w)),
      warnings.join("\n"),
    );
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
              `${env}: cluster.apiServer and cluster.nodeCidrs are not set in config/${env}.ts, so the monitoring namespace's policies take every private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) for the API server (ports 443, 6443) and the nodes; set them to your cluster's addresses (docs/configuration.md, "Cluster addresses")`,
            ],
        env,
      );
    }
  });
});

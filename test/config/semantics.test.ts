/**
 * Configs that parse but would not deploy: each class the API server, Postgres or Redis would
 * refuse or misread is refused at synth with the field, the value and the rule. Expectations are
 * derived from the config, so an edit to an environment file does not break these tests.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { connectionBudget, peakPods, serviceWorkloads, surgeOf } from "../../config/capacity";
import { ConfigError } from "../../config/errors";
import { validateCatalog, validateEnvironment } from "../../config/load";
import { isDnsLabel, isLabelValue, labelSafe } from "../../config/names";
import { formatCpu, formatMemory, parseCpuMillis, parseMemoryBytes } from "../../config/quantity";
import { allowedDisruptions } from "../../config/semantics";
import { ENVIRONMENT_NAMES, type EnvironmentName } from "../../config/schema";
import { isRolling, serviceWhere, usesDatabase, withCustomMetrics } from "../catalogue";
import { type Json, loadConfig, rawCatalog, rawEnvironment, resources, synthEnvironment } from "../helpers";
import { SIXTH_SERVICE, VARIANT_ENVIRONMENTS, WITH_SIXTH_SERVICE } from "../variants";

// Services picked by what they are (test/catalogue.ts), from the shipped production config.
const production = loadConfig("production");
const FIRST = production.services[0]!;
/** A database user released rolling: one Deployment, so one peak to count. */
const ROLLING_DB = serviceWhere(production, "a database user released rolling", (s) => usesDatabase(s) && isRolling(s));

/** The problem a mutated environment file fails with, at `field`. */
function refused(env: EnvironmentName, mutate: (raw: Json) => void, field: string, overrides = {}): { value: string; rule: string } {
  const raw = rawEnvironment(env);
  mutate(raw);
  try {
    validateEnvironment(raw, env, validateCatalog(rawCatalog()), overrides);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    const found = error.problems.find((p) => p.field === field);
    assert.ok(found, `no problem at ${field}:\n${error.message}`);
    assert.equal(found.source, `config/${env}.ts`);
    return found;
  }
  return assert.fail(`config/${env}.ts was accepted`);
}

/** Every label value and name in a stack, for the API server's rules. */
function labelsAndNames(json: Json): { where: string; key: string; value: string }[] {
  const out: { where: string; key: string; value: string }[] = [];
  const visit = (node: unknown, where: string) => {
    if (Array.isArray(node)) node.forEach((n, i) => visit(n, `${where}[${i}]`));
    else if (node && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        if ((k === "labels" || k === "match_labels" || k === "selector") && v && typeof v === "object" && !Array.isArray(v)) {
          for (const [lk, lv] of Object.entries(v as Json)) if (typeof lv === "string" && !lv.startsWith("${")) out.push({ where, key: lk, value: lv });
        } else visit(v, `${where}.${k}`);
      }
    }
  };
  visit(json.resource, "resource");
  return out;
}

describe("values that become Kubernetes names and labels", () => {
  it("labels an image whose tag is no label value with a label-safe form", () => {
    const raw = rawEnvironment("staging");
    raw.services[FIRST.name].image = { tag: `release-${"x".repeat(70)}-` };
    raw.services[raw.migrations.service].image = { tag: "2.0.0_rc.1-" };
    const json = synthEnvironment("staging", {}, raw);
    for (const { where, key, value } of labelsAndNames(json)) assert.ok(isLabelValue(value), `${where}: ${key}=${value}`);
    const job = Object.values(resources(json, "kubernetes_job_v1"))[0]!;
    assert.ok(isDnsLabel(job.metadata.name), job.metadata.name);
    assert.equal(job.metadata.labels["app.kubernetes.io/version"], "2.0.0_rc.1");
  });

  it("gives a migrating service pinned by digest only a Job with a valid name and version label", () => {
    const raw = rawEnvironment("production");
    const digest = `sha256:${"ab12".repeat(16)}`;
    raw.services[raw.migrations.service].image = { digest };
    const json = synthEnvironment("production", {}, raw);
    const job = Object.values(resources(json, "kubernetes_job_v1"))[0]!;
    assert.equal(job.metadata.name, `db-migrate-${"ab12".repeat(3)}`);
    assert.equal(job.metadata.labels["app.kubernetes.io/version"], "ab12".repeat(3));
    assert.match(job.spec.template.spec.container[0].image, new RegExp(`@${digest}$`));
  });

  it("derives label values the API server accepts, whatever the input", () => {
    for (const input of ["1.0.0", "a".repeat(100), "-x-", "1.0.0+build.5", "_under_", "v2..3"]) {
      const out = labelSafe(input);
      assert.ok(isLabelValue(out), `${input} -> ${out}`);
    }
  });

  for (const { variant, env } of VARIANT_ENVIRONMENTS) {
    it(`accepts every label and name of ${env}'s stack (${variant.label})`, () => {
      const found = labelsAndNames(variant.stack(env, { enableAutoscaling: true }));
      assert.ok(found.length > 0);
      for (const { where, key, value } of found) assert.ok(isLabelValue(value), `${env} ${where}: ${key}=${value}`);
    });
  }
});

describe("units that parse but mean something else", () => {
  it('refuses CPU "500" (500 cores), with the likely unit', () => {
    // Written as millicores without the m: "500" and "1000" for 500m and 1.
    const cores = parseCpuMillis(production.nodeSize.cpu)! / 1000;
    const mutate = (r: Json) => (r.services[FIRST.name].resources = { requests: { cpu: "500", memory: "512Mi" }, limits: { cpu: "1000", memory: "1Gi" } });
    const p = refused("production", mutate, `services.${FIRST.name}.resources.requests.cpu`);
    assert.equal(p.value, '"500"');
    assert.match(p.rule, new RegExp(`is 500 cores, more than the ${cores} cores of a node \\(nodeSize\\.cpu\\): write millicores with m, such as "500m"`));
    refused("production", mutate, `services.${FIRST.name}.resources.limits.cpu`);
  });

  it('refuses memory "512" (512 bytes), with the likely unit', () => {
    const p = refused("staging", (r) => (r.services[FIRST.name].resources = { requests: { cpu: "100m", memory: "256" }, limits: { cpu: "500m", memory: "512" } }), `services.${FIRST.name}.resources.limits.memory`);
    assert.match(p.rule, /is 512 bytes, less than 1Mi: add a unit, such as "512Mi"/);
    refused("production", (r) => (r.postgres.workMem = "4096"), "postgres.workMem");
  });

  it("refuses a pod that fits on no node, counting its sidecars", () => {
    const p = refused("production", (r) => (r.postgres.resources = { requests: { cpu: "7", memory: "8Gi" }, limits: { cpu: "7", memory: "8Gi" } }), "postgres.resources.requests");
    // A cluster instance: Postgres and the Barman Cloud plugin's sidecar.
    const sidecar = (rawEnvironment("production").postgres.topology.backup.sidecarResources as Json).requests;
    const cpu = formatCpu(7000 + parseCpuMillis(sidecar.cpu)!);
    const memory = formatMemory(8 * 2 ** 30 + parseMemoryBytes(sidecar.memory)!).replace(".", "\\.");
    assert.match(p.rule, new RegExp(`a postgres pod requests ${cpu} CPU and ${memory} \\(with its sidecars\\), more than the smallest node allocates \\(nodeSize 7 CPU, 28Gi\\)`));
    const local = refused("local", (r) => (r.postgres.resources = { requests: { cpu: "4", memory: "1Gi" }, limits: { cpu: "4", memory: "1Gi" } }), "postgres.resources.requests");
    assert.match(local.rule, /a postgres pod requests 4010m CPU and 1\.0Gi \(with its sidecars\)/);
  });

  it("refuses an HPA target of 0, which the API server refuses", () => {
    const scaled = withCustomMetrics(production).name;
    const p = refused("production", (r) => (r.services[scaled].autoscaling.customMetrics[0].targetAverageValue = "0"), `services.${scaled}.autoscaling.customMetrics[0].targetAverageValue`);
    assert.match(p.rule, /must be above 0/);
  });
});

describe("disruption budgets with Kubernetes' rounding", () => {
  it("rounds percentages up, as the disruption controller does", () => {
    assert.equal(allowedDisruptions({ minAvailable: "51%" }, 2), 0);
    assert.equal(allowedDisruptions({ minAvailable: "50%" }, 2), 1);
    assert.equal(allowedDisruptions({ maxUnavailable: "10%" }, 3), 1);
    assert.equal(allowedDisruptions({ minAvailable: 1 }, 1), 0);
  });

  it('refuses minAvailable "51%" on 2 replicas, saying why', () => {
    const p = refused(
      "production",
      (r) => {
        r.services[FIRST.name].replicas = 2;
        r.services[FIRST.name].autoscaling.minReplicas = 2;
        r.services[FIRST.name].disruption = { minAvailable: "51%" };
      },
      `services.${FIRST.name}.disruption`,
    );
    assert.match(p.rule, /minAvailable 51% leaves no pod evictable at 2 pod\(s\) \(51% of 2 rounds up to 2: Kubernetes rounds percentages up\), so every node drain blocks/);
  });

  it("checks the HPA minimum too", () => {
    refused(
      "production",
      (r) => {
        r.services[FIRST.name].replicas = Math.max(2, FIRST.replicas);
        r.services[FIRST.name].autoscaling.minReplicas = 1;
        r.services[FIRST.name].disruption = { minAvailable: "50%" };
      },
      `services.${FIRST.name}.disruption`,
    );
  });
});

describe("data tier sanity", () => {
  it("refuses Postgres memory settings beyond the container's limit, with the arithmetic", () => {
    const p = refused("production", (r) => (r.postgres.sharedBuffers = "7680Mi"), "postgres.sharedBuffers");
    assert.match(p.rule, /shared_buffers 7680Mi \+ max_connections 200 x work_mem 4Mi = 8\.3Gi > the container's memory limit 8Gi/);
  });

  it("refuses reserved role and database names", () => {
    for (const name of ["postgres", "pg_monitor_clone", "public", "agent_platform_monitor"]) {
      assert.match(refused("staging", (r) => (r.postgres.appUser = name), "postgres.appUser").rule, /is reserved/);
    }
    assert.match(refused("staging", (r) => (r.postgres.database = "template1"), "postgres.database").rule, /is reserved/);
  });

  it("refuses a Redis maxmemory below what rate limiting needs", () => {
    const p = refused("production", (r) => (r.redis.maxmemory = "64Mi"), "redis.maxmemory");
    // One counter per client per tier a service uses (its default and its endpoints' tiers).
    const tiers = production.services.reduce((n, s) => n + (s.rateLimit ? new Set([s.rateLimit.defaultTier, ...s.rateLimit.endpoints.map((e) => e.tier)]).size : 0), 0);
    assert.match(p.rule, new RegExp(`is below what rate limiting needs: ${production.rateLimiting.trackedClients} clients x ${tiers} service tiers x 2 windows x \\d+ bytes per counter x 1\\.5`));
  });

  it("refuses a monitoring namespace that is the platform's, or a system one", () => {
    assert.match(refused("staging", (r) => (r.monitoringNamespace = "agent-platform-staging"), "monitoringNamespace").rule, /must differ from namespace/);
    assert.match(refused("staging", (r) => (r.monitoringNamespace = "kube-system"), "monitoringNamespace").rule, /kube-\*/);
  });

  it("refuses skipping kubelet TLS verification outside local", () => {
    refused("production", (r) => (r.monitoring.kubeletInsecureTls = true), "monitoring.kubeletInsecureTls");
  });

  it("refuses alerting whose critical alerts reach nobody, unless the config says why", () => {
    const p = refused("staging", (r) => delete r.monitoring.criticalAlertsUnrouted, "monitoring.pagerduty.enabled");
    assert.match(p.rule, /a critical alert reaches no receiver: enable PagerDuty, or say why nobody is paged/);
  });
});

describe("the connection budget", () => {
  /** Production going straight to Postgres, as it would without PgBouncer. */
  const direct = (raw: Json) => {
    raw.pgbouncer = { enabled: false };
    raw.postgres.maxConnections = 2000;
    raw.postgres.sharedBuffers = "1Gi";
    raw.postgres.workMem = "2Mi";
  };

  for (const { variant, env } of VARIANT_ENVIRONMENTS) {
    it(`holds for ${env} in both autoscaling modes at once, through PgBouncer where it runs (${variant.label})`, () => {
      const config = variant.config(env);
      const budget = connectionBudget(config);
      assert.ok(budget.fits, budget.layers.map((l) => l.arithmetic).join("\n"));
      // Clients -> (PgBouncer ->) Postgres, and a cluster's WAL senders.
      assert.equal(budget.layers.length, (config.pgbouncer ? 2 : 1) + (config.postgres.topology.kind === "cloudnative-pg" ? 1 : 0));
      if (config.postgres.topology.kind === "cloudnative-pg") {
        const server = budget.layers[config.pgbouncer ? 1 : 0]!;
        // Every instance's max_connections holds the operator's own connections too.
        assert.match(server.arithmetic, /\+ exporter 6 \+ instance manager 9 \+ standbys \d+x3=\d+ /);
        assert.match(server.arithmetic, new RegExp(`max_connections ${config.postgres.maxConnections} on each of ${config.postgres.topology.instances} instance`));
      }
    });
  }

  it("refuses a raised HPA maximum at synth, whatever ENABLE_AUTOSCALING says, with the arithmetic", () => {
    const mutate = (r: Json) => {
      direct(r);
      r.services[ROLLING_DB.name].autoscaling.maxReplicas = 80;
    };
    // 80 pods + surge, each worker process with a full pool.
    const [peak, workers, pool] = [80 + surgeOf(80), ROLLING_DB.workerProcesses, production.postgres.pool.maxConnections];
    for (const enableAutoscaling of [false, true]) {
      const p = refused("production", mutate, "postgres.maxConnections", { enableAutoscaling });
      assert.match(p.rule, new RegExp(`${ROLLING_DB.name} ${peak}x${workers}x${pool}=${peak * workers * pool}`));
      assert.match(p.rule, /> max_connections 2000 on each of 3 instance\(s\)/);
    }
  });

  it("counts rollout surge: a budget that fits the maximum but not the rollout is refused", () => {
    const raw = rawEnvironment("production");
    direct(raw);
    const config = validateEnvironment(raw, "production", validateCatalog(rawCatalog()));
    const withoutSurge = config.services
      .filter((s) => s.usesDatabase)
      .reduce((n, s) => n + serviceWorkloads(s).reduce((m, w) => m + Math.max(w.pods.on.max, w.pods.off.max), 0) * s.workerProcesses * config.postgres.pool.maxConnections, 0);
    const layer = connectionBudget(config).layers[0]!;
    const others = layer.need - config.services.filter((s) => s.usesDatabase).reduce((n, s) => n + serviceWorkloads(s).reduce((m, w) => m + peakPods(w), 0) * 20, 0);
    const p = refused("production", (r) => {
      direct(r);
      r.postgres.maxConnections = withoutSurge + others;
    }, "postgres.maxConnections");
    assert.match(p.rule, /rollout surge/);
  });

  it("refuses too few PgBouncer client slots, assuming one PgBouncer pod is down", () => {
    const config = loadConfig("production");
    const clients = connectionBudget(config).layers[0]!.need;
    const p = refused("production", (r) => (r.pgbouncer.maxClientConn = clients - 1), "pgbouncer.maxClientConn");
    assert.match(p.rule, new RegExp(`= ${clients} > max_client_conn ${clients - 1} x 1 PgBouncer pod\\(s\\) \\(2 with one unavailable\\)`));
  });

  it("refuses a Postgres too small for PgBouncer's server pools", () => {
    const p = refused("production", (r) => (r.postgres.maxConnections = 100), "postgres.maxConnections");
    assert.match(p.rule, /PgBouncer -> Postgres.*PgBouncer 3 pods \(2 \+ surge 1\) x \(pool 40 \+ reserve 5\)=135 .* > max_connections 100/);
  });
});

describe("names looked up in config", () => {
  it("never resolves a name through Object.prototype", () => {
    const catalog = rawCatalog();
    catalog[FIRST.name].calls = ["constructor"];
    assert.throws(() => validateCatalog(catalog), new RegExp(`${FIRST.name}\\.calls\\[0\\] = "constructor": must name a service in the catalogue`));
    const raw = rawEnvironment("local");
    raw.migrations.service = "constructor";
    assert.throws(() => validateEnvironment(raw, "local", validateCatalog(rawCatalog())), /migrations\.service = "constructor": must name a service in the catalogue/);
  });
});

describe("adding a service", () => {
  // The invariants themselves run against the extended config in their own files (test/variants.ts):
  // the policy gate, the capacity model, the call graph, the quota, the budget and the summary.
  it(`validates and loads ${SIXTH_SERVICE} in every environment, in catalogue order, with its call paths`, () => {
    for (const env of ENVIRONMENT_NAMES) {
      const config = WITH_SIXTH_SERVICE.config(env);
      assert.deepEqual(config.services.map((s) => s.name), Object.keys(WITH_SIXTH_SERVICE.rawCatalog()));
      assert.equal(config.services.length, loadConfig(env).services.length + 1);
      assert.ok(config.services.some((s) => s.calls.includes(SIXTH_SERVICE)), "a service calls the fixture");
    }
  });

  it("tells exactly what is missing when the catalogue grows but an environment does not", () => {
    assert.throws(
      () => validateEnvironment(rawEnvironment("staging"), "staging", validateCatalog(WITH_SIXTH_SERVICE.rawCatalog())),
      new RegExp(`config/staging\\.ts: services\\.${SIXTH_SERVICE} = \\(missing\\): is in the service catalogue \\(config/services\\.ts\\) and needs settings in every environment`),
    );
  });
});

describe("the database topology", () => {
  const topology = (r: Json) => r.postgres.topology as Json;

  it("refuses more synchronous standbys than the cluster has", () => {
    const p = refused("production", (r) => (topology(r).synchronous.number = 3), "postgres.topology.synchronous.number");
    assert.match(p.rule, /must be at most 2, the standbys of 3 instances/);
  });

  it("refuses required durability that a single drained standby would stop, and says how to fix it", () => {
    const p = refused("production", (r) => (topology(r).synchronous.number = 2), "postgres.topology.synchronous.number");
    assert.match(p.rule, /with dataDurability required, 2 synchronous standby\(s\) of 2 stop every write while one standby is drained.*raise instances to 4, or use dataDurability preferred/);
    const staging = refused("staging", (r) => (topology(r).synchronous.dataDurability = "required"), "postgres.topology.synchronous.number");
    assert.match(staging.rule, /raise instances to 3/);
    // Preferred durability lets the primary go on alone: accepted.
    assert.doesNotThrow(() => loadConfig("staging"));
  });

  it("refuses synchronous replication without a standby", () => {
    const p = refused("staging", (r) => (topology(r).instances = 1), "postgres.topology.synchronous");
    assert.match(p.rule, /needs at least one standby/);
  });

  it("refuses more instances than named zones (one instance per zone)", () => {
    const p = refused("production", (r) => (topology(r).zones = ["eu-west-1a", "eu-west-1b"]), "postgres.topology.zones");
    assert.match(p.rule, /places 3 instances in 2 zones/);
    assert.match(refused("production", (r) => (topology(r).zones = ["eu-west-1a", "eu-west-1a", "eu-west-1b"]), "postgres.topology.zones[1]").rule, /is named twice/);
  });

  it("refuses a production database that cannot fail over or be restored", () => {
    assert.match(refused("production", (r) => (r.postgres.topology = { kind: "statefulset" }), "postgres.topology.kind").rule, /must be cloudnative-pg in production/);
    assert.match(refused("production", (r) => (topology(r).instances = 1), "postgres.topology.instances").rule, /at least 2 in production/);
    assert.match(refused("production", (r) => delete topology(r).backup, "postgres.topology.backup").rule, /is required in production/);
    // Staging may run without backups, and local on one pod.
    assert.doesNotThrow(() => {
      const raw = rawEnvironment("staging");
      delete raw.postgres.topology.backup;
      loadConfig("staging", {}, raw);
    });
  });

  it("refuses a five-field cron schedule, and says CloudNativePG's has six", () => {
    const p = refused("production", (r) => (topology(r).backup.schedule = "0 3 * * *"), "postgres.topology.backup.schedule");
    assert.match(p.rule, /must have six fields, seconds first/);
  });

  it("refuses credentials in the object store's endpoint, without printing them", () => {
    const raw = rawEnvironment("production");
    raw.postgres.topology.backup.objectStore.endpoint = "https://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMIK7MDENG@minio.example.com";
    try {
      validateEnvironment(raw, "production", validateCatalog(rawCatalog()));
      assert.fail("accepted");
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /postgres\.topology\.backup\.objectStore\.endpoint = \(redacted\): must not carry credentials/);
      assert.ok(!error.message.includes("wJalrXUtnFEMIK7MDENG"));
    }
  });

  it("refuses bucket names S3 refuses", () => {
    for (const bucket of ["my..bucket", "192.168.1.10", "UPPER", "ab"]) refused("production", (r) => (topology(r).backup.objectStore.bucket = bucket), "postgres.topology.backup.objectStore.bucket");
  });

  it("refuses a cluster whose Services would collide with a service's", () => {
    const p = refused("production", (r) => (topology(r).name = "api-gateway"), "postgres.topology.name");
    assert.match(p.rule, /makes the Cluster's Services api-gateway-rw, api-gateway-ro, api-gateway-r, and the service api-gateway/);
  });

  it("refuses an operator namespace that is another namespace of the stack, or someone else's", () => {
    assert.match(refused("production", (r) => (topology(r).operatorNamespace = "agent-platform"), "postgres.topology.operatorNamespace").rule, /is also namespace: the database operator and its plugin get a namespace of their own/);
    assert.match(refused("production", (r) => (topology(r).operatorNamespace = "monitoring"), "postgres.topology.operatorNamespace").rule, /is also monitoringNamespace/);
    assert.match(refused("production", (r) => (topology(r).operatorNamespace = "monitoring-node-exporter"), "postgres.topology.operatorNamespace").rule, /node-exporter's namespace/);
    assert.match(refused("production", (r) => (topology(r).operatorNamespace = "kube-system"), "postgres.topology.operatorNamespace").rule, /kube-\*/);
  });
});

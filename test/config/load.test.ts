import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../config/errors";
import { loadEnvironments, validateCatalog, validateEnvironment } from "../../config/load";
import { nonDatabaseUser, withCustomMetrics, withRateLimitEndpoints } from "../catalogue";
import { type Json, loadConfig, rawCatalog, rawEnvironment } from "../helpers";

/** A broken production file: what to break, and the field and rule the error must name. */
interface Case {
  readonly name: string;
  readonly mutate: (raw: Json) => void;
  readonly field: string;
  readonly value: string;
  readonly rule: RegExp;
}

// Services picked by what they are (test/catalogue.ts): the first in the catalogue, and one whose
// HPA reads two custom metrics.
const production = loadConfig("production");
const GW = production.services[0]!;
const MO = withCustomMetrics(production, 2);
const gw = (raw: Json) => raw.services[GW.name];
const mo = (raw: Json) => raw.services[MO.name];
/** A name no catalogue holds. */
const STRANGER = "zz-not-in-the-catalogue";
const FLOOR = Math.min(GW.replicas, GW.autoscaling.minReplicas);
const LAST = production.services[production.services.length - 1]!.name;

const cases: Case[] = [
  { name: "memory request is 500mb", mutate: (r) => (gw(r).resources.requests.memory = "500mb"), field: `services.${GW.name}.resources.requests.memory`, value: '"500mb"', rule: /memory quantity/ },
  { name: "memory is 500m (millibytes)", mutate: (r) => (gw(r).resources.limits.memory = "500m"), field: `services.${GW.name}.resources.limits.memory`, value: '"500m"', rule: /memory quantity/ },
  { name: "cpu is 2 cores spelt 2c", mutate: (r) => (gw(r).resources.requests.cpu = "2c"), field: `services.${GW.name}.resources.requests.cpu`, value: '"2c"', rule: /CPU quantity/ },
  { name: "cpu is zero", mutate: (r) => (gw(r).resources.requests.cpu = "0"), field: `services.${GW.name}.resources.requests.cpu`, value: '"0"', rule: /CPU quantity/ },
  { name: "cpu limit below request", mutate: (r) => (gw(r).resources = { ...gw(r).resources, requests: { ...gw(r).resources.requests, cpu: "2" }, limits: { ...gw(r).resources.limits, cpu: "1" } }), field: `services.${GW.name}.resources.limits.cpu`, value: '"1"', rule: /at least requests.cpu \(2\)/ },
  { name: "cpu request without m, below its limit in cores", mutate: (r) => (gw(r).resources = { ...gw(r).resources, requests: { ...gw(r).resources.requests, cpu: "500" }, limits: { ...gw(r).resources.limits, cpu: "1" } }), field: `services.${GW.name}.resources.limits.cpu`, value: '"1"', rule: /at least requests.cpu \(500\); requests.cpu "500" is 500 cores: for millicores write "500m"/ },
  { name: "memory limit without a unit, below its request", mutate: (r) => (gw(r).resources = { ...gw(r).resources, requests: { ...gw(r).resources.requests, memory: "256Mi" }, limits: { ...gw(r).resources.limits, memory: "512" } }), field: `services.${GW.name}.resources.limits.memory`, value: '"512"', rule: /at least requests.memory \(256Mi\); limits.memory "512" is 512 bytes: add a unit, such as "512Mi"/ },
  { name: "memory limit below request", mutate: (r) => (gw(r).resources = { ...gw(r).resources, requests: { ...gw(r).resources.requests, memory: "512Mi" }, limits: { ...gw(r).resources.limits, memory: "256Mi" } }), field: `services.${GW.name}.resources.limits.memory`, value: '"256Mi"', rule: /at least requests.memory \(512Mi\)/ },
  { name: "image tag is latest", mutate: (r) => (gw(r).image = { tag: "latest" }), field: `services.${GW.name}.image.tag`, value: '"latest"', rule: /explicit version/ },
  { name: "image has neither tag nor digest", mutate: (r) => (gw(r).image = {}), field: `services.${GW.name}.image`, value: "{}", rule: /tag or a digest/ },
  { name: "digest is malformed", mutate: (r) => (gw(r).image = { digest: "sha256:abc" }), field: `services.${GW.name}.image.digest`, value: '"sha256:abc"', rule: /64 lower-case hex/ },
  { name: "replicas is zero", mutate: (r) => (gw(r).replicas = 0), field: `services.${GW.name}.replicas`, value: "0", rule: /at least 1/ },
  { name: "replicas is fractional", mutate: (r) => (gw(r).replicas = 2.5), field: `services.${GW.name}.replicas`, value: "2.5", rule: /int/ },
  { name: "replicas is a string", mutate: (r) => (gw(r).replicas = "3"), field: `services.${GW.name}.replicas`, value: '"3"', rule: /type number/ },
  { name: "minReplicas above maxReplicas", mutate: (r) => (gw(r).autoscaling.minReplicas = GW.autoscaling.maxReplicas + 1), field: `services.${GW.name}.autoscaling.minReplicas`, value: String(GW.autoscaling.maxReplicas + 1), rule: new RegExp(`<= maxReplicas \\(${GW.autoscaling.maxReplicas}\\)`) },
  { name: "cpu target above 100", mutate: (r) => (gw(r).autoscaling.targetCpuUtilizationPercent = 170), field: `services.${GW.name}.autoscaling.targetCpuUtilizationPercent`, value: "170", rule: /between 1 and 100/ },
  { name: "memory target is zero", mutate: (r) => (gw(r).autoscaling.targetMemoryUtilizationPercent = 0), field: `services.${GW.name}.autoscaling.targetMemoryUtilizationPercent`, value: "0", rule: /between 1 and 100/ },
  { name: "custom metric name has a dash", mutate: (r) => (mo(r).autoscaling.customMetrics[0].metric = "queue-length"), field: `services.${MO.name}.autoscaling.customMetrics[0].metric`, value: '"queue-length"', rule: /Prometheus metric name/ },
  { name: "custom metric named twice", mutate: (r) => (mo(r).autoscaling.customMetrics[1].metric = MO.autoscaling.customMetrics[0]!.metric), field: `services.${MO.name}.autoscaling.customMetrics[1].metric`, value: JSON.stringify(MO.autoscaling.customMetrics[0]!.metric), rule: /named twice/ },
  { name: "custom metric of unknown type", mutate: (r) => (mo(r).autoscaling.customMetrics[0].type = "Object"), field: `services.${MO.name}.autoscaling.customMetrics[0].type`, value: '"Object"', rule: /"Pods", "External"/ },
  { name: "scaling policy period above 1800", mutate: (r) => (gw(r).autoscaling.behavior.scaleUp.policies[0].periodSeconds = 3600), field: `services.${GW.name}.autoscaling.behavior.scaleUp.policies[0].periodSeconds`, value: "3600", rule: /at most 1800/ },
  { name: "scaling rules without a policy", mutate: (r) => (gw(r).autoscaling.behavior.scaleDown.policies = []), field: `services.${GW.name}.autoscaling.behavior.scaleDown.policies`, value: "[]", rule: /at least one policy/ },
  { name: "PDB maxUnavailable 0", mutate: (r) => (gw(r).disruption = { maxUnavailable: 0 }), field: `services.${GW.name}.disruption.maxUnavailable`, value: "0", rule: /blocks every node drain/ },
  { name: "PDB minAvailable equal to replicas", mutate: (r) => (gw(r).disruption = { minAvailable: FLOOR }), field: `services.${GW.name}.disruption.minAvailable`, value: String(FLOOR), rule: new RegExp(`below replicas and autoscaling.minReplicas \\(${FLOOR}\\)`) },
  { name: "PDB minAvailable 100%", mutate: (r) => (gw(r).disruption = { minAvailable: "100%" }), field: `services.${GW.name}.disruption.minAvailable`, value: '"100%"', rule: /below 100%/ },
  { name: "PDB sets both fields", mutate: (r) => (gw(r).disruption = { minAvailable: 1, maxUnavailable: 1 }), field: `services.${GW.name}.disruption`, value: '{"minAvailable":1,"maxUnavailable":1}', rule: /exactly one/ },
  { name: "secret-looking setting", mutate: (r) => (gw(r).env = { DATABASE_PASSWORD: "hunter2" }), field: `services.${GW.name}.env.DATABASE_PASSWORD`, value: "(redacted)", rule: /looks like a secret/ },
  { name: "reserved setting", mutate: (r) => (gw(r).env = { PORT: "9090" }), field: `services.${GW.name}.env.PORT`, value: '"9090"', rule: /reserved/ },
  { name: "setting name in lower case", mutate: (r) => (gw(r).env = { log_level: "info" }), field: `services.${GW.name}.env.log_level`, value: '"log_level"', rule: /UPPER_SNAKE_CASE/ },
  { name: "unknown key in a service", mutate: (r) => (gw(r).replica = 3), field: `services.${GW.name}.replica`, value: "3", rule: /not a known field/ },
  { name: "unknown top-level key", mutate: (r) => (r.autoscalling = { enabled: true }), field: "autoscalling", value: '{"enabled":true}', rule: /not a known field/ },
  { name: "autoscaling flag is a string", mutate: (r) => (r.autoscaling = { enabled: "true" }), field: "autoscaling.enabled", value: '"true"', rule: /type boolean/ },
  { name: "namespace is default", mutate: (r) => (r.namespace = "default"), field: "namespace", value: '"default"', rule: /not be 'default'/ },
  { name: "namespace is not a DNS label", mutate: (r) => (r.namespace = "Agent_Platform"), field: "namespace", value: '"Agent_Platform"', rule: /DNS label/ },
  { name: "kubeconfig path is absolute", mutate: (r) => (r.cluster.kubeconfigPath = "/home/alice/.kube/config"), field: "cluster.kubeconfigPath", value: '"/home/alice/.kube/config"', rule: /must not be absolute/ },
  { name: "cluster context missing", mutate: (r) => delete r.cluster.context, field: "cluster.context", value: "(missing)", rule: /required/ },
  { name: "image pull policy unknown", mutate: (r) => (r.imagePullPolicy = "Never"), field: "imagePullPolicy", value: '"Never"', rule: /"Always", "IfNotPresent"/ },
  { name: "name does not match the file", mutate: (r) => (r.name = "staging"), field: "name", value: '"staging"', rule: /must be "production"/ },
  { name: "a catalogue service has no settings", mutate: (r) => delete r.services[LAST], field: `services.${LAST}`, value: "(missing)", rule: /service catalogue/ },
  { name: "a service not in the catalogue", mutate: (r) => (r.services[STRANGER] = structuredClone(gw(r))), field: `services.${STRANGER}`, value: JSON.stringify(STRANGER), rule: /not in the service catalogue/ },
  { name: "service name with a hostile string", mutate: (r) => (r.services["x\u001b[31m"] = {}), field: 'services."x\\u001b[31m"', value: '"x\\u001b[31m"', rule: /DNS label/ },
  { name: "ingress controller label value too long", mutate: (r) => (r.ingressController.podLabels = { app: "x".repeat(64) }), field: "ingressController.podLabels.app", value: `"${"x".repeat(64)}"`, rule: /at most 63/ },
];

describe("validateEnvironment", () => {
  it("accepts every shipped environment", () => {
    for (const name of ["local", "staging", "production"] as const) assert.equal(loadConfig(name).environment, name);
  });

  it("leaves autoscaling off unless the file or the override turns it on", () => {
    for (const name of ["local", "staging", "production"] as const) assert.equal(loadConfig(name).autoscalingEnabled, false);
    assert.equal(loadConfig("production", { enableAutoscaling: true }).autoscalingEnabled, true);
    const on = rawEnvironment("staging");
    on.autoscaling = { enabled: true };
    assert.equal(loadConfig("staging", {}, on).autoscalingEnabled, true);
    assert.equal(loadConfig("staging", { enableAutoscaling: false }, on).autoscalingEnabled, false);
  });

  it("defaults the disruption budget to maxUnavailable 1", () => {
    for (const s of loadConfig("production").services) assert.deepEqual(s.disruption, { maxUnavailable: 1 });
  });

  it("sizes local for one laptop node: one pod each, under 1 CPU and 1.5 GiB requested", () => {
    const local = loadConfig("local");
    assert.ok(local.services.every((s) => s.replicas === 1));
    assert.equal(local.imagePullPolicy, "IfNotPresent");
  });

  for (const c of cases) {
    it(`fails when ${c.name}`, () => {
      const raw = rawEnvironment("production");
      c.mutate(raw);
      const error = captureConfigError(() => validateEnvironment(raw, "production", validateCatalog(rawCatalog())));
      const problem = error.problems.find((p) => p.field === c.field);
      assert.ok(problem, `no problem for ${c.field}; got:\n${error.message}`);
      assert.equal(problem.source, "config/production.ts");
      assert.equal(problem.value, c.value);
      assert.match(problem.rule, c.rule);
      assert.match(error.message, /^Invalid configuration .*nothing was synthesized/);
    });
  }

  it("reports every problem in a file, not only the first", () => {
    const raw = rawEnvironment("production");
    // The first and the last service in the file's order, which is the order problems come in.
    const [first, last] = [Object.keys(raw.services)[0]!, Object.keys(raw.services).at(-1)!];
    raw.services[first].replicas = 0;
    raw.services[last].resources.requests.memory = "1GB";
    const error = captureConfigError(() => validateEnvironment(raw, "production", validateCatalog(rawCatalog())));
    assert.deepEqual(
      error.problems.map((p) => p.field),
      [`services.${first}.replicas`, `services.${last}.resources.requests.memory`],
    );
  });
});

describe("validateCatalog", () => {
  // The first service of the catalogue, one that calls others, and how many it calls.
  const first = Object.keys(rawCatalog())[0]!;
  const calling = Object.entries(rawCatalog()).find(([, e]) => (e.calls ?? []).length > 0)!;
  const [callerName, calls] = [calling[0], (calling[1].calls as string[]).length];
  const catalogCases: Case[] = [
    { name: "a call names an unknown service", mutate: (c) => c[callerName].calls.push(STRANGER), field: `${callerName}.calls[${calls}]`, value: JSON.stringify(STRANGER), rule: /must name a service in the catalogue/ },
    { name: "a service calls itself", mutate: (c) => c[callerName].calls.push(callerName), field: `${callerName}.calls[${calls}]`, value: JSON.stringify(callerName), rule: /does not call itself/ },
    { name: "a port below 1024", mutate: (c) => (c[first].port = 80), field: `${first}.port`, value: "80", rule: /1024 or above/ },
    { name: "liveness and readiness are the same", mutate: (c) => (c[first].probes = { liveness: "/h", readiness: "/h", startup: "/s" }), field: `${first}.probes.readiness`, value: '"/h"', rule: /must be different/ },
    { name: "a probe path is relative", mutate: (c) => (c[first].probes = { liveness: "healthz", readiness: "/r", startup: "/s" }), field: `${first}.probes.liveness`, value: '"healthz"', rule: /absolute HTTP path/ },
    { name: "the image repository carries a tag", mutate: (c) => (c[first].imageRepository = "ghcr.io/x/api:1.0"), field: `${first}.imageRepository`, value: '"ghcr.io/x/api:1.0"', rule: /without tag/ },
    { name: "exposure is unknown", mutate: (c) => (c[first].exposure = "external"), field: `${first}.exposure`, value: '"external"', rule: /"public", "internal"/ },
  ];
  for (const c of catalogCases) {
    it(`fails when ${c.name}`, () => {
      const raw = rawCatalog();
      c.mutate(raw);
      const error = captureConfigError(() => validateCatalog(raw));
      const problem = error.problems.find((p) => p.field === c.field);
      assert.ok(problem, `no problem for ${c.field}; got:\n${error.message}`);
      assert.equal(problem.source, "config/services.ts");
      assert.equal(problem.value, c.value);
      assert.match(problem.rule, c.rule);
    });
  }
});

describe("loadEnvironments", () => {
  it("loads the named environments in the order asked", () => {
    assert.deepEqual(
      loadEnvironments(["production", "local"]).map((c) => c.environment),
      ["production", "local"],
    );
  });

  it("orders services as the catalogue does, whatever order the environment file lists them in", () => {
    const catalogue = Object.keys(rawCatalog());
    assert.deepEqual(loadEnvironments(["staging"])[0]!.services.map((s) => s.name), catalogue);
    const reversed = rawEnvironment("staging");
    reversed.services = Object.fromEntries(Object.entries(reversed.services).reverse());
    assert.deepEqual(loadConfig("staging", {}, reversed).services.map((s) => s.name), catalogue);
  });
});

function captureConfigError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail("expected a ConfigError");
}

describe("data tier rules", () => {
  const fails = (env: "production" | "local", mutate: (raw: Json) => void, field: string, rule: RegExp, overrides = {}) => {
    const raw = rawEnvironment(env);
    mutate(raw);
    const error = captureConfigError(() => validateEnvironment(raw, env, validateCatalog(rawCatalog()), overrides));
    const problem = error.problems.find((p) => p.field === field);
    assert.ok(problem, `no problem for ${field}; got:\n${error.message}`);
    assert.equal(problem.source, `config/${env}.ts`);
    assert.match(problem.rule, rule);
    return problem;
  };

  it("fails when a tier allows zero requests", () => {
    fails("production", (r) => (r.rateLimiting.tiers.low.requests = 0), "rateLimiting.tiers.low.requests", /positive number of requests/);
  });
  it("fails when a tier's window is negative", () => {
    fails("production", (r) => (r.rateLimiting.tiers.default.windowSeconds = -60), "rateLimiting.tiers.default.windowSeconds", /positive number of seconds/);
  });
  it("fails when a tier is missing", () => {
    fails("production", (r) => delete r.rateLimiting.tiers.critical, "rateLimiting.tiers.critical", /required/);
  });
  it("fails when an endpoint names an unknown tier", () => {
    const limited = withRateLimitEndpoints(production).name;
    fails("production", (r) => (r.services[limited].rateLimit.endpoints[0].tier = "gold"), `services.${limited}.rateLimit.endpoints[0].tier`, /"default", "low", "high", "critical", "unlimited"/);
  });
  it("fails when the pool's min exceeds its max", () => {
    fails("production", (r) => (r.postgres.pool.minConnections = 30), "postgres.pool.minConnections", /<= maxConnections \(20\)/);
  });
  it("fails when a service caches in an environment without Redis", () => {
    fails("local", (r) => (r.services[GW.name].cache = { defaultTtlSeconds: 60, keyVersion: 1 }), `services.${GW.name}.cache`, /needs Redis/);
  });
  it("fails when rate limiting uses Redis in an environment without it", () => {
    fails("local", (r) => (r.rateLimiting.backend = "redis"), "rateLimiting.backend", /redis.enabled is false/);
  });
  it("fails when Redis may evict rate-limit counters", () => {
    fails("production", (r) => (r.redis.maxmemoryPolicy = "volatile-lru"), "redis.maxmemoryPolicy", /must be noeviction/);
  });
  it("fails when maxmemory leaves Redis no headroom", () => {
    fails("production", (r) => (r.redis.maxmemory = "2Gi"), "redis.maxmemory", /leave 20%/);
  });
  it("fails when persistence is on without storage", () => {
    fails("production", (r) => delete r.redis.storage, "redis.storage", /required when persistence is on/);
  });
  it("fails when migrations name a service that has no database", () => {
    fails("production", (r) => (r.migrations.service = nonDatabaseUser(production).name), "migrations.service", /uses the database/);
  });
  it("fails when the migration retries too often", () => {
    fails("production", (r) => (r.migrations.backoffLimit = 10), "migrations.backoffLimit", /at most 5/);
  });
  it("fails when the secrets mode is unknown", () => {
    fails("production", (r) => (r.secrets.mode = "inline"), "secrets.mode", /"existing", "variable"/);
  });
});

describe("observability rules", () => {
  const fails = (mutate: (raw: Json) => void, field: string, rule: RegExp) => {
    const raw = rawEnvironment("production");
    mutate(raw);
    const error = captureConfigError(() => validateEnvironment(raw, "production", validateCatalog(rawCatalog())));
    const problem = error.problems.find((p) => p.field === field);
    assert.ok(problem, `no problem for ${field}; got:\n${error.message}`);
    assert.equal(problem.source, "config/production.ts");
    assert.match(problem.rule, rule);
  };
  it("fails when an error-ratio threshold is above 1", () => {
    fails((r) => (r.monitoring.thresholds.errorRatio = 5), "monitoring.thresholds.errorRatio", /between 0 and 1/);
  });
  it("fails when a latency threshold is zero", () => {
    fails((r) => (r.monitoring.thresholds.latencyP95Seconds = 0), "monitoring.thresholds.latencyP95Seconds", /above 0/);
  });
  it("fails when a threshold is missing", () => {
    fails((r) => delete r.monitoring.thresholds.queueLength, "monitoring.thresholds.queueLength", /required/);
  });
  it("fails when PagerDuty is on without a key reference", () => {
    fails((r) => (r.monitoring.pagerduty = { enabled: true }), "monitoring.pagerduty.routingKeySecret", /required when PagerDuty is enabled/);
  });
  it("fails when PagerDuty is on while alerting is off", () => {
    fails((r) => {
      r.monitoring.alerting = false;
      r.monitoring.pagerduty.enabled = true;
    }, "monitoring.pagerduty.enabled", /needs alerting: true/);
  });
  it("fails when an HPA metric has no adapter rule", () => {
    const scaled = withCustomMetrics(production).name;
    fails((r) => (r.services[scaled].autoscaling.customMetrics[0].metric = "gpu_utilization"), `services.${scaled}.autoscaling.customMetrics[0].metric`, /no prometheus-adapter rule/);
  });
  it("fails when an HPA metric is External (no external rules are served)", () => {
    const scaled = withCustomMetrics(production).name;
    fails(
      (r) => (r.services[scaled].autoscaling.customMetrics[0] = { type: "External", displayName: "Backlog", metric: "queue_length", targetAverageValue: "5" }),
      `services.${scaled}.autoscaling.customMetrics[0].metric`,
      /use a Pods metric/,
    );
  });
  it("fails when the retention is not a Prometheus duration", () => {
    fails((r) => (r.monitoring.retention = "15 days"), "monitoring.retention", /Prometheus duration/);
  });
  it("fails when the runbook URL is not https", () => {
    fails((r) => (r.monitoring.runbookBaseUrl = "http://runbooks.internal"), "monitoring.runbookBaseUrl", /https URL/);
  });
  it("fails when the log level is unknown", () => {
    fails((r) => (r.logging.level = "verbose"), "logging.level", /"debug", "info", "warning", "error"/);
  });
  it("fails when a service sets LOG_LEVEL itself", () => {
    fails((r) => (r.services[GW.name].env = { LOG_LEVEL: "debug" }), `services.${GW.name}.env.LOG_LEVEL`, /reserved/);
  });
});

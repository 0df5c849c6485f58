import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../config/errors";
import { loadEnvironments, validateCatalog, validateEnvironment } from "../../config/load";
import { type Json, loadConfig, rawCatalog, rawEnvironment } from "../helpers";

/** A broken production file: what to break, and the field and rule the error must name. */
interface Case {
  readonly name: string;
  readonly mutate: (raw: Json) => void;
  readonly field: string;
  readonly value: string;
  readonly rule: RegExp;
}

const gw = (raw: Json) => raw.services["api-gateway"];
const mo = (raw: Json) => raw.services["model-orchestration"];

const cases: Case[] = [
  { name: "memory request is 500mb", mutate: (r) => (gw(r).resources.requests.memory = "500mb"), field: "services.api-gateway.resources.requests.memory", value: '"500mb"', rule: /memory quantity/ },
  { name: "memory is 500m (millibytes)", mutate: (r) => (gw(r).resources.limits.memory = "500m"), field: "services.api-gateway.resources.limits.memory", value: '"500m"', rule: /memory quantity/ },
  { name: "cpu is 2 cores spelt 2c", mutate: (r) => (gw(r).resources.requests.cpu = "2c"), field: "services.api-gateway.resources.requests.cpu", value: '"2c"', rule: /CPU quantity/ },
  { name: "cpu is zero", mutate: (r) => (gw(r).resources.requests.cpu = "0"), field: "services.api-gateway.resources.requests.cpu", value: '"0"', rule: /CPU quantity/ },
  { name: "cpu limit below request", mutate: (r) => (gw(r).resources.limits.cpu = "100m"), field: "services.api-gateway.resources.limits.cpu", value: '"100m"', rule: /at least requests.cpu \(500m\)/ },
  { name: "memory limit below request", mutate: (r) => (gw(r).resources.limits.memory = "256Mi"), field: "services.api-gateway.resources.limits.memory", value: '"256Mi"', rule: /at least requests.memory \(512Mi\)/ },
  { name: "image tag is latest", mutate: (r) => (gw(r).image = { tag: "latest" }), field: "services.api-gateway.image.tag", value: '"latest"', rule: /explicit version/ },
  { name: "image has neither tag nor digest", mutate: (r) => (gw(r).image = {}), field: "services.api-gateway.image", value: "{}", rule: /tag or a digest/ },
  { name: "digest is malformed", mutate: (r) => (gw(r).image = { digest: "sha256:abc" }), field: "services.api-gateway.image.digest", value: '"sha256:abc"', rule: /64 lower-case hex/ },
  { name: "replicas is zero", mutate: (r) => (gw(r).replicas = 0), field: "services.api-gateway.replicas", value: "0", rule: /at least 1/ },
  { name: "replicas is fractional", mutate: (r) => (gw(r).replicas = 2.5), field: "services.api-gateway.replicas", value: "2.5", rule: /int/ },
  { name: "replicas is a string", mutate: (r) => (gw(r).replicas = "3"), field: "services.api-gateway.replicas", value: '"3"', rule: /type number/ },
  { name: "minReplicas above maxReplicas", mutate: (r) => (gw(r).autoscaling.minReplicas = 11), field: "services.api-gateway.autoscaling.minReplicas", value: "11", rule: /<= maxReplicas \(10\)/ },
  { name: "cpu target above 100", mutate: (r) => (gw(r).autoscaling.targetCpuUtilizationPercent = 170), field: "services.api-gateway.autoscaling.targetCpuUtilizationPercent", value: "170", rule: /between 1 and 100/ },
  { name: "memory target is zero", mutate: (r) => (gw(r).autoscaling.targetMemoryUtilizationPercent = 0), field: "services.api-gateway.autoscaling.targetMemoryUtilizationPercent", value: "0", rule: /between 1 and 100/ },
  { name: "custom metric name has a dash", mutate: (r) => (mo(r).autoscaling.customMetrics[0].metric = "queue-length"), field: "services.model-orchestration.autoscaling.customMetrics[0].metric", value: '"queue-length"', rule: /Prometheus metric name/ },
  { name: "custom metric named twice", mutate: (r) => (mo(r).autoscaling.customMetrics[1].metric = "queue_length"), field: "services.model-orchestration.autoscaling.customMetrics[1].metric", value: '"queue_length"', rule: /named twice/ },
  { name: "custom metric of unknown type", mutate: (r) => (mo(r).autoscaling.customMetrics[0].type = "Object"), field: "services.model-orchestration.autoscaling.customMetrics[0].type", value: '"Object"', rule: /"Pods", "External"/ },
  { name: "scaling policy period above 1800", mutate: (r) => (gw(r).autoscaling.behavior.scaleUp.policies[0].periodSeconds = 3600), field: "services.api-gateway.autoscaling.behavior.scaleUp.policies[0].periodSeconds", value: "3600", rule: /at most 1800/ },
  { name: "scaling rules without a policy", mutate: (r) => (gw(r).autoscaling.behavior.scaleDown.policies = []), field: "services.api-gateway.autoscaling.behavior.scaleDown.policies", value: "[]", rule: /at least one policy/ },
  { name: "PDB maxUnavailable 0", mutate: (r) => (gw(r).disruption = { maxUnavailable: 0 }), field: "services.api-gateway.disruption.maxUnavailable", value: "0", rule: /blocks every node drain/ },
  { name: "PDB minAvailable equal to replicas", mutate: (r) => (gw(r).disruption = { minAvailable: 3 }), field: "services.api-gateway.disruption.minAvailable", value: "3", rule: /below replicas and autoscaling.minReplicas \(3\)/ },
  { name: "PDB minAvailable 100%", mutate: (r) => (gw(r).disruption = { minAvailable: "100%" }), field: "services.api-gateway.disruption.minAvailable", value: '"100%"', rule: /below 100%/ },
  { name: "PDB sets both fields", mutate: (r) => (gw(r).disruption = { minAvailable: 1, maxUnavailable: 1 }), field: "services.api-gateway.disruption", value: '{"minAvailable":1,"maxUnavailable":1}', rule: /exactly one/ },
  { name: "secret-looking setting", mutate: (r) => (gw(r).env = { DATABASE_PASSWORD: "hunter2" }), field: "services.api-gateway.env.DATABASE_PASSWORD", value: "(redacted)", rule: /looks like a secret/ },
  { name: "reserved setting", mutate: (r) => (gw(r).env = { PORT: "9090" }), field: "services.api-gateway.env.PORT", value: '"9090"', rule: /reserved/ },
  { name: "setting name in lower case", mutate: (r) => (gw(r).env = { log_level: "info" }), field: 'services.api-gateway.env.log_level', value: '"log_level"', rule: /UPPER_SNAKE_CASE/ },
  { name: "unknown key in a service", mutate: (r) => (gw(r).replica = 3), field: "services.api-gateway.replica", value: "3", rule: /not a known field/ },
  { name: "unknown top-level key", mutate: (r) => (r.autoscalling = { enabled: true }), field: "autoscalling", value: '{"enabled":true}', rule: /not a known field/ },
  { name: "autoscaling flag is a string", mutate: (r) => (r.autoscaling = { enabled: "true" }), field: "autoscaling.enabled", value: '"true"', rule: /type boolean/ },
  { name: "namespace is default", mutate: (r) => (r.namespace = "default"), field: "namespace", value: '"default"', rule: /not be 'default'/ },
  { name: "namespace is not a DNS label", mutate: (r) => (r.namespace = "Agent_Platform"), field: "namespace", value: '"Agent_Platform"', rule: /DNS label/ },
  { name: "kubeconfig path is absolute", mutate: (r) => (r.cluster.kubeconfigPath = "/home/alice/.kube/config"), field: "cluster.kubeconfigPath", value: '"/home/alice/.kube/config"', rule: /must not be absolute/ },
  { name: "cluster context missing", mutate: (r) => delete r.cluster.context, field: "cluster.context", value: "(missing)", rule: /required/ },
  { name: "image pull policy unknown", mutate: (r) => (r.imagePullPolicy = "Never"), field: "imagePullPolicy", value: '"Never"', rule: /"Always", "IfNotPresent"/ },
  { name: "name does not match the file", mutate: (r) => (r.name = "staging"), field: "name", value: '"staging"', rule: /must be "production"/ },
  { name: "a catalogue service has no settings", mutate: (r) => delete r.services["tool-integration"], field: "services.tool-integration", value: "(missing)", rule: /service catalogue/ },
  { name: "a service not in the catalogue", mutate: (r) => (r.services["billing"] = structuredClone(gw(r))), field: "services.billing", value: '"billing"', rule: /not in the service catalogue/ },
  { name: "service name with a hostile string", mutate: (r) => (r.services["x\u001b[31m"] = {}), field: 'services."x\\u001b[31m"', value: '"x\\u001b[31m"', rule: /DNS label/ },
  { name: "ingress controller label value too long", mutate: (r) => (r.ingressController.podLabels = { app: "x".repeat(64) }), field: "ingressController.podLabels.app", value: `"${"x".repeat(64)}"`, rule: /at most 63/ },
];

describe("validateEnvironment", () => {
  it("accepts every shipped environment", () => {
    for (const name of ["local", "staging", "production"] as const) assert.equal(loadConfig(name).environment, name);
  });

  it("carries the seed's autoscaling table in production exactly", () => {
    const table = Object.fromEntries(
      loadConfig("production").services.map((s) => [
        s.displayName,
        [
          s.autoscaling.minReplicas,
          s.autoscaling.maxReplicas,
          s.autoscaling.targetCpuUtilizationPercent,
          s.autoscaling.targetMemoryUtilizationPercent,
          s.autoscaling.customMetrics.map((m) => m.displayName).join(", ") || "-",
        ],
      ]),
    );
    assert.deepEqual(table, {
      "API Gateway": [3, 10, 70, 75, "-"],
      "Agent Orchestrator": [2, 8, 75, 80, "Queue Length"],
      "Model Orchestration": [3, 12, 70, 75, "Queue Length, Latency"],
      "Tool Integration": [2, 6, 75, 80, "-"],
      "Web Dashboard": [2, 6, 75, 80, "Requests/Second"],
    });
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
    gw(raw).replicas = 0;
    mo(raw).resources.requests.memory = "1GB";
    const error = captureConfigError(() => validateEnvironment(raw, "production", validateCatalog(rawCatalog())));
    assert.deepEqual(
      error.problems.map((p) => p.field),
      ["services.api-gateway.replicas", "services.model-orchestration.resources.requests.memory"],
    );
  });
});

describe("validateCatalog", () => {
  const catalogCases: Case[] = [
    { name: "a call names an unknown service", mutate: (c) => c["api-gateway"].calls.push("billing"), field: "api-gateway.calls[3]", value: '"billing"', rule: /must name a service in the catalogue/ },
    { name: "a service calls itself", mutate: (c) => c["web-dashboard"].calls.push("web-dashboard"), field: "web-dashboard.calls[1]", value: '"web-dashboard"', rule: /does not call itself/ },
    { name: "a port below 1024", mutate: (c) => (c["api-gateway"].port = 80), field: "api-gateway.port", value: "80", rule: /1024 or above/ },
    { name: "liveness and readiness are the same", mutate: (c) => (c["api-gateway"].probes = { liveness: "/h", readiness: "/h", startup: "/s" }), field: "api-gateway.probes.readiness", value: '"/h"', rule: /must be different/ },
    { name: "a probe path is relative", mutate: (c) => (c["api-gateway"].probes = { liveness: "healthz", readiness: "/r", startup: "/s" }), field: "api-gateway.probes.liveness", value: '"healthz"', rule: /absolute HTTP path/ },
    { name: "the image repository carries a tag", mutate: (c) => (c["api-gateway"].imageRepository = "ghcr.io/x/api:1.0"), field: "api-gateway.imageRepository", value: '"ghcr.io/x/api:1.0"', rule: /without tag/ },
    { name: "exposure is unknown", mutate: (c) => (c["api-gateway"].exposure = "external"), field: "api-gateway.exposure", value: '"external"', rule: /"public", "internal"/ },
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

  it("orders services as the catalogue does", () => {
    assert.deepEqual(
      loadEnvironments(["staging"])[0]!.services.map((s) => s.name),
      ["api-gateway", "agent-orchestrator", "model-orchestration", "tool-integration", "web-dashboard"],
    );
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
    fails("production", (r) => (r.services["api-gateway"].rateLimit.endpoints[0].tier = "gold"), "services.api-gateway.rateLimit.endpoints[0].tier", /"default", "low", "high", "critical", "unlimited"/);
  });
  it("fails when the pool's min exceeds its max", () => {
    fails("production", (r) => (r.postgres.pool.minConnections = 30), "postgres.pool.minConnections", /<= maxConnections \(20\)/);
  });
  it("fails when a service caches in an environment without Redis", () => {
    fails("local", (r) => (r.services["tool-integration"].cache = { defaultTtlSeconds: 60, keyVersion: 1 }), "services.tool-integration.cache", /needs Redis/);
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
    fails("production", (r) => (r.migrations.service = "web-dashboard"), "migrations.service", /uses the database/);
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
    fails((r) => (r.services["web-dashboard"].autoscaling.customMetrics[0].metric = "gpu_utilization"), "services.web-dashboard.autoscaling.customMetrics[0].metric", /no prometheus-adapter rule/);
  });
  it("fails when an HPA metric is External (no external rules are served)", () => {
    fails(
      (r) => (r.services["web-dashboard"].autoscaling.customMetrics[0] = { type: "External", displayName: "Backlog", metric: "queue_length", targetAverageValue: "5" }),
      "services.web-dashboard.autoscaling.customMetrics[0].metric",
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
    fails((r) => (r.services["api-gateway"].env = { LOG_LEVEL: "debug" }), "services.api-gateway.env.LOG_LEVEL", /reserved/);
  });
});

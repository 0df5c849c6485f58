/**
 * The robustness corpus: malformed configuration files and environment values, each run through
 * the real app (`node dist/main.js`, as cdktf.json runs it). Every one must be refused with a
 * message that names the source and the field, exit 1, print no stack trace, echo no secret, and
 * leave the previous cdktf.out exactly as it was (no half-written output, no scratch directory).
 */
import assert from "node:assert/strict";
import { cpSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { before, describe, it } from "node:test";
import { publicService, serviceWhere, withCustomMetrics } from "../catalogue";
import { copyApp, type Json, loadConfig, rawEnvironment, readTree, tempDir } from "../helpers";
import { SECRET_VALUES } from "../secret-values";
import { type Finished, runAsync } from "../tools";

const DIST = resolve(__dirname, "..", "..");
const PROJECT = resolve(DIST, "..");
/**
 * Independent copies of the compiled app, each with its own cdktf.out: cases run concurrently,
 * one per worker at a time.
 */
interface Worker {
  readonly work: string;
  readonly app: string;
  snapshot: Map<string, Buffer>;
}
const workers: Worker[] = [];
const idle: Worker[] = [];
const waiting: ((w: Worker) => void)[] = [];
const WORKERS = 3;

async function withWorker<T>(fn: (w: Worker) => Promise<T>): Promise<T> {
  const w = idle.pop() ?? (await new Promise<Worker>((r) => waiting.push(r)));
  try {
    return await fn(w);
  } finally {
    const next = waiting.shift();
    if (next) next(w);
    else idle.push(w);
  }
}

function run(w: Worker, env: Record<string, string> = {}): Promise<Finished> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !["DEPLOYMENT_ENV", "ENABLE_AUTOSCALING", "CDKTF_OUTDIR", "PLATFORM_DEBUG", "CI"].includes(k)));
  return runAsync(process.execPath, [join(w.app, "main.js")], {
    cwd: w.work,
    env: { ...clean, NODE_PATH: join(PROJECT, "node_modules"), PLATFORM_SUMMARY: "off", ...env },
  });
}

/** Replaces a compiled config file with `value` (JSON), as if config/<name>.ts said so. */
function writeConfig(w: Worker, name: string, value: unknown): void {
  writeFileSync(join(w.app, "config", `${name}.js`), `"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\nexports.default = ${JSON.stringify(value)};\n`);
}
const writeProduction = (w: Worker, value: unknown) => writeConfig(w, "production", value);

before(async () => {
  for (let i = 0; i < WORKERS; i++) {
    const work = tempDir("corpus-");
    const app = join(work, "app");
    copyApp(app);
    const w: Worker = { work, app, snapshot: new Map() };
    if (i === 0) {
      // A real previous output, which every refusal must leave exactly as it was.
      const good = await run(w, { DEPLOYMENT_ENV: "production" });
      assert.equal(good.status, 0, good.stderr);
    } else {
      cpSync(join(workers[0]!.work, "cdktf.out"), join(work, "cdktf.out"), { recursive: true });
    }
    w.snapshot = readTree(join(work, "cdktf.out"));
    workers.push(w);
    idle.push(w);
  }
});

interface Case {
  readonly name: string;
  /** Returns the whole malformed file content (as data). */
  readonly config: () => unknown;
  /** The field the message must name. */
  readonly field: string;
  /** Text that must never appear in the output (a secret). */
  readonly secret?: string;
  /** The file the message names. @default config/production.ts */
  readonly file?: string;
  /** Other files of the run, replaced too (cross-environment cases). */
  readonly others?: () => Record<string, unknown>;
}

const prod = () => rawEnvironment("production");
const edit = (fn: (r: Json) => void) => () => {
  const r = prod();
  fn(r);
  return r;
};
// Services picked by what they are (test/catalogue.ts): the first in the catalogue, one whose HPA
// reads custom metrics, and two public services with their routes.
const PRODUCTION = loadConfig("production");
const GW = PRODUCTION.services[0]!.name;
const MO = withCustomMetrics(PRODUCTION).name;
const ROUTED = publicService(PRODUCTION).name;
const OTHER_ROUTED = serviceWhere(PRODUCTION, "a second public service", (s) => s.exposure === "public" && s.name !== ROUTED).name;
const HOST = PRODUCTION.ingress.routes[ROUTED]!.host;
const gw = (r: Json) => r.services[GW];
const mo = (r: Json) => r.services[MO];

const cases: Case[] = [
  // Wrong types
  { name: "the whole file is null", config: () => null, field: "(top level)" },
  { name: "the whole file is a string", config: () => "production", field: "(top level)" },
  { name: "the whole file is an array", config: () => [prod()], field: "(top level)" },
  { name: "replicas as a string", config: edit((r) => (gw(r).replicas = "3")), field: `services.${GW}.replicas` },
  { name: "replicas as null", config: edit((r) => (gw(r).replicas = null)), field: `services.${GW}.replicas` },
  { name: "services as an array", config: edit((r) => (r.services = [gw(r)])), field: "services" },
  { name: "resources as a string", config: edit((r) => (gw(r).resources = "500m/512Mi")), field: `services.${GW}.resources` },
  { name: "env values as numbers", config: edit((r) => (gw(r).env = { TIMEOUT_SECONDS: 30 })), field: `services.${GW}.env.TIMEOUT_SECONDS` },
  { name: "autoscaling.enabled as a string", config: edit((r) => (r.autoscaling.enabled = "false")), field: "autoscaling.enabled" },
  { name: "a port in the catalogue's place", config: edit((r) => (gw(r).port = 8080)), field: `services.${GW}.port` },
  { name: "pool.prePing as a string", config: edit((r) => (r.postgres.pool.prePing = "yes")), field: "postgres.pool.prePing" },
  { name: "thresholds as a list", config: edit((r) => (r.monitoring.thresholds = [0.05])), field: "monitoring.thresholds" },
  // Out-of-range numbers
  { name: "replicas 0", config: edit((r) => (gw(r).replicas = 0)), field: `services.${GW}.replicas` },
  { name: "replicas 10000", config: edit((r) => (gw(r).replicas = 10000)), field: `services.${GW}.replicas` },
  { name: "replicas negative", config: edit((r) => (gw(r).replicas = -3)), field: `services.${GW}.replicas` },
  { name: "replicas NaN-like float", config: edit((r) => (gw(r).replicas = 1.5)), field: `services.${GW}.replicas` },
  { name: "maxReplicas 1000", config: edit((r) => (gw(r).autoscaling.maxReplicas = 1000)), field: `services.${GW}.autoscaling.maxReplicas` },
  { name: "CPU target 0", config: edit((r) => (gw(r).autoscaling.targetCpuUtilizationPercent = 0)), field: `services.${GW}.autoscaling.targetCpuUtilizationPercent` },
  { name: "memory target 250", config: edit((r) => (gw(r).autoscaling.targetMemoryUtilizationPercent = 250)), field: `services.${GW}.autoscaling.targetMemoryUtilizationPercent` },
  { name: "stabilization window a day", config: edit((r) => (gw(r).autoscaling.behavior.scaleDown.stabilizationWindowSeconds = 86400)), field: `services.${GW}.autoscaling.behavior.scaleDown.stabilizationWindowSeconds` },
  { name: "error ratio 1.5", config: edit((r) => (r.monitoring.thresholds.errorRatio = 1.5)), field: "monitoring.thresholds.errorRatio" },
  { name: "rate-limit tier of 0 requests", config: edit((r) => (r.rateLimiting.tiers.default.requests = 0)), field: "rateLimiting.tiers.default.requests" },
  { name: "max_connections 5", config: edit((r) => (r.postgres.maxConnections = 5)), field: "postgres.maxConnections" },
  { name: "backoff limit 50", config: edit((r) => (r.migrations.backoffLimit = 50)), field: "migrations.backoffLimit" },
  // Bad quantities
  { name: "memory 500mb", config: edit((r) => (gw(r).resources.requests.memory = "500mb")), field: `services.${GW}.resources.requests.memory` },
  { name: "memory 1GB", config: edit((r) => (gw(r).resources.limits.memory = "1GB")), field: `services.${GW}.resources.limits.memory` },
  { name: "memory 0", config: edit((r) => (gw(r).resources.requests.memory = "0")), field: `services.${GW}.resources.requests.memory` },
  { name: "cpu 2 cores", config: edit((r) => (gw(r).resources.limits.cpu = "2 cores")), field: `services.${GW}.resources.limits.cpu` },
  { name: "cpu 0.0001", config: edit((r) => (gw(r).resources.requests.cpu = "0.0001")), field: `services.${GW}.resources.requests.cpu` },
  { name: "redis maxmemory 1.5 GB", config: edit((r) => (r.redis.maxmemory = "1.5 GB")), field: "redis.maxmemory" },
  { name: "postgres shared_buffers 2gb", config: edit((r) => (r.postgres.sharedBuffers = "2gb")), field: "postgres.sharedBuffers" },
  { name: "storage size 100", config: edit((r) => (r.postgres.storage.size = "100 GiB")), field: "postgres.storage.size" },
  // Unknown keys
  { name: "replica for replicas", config: edit((r) => (gw(r).replica = 3)), field: `services.${GW}.replica` },
  { name: "autoscalling at the top", config: edit((r) => (r.autoscalling = { enabled: true })), field: "autoscalling" },
  { name: "minReplica in autoscaling", config: edit((r) => (gw(r).autoscaling.minReplica = 2)), field: `services.${GW}.autoscaling.minReplica` },
  { name: "password in redis", config: edit((r) => (r.redis.password = "s3cr3t-in-the-repo")), field: "redis.password", secret: "s3cr3t-in-the-repo" },
  { name: "accessKey in the s3 backend", config: edit((r) => (r.backend = { type: "s3", bucket: "b-tf", region: "eu-west-1", dynamodbTable: "locks", accessKey: "AKIAEXAMPLESECRET" })), field: "backend.accessKey", secret: "AKIAEXAMPLESECRET" },
  { name: "token in the cluster block", config: edit((r) => (r.cluster.token = "eyJhbGciOiJSUzI1NiJ9.secret")), field: "cluster.token", secret: "eyJhbGciOiJSUzI1NiJ9.secret" },
  // Missing fields
  { name: "no namespace", config: edit((r) => delete r.namespace), field: "namespace" },
  { name: "no cluster", config: edit((r) => delete r.cluster), field: "cluster" },
  { name: "no image for a service", config: edit((r) => delete gw(r).image), field: `services.${GW}.image` },
  { name: "no resources for a service", config: edit((r) => delete mo(r).resources), field: `services.${MO}.resources` },
  { name: "a catalogue service left out", config: edit((r) => delete r.services[GW]), field: `services.${GW}` },
  { name: "no postgres pool", config: edit((r) => delete r.postgres.pool), field: "postgres.pool" },
  { name: "no thresholds", config: edit((r) => delete r.monitoring.thresholds), field: "monitoring.thresholds" },
  // Conflicting options
  { name: "minReplicas above maxReplicas", config: edit((r) => (gw(r).autoscaling.minReplicas = 20)), field: `services.${GW}.autoscaling.minReplicas` },
  { name: "limits below requests", config: edit((r) => (mo(r).resources.limits.cpu = "100m")), field: `services.${MO}.resources.limits.cpu` },
  { name: "PDB minAvailable equal to replicas", config: edit((r) => (gw(r).disruption = { minAvailable: 3 })), field: `services.${GW}.disruption.minAvailable` },
  { name: "PDB maxUnavailable 0", config: edit((r) => (gw(r).disruption = { maxUnavailable: 0 })), field: `services.${GW}.disruption.maxUnavailable` },
  { name: "rate limiting on Redis that is off", config: edit((r) => (r.redis = { enabled: false })), field: "rateLimiting.backend" },
  { name: "Redis evicting rate-limit counters", config: edit((r) => (r.redis.maxmemoryPolicy = "allkeys-lru")), field: "redis.maxmemoryPolicy" },
  { name: "PagerDuty without a key", config: edit((r) => (r.monitoring.pagerduty = { enabled: true })), field: "monitoring.pagerduty.routingKeySecret" },
  { name: "pool min above max", config: edit((r) => (r.postgres.pool.minConnections = 50)), field: "postgres.pool.minConnections" },
  { name: "the file claims to be staging", config: edit((r) => (r.name = "staging")), field: "name" },
  { name: "latest image tag", config: edit((r) => (gw(r).image = { tag: "latest" })), field: `services.${GW}.image.tag` },
  { name: "an API key in plain settings", config: edit((r) => (gw(r).env = { OPENAI_API_KEY: "sk-live-abc123" })), field: `services.${GW}.env.OPENAI_API_KEY`, secret: "sk-live-abc123" },
  // Hostile strings in names and labels
  { name: "a service name with an escape sequence", config: edit((r) => (r.services["gw\u001b[2J"] = gw(r))), field: 'services."gw\\u001b[2J"' },
  { name: "a namespace with shell metacharacters", config: edit((r) => (r.namespace = "agent-platform; rm -rf /")), field: "namespace" },
  { name: "a namespace of 300 characters", config: edit((r) => (r.namespace = "a".repeat(300))), field: "namespace" },
  { name: "a label value with a newline", config: edit((r) => (r.ingressController.podLabels = { app: "nginx\ninjected: true" })), field: "ingressController.podLabels.app" },
  { name: "a label key with a space", config: edit((r) => (r.ingressController.podLabels = { "app name": "nginx" })), field: 'ingressController.podLabels."app name"' },
  { name: "a path-traversal kubeconfig", config: edit((r) => (r.cluster.kubeconfigPath = "/etc/../root/.kube/config")), field: "cluster.kubeconfigPath" },
  { name: "an image tag with a slash", config: edit((r) => (gw(r).image = { tag: "1.0/../../latest" })), field: `services.${GW}.image.tag` },
  { name: "a metric name with PromQL in it", config: edit((r) => (mo(r).autoscaling.customMetrics[0].metric = 'queue_length{x="1"} or vector(1)')), field: `services.${MO}.autoscaling.customMetrics[0].metric` },
  { name: "an env name with a dollar", config: edit((r) => (gw(r).env = { "PATH$(id)": "x" })), field: `services.${GW}.env."PATH$(id)"` },
  { name: "a unicode look-alike namespace", config: edit((r) => (r.namespace = "аgent-platform")), field: "namespace" },
  // Ingress routes the API server or ingress-nginx would refuse, or that collide (issue 23)
  { name: "an IP address as a host", config: edit((r) => (r.ingress.routes[ROUTED].host = "203.0.113.7")), field: `ingress.routes.${ROUTED}.host` },
  { name: "a host label of 64 characters", config: edit((r) => (r.ingress.routes[ROUTED].host = `${"x".repeat(64)}.example.com`)), field: `ingress.routes.${ROUTED}.host` },
  { name: "a path with //", config: edit((r) => (r.ingress.routes[ROUTED].paths = ["/v1//agents"])), field: `ingress.routes.${ROUTED}.paths[0]` },
  { name: "a path with a tilde", config: edit((r) => (r.ingress.routes[ROUTED].paths = ["/~ops"])), field: `ingress.routes.${ROUTED}.paths[0]` },
  {
    name: "two prefixes that differ by a trailing slash",
    config: edit((r) => ((r.ingress.routes[ROUTED].paths = ["/app"]), (r.ingress.routes[OTHER_ROUTED] = { host: HOST, paths: ["/app/"] }))),
    field: `ingress.routes.${OTHER_ROUTED}.paths[0]`,
  },
  { name: "grafanaHost on a service's host and path", config: edit((r) => (r.ingress.grafanaHost = HOST)), field: "ingress.grafanaHost" },
  // Limits that contradict each other
  { name: "a Postgres limit above the node", config: edit((r) => (r.postgres.resources.limits.memory = "64Gi")), field: "postgres.resources.limits.memory" },
  { name: "a Redis volume smaller than its persistence needs", config: edit((r) => (r.redis.storage.size = "1Gi")), field: "redis.storage.size" },
  { name: "PgBouncer session mode on the transaction budget", config: edit((r) => (r.pgbouncer.poolMode = "session")), field: "pgbouncer.poolMode" },
  // Derived names and namespaces
  { name: "a monitoring namespace too long for node-exporter's", config: edit((r) => (r.monitoringNamespace = "monitoring-".repeat(5))), field: "monitoringNamespace" },
  { name: "the monitoring namespace is ingress-nginx", config: edit((r) => (r.monitoringNamespace = "ingress-nginx")), field: "monitoringNamespace" },
  { name: "the platform namespace is cert-manager", config: edit((r) => (r.namespace = "cert-manager")), field: "namespace" },
  // Backends terraform init would refuse
  { name: "a bucket with adjacent periods", config: edit((r) => (r.backend.bucket = "state..bucket")), field: "backend.bucket" },
  { name: "a bucket formatted as an IP address", config: edit((r) => (r.backend.bucket = "10.1.2.3")), field: "backend.bucket" },
  { name: "a state key starting with /", config: edit((r) => (r.backend.key = "/agent-platform/production.tfstate")), field: "backend.key" },
  { name: "a misspelled region", config: edit((r) => (r.backend.region = "eu-wset-1")), field: "backend.region" },
  {
    name: "a pg conn_str with a password",
    config: edit((r) => (r.backend = { type: "pg", schemaName: "state", conn_str: "postgres://tf:Pg-Backend-Pw1@db/tf" })),
    field: "backend.conn_str",
    secret: "Pg-Backend-Pw1",
  },
  // Secrets pasted in the wrong field, and secrets in free-text fields (issue 20)
  { name: "a PagerDuty key as the Secret's name", config: edit((r) => (r.monitoring.pagerduty.routingKeySecret.name = "e93facc04764012d7bfb002500d5d1a6")), field: "monitoring.pagerduty.routingKeySecret.name", secret: "e93facc04764012d7bfb002500d5d1a6" },
  { name: "PGPASSWORD in the migration command", config: edit((r) => (r.migrations.command = ["sh", "-c", "PGPASSWORD=Mig-Pw-77 alembic upgrade head"])), field: "migrations.command[2]", secret: "Mig-Pw-77" },
  { name: "credentials in the runbook URL", config: edit((r) => (r.monitoring.runbookBaseUrl = "https://ops:Runbook-Pw-5@runbooks.example.com/x")), field: "monitoring.runbookBaseUrl", secret: "Runbook-Pw-5" },
  ...SECRET_VALUES.map((v) => ({ name: `${v.name} in an env value`, config: edit((r) => (gw(r).env = { UPSTREAM: v.value })), field: `services.${GW}.env.UPSTREAM`, secret: v.secret })),
  ...SECRET_VALUES.slice(0, 4).map((v) => ({ name: `${v.name} in an unknown field`, config: edit((r) => (r.monitoring.notes = v.value)), field: "monitoring.notes", secret: v.secret })),
  // Production pages someone
  { name: "production without alerting", config: edit((r) => ((r.monitoring.alerting = false), (r.monitoring.pagerduty = { enabled: false }))), field: "monitoring.alerting" },
  {
    name: "production with unrouted critical alerts",
    config: edit((r) => ((r.monitoring.pagerduty = { enabled: false }), (r.monitoring.criticalAlertsUnrouted = "we read the dashboards every morning instead"))),
    field: "monitoring.pagerduty.enabled",
  },
  // Extremes
  { name: "a retention beyond a Prometheus duration", config: edit((r) => (r.monitoring.retention = "999999y")), field: "monitoring.retention" },
  { name: "template braces in the runbook URL", config: edit((r) => (r.monitoring.runbookBaseUrl = "https://runbooks.example.com/{{ $labels.x }}")), field: "monitoring.runbookBaseUrl" },
  // Environments that overwrite each other
  {
    name: "staging's state key equal to production's",
    config: prod,
    others: () => ({ staging: { ...rawEnvironment("staging"), backend: { ...rawEnvironment("staging").backend, key: "agent-platform/production.tfstate" } } }),
    file: "config/staging.ts",
    field: "backend.key",
  },
  {
    name: "staging on production's cluster context",
    config: prod,
    others: () => ({ staging: { ...rawEnvironment("staging"), cluster: { kubeconfigPath: "~/.kube/config", context: "agent-platform-production" } } }),
    file: "config/staging.ts",
    field: "cluster.context",
  },
];

/** Valid but unusual configurations: accepted, synthesized, written. */
const acceptedCases: { name: string; config: () => unknown }[] = [
  { name: "an internationalised host in punycode", config: edit((r) => (r.ingress.routes[ROUTED].host = "xn--mnchen-3ya.berrys-agents.dev")) },
  { name: "a wildcard host", config: edit((r) => (r.ingress.routes[OTHER_ROUTED].host = "*.app.berrys-agents.dev")) },
  { name: "a long but valid path", config: edit((r) => (r.ingress.routes[ROUTED].paths = [`/${"v1/agents/runs/".repeat(40)}events`])) },
  { name: "a bucket with dots but no adjacent ones", config: edit((r) => (r.backend.bucket = "tf.state.berrys-agents.dev")) },
];

describe("robustness corpus", { concurrency: WORKERS }, () => {
  it(`holds at least 50 malformed configurations (${cases.length})`, () => {
    assert.ok(cases.length >= 50);
  });

  for (const c of cases) {
    it(`refuses ${c.name}`, () =>
      withWorker(async (w) => {
      writeProduction(w, c.config());
      const others = c.others?.() ?? {};
      for (const [name, value] of Object.entries(others)) writeConfig(w, name, value);
      const result = await run(w, { DEPLOYMENT_ENV: "production" });
      for (const name of Object.keys(others)) writeConfig(w, name, rawEnvironment(name as "staging"));
      assert.equal(result.status, 1, result.stdout);
      assert.match(result.stderr, /^Invalid configuration \(\d+ problems?\); nothing was synthesized:/);
      assert.ok(result.stderr.includes(`${c.file ?? "config/production.ts"}: ${c.field} = `), `field ${c.field} not named in:\n${result.stderr}`);
      assert.doesNotMatch(result.stderr, /^\s+at /m, "stack trace printed");
      assert.doesNotMatch(result.stderr, /\u001b/, "raw escape character printed");
      if (c.secret) assert.ok(!result.stderr.includes(c.secret) && !result.stdout.includes(c.secret), "secret echoed");
      assert.deepEqual(readTree(join(w.work, "cdktf.out")), w.snapshot, "cdktf.out changed");
      assert.deepEqual(readdirSync(w.work).sort(), ["app", "cdktf.out"], "scratch output left behind");
      }));
  }

  for (const c of acceptedCases) {
    it(`accepts ${c.name}`, () =>
      withWorker(async (w) => {
        writeProduction(w, c.config());
        const out = join(w.work, "accepted-out");
        const result = await run(w, { DEPLOYMENT_ENV: "production", CDKTF_OUTDIR: out });
        rmSync(out, { recursive: true, force: true });
        assert.equal(result.status, 0, result.stderr);
      }));
  }

  const envCases: [string, Record<string, string>, string][] = [
    ["DEPLOYMENT_ENV with a shell command", { DEPLOYMENT_ENV: "production; rm -rf /" }, "DEPLOYMENT_ENV"],
    ["DEPLOYMENT_ENV as a path", { DEPLOYMENT_ENV: "../production" }, "DEPLOYMENT_ENV"],
    ["DEPLOYMENT_ENV in capitals", { DEPLOYMENT_ENV: "PRODUCTION" }, "DEPLOYMENT_ENV"],
    ["DEPLOYMENT_ENV with an escape sequence", { DEPLOYMENT_ENV: "prod\u001b[31m" }, "DEPLOYMENT_ENV"],
    ["DEPLOYMENT_ENV of 10000 characters", { DEPLOYMENT_ENV: "x".repeat(10000) }, "DEPLOYMENT_ENV"],
    ["ENABLE_AUTOSCALING=1", { ENABLE_AUTOSCALING: "1" }, "ENABLE_AUTOSCALING"],
    ["ENABLE_AUTOSCALING=True", { ENABLE_AUTOSCALING: "True" }, "ENABLE_AUTOSCALING"],
    ["ENABLE_AUTOSCALING with spaces", { ENABLE_AUTOSCALING: " true" }, "ENABLE_AUTOSCALING"],
    ["ENABLE_AUTOSCALING=on", { ENABLE_AUTOSCALING: "on" }, "ENABLE_AUTOSCALING"],
  ];

  for (const [name, env, variable] of envCases) {
    it(`refuses ${name}`, () =>
      withWorker(async (w) => {
      writeProduction(w, prod());
      const result = await run(w, env);
      assert.equal(result.status, 1);
      assert.match(result.stderr, new RegExp(`environment variable: ${variable} = "`));
      assert.doesNotMatch(result.stderr, /^\s+at /m);
      assert.doesNotMatch(result.stderr, /\u001b/);
      assert.ok(result.stderr.length < 1000, "the message echoes an unbounded value");
      assert.deepEqual(readTree(join(w.work, "cdktf.out")), w.snapshot);
      }));
  }
});

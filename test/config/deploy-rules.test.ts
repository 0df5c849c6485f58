/**
 * Every accepted config deploys, round two: one failing fixture per rule of config/ingress-rules,
 * name-rules, limit-rules, backend-rules, paging-rules, extreme-rules and environment-rules, each
 * refused with file, field, value and rule; and the valid-but-unusual inputs that must still be
 * accepted (and synthesize).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { S3_BACKEND_REGIONS } from "../../config/aws-regions";
import { ConfigError } from "../../config/errors";
import { loadEnvironments, validateCatalog, validateEnvironment } from "../../config/load";
import { connectionBudget, surgeOf } from "../../config/capacity";
import { REDIS_DISK_PER_MAXMEMORY } from "../../config/limit-rules";
import { parseMemoryBytes } from "../../config/quantity";
import type { EnvironmentName } from "../../config/schema";
import { duplicateObjects } from "../../stacks/object-names";
import { blueGreenService, isInternal, isRolling, publicService, serviceWhere } from "../catalogue";
import { type Json, loadConfig, rawCatalog, rawEnvironment, resources, synthEnvironment, tempDir } from "../helpers";
import { accepted, refused } from "./refusals";

// Services picked by what they are (test/catalogue.ts), from the shipped configs: two public
// services and their routes, one released blue-green, one to copy or break.
const PRODUCTION = loadConfig("production");
const ROUTED = publicService(PRODUCTION).name;
const OTHER_ROUTED = serviceWhere(PRODUCTION, "a second public service", (s) => s.exposure === "public" && s.name !== ROUTED).name;
const BLUE_GREEN = blueGreenService(PRODUCTION).name;
/** Internal and released rolling: a copy of it needs no route and has one Deployment. */
const COPIED = serviceWhere(PRODUCTION, "an internal service released rolling", (s) => isInternal(s) && isRolling(s)).name;
const SERVICE = PRODUCTION.services[0]!.name;

const gw = (r: Json) => r.ingress.routes[ROUTED];

describe("ingress routes the API server or ingress-nginx would refuse, or that collide", () => {
  it("refuses an IP address as a host", () => {
    assert.match(refused("production", (r) => (gw(r).host = "10.0.0.1"), `ingress.routes.${ROUTED}.host`).rule, /is an IP address/);
    assert.match(refused("production", (r) => (gw(r).host = "010.000.000.001"), `ingress.routes.${ROUTED}.host`).rule, /is an IP address/);
  });
  it("refuses an all-digit top-level label", () => {
    assert.match(refused("production", (r) => (gw(r).host = "api.example.123"), `ingress.routes.${ROUTED}.host`).rule, /all-digit label/);
  });
  it("refuses a DNS label longer than 63 characters, in a service's host and in grafanaHost", () => {
    assert.match(refused("production", (r) => (gw(r).host = `${"a".repeat(64)}.example.com`), `ingress.routes.${ROUTED}.host`).rule, /label of 64 characters/);
    assert.match(refused("production", (r) => (r.ingress.grafanaHost = `grafana.${"b".repeat(70)}.dev`), "ingress.grafanaHost").rule, /label of 70 characters/);
  });
  it("refuses a path with //, /./, /../ or ending in /. or /..", () => {
    for (const [path, rule] of [["/api//v1", /'\/\/'/], ["/api/./v1", /'\/\.\/'/], ["/api/../admin", /'\/\.\.\/'/], ["/api/.", /'\/\.'/], ["/api/..", /'\/\.\.'/]] as const) {
      assert.match(refused("production", (r) => (gw(r).paths = [path]), `ingress.routes.${ROUTED}.paths[0]`).rule, rule, path);
    }
  });
  it("refuses path characters ingress-nginx's strict path validation refuses", () => {
    assert.match(refused("production", (r) => (gw(r).paths = ["/~alice"]), `ingress.routes.${ROUTED}.paths[0]`).rule, /strict path validation/);
  });
  it("refuses paths ingress-nginx's deep inspection refuses", () => {
    for (const path of ["/content_by_lua", "/etc/nginx/conf", "/var/run/secrets/token"]) {
      assert.match(refused("production", (r) => (gw(r).paths = [path]), `ingress.routes.${ROUTED}.paths[0]`).rule, /deep inspection/, path);
    }
  });
  it("refuses two services whose Prefix paths differ only by a trailing slash", () => {
    const { rule } = refused(
      "production",
      (r) => {
        gw(r).paths = ["/api"];
        r.ingress.routes[OTHER_ROUTED] = { host: gw(r).host, paths: ["/api/"] };
      },
      `ingress.routes.${OTHER_ROUTED}.paths[0]`,
    );
    assert.match(rule, new RegExp(`the route of ${ROUTED} already routes \\(/api and /api/ are one Prefix route`));
  });
  it("refuses one service routing the same prefix twice", () => {
    assert.match(refused("production", (r) => (gw(r).paths = ["/v1", "/v1/"]), `ingress.routes.${ROUTED}.paths[1]`).rule, /already routes/);
  });
  it("refuses grafanaHost equal to a service's host and path", () => {
    const host = PRODUCTION.ingress.routes[OTHER_ROUTED]!.host;
    assert.match(refused("production", (r) => (r.ingress.grafanaHost = host), "ingress.grafanaHost").rule, new RegExp(`the route of ${OTHER_ROUTED} already routes`));
  });
  it("accepts an internationalised host in punycode, a wildcard host, a long but valid path, dots in a path", () => {
    const json = accepted("production", (r) => {
      gw(r).host = "xn--bcher-kva.example.com";
      gw(r).paths = [`/${"segment-name_1/".repeat(60)}end`, "/v1.2/agents"];
      r.ingress.routes[OTHER_ROUTED].host = "*.berrys-agents.dev";
    });
    const hosts = Object.values(resources(json, "kubernetes_ingress_v1")).map((i) => i.spec.rule[0].host);
    const expected = Object.entries(PRODUCTION.ingress.routes).map(([name, route]) => (name === ROUTED ? "xn--bcher-kva.example.com" : name === OTHER_ROUTED ? "*.berrys-agents.dev" : route!.host));
    assert.deepEqual(hosts.sort(), expected.sort());
  });
  it("accepts a service's path under Grafana's host (Grafana keeps /, the service its prefix)", () => {
    accepted("local", (r) => (r.ingress.routes[publicService(loadConfig("local")).name] = { host: "grafana.localhost", paths: ["/api"] }));
  });
});

describe("limits that contradict each other", () => {
  it("refuses a container limit above the LimitRange maximum the stack emits (nodeSize)", () => {
    assert.match(refused("production", (r) => (r.postgres.resources.limits.memory = "32Gi"), "postgres.resources.limits.memory").rule, /above the LimitRange maximum .*nodeSize\.memory = 28Gi.*refuses every postgres pod/);
    assert.match(refused("production", (r) => (r.services[SERVICE].resources.limits.cpu = "8000m"), `services.${SERVICE}.resources.limits.cpu`).rule, /LimitRange maximum/);
    assert.match(refused("staging", (r) => (r.pgbouncer.resources.limits.memory = "64Gi"), "pgbouncer.resources.limits.memory").rule, /LimitRange maximum/);
  });
  it("refuses a node smaller than the LimitRange's default container limit (the API server refuses that LimitRange)", () => {
    assert.match(refused("local", (r) => (r.nodeSize.memory = "200Mi"), "nodeSize.memory").rule, /default container limit \(256Mi\)/);
  });
  it("refuses a monitoring pod that requests more than a node", () => {
    assert.match(refused("production", (r) => (r.monitoring.prometheusResources = { requests: { cpu: "500m", memory: "40Gi" }, limits: { cpu: "2", memory: "40Gi" } }), "monitoring.prometheusResources.requests.memory").rule, /stay Pending/);
  });
  it(`refuses a Redis volume below ${REDIS_DISK_PER_MAXMEMORY} x maxmemory when it persists`, () => {
    const { rule } = refused("production", (r) => (r.redis.storage.size = "5Gi"), "redis.storage.size");
    assert.match(rule, /below 4 x maxmemory \(1536Mi\) = 6Gi.*MISCONF/);
  });
  it("refuses a Prometheus volume below 1Gi (its WAL alone needs most of it), accepts exactly 1Gi", () => {
    const { rule } = refused("production", (r) => (r.monitoring.prometheusStorage.size = "512Mi"), "monitoring.prometheusStorage.size");
    assert.match(rule, /is below 1Gi: Prometheus' write-ahead log alone takes three 128Mi segments/);
    accepted("production", (r) => (r.monitoring.prometheusStorage.size = "1Gi"));
  });
  it("accepts a Redis volume of exactly 4 x maxmemory, and any volume without persistence", () => {
    accepted("production", (r) => (r.redis.storage.size = "6Gi"));
    accepted("production", (r) => {
      r.redis.persistence = false;
      r.redis.storage = { size: "1Gi" };
    });
  });
  it("budgets PgBouncer's session mode: one server connection per client, on one pod", () => {
    // The clients at the peak, as the connection budget counts them (config/capacity.ts).
    const clients = connectionBudget(PRODUCTION).layers[0]!.need;
    const { defaultPoolSize, reservePoolSize } = PRODUCTION.pgbouncer!;
    assert.match(
      refused("production", (r) => (r.pgbouncer.poolMode = "session"), "pgbouncer.poolMode").rule,
      new RegExp(`= ${clients} > default_pool_size ${defaultPoolSize} \\+ reserve_pool_size ${reservePoolSize} of one PgBouncer pod`),
    );
  });
  it("accepts session mode where every client has a server connection and Postgres admits them all", () => {
    const staging = loadConfig("staging");
    const clients = connectionBudget(staging).layers[0]!.need;
    const pods = staging.pgbouncer!.replicas + surgeOf(staging.pgbouncer!.replicas);
    // Every PgBouncer pod a server connection per client, and room for the migration, the
    // exporters and the admins; Postgres' memory grows with it (work_mem 1Mi per connection).
    const maxConnections = pods * clients + 100;
    const memory = `${parseMemoryBytes(staging.postgres.sharedBuffers)! / 2 ** 20 + maxConnections + 64}Mi`;
    const raw = rawEnvironment("staging");
    raw.pgbouncer.poolMode = "session";
    raw.pgbouncer.defaultPoolSize = clients;
    raw.pgbouncer.reservePoolSize = 0;
    raw.pgbouncer.maxClientConn = Math.max(raw.pgbouncer.maxClientConn, clients);
    raw.postgres.maxConnections = maxConnections;
    raw.postgres.workMem = "1Mi";
    raw.postgres.resources = { requests: { ...raw.postgres.resources.requests, memory }, limits: { ...raw.postgres.resources.limits, memory } };
    assert.equal(validateEnvironment(raw, "staging", validateCatalog(rawCatalog())).pgbouncer?.poolMode, "session");
  });
});

describe("derived names and namespaces", () => {
  it("refuses a monitoring namespace whose node-exporter namespace would exceed 63 characters", () => {
    assert.match(refused("production", (r) => (r.monitoringNamespace = "m".repeat(50)), "monitoringNamespace").rule, /-node-exporter \(64 characters\).*at most 49/);
    accepted("production", (r) => (r.monitoringNamespace = "m".repeat(49)));
  });
  it("refuses a namespace that is a well-known one, with one message naming the field", () => {
    for (const [field, value, owner] of [
      ["monitoringNamespace", "ingress-nginx", /ingress-nginx's namespace/],
      ["namespace", "cert-manager", /cert-manager's namespace/],
      ["monitoringNamespace", "kube-system", /kube-\*/],
      ["namespace", "local-path-storage", /kind's storage provisioner/],
    ] as const) {
      const { rule, message } = refused("production", (r) => (r[field] = value), field);
      assert.match(rule, owner);
      assert.equal(message.split("\n").length, 2, message);
    }
  });
  it("refuses the ingress controller's and the DNS's namespace as the stack's, whatever they are called", () => {
    assert.match(
      refused("production", (r) => ((r.ingressController.namespace = "edge"), (r.monitoringNamespace = "edge")), "monitoringNamespace").rule,
      /the ingress controller's namespace \(ingressController\.namespace\)/,
    );
    assert.match(refused("production", (r) => ((r.dns = { namespace: "dns", podLabels: { app: "dns" } }), (r.namespace = "dns")), "namespace").rule, /the cluster DNS's namespace/);
  });
  it("refuses a platform namespace equal to node-exporter's derived one", () => {
    assert.match(refused("production", (r) => (r.namespace = "monitoring-node-exporter"), "namespace").rule, /node-exporter's namespace/);
  });
  it("refuses service names the data tier, the migration Job and the monitoring stack use, in config/services.ts", () => {
    for (const name of ["postgres", "redis", "pgbouncer", "db-migrate", "db-migrate-v2", "default-deny-all", "allow-dns-egress", "node-exporter", "kubelet", "kps-prometheus", "etcd-gateway"]) {
      const catalog = rawCatalog();
      catalog[name] = { ...catalog[COPIED] };
      assert.throws(
        () => validateCatalog(catalog),
        (e: unknown) => e instanceof ConfigError && e.problems.length === 1 && e.problems[0]!.field === name && e.problems[0]!.source === "config/services.ts",
        name,
      );
    }
  });
  it("refuses a service named like another's blue-green Deployment", () => {
    const { rule } = refused(
      "production",
      (r, c) => {
        c[`${BLUE_GREEN}-green`] = { ...c[COPIED] };
        r.services[`${BLUE_GREEN}-green`] = structuredClone(r.services[COPIED]);
      },
      `services.${BLUE_GREEN}-green`,
    );
    assert.match(rule, new RegExp(`${BLUE_GREEN}'s green Deployment`));
  });
});

describe("state backends terraform init would refuse", () => {
  const s3 = (patch: Json) => (r: Json) => (r.backend = { type: "s3", bucket: "berrys-tfstate", region: "eu-west-1", ...patch });
  it("refuses bucket names S3 refuses", () => {
    for (const [bucket, rule] of [
      ["my..bucket", /adjacent periods/],
      ["192.168.5.4", /IP address/],
      ["xn--bucket", /xn--/],
      ["sthree-state", /sthree-/],
      ["amzn-s3-demo-state", /amzn-s3-demo-/],
      ["state-s3alias", /-s3alias/],
      ["state--ol-s3", /--ol-s3/],
      ["state.mrap", /\.mrap/],
      ["state--x-s3", /--x-s3/],
      ["state--table-s3", /--table-s3/],
    ] as const) {
      assert.match(refused("production", s3({ bucket }), "backend.bucket").rule, rule, bucket);
    }
    // The schema's rules: length and characters.
    assert.match(refused("production", s3({ bucket: "ab" }), "backend.bucket").rule, /S3 bucket name/);
    assert.match(refused("production", s3({ bucket: "State_Bucket" }), "backend.bucket").rule, /S3 bucket name/);
  });
  it("refuses state keys Terraform's S3 backend refuses", () => {
    assert.match(refused("production", s3({ key: "/agent-platform/production.tfstate" }), "backend.key").rule, /must not start or end with \//);
    assert.match(refused("production", s3({ key: "agent-platform/" }), "backend.key").rule, /must not start or end with \//);
    assert.match(refused("production", s3({ key: "agent-platform//production.tfstate" }), "backend.key").rule, /"\/\/"/);
    assert.match(refused("production", s3({ key: "k".repeat(1020) }), "backend.key").rule, /tflock/);
  });
  it("refuses a region Terraform's S3 backend does not know, suggesting the near ones", () => {
    assert.match(refused("production", s3({ region: "eu-westt-1" }), "backend.region").rule, /did you mean eu-west-1/);
    assert.match(refused("production", s3({ region: "zz-north-1" }), "backend.region").rule, /config\/aws-regions\.ts/);
  });
  it("accepts a bucket with dots but no adjacent ones, every known region, a nested key", () => {
    accepted("production", s3({ bucket: "state.berrys-agents.dev", key: "teams/platform/agent-platform/production.tfstate" }));
    for (const region of Object.keys(S3_BACKEND_REGIONS)) {
      const raw = rawEnvironment("production");
      s3({ region })(raw);
      assert.doesNotThrow(() => validateEnvironment(raw, "production", validateCatalog(rawCatalog())), region);
    }
  });
  it("refuses a pg connection string, by any name, and never prints it", () => {
    for (const [key, value] of [
      ["connStr", "postgres://tf:pg-pw-1@db/tf"],
      ["conn_str", "host=db user=tf password=pg-pw-1"],
      ["connectionString", "host=db user=tf dbname=tf"],
    ] as const) {
      const { rule, message, value: shown } = refused("production", (r) => (r.backend = { type: "pg", schemaName: "state", [key]: value }), `backend.${key}`);
      assert.match(rule, /PG_CONN_STR/);
      assert.equal(shown, "(redacted)");
      assert.ok(!message.includes("pg-pw-1"), message);
    }
  });
});

describe("production always pages someone", () => {
  it("refuses alerting off in production", () => {
    assert.match(refused("production", (r) => ((r.monitoring.alerting = false), (r.monitoring.pagerduty = { enabled: false })), "monitoring.alerting").rule, /production always pages someone/);
  });
  it("refuses unrouted critical alerts in production, even with a reason", () => {
    const { rule } = refused(
      "production",
      (r) => ((r.monitoring.pagerduty = { enabled: false }), (r.monitoring.criticalAlertsUnrouted = "nobody wants to be paged at night, ever")),
      "monitoring.pagerduty.enabled",
    );
    assert.match(rule, /production cannot opt out/);
  });
  it("lets staging opt out of alerting with a reason, and only with one", () => {
    assert.match(refused("staging", (r) => ((r.monitoring.alerting = false), delete r.monitoring.criticalAlertsUnrouted), "monitoring.alerting").rule, /without a reason/);
    accepted("staging", (r) => (r.monitoring.alerting = false));
  });
  it("refuses warnings to PagerDuty where PagerDuty is off", () => {
    assert.match(refused("staging", (r) => (r.monitoring.warnings = { to: "pagerduty" }), "monitoring.warnings.to").rule, /needs pagerduty\.enabled/);
  });
});

describe("values the consumers refuse at the extremes", () => {
  it("refuses a Prometheus retention beyond what a duration holds", () => {
    assert.match(refused("production", (r) => (r.monitoring.retention = "300y"), "monitoring.retention").rule, /292 years/);
    accepted("production", (r) => (r.monitoring.retention = "10y"));
  });
  it("refuses template braces in the runbook URL (every alert's annotation is a Go template)", () => {
    assert.match(refused("production", (r) => (r.monitoring.runbookBaseUrl = "https://runbooks.example.com/{{ .Labels.team }}"), "monitoring.runbookBaseUrl").rule, /Go template/);
  });
  it("refuses settings larger than a ConfigMap holds", () => {
    const { rule } = refused("production", (r) => (r.services[SERVICE].env = Object.fromEntries(Array.from({ length: 260 }, (_, i) => [`SETTING_${i}`, "x".repeat(4096)]))), `services.${SERVICE}.env`);
    assert.match(rule, /ConfigMap holds at most 1 MiB/);
  });
  it("refuses effective_cache_size above Postgres' range and above the container's memory", () => {
    assert.match(refused("production", (r) => (r.postgres.effectiveCacheSize = "20Ti"), "postgres.effectiveCacheSize").rule, /refuses to start/);
    assert.match(refused("production", (r) => (r.postgres.effectiveCacheSize = "12Gi"), "postgres.effectiveCacheSize").rule, /memory limit \(8Gi\)/);
  });
  it("refuses a platform credentials Secret as the TLS Secret", () => {
    assert.match(refused("production", (r) => (r.ingress.tls = { mode: "secret", secretName: "postgres-auth" }), "ingress.tls.secretName").rule, /not a TLS certificate/);
  });
  it("refuses a credential header as the correlation-ID header", () => {
    assert.match(refused("production", (r) => (r.logging.correlationIdHeader = "Authorization"), "logging.correlationIdHeader").rule, /log it and pass it on/);
  });
  it("refuses an image name longer than a container runtime pulls", () => {
    assert.match(refused("production", (_r, c) => (c[SERVICE].imageRepository = `ghcr.io/${"a".repeat(250)}`), `${SERVICE}.imageRepository`, "config/services.ts").rule, /at most 255/);
  });
  it("refuses a Secret key no Secret can hold", () => {
    assert.match(refused("production", (r) => (r.monitoring.pagerduty.routingKeySecret.key = "k".repeat(254)), "monitoring.pagerduty.routingKeySecret.key").rule, /at most 253/);
  });
});

describe("environments that would overwrite each other (all environment files at once)", () => {
  const sources = () => ({ local: rawEnvironment("local"), staging: rawEnvironment("staging"), production: rawEnvironment("production") });
  const clash = (mutate: (s: Record<EnvironmentName, Json>) => void, selected: EnvironmentName[], field: string) => {
    const s = sources();
    mutate(s);
    try {
      loadEnvironments(selected, {}, s);
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      const found = error.problems.filter((p) => p.field === field);
      assert.equal(found.length, 1, error.message);
      return found[0]!;
    }
    return assert.fail("accepted");
  };
  it("refuses staging's state key equal to production's in the same bucket, whichever is synthesized", () => {
    for (const selected of [["staging"], ["production"], ["local", "staging", "production"]] as EnvironmentName[][]) {
      const p = clash((s) => (s.staging.backend.key = "agent-platform/production.tfstate"), selected, "backend.key");
      assert.equal(p.source, "config/staging.ts");
      assert.match(p.rule, /also the state of production \(config\/production\.ts\)/);
    }
  });
  it("refuses two pg environments sharing a state schema", () => {
    const p = clash(
      (s) => {
        s.staging.backend = { type: "pg", schemaName: "agent_platform" };
        s.production.backend = { type: "pg", schemaName: "agent_platform" };
      },
      ["production"],
      "backend.schemaName",
    );
    assert.equal(p.source, "config/staging.ts");
  });
  it("refuses staging pointed at production's cluster context, naming the namespace both create", () => {
    const p = clash((s) => (s.staging.cluster.context = "agent-platform-production"), ["staging"], "cluster.context");
    assert.match(p.rule, /both stacks create namespace monitoring.*Helm release "kps"/);
  });
  it("refuses two environments routing the same public host", () => {
    const staged = publicService(loadConfig("staging")).name;
    const taken = Object.values(PRODUCTION.ingress.routes)[0]!.host;
    const p = clash((s) => (s.staging.ingress.routes[staged].host = taken), ["staging"], `ingress.routes.${staged}.host`);
    assert.match(p.rule, /DNS record points at one ingress controller/);
  });
  it("accepts the shipped environments, and the same context in two different kubeconfig files", () => {
    assert.equal(loadEnvironments(["local", "staging", "production"], {}, sources()).length, 3);
    const s = sources();
    s.staging.cluster = { kubeconfigPath: "~/.kube/staging", context: "agent-platform-production" };
    assert.equal(loadEnvironments(["staging"], {}, s).length, 1);
  });
  it("checks a selected environment against the others even when one of those is broken", () => {
    const s = sources();
    s.local.replicas = "not a field";
    s.staging.backend.key = "agent-platform/production.tfstate";
    assert.throws(() => loadEnvironments(["production"], {}, s), /config\/staging\.ts: backend\.key/);
  });
});

describe("a construct error never reaches the user raw", () => {
  it("wraps it into the documented message shape, naming the file", () => {
    const { synthesizePlatform } = require("../../stacks/synthesize") as typeof import("../../stacks/synthesize");
    const config = validateEnvironment(rawEnvironment("local"), "local", validateCatalog(rawCatalog()));
    // A second service of the same construct id, which no config can produce any more.
    const broken = { ...config, services: [...config.services, config.services[0]!] };
    assert.throws(
      () => synthesizePlatform([broken], `${tempDir("construct-error-")}/out`),
      (e: unknown) => e instanceof ConfigError && new RegExp(`^ {2}config/local\\.ts: \\(the whole file\\) = \\(not shown\\): the local stack cannot be built from it: There is already a Construct with name '${config.services[0]!.name}'`, "m").test(e.message),
    );
  });
  it("still refuses two objects of one kind and name in one namespace at synth (the net under the rules)", () => {
    const json = structuredClone(synthEnvironment("local"));
    const policies = json.resource.kubernetes_network_policy_v1 as Json;
    const [id, body] = Object.entries(policies).find(([, b]) => b.metadata.name === "postgres")!;
    policies[`${id}_copy`] = structuredClone(body);
    assert.deepEqual(duplicateObjects(synthEnvironment("local")), []);
    assert.match(duplicateObjects(json).join("\n"), /both named postgres in namespace .*AlreadyExists/);
  });
});

it("sizes Redis' shipped volumes by the same rule", () => {
  for (const env of ["staging", "production"] as const) {
    const redis = rawEnvironment(env).redis;
    assert.ok(parseMemoryBytes(redis.storage.size)! >= REDIS_DISK_PER_MAXMEMORY * parseMemoryBytes(redis.maxmemory)!, env);
  }
});

/**
 * The one rule set for secret-looking names and values (config/secrets.ts), and every place that
 * applies it: the schema, error messages, the policy gate and scripts/check.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, MAX_PROBLEMS_SHOWN } from "../../config/errors";
import { validateCatalog, validateEnvironment } from "../../config/load";
import { looksLikeKey, looksSecretName, redactText, secretShape } from "../../config/secrets";
import { evaluatePolicy } from "../../stacks/policy";
import { type Json, loadConfig, named, rawCatalog, rawEnvironment, synthEnvironment } from "../helpers";
import { HARMLESS_VALUES, SECRET_VALUES } from "../secret-values";

const PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----";
const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";

/** The service whose settings the tests break: the catalogue's first. */
const SERVICE = Object.keys(rawCatalog())[0]!;

describe("what looks like a secret", () => {
  it("by name: *_PASS, *_AUTH, *KEY*, passwords, tokens, in any case style", () => {
    for (const name of ["DB_PASS", "REDIS_AUTH", "OPENAI_KEY", "OPENAI_API_KEY", "DATABASE_PASSWORD", "GITHUB_TOKEN", "clientKey", "integrationKey", "apiKey", "SIGNING_SECRET", "SENTRY_DSN"]) {
      assert.ok(looksSecretName(name), name);
    }
  });
  it("not by name where the name says what it is: a file, a prefix, a version, a public key", () => {
    for (const name of ["PLATFORM_DATABASE_PASSWORD_FILE", "CACHE_KEY_PREFIX", "KEYCLOAK_REALM", "keyVersion", "LOG_LEVEL", "PUBLIC_KEY", "OAUTH_CLIENT_ID", "AUTH_URL", "TOKEN_TTL", "routingKeySecret"]) {
      assert.ok(!looksSecretName(name), name);
    }
  });
  it("by shape: URLs with a password, PEM private keys, JWTs, provider keys, long random strings", () => {
    const values: [string, RegExp][] = [
      ["postgresql://app:hunter2@db.internal:5432/agent", /URL with a password/],
      [PEM, /PEM private key/],
      [JWT, /JSON Web Token/],
      ["sk-proj-abcdefghijklmnopqrstuvwxyz012345", /provider's API key/],
      ["AKIAIOSFODNN7EXAMPLE", /provider's API key/],
      ["7f3a9c2e4b1d8f6a0c5e3b9d2f7a1c4e8b6d0f3a", /long random string/],
      ["Zx8#".replace("#", "q") + "Lm4Tq9Rv2Wc7Yp1Hn6Bk3Jd8Gs5Fa0Ue", /long random string/],
    ];
    for (const [value, what] of values) assert.match(secretShape(value) ?? "(none)", what, value);
  });
  it("not by shape for ordinary settings", () => {
    for (const value of ["https://api.example.com/v1", "info", "550e8400-e29b-41d4-a716-446655440000", "gpt-4o-mini", "agent-platform-overview-dashboard-for-production", "/etc/platform/rate-limits.yaml"]) {
      assert.equal(secretShape(value), undefined, value);
    }
  });
});

describe("applying the rule set", () => {
  const refusal = (mutate: (raw: Json) => void) => {
    const raw = rawEnvironment("production");
    mutate(raw);
    try {
      validateEnvironment(raw, "production", validateCatalog(rawCatalog()));
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.message;
    }
    return assert.fail("accepted");
  };

  it("refuses secrets in plain settings, under innocent names too, and never echoes them", () => {
    for (const [name, value] of [
      ["DATABASE_URL", "postgresql://user:pw-1234@db:5432/x"],
      ["OPENAI_KEY", "not-telling"],
      ["DB_PASS", "x"],
      ["UPSTREAM", JWT],
    ]) {
      const message = refusal((r) => (r.services[SERVICE].env = { [name]: value }));
      assert.match(message, new RegExp(`services\\.${SERVICE}\\.env\\.${name} = \\(redacted\\): looks like a secret`));
      assert.ok(!message.includes(value) || value === "x", message);
    }
  });

  it("redacts unknown fields by name or by shape", () => {
    const clientKey = refusal((r) => (r.cluster.clientKey = PEM));
    assert.match(clientKey, /cluster\.clientKey = \(redacted\): is not a known field/);
    assert.ok(!clientKey.includes("MIIEvQ"));
    const integration = refusal((r) => (r.monitoring.pagerduty.integrationKey = "d0f8b2c9e4a14f7c9b3e5a8d1c6f2e70"));
    assert.match(integration, /monitoring\.pagerduty\.integrationKey = \(redacted\)/);
    const notes = refusal((r) => (r.notes = "ask ops for postgresql://admin:Sup3rS3cret@db/prod"));
    assert.match(notes, /notes = \(redacted\)/);
    // Names that hold names are shown: an S3 object key, a Secret's key.
    assert.match(refusal((r) => (r.backend.key = "bad key")), /backend\.key = "bad key"/);
  });

  it("fails synth (the policy gate) on a secret-looking literal in an env value or a settings ConfigMap", () => {
    const json = structuredClone(synthEnvironment("production"));
    named(json, "kubernetes_config_map_v1", `${SERVICE}-settings`).data.UPSTREAM = "https://svc:t0ps3cret@tools.example.com";
    Object.values(json.resource.kubernetes_job_v1 as Record<string, Json>)[0]!.spec.template.spec.container[0].env.push({ name: "OPENAI_KEY", value: "abc" });
    const found = evaluatePolicy(json, { environment: "production" }).violations.filter((v) => v.rule === "KS-SECRET-ENV");
    assert.deepEqual(found.map((f) => f.detail).sort(), [
      "container migrate: env OPENAI_KEY has a literal value that is secret-looking: its name (OPENAI_KEY) says it is a secret",
      "data UPSTREAM (an env var) has a literal value that is secret-looking: its value looks like a URL with a password in it",
    ]);
  });

  it("is what scripts/check.ts applies to a written stack, so deploy.sh refuses what synth refuses", () => {
    const dir = mkdtempSync(join(tmpdir(), "check-secrets-"));
    try {
      const json = structuredClone(synthEnvironment("local"));
      named(json, "kubernetes_config_map_v1", `${SERVICE}-settings`).data.DB_PASS = "plain";
      mkdirSync(join(dir, "stacks", "local"), { recursive: true });
      writeFileSync(join(dir, "stacks", "local", "cdk.tf.json"), JSON.stringify(json));
      const result = spawnSync(process.execPath, [resolve(__dirname, "..", "..", "scripts", "check.js"), dir, "local"], { encoding: "utf8" });
      assert.equal(result.status, 1, result.stdout + result.stderr);
      assert.match(result.stderr, /data DB_PASS \(an env var\) has a literal value and its name \(DB_PASS\) says it is a secret/);
      assert.ok(!result.stderr.includes("plain"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the shared table of secret and harmless values (test/secret-values.ts)", () => {
  for (const v of SECRET_VALUES) {
    it(`finds ${v.name}, and redacts it from any text`, () => {
      assert.match(secretShape(v.value) ?? "(none)", v.shape);
      const text = `before ${v.value} after`;
      assert.ok(!redactText(text).includes(v.secret.slice(0, 12)), redactText(text));
      assert.match(redactText(text), /\(redacted\)/);
    });
  }
  for (const v of HARMLESS_VALUES) {
    it(`leaves ${v.name} alone`, () => {
      assert.equal(secretShape(v.value), undefined, v.value);
      assert.equal(looksLikeKey(v.value), false, v.value);
      assert.equal(redactText(v.value), v.value);
    });
  }
  it("tells a key pasted as a name from a name: random runs of letters and digits, not words", () => {
    for (const key of ["e93facc04764012d7bfb002500d5d1a6", "R0ABCD12EF34GH56IJ78KL90MN12OP34", "a1b2c3d4e5f6g7h8i9j0k1"]) assert.ok(looksLikeKey(key), key);
    for (const name of ["pagerduty", "pagerduty-routing-key", "agentplatformpagerduty2025", "routing-key", "alertmanagerpagerdutyintegration"]) assert.ok(!looksLikeKey(name), name);
  });
});

describe("the walk over every string of a config file (config/secret-fields.ts)", () => {
  /** Free-text fields a secret could be pasted into, known and unknown. */
  const FIELDS: { field: string; set: (r: Json, v: string) => void }[] = [
    { field: "migrations.command[3]", set: (r, v) => (r.migrations.command = ["python", "-m", "alembic", v]) },
    { field: "monitoring.runbookBaseUrl", set: (r, v) => (r.monitoring.runbookBaseUrl = v) },
    { field: `services.${SERVICE}.env.UPSTREAM`, set: (r, v) => (r.services[SERVICE].env = { UPSTREAM: v }) },
    { field: "cluster.context", set: (r, v) => (r.cluster.context = v) },
    { field: "ingress.tls.clusterIssuer", set: (r, v) => (r.ingress.tls.clusterIssuer = v) },
    { field: "monitoring.pagerduty.routingKeySecret.name", set: (r, v) => (r.monitoring.pagerduty.routingKeySecret.name = v) },
    { field: "backend.bucket", set: (r, v) => (r.backend.bucket = v) },
    { field: "notes", set: (r, v) => (r.notes = v) },
    { field: "redis.extraArgs[1]", set: (r, v) => (r.redis.extraArgs = ["--appendonly", v]) },
  ];
  const refused = (raw: Json): ConfigError => {
    try {
      validateEnvironment(raw, "production", validateCatalog(rawCatalog()));
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error;
    }
    return assert.fail("accepted");
  };

  for (const v of SECRET_VALUES) {
    it(`refuses ${v.name} in every free-text field, naming the field, never printing it`, () => {
      for (const f of FIELDS) {
        const raw = rawEnvironment("production");
        f.set(raw, v.value);
        const error = refused(raw);
        const found = error.problems.find((p) => p.field === f.field);
        assert.ok(found, `${f.field}:\n${error.message}`);
        assert.equal(found.value, "(redacted)", f.field);
        assert.ok(!error.message.includes(v.secret), `${f.field} printed the secret:\n${error.message}`);
      }
    });
  }

  it("refuses a secret in the catalogue too (config/services.ts)", () => {
    const catalog = rawCatalog();
    catalog[SERVICE].displayName = SECRET_VALUES[0]!.value.slice(0, 60);
    assert.throws(() => validateCatalog(catalog), (e: unknown) => e instanceof ConfigError && new RegExp(`config/services\\.ts: ${SERVICE}\\.displayName = \\(redacted\\): looks like a secret`).test(e.message) && !e.message.includes("hunter2"));
  });

  it("refuses a command whose flag takes a secret in the next argument", () => {
    const raw = rawEnvironment("production");
    raw.migrations.command = ["psql", "--password", "hunter2-arg", "-c", "select 1"];
    const error = refused(raw);
    assert.match(error.message, /migrations\.command\[2\] = \(redacted\): looks like a secret \(it follows --password/);
    assert.ok(!error.message.includes("hunter2-arg"));
  });

  it("accepts the harmless values in free-text fields", () => {
    for (const v of HARMLESS_VALUES) {
      const raw = rawEnvironment("production");
      raw.services[SERVICE].env = { UPSTREAM: v.value };
      raw.migrations.command = ["sh", "-c", v.value];
      assert.doesNotThrow(() => validateEnvironment(raw, "production", validateCatalog(rawCatalog())), v.name);
    }
  });

  it("keeps image tags that are commit SHAs and digests: public, content-derived", () => {
    const raw = rawEnvironment("production");
    raw.services[raw.migrations.service].image = { tag: "7f3a9c2e4b1d8f6a0c5e3b9d2f7a1c4e8b6d0f3a", digest: `sha256:${"ab12".repeat(16)}` };
    assert.doesNotThrow(() => validateEnvironment(raw, "production", validateCatalog(rawCatalog())));
  });

  it("never prints a key that is itself a credential", () => {
    const raw = rawEnvironment("production");
    raw.services[SERVICE].env = { "ghp_abcdefghijklmnopqrstuvwxyz0123456789": "x" };
    raw["sk-proj-abcdefghijklmnopqrstuvwxyz012345"] = true;
    const error = refused(raw);
    assert.ok(!error.message.includes("abcdefghijklmnopqrstuvwxyz"), error.message);
    assert.match(error.message, /\(redacted key\)/);
  });

  it("says how many problems it did not list: 20,000 unknown keys print a bounded message", () => {
    const raw = rawEnvironment("production");
    for (let i = 0; i < 20_000; i++) raw[`unknown_${i}`] = i;
    const error = refused(raw);
    const lines = error.message.split("\n");
    assert.ok(lines.length <= MAX_PROBLEMS_SHOWN + 2, `${lines.length} lines`);
    assert.match(error.message, /^Invalid configuration \(20,000 problems\)/);
    assert.match(lines.at(-1)!, /^ {2}… and 19,950 more problems$/);
  });
});

describe("the summary", () => {
  it("never prints a secret, even from a configuration that skipped the checks", () => {
    const { renderSummary } = require("../../stacks/summary") as typeof import("../../stacks/summary");
    for (const v of SECRET_VALUES) {
      const config = loadConfig("staging");
      const forged = { ...config, cluster: { ...config.cluster, context: v.value }, monitoring: { ...config.monitoring, criticalAlertsUnrouted: `ask ops: ${v.value}` } };
      const text = renderSummary([forged]);
      assert.ok(!text.includes(v.secret.slice(0, 12)), `${v.name}:\n${text}`);
    }
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../config/errors";
import { type LoadOverrides, validateCatalog, validateEnvironment } from "../../config/load";
import { ENVIRONMENT_NAMES } from "../../config/schema";
import { type Json, rawCatalog, rawEnvironment, synthEnvironment } from "../helpers";

function withBackend(backend: Json): Json {
  const raw = rawEnvironment("production");
  raw.backend = backend;
  return raw;
}

function problem(backend: Json, field: string, value?: string, overrides: LoadOverrides = {}): string {
  try {
    validateEnvironment(withBackend(backend), "production", validateCatalog(rawCatalog()), overrides);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    const found = error.problems.find((p) => p.field === field);
    assert.ok(found, error.message);
    if (value !== undefined) assert.equal(found.value, value);
    assert.ok(!error.message.includes("AKIA") && !error.message.includes("u:p@h"), "the message echoes a credential");
    return found.rule;
  }
  assert.fail("expected a ConfigError");
}

describe("state backends", () => {
  it("keeps local's state behind the stack folder's state link, the same path everywhere, in CI too", () => {
    const expected = { local: { path: "state/terraform.tfstate", workspace_dir: "state/workspaces" } };
    assert.deepEqual(synthEnvironment("local").terraform.backend, expected);
    assert.deepEqual(synthEnvironment("local", { ci: true }).terraform.backend, expected);
  });

  it("ships staging and production with a remote, locked backend", () => {
    for (const env of ENVIRONMENT_NAMES.filter((e) => e !== "local")) {
      const backend = synthEnvironment(env).terraform.backend;
      assert.deepEqual(Object.keys(backend), ["s3"], env);
      assert.equal(backend.s3.key, `agent-platform/${env}.tfstate`);
      assert.ok(backend.s3.use_lockfile === true && backend.s3.encrypt === true, env);
      assert.equal(backend.s3.dynamodb_table, undefined, `${env}: S3-native locking alone, no DynamoDB table`);
    }
  });

  it("refuses local state outside the local environment unless the config says it is intended", () => {
    assert.match(problem({ type: "local" }, "backend.type"), /keeps Terraform state in a local file, which a CI runner discards after every job.*declare an s3 or pg backend.*or set localStateIntended: true/);
    assert.deepEqual(synthEnvironment("production", {}, withBackend({ type: "local", localStateIntended: true })).terraform.backend, {
      local: { path: "state/terraform.tfstate", workspace_dir: "state/workspaces" },
    });
  });

  it("refuses intended local state when CI=true", () => {
    assert.match(problem({ type: "local", localStateIntended: true }, "backend.localStateIntended", "true", { ci: true }), /is refused when CI=true: a CI runner discards local Terraform state/);
  });

  it("renders S3 with S3-native locking and encryption, and no credentials", () => {
    const json = synthEnvironment("production", {}, withBackend({ type: "s3", bucket: "berrys-tfstate", region: "eu-west-1" }));
    assert.deepEqual(json.terraform.backend, {
      s3: { bucket: "berrys-tfstate", key: "agent-platform/production.tfstate", region: "eu-west-1", encrypt: true, use_lockfile: true },
    });
    // use_lockfile needs Terraform 1.10: an older one says so by name instead of failing at init.
    assert.equal(json.terraform.required_version, ">= 1.10.0");
  });

  it("constrains the Terraform version only where the backend needs it (S3's use_lockfile)", () => {
    assert.equal(synthEnvironment("local").terraform.required_version, undefined);
    assert.equal(synthEnvironment("production", {}, withBackend({ type: "pg", schemaName: "agent_platform_production" })).terraform.required_version, undefined);
  });

  it("adds a DynamoDB table where the config names one (migrating from the older locking), S3-native locking still on", () => {
    const json = synthEnvironment("production", {}, withBackend({ type: "s3", bucket: "berrys-tfstate", region: "eu-west-1", dynamodbTable: "tf-locks" }));
    assert.deepEqual(json.terraform.backend, {
      s3: { bucket: "berrys-tfstate", key: "agent-platform/production.tfstate", region: "eu-west-1", encrypt: true, dynamodb_table: "tf-locks", use_lockfile: true },
    });
  });

  it("renders pg with its schema only: the connection string comes from PG_CONN_STR", () => {
    const json = synthEnvironment("production", {}, withBackend({ type: "pg", schemaName: "agent_platform_production" }));
    assert.deepEqual(json.terraform.backend, { pg: { schema_name: "agent_platform_production" } });
  });


  it("fails when a credential is written into the config", () => {
    assert.match(
      problem({ type: "s3", bucket: "b-state", region: "eu-west-1", dynamodbTable: "locks", accessKey: "AKIA..." }, "backend.accessKey", "(redacted)"),
      /not a known field/,
    );
    assert.match(problem({ type: "pg", schemaName: "state", connStr: "postgres://u:p@h/db" }, "backend.connStr", "(redacted)"), /not a known field/);
  });

  it("fails on an unknown backend type", () => {
    assert.match(problem({ type: "gcs" }, "backend.type"), /"local", "s3", "pg"/);
  });
});

/**
 * The emitted S3 backend block, run by real Terraform against a real S3 API (versitygw, an
 * S3-compatible server on a directory): `terraform init` accepts it without a deprecation warning,
 * `terraform apply` holds the lock as an S3 object (`<key>.tflock`, S3-native locking) and writes
 * the state to the configured bucket and key, with no DynamoDB table anywhere; and Terraform's own
 * region check agrees with config/aws-regions.ts. Skipped, saying why, without terraform or
 * versitygw (`.ci/run` builds both).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { S3_BACKEND_REGIONS } from "../../config/aws-regions";
import { type Json, rawEnvironment, synthEnvironment, tempDir } from "../helpers";
import { freePort, waitFor } from "../servers";
import { runAsync, terraformBinary } from "../tools";

const VERSITYGW_VERSION = "v1.8.0";
/** versitygw: VERSITYGW, else where `.ci/run` caches it. */
const versitygw = process.env.VERSITYGW ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "agent-platform", "bin", `versitygw-${VERSITYGW_VERSION}`);
const terraform = terraformBinary();
const skip = !terraform ? "terraform not found (set TERRAFORM or put it on PATH); .ci/run builds it" : !existsSync(versitygw) ? `versitygw not found at ${versitygw} (set VERSITYGW); .ci/run builds it` : undefined;

const BUCKET = "state.berrys-agents.dev";
const REGION = "eu-west-1";
/** Test-only credentials of the throwaway S3 server (not secrets: the server lives for this test). */
const ACCESS = { AWS_ACCESS_KEY_ID: "platform-test", AWS_SECRET_ACCESS_KEY: "platform-test-only" };

let server: ChildProcess | undefined;
let port = 0;
let root = "";

before(async () => {
  if (skip) return;
  root = tempDir("s3-backend-");
  mkdirSync(join(root, "data", BUCKET), { recursive: true });
  port = await freePort();
  server = spawn(versitygw, ["--port", `127.0.0.1:${port}`, "--region", REGION, "--quiet", "posix", join(root, "data")], {
    env: { ...process.env, ROOT_ACCESS_KEY: ACCESS.AWS_ACCESS_KEY_ID, ROOT_SECRET_KEY: ACCESS.AWS_SECRET_ACCESS_KEY },
    stdio: "ignore",
  });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined)) !== undefined, "versitygw");
});
after(() => {
  server?.kill();
});

/** The production stack's backend block, for `backend`. */
function emittedBackend(backend: Json): Json {
  const raw = rawEnvironment("production");
  raw.backend = backend;
  return synthEnvironment("production", {}, raw).terraform.backend;
}

/** A Terraform working directory holding only `backend` (and `extra`), pointed at the test server. */
function workdir(backend: Json, extra: Json = {}): string {
  const dir = tempDir("s3-backend-work-");
  writeFileSync(join(dir, "main.tf.json"), JSON.stringify({ terraform: { backend }, ...extra }, null, 2));
  // Where the test's S3 API is: given at init, as an operator would for a non-AWS endpoint.
  writeFileSync(
    join(dir, "test.s3.tfbackend"),
    [`endpoints = { s3 = "http://127.0.0.1:${port}" }`, "use_path_style = true", "skip_credentials_validation = true", "skip_requesting_account_id = true", "skip_metadata_api_check = true", ""].join("\n"),
  );
  return dir;
}

const tf = (dir: string, args: string[]) =>
  runAsync(terraform!, [...args, "-input=false", "-no-color"], {
    cwd: dir,
    env: { ...process.env, ...ACCESS, AWS_MAX_ATTEMPTS: "1", CHECKPOINT_DISABLE: "1", TF_CLI_CONFIG_FILE: "/dev/null", TF_IN_AUTOMATION: "1" },
  });

describe("the S3 backend as Terraform runs it", { skip }, () => {
  it("locks with an S3 object (use_lockfile) while it applies, writes the state at the key, and warns about nothing", async () => {
    const backend = emittedBackend({ type: "s3", bucket: BUCKET, region: REGION });
    assert.deepEqual(backend.s3, { bucket: BUCKET, key: "agent-platform/production.tfstate", region: REGION, encrypt: true, use_lockfile: true });
    const lock = join(root, "data", BUCKET, "agent-platform", "production.tfstate.tflock");
    // The apply fails unless the lock object exists while it runs.
    const dir = workdir(backend, {
      resource: { terraform_data: { lock_held: { provisioner: [{ "local-exec": { command: `test -f '${lock}'` } }] } } },
      output: { applied: { value: true } },
    });
    const init = await tf(dir, ["init", "-backend-config=test.s3.tfbackend"]);
    assert.equal(init.status, 0, init.stdout + init.stderr);
    assert.doesNotMatch(init.stdout + init.stderr, /Warning|Deprecated|dynamodb/i);
    const apply = await tf(dir, ["apply", "-auto-approve"]);
    assert.equal(apply.status, 0, apply.stdout + apply.stderr);
    const state = JSON.parse(readFileSync(join(root, "data", BUCKET, "agent-platform", "production.tfstate"), "utf8")) as Json;
    assert.equal(state.outputs.applied.value, true);
    assert.ok(!existsSync(lock), "the lock object is removed after the apply");
  });

  it("still locks with a DynamoDB table where the config keeps one (migration), S3-native locking on too", async () => {
    const backend = emittedBackend({ type: "s3", bucket: BUCKET, region: REGION, key: "agent-platform/migrating.tfstate", dynamodbTable: "tf-locks" });
    assert.equal(backend.s3.use_lockfile, true);
    assert.equal(backend.s3.dynamodb_table, "tf-locks");
    const dir = workdir(backend);
    // DynamoDB at the test server too, which does not speak it: the lock attempt shows it is used.
    writeFileSync(join(dir, "test.s3.tfbackend"), readFileSync(join(dir, "test.s3.tfbackend"), "utf8").replace(/^endpoints = \{ s3 = (".*") \}$/m, "endpoints = { s3 = $1, dynamodb = $1 }"));
    const init = await tf(dir, ["init", "-backend-config=test.s3.tfbackend"]);
    assert.equal(init.status, 0, init.stdout + init.stderr);
    const plan = await tf(dir, ["plan"]);
    assert.notEqual(plan.status, 0);
    assert.match(plan.stdout + plan.stderr, /Error acquiring the state lock[\s\S]*DynamoDB/);
  });

  it("refuses the regions config/aws-regions.ts refuses, and accepts the ones it lists", async () => {
    const refused = await tf(workdir({ s3: { bucket: BUCKET, key: "k.tfstate", region: "eu-westt-1", use_lockfile: true } }), ["init", "-backend-config=test.s3.tfbackend"]);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stdout + refused.stderr, /Invalid region value/);
    const listed = Object.keys(S3_BACKEND_REGIONS);
    for (const region of [listed[0]!, "mx-central-1", "ap-southeast-7", listed[listed.length - 1]!]) {
      assert.ok(listed.includes(region), region);
      const result = await tf(workdir({ s3: { bucket: BUCKET, key: "k.tfstate", region, use_lockfile: true } }), ["init", "-backend-config=test.s3.tfbackend"]);
      assert.doesNotMatch(result.stdout + result.stderr, /Invalid region value/, region);
    }
  });
});

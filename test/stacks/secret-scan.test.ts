/**
 * The walk over every string of a synthesized stack (stacks/secret-scan.ts `secretStrings`), as
 * the policy gate (KS-SECRET-LITERAL) and scripts/check.ts apply it: every value of the shared
 * table is found wherever a construct could put it, no harmless value is, and the shipped stacks
 * hold none.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { ENVIRONMENT_NAMES } from "../../config/schema";
import { evaluatePolicy } from "../../stacks/policy";
import { secretStrings } from "../../stacks/secret-scan";
import { type Json, synthEnvironment, tempDir } from "../helpers";
import { HARMLESS_VALUES, SECRET_VALUES } from "../secret-values";

/** Places a construct could write configuration text into, in a synthesized stack. */
const PLACES: { where: RegExp; put: (json: Json, value: string) => void }[] = [
  { where: /kubernetes_job_v1\..*container\[0\]\.command/, put: (j, v) => (Object.values(j.resource.kubernetes_job_v1 as Json)[0].spec.template.spec.container[0].command = ["sh", "-c", v]) },
  { where: /kubernetes_ingress_v1\..*annotations/, put: (j, v) => (Object.values(j.resource.kubernetes_ingress_v1 as Json)[0].metadata.annotations = { "example.com/upstream": v }) },
  { where: /helm_release\..*values\[0\]/, put: (j, v) => (Object.values(j.resource.helm_release as Json)[0].values = [`grafana:\n  extra: ${JSON.stringify(v)}\n`]) },
  { where: /provider\.kubernetes/, put: (j, v) => (j.provider.kubernetes[0].config_context = v) },
  { where: /terraform\.backend/, put: (j, v) => (j.terraform.backend = { s3: { bucket: v } }) },
  { where: /kubernetes_deployment_v1\..*container\[0\]\.args/, put: (j, v) => (Object.values(j.resource.kubernetes_deployment_v1 as Json)[0].spec.template.spec.container[0].args = ["--upstream", v]) },
];

describe("every string of a synthesized stack, by the one rule set", () => {
  it("finds nothing in the shipped stacks, in either autoscaling mode", () => {
    for (const env of ENVIRONMENT_NAMES) {
      for (const enableAutoscaling of [false, true]) assert.deepEqual(secretStrings(synthEnvironment(env, { enableAutoscaling })), [], env);
    }
  });

  for (const v of SECRET_VALUES) {
    it(`finds ${v.name} wherever a construct could write it, and the policy gate refuses it`, () => {
      for (const place of PLACES) {
        const json = structuredClone(synthEnvironment("production"));
        place.put(json, v.value);
        const found = secretStrings(json);
        assert.ok(found.some((f) => place.where.test(f.where)), `${place.where}: ${JSON.stringify(found)}`);
        const violations = evaluatePolicy(json, { environment: "production" }).violations.filter((f) => f.rule === "KS-SECRET-LITERAL");
        assert.ok(violations.length > 0, String(place.where));
        assert.ok(!violations.some((f) => f.detail.includes(v.secret)), "the finding prints the secret");
      }
    });
  }

  it("finds a secret in the monitoring files written beside the stack", () => {
    assert.equal(secretStrings({}, { "prometheus-rules.yaml": `runbook_url: ${SECRET_VALUES[0]!.value}` }).length, 1);
  });

  it("leaves the harmless values alone", () => {
    for (const v of HARMLESS_VALUES) {
      for (const place of PLACES) {
        const json = structuredClone(synthEnvironment("production"));
        place.put(json, v.value);
        assert.deepEqual(secretStrings(json), [], `${v.name} at ${place.where}`);
      }
    }
  });

  it("is what scripts/check.ts applies to a written stack and its monitoring files, never printing the secret", () => {
    const dir = tempDir("check-strings-");
    const json = structuredClone(synthEnvironment("local"));
    PLACES[0]!.put(json, "PGPASSWORD=Check-Pw-31 alembic upgrade head");
    mkdirSync(join(dir, "stacks", "local"), { recursive: true });
    writeFileSync(join(dir, "stacks", "local", "cdk.tf.json"), JSON.stringify(json));
    mkdirSync(join(dir, "monitoring", "local"), { recursive: true });
    writeFileSync(join(dir, "monitoring", "local", "notes.txt"), "https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/aBcDeFgHiJkLmNoPqRsTuVwX");
    const result = spawnSync(process.execPath, [resolve(__dirname, "..", "..", "scripts", "check.js"), dir, "local"], { encoding: "utf8" });
    assert.equal(result.status, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /container\[0\]\.command\[2\] looks like a secret assigned to a name that says so/);
    assert.match(result.stderr, /monitoring file notes\.txt looks like a webhook URL with its token/);
    assert.ok(!result.stderr.includes("Check-Pw-31") && !result.stdout.includes("Check-Pw-31"));
    assert.ok(!result.stderr.includes("aBcDeFgHiJkLmNoPqRsTuVwX"));
  });
});

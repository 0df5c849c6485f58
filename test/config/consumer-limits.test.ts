/**
 * Every accepted config deploys, round three: inputs a fuzz run found accepted at synth and
 * refused by the consumer (a real kube-apiserver's server-side dry run of the stack's objects).
 * One failing fixture per rule, refused with file, field, value and rule, and the valid-but-unusual
 * input at the edge that must still be accepted and synthesize.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../config/errors";
import { MAX_INT32 } from "../../config/extreme-rules";
import { validateCatalog, validateEnvironment } from "../../config/load";
import type { EnvironmentName } from "../../config/schema";
import { isRolling, serviceWhere } from "../catalogue";
import { type Json, loadConfig, rawCatalog, rawEnvironment, resources, synthEnvironment } from "../helpers";

const PRODUCTION = loadConfig("production");
/** Released rolling, so it has one Deployment, one HPA and one PodDisruptionBudget. */
const SERVICE = serviceWhere(PRODUCTION, "a service released rolling", isRolling).name;

/** The one problem a mutated environment file fails with at `field` (file, field, value, rule). */
function refused(env: EnvironmentName, mutate: (raw: Json, catalog: Json) => void, field: string, file = `config/${env}.ts`): { value: string; rule: string } {
  const raw = rawEnvironment(env);
  const catalog = rawCatalog();
  mutate(raw, catalog);
  try {
    validateEnvironment(raw, env, validateCatalog(catalog));
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    const found = error.problems.filter((p) => p.field === field);
    assert.equal(found.length, 1, `one problem at ${field}:\n${error.message}`);
    assert.ok(error.message.includes(`${file}: ${field} = ${found[0]!.value}: ${found[0]!.rule}`), error.message);
    return found[0]!;
  }
  return assert.fail(`${file} was accepted`);
}

/** The stack of a mutated environment file, through synth's checks. */
function accepted(env: EnvironmentName, mutate: (raw: Json) => void, overrides = {}): Json {
  const raw = rawEnvironment(env);
  mutate(raw);
  return synthEnvironment(env, overrides, raw);
}

const named = (json: Json, type: string, name: string): Json => {
  const found = Object.values(resources(json, type)).find((r) => r.metadata.name === name);
  assert.ok(found, `${type} ${name}`);
  return found;
};

describe("integers the API server holds in int32 fields", () => {
  it("refuses an HPA scaling policy value above 2147483647, in either direction", () => {
    for (const direction of ["scaleUp", "scaleDown"] as const) {
      const { value, rule } = refused("production", (r) => (r.services[SERVICE].autoscaling.behavior[direction].policies[0].value = MAX_INT32 + 1), `services.${SERVICE}.autoscaling.behavior.${direction}.policies[0].value`);
      assert.equal(value, "2147483648");
      assert.match(rule, /is above 2147483647, the largest number an HPA scaling policy's value holds \(a Kubernetes int32\): the API server refuses the object/);
    }
  });
  it("refuses a PodDisruptionBudget maxUnavailable above 2147483647", () => {
    const { rule } = refused("production", (r) => (r.services[SERVICE].disruption = { maxUnavailable: 1e12 }), `services.${SERVICE}.disruption.maxUnavailable`);
    assert.match(rule, /largest number a PodDisruptionBudget's maxUnavailable holds/);
  });
  it("accepts 2147483647 in both, and emits it as written", () => {
    const json = accepted(
      "production",
      (r) => {
        r.services[SERVICE].autoscaling.behavior.scaleUp.policies[0].value = MAX_INT32;
        r.services[SERVICE].disruption = { maxUnavailable: MAX_INT32 };
      },
      { enableAutoscaling: true },
    );
    assert.equal(named(json, "kubernetes_horizontal_pod_autoscaler_v2", SERVICE).spec.behavior.scale_up[0].policy[0].value, MAX_INT32);
    assert.equal(named(json, "kubernetes_pod_disruption_budget_v1", SERVICE).spec.max_unavailable, String(MAX_INT32));
  });
});

/**
 * constructs/data-bearing.ts: one call marks a resource as holding data; the stack then protects
 * every mark (prevent_destroy where asked) and records the addresses in an output the destroy
 * guard reads. Then the shipped stacks: what each environment protects.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { Release } from "@cdktf/provider-helm/lib/release";
import type { TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { DATA_BEARING_OUTPUT, markDataBearing, protectDataBearing } from "../../constructs/data-bearing";
import { ENVIRONMENT_NAMES } from "../../config/schema";
import { type Json, resources, synthEnvironment, synthScope } from "../helpers";

function stackWith(build: (scope: Construct) => void): Json {
  return JSON.parse(synthScope(build)) as Json;
}

const ledger = (scope: Construct, id = "ledger") => new ConfigMapV1(scope, id, { metadata: { name: id }, data: { balance: "42" } });

describe("markDataBearing and protectDataBearing", () => {
  it("sets prevent_destroy on the marked resource only, and lists its address in the output", () => {
    const json = stackWith((scope) => {
      markDataBearing(ledger(scope), "the ledger");
      ledger(scope, "scratch");
      protectDataBearing(scope as TerraformStack, { preventDestroy: true });
    });
    assert.deepEqual(json.resource.kubernetes_config_map_v1.ledger.lifecycle, { prevent_destroy: true });
    assert.equal(json.resource.kubernetes_config_map_v1.scratch.lifecycle, undefined);
    assert.deepEqual(json.output[DATA_BEARING_OUTPUT].value, ["kubernetes_config_map_v1.ledger"]);
  });

  it("marks a Helm release with one call (a CloudNativePG cluster, say)", () => {
    const json = stackWith((scope) => {
      const cluster = new Release(scope, "database", { name: "database", chart: "cluster", repository: "https://cloudnative-pg.github.io/charts", version: "0.3.1" });
      markDataBearing(cluster, "CloudNativePG cluster: the database and its WAL");
      protectDataBearing(scope as TerraformStack, { preventDestroy: true });
    });
    assert.deepEqual(json.resource.helm_release.database.lifecycle, { prevent_destroy: true });
    assert.deepEqual(json.output[DATA_BEARING_OUTPUT].value, ["helm_release.database"]);
  });

  it("records the addresses without prevent_destroy where the environment does not ask for it", () => {
    const json = stackWith((scope) => {
      markDataBearing(ledger(scope), "the ledger");
      protectDataBearing(scope as TerraformStack, { preventDestroy: false });
    });
    assert.equal(json.resource.kubernetes_config_map_v1.ledger.lifecycle, undefined);
    assert.deepEqual(json.output[DATA_BEARING_OUTPUT].value, ["kubernetes_config_map_v1.ledger"]);
  });

  it("lifts prevent_destroy for exactly the allowed addresses, and keeps other lifecycle settings", () => {
    const json = stackWith((scope) => {
      const a = ledger(scope, "a");
      a.lifecycle = { ignoreChanges: ["metadata"] };
      markDataBearing(a, "a");
      markDataBearing(ledger(scope, "b"), "b");
      protectDataBearing(scope as TerraformStack, { preventDestroy: true, allowDestroy: ["kubernetes_config_map_v1.b"] });
    });
    assert.deepEqual(json.resource.kubernetes_config_map_v1.a.lifecycle, { ignore_changes: ["metadata"], prevent_destroy: true });
    assert.equal(json.resource.kubernetes_config_map_v1.b.lifecycle, undefined);
    assert.deepEqual(json.output[DATA_BEARING_OUTPUT].value, ["kubernetes_config_map_v1.a", "kubernetes_config_map_v1.b"]);
  });

  it("fails when the mark does not say what data the resource holds", () => {
    assert.throws(() => stackWith((scope) => markDataBearing(ledger(scope), " ")), /markDataBearing\(.*ledger\): say what data the resource holds/);
  });
});

describe("the shipped stacks' data", () => {
  const protectedIn = (json: Json) =>
    Object.entries(json.resource as Record<string, Record<string, Json>>)
      .flatMap(([type, rs]) => Object.entries(rs).filter(([, r]) => r.lifecycle?.prevent_destroy).map(([id]) => `${type}.${id}`))
      .sort();

  for (const env of ENVIRONMENT_NAMES) {
    it(`${env}: marks the namespaces, the StatefulSets with volumes and the monitoring release${env === "local" ? "; prevent_destroy nowhere" : ", all prevent_destroy"}`, () => {
      const json = synthEnvironment(env);
      const listed = [...(json.output[DATA_BEARING_OUTPUT].value as string[])].sort();
      const types = listed.map((a) => a.split(".")[0]);
      assert.equal(types.filter((t) => t === "kubernetes_namespace_v1").length, 2, listed.join(", "));
      assert.ok(types.includes("helm_release"), listed.join(", "));
      const withVolumes = Object.entries(resources(json, "kubernetes_stateful_set_v1"))
        .filter(([, s]) => (s.spec.volume_claim_template ?? []).length > 0)
        .map(([id]) => `kubernetes_stateful_set_v1.${id}`);
      assert.ok(withVolumes.length > 0);
      for (const sts of withVolumes) assert.ok(listed.includes(sts), `${sts} holds volume claims but is not marked`);
      assert.deepEqual(protectedIn(json), env === "local" ? [] : listed);
    });
  }

  it("keeps every StatefulSet's volume claims when it is deleted or scaled down", () => {
    for (const env of ENVIRONMENT_NAMES) {
      for (const [id, sts] of Object.entries(resources(synthEnvironment(env), "kubernetes_stateful_set_v1"))) {
        assert.deepEqual(sts.spec.persistent_volume_claim_retention_policy, [{ when_deleted: "Retain", when_scaled: "Retain" }], `${env} ${id}`);
      }
    }
  });
});

/**
 * scripts/plan-guard.ts on saved plans as `terraform show -json` printed them. The fixtures are
 * real plans of the real stacks against a real API server (test/fixtures/plans/README.md says
 * how they were made); the cases that real plans of these stacks cannot show (a deposed object,
 * create-before-destroy, `forget`) are the same JSON with one change's actions edited, and say so.
 * test/scripts/plan-guard-cluster.test.ts makes such plans afresh where the cluster can run.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { DATA_TYPES, dataBearingAddresses, judgePlan, renderVerdict } from "../../scripts/plan-guard";
import type { Json } from "../helpers";

const PLANS = resolve(__dirname, "..", "..", "..", "test", "fixtures", "plans");
const plan = (name: string): Json => JSON.parse(gunzipSync(readFileSync(join(PLANS, `${name}.json.gz`))).toString("utf8")) as Json;

const NAMESPACE = "kubernetes_namespace_v1.namespace_67941C3A";
const STATEFUL_SET = "kubernetes_stateful_set_v1.postgres_server_stateful-set_41B50D02";
const SECRET = "kubernetes_secret_v1.secrets_postgres_3F82B1CE";
const REDIS = "kubernetes_stateful_set_v1.redis_server_stateful-set_B60DBCF4";
const deleting = (p: Json) => (p.resource_changes as Json[]).filter((c) => c.change.actions.includes("delete")).map((c) => c.address as string);

describe("plan guard", () => {
  it("guards namespaces, StatefulSets, volume claims, volumes and Secrets by type", () => {
    for (const type of ["kubernetes_namespace_v1", "kubernetes_stateful_set_v1", "kubernetes_persistent_volume_claim_v1", "kubernetes_persistent_volume_v1", "kubernetes_secret_v1"]) {
      assert.ok(DATA_TYPES[type], type);
    }
    assert.equal(DATA_TYPES.kubernetes_config_map_v1, undefined);
  });

  it("accepts a plan that only creates", () => {
    const verdict = judgePlan(plan("local-create"), []);
    assert.deepEqual(verdict.refused, []);
    assert.ok(verdict.dataBearing.includes(STATEFUL_SET), "the stack's output is read from the plan's configuration");
    const report = renderVerdict(verdict, { allowUnused: false });
    assert.equal(report.status, 0);
    assert.equal(report.stdout, "destroy guard: the plan deletes or replaces nothing that holds data\n");
  });

  it("refuses a renamed namespace: the namespace, the StatefulSet and the Secret, and none of the other replacements", () => {
    const renamed = plan("local-rename-namespace");
    const verdict = judgePlan(renamed, []);
    assert.deepEqual(verdict.refused.map((g) => g.address).sort(), [NAMESPACE, SECRET, STATEFUL_SET].sort());
    assert.ok(deleting(renamed).length > verdict.refused.length, "the plan replaces more (a ServiceAccount, ConfigMaps), which holds no data");
    const namespace = verdict.refused.find((g) => g.address === NAMESPACE)!;
    assert.deepEqual(namespace, {
      address: NAMESPACE,
      action: "replace (delete, then create)",
      object: "agent-platform",
      why: "a namespace: every volume claim and Secret in it is deleted with it; marked data-bearing by the stack",
    });
    assert.equal(verdict.refused.find((g) => g.address === SECRET)!.why, "a Secret the platform owns");
    const report = renderVerdict(verdict, { allowUnused: false });
    assert.equal(report.status, 1);
    assert.match(report.stderr, /^destroy guard: the plan deletes or replaces what holds data, and no --allow-destroy names it:\n/);
    assert.match(report.stderr, /^  kubernetes_stateful_set_v1\.postgres_server_stateful-set_41B50D02 \(agent-platform\/postgres\): replace \(delete, then create\) — a StatefulSet; marked data-bearing by the stack$/m);
    assert.match(report.stderr, /Nothing was applied\. If the loss is intended .* --allow-destroy=<address> for each address above/);
    assert.ok(!report.stderr.includes("fixture-not-a-secret"), "no variable value reaches the report");
  });

  it("lets through exactly the addresses --allow-destroy names", () => {
    const renamed = plan("local-rename-namespace");
    const two = judgePlan(renamed, [NAMESPACE, STATEFUL_SET]);
    assert.deepEqual(two.refused.map((g) => g.address), [SECRET]);
    assert.equal(renderVerdict(two, { allowUnused: false }).status, 1);
    const all = renderVerdict(judgePlan(renamed, [NAMESPACE, STATEFUL_SET, SECRET]), { allowUnused: false });
    assert.equal(all.status, 0);
    assert.match(all.stdout, /as --allow-destroy allows:\n(  .+\n){3}$/);
  });

  it("refuses an allowance this plan does not use, unless told the run's first plan used it", () => {
    const verdict = judgePlan(plan("local-create"), [STATEFUL_SET]);
    assert.deepEqual(verdict.unused, [STATEFUL_SET]);
    const strict = renderVerdict(verdict, { allowUnused: false });
    assert.equal(strict.status, 1);
    assert.match(strict.stderr, /--allow-destroy names what this plan neither deletes nor replaces \(check the address\):\n  kubernetes_stateful_set_v1\.postgres_server_stateful-set_41B50D02\n/);
    assert.equal(renderVerdict(verdict, { allowUnused: true }).status, 0);
  });

  it("refuses a replaced StatefulSet (staging, Redis persistence turned off), which its new config no longer marks", () => {
    const replaced = plan("staging-replace-statefulset");
    assert.ok(!dataBearingAddresses(replaced).includes(REDIS), "the new config no longer lists Redis");
    assert.deepEqual(
      judgePlan(replaced, []).refused.map((g) => [g.address, g.action, g.object, g.why]),
      [[REDIS, "replace (delete, then create)", "agent-platform-staging/redis", "a StatefulSet"]],
    );
  });

  it("refuses staging's renamed namespace with prevent_destroy lifted: the namespace and both StatefulSets", () => {
    const verdict = judgePlan(plan("staging-rename-namespace"), []);
    assert.deepEqual(verdict.refused.map((g) => g.address).sort(), [NAMESPACE, STATEFUL_SET, REDIS].sort());
    assert.ok(verdict.refused.every((g) => g.why.endsWith("marked data-bearing by the stack")));
  });

  it("knows a resource removed from the config was data-bearing, from the prior state's output", () => {
    const removed = plan("removed-marked-resource");
    assert.ok(!JSON.stringify(removed.configuration).includes("kubernetes_config_map_v1.ledger"), "the new config no longer lists it");
    assert.deepEqual(dataBearingAddresses(removed), ["kubernetes_config_map_v1.ledger"]);
    assert.deepEqual(
      judgePlan(removed, []).refused.map((g) => [g.address, g.action, g.why]),
      [["kubernetes_config_map_v1.ledger", "delete", "marked data-bearing by the stack"]],
    );
  });

  describe("actions real plans of these stacks do not show (the rename plan, one change edited)", () => {
    const edited = (edit: (change: Json) => void): Json => {
      const p = plan("local-rename-namespace");
      edit((p.resource_changes as Json[]).find((c) => c.address === STATEFUL_SET)!);
      return p;
    };
    it("names create-before-destroy a replacement too", () => {
      const g = judgePlan(edited((c) => (c.change.actions = ["create", "delete"])), []).refused.find((r) => r.address === STATEFUL_SET)!;
      assert.equal(g.action, "replace (create, then delete)");
    });
    it("guards a deposed object's deletion", () => {
      const g = judgePlan(edited((c) => ((c.change.actions = ["delete"]), (c.deposed = "00000001"))), []).refused.find((r) => r.address === STATEFUL_SET)!;
      assert.equal(g.action, "delete (deposed object 00000001)");
    });
    it("lets `forget` through: the object stays in the cluster", () => {
      assert.ok(!judgePlan(edited((c) => (c.change.actions = ["forget"])), []).refused.some((r) => r.address === STATEFUL_SET));
    });
    it("shows an address with control characters escaped", () => {
      const report = renderVerdict(judgePlan(edited((c) => (c.address = "kubernetes_stateful_set_v1.x\u001b[2J")), []), { allowUnused: false });
      assert.doesNotMatch(report.stderr, /\u001b/);
      assert.match(report.stderr, /kubernetes_stateful_set_v1\.x\\u001b\[2J/);
    });
  });
});

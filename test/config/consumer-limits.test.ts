/**
 * Every accepted config deploys, round three: inputs a fuzz run found accepted at synth and
 * refused by the consumer (a real kube-apiserver's server-side dry run of the stack's objects).
 * One failing fixture per rule, refused with file, field, value and rule, and the valid-but-unusual
 * input at the edge that must still be accepted and synthesize.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderPath } from "../../config/errors";
import { MAX_INT32 } from "../../config/extreme-rules";
import { isRolling, serviceWhere } from "../catalogue";
import { clusterReleaseValues } from "../cnpg";
import { type Json, loadConfig, named, resources } from "../helpers";
import { accepted, refused } from "./refusals";

const PRODUCTION = loadConfig("production");
/** Released rolling, so it has one Deployment, one HPA and one PodDisruptionBudget. */
const SERVICE = serviceWhere(PRODUCTION, "a service released rolling", isRolling).name;

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

describe("label keys the API server refuses in a selector", () => {
  const prefix = (length: number) => {
    const labels = ["a", "b", "c", "d"].map((c) => c.repeat(63));
    return labels.join(".").slice(0, length).replace(/\.$/, "x");
  };
  it("refuses a label key whose prefix is longer than 253 characters, wherever labels select pods", () => {
    const key = `${prefix(254)}/name`;
    for (const field of ["ingressController.podLabels", "dns.podLabels"] as const) {
      const { rule } = refused(
        "production",
        (r) => {
          if (field === "dns.podLabels") r.dns = { namespace: "kube-system", podLabels: { [key]: "kube-dns" } };
          else r.ingressController.podLabels = { [key]: "controller" };
        },
        renderPath([...field.split("."), key]),
      );
      assert.match(rule, /prefix \(before the \/\) is at most 253 characters/);
    }
  });
  it("accepts a prefix of exactly 253 characters, labels of 63 inside it, and selects pods by it", () => {
    const key = `${prefix(253)}/name`;
    assert.equal(key.indexOf("/"), 253);
    const json = accepted("production", (r) => (r.ingressController.podLabels = { [key]: "controller" }));
    const policies = Object.values(resources(json, "kubernetes_network_policy_v1"));
    assert.ok(JSON.stringify(policies).includes(key));
  });
});

describe("byte quantities beyond what a Kubernetes quantity holds", () => {
  it("refuses a size of 8Ei (2^63 bytes) or more, naming the field", () => {
    for (const [field, mutate] of [
      ["postgres.storage.size", (r: Json) => (r.postgres.storage.size = "8Ei")],
      ["monitoring.prometheusStorage.size", (r: Json) => (r.monitoring.prometheusStorage.size = "100Ei")],
      ["nodeSize.memory", (r: Json) => (r.nodeSize.memory = "9223372036854775808")],
    ] as const) {
      const { rule } = refused("production", mutate, field);
      assert.match(rule, /at least 8Ei \(2\^63 bytes\).*stores 9223372036854775807 instead/);
    }
  });
  it("refuses sizes below 8Ei each whose namespace quota sums to 8Ei or more", () => {
    const { value, rule } = refused("production", (r) => ((r.postgres.storage.size = "5Ei"), (r.redis.storage.size = "5Ei")), "quota");
    assert.match(value, /requests\.storage/);
    assert.match(rule, /sizes the namespace's ResourceQuota .* at least 8Ei/);
  });
  it("accepts a volume just below 2^63 bytes with the namespace's other volumes, and emits it as written", () => {
    // 2^63 bytes less 16Gi, shared by every database instance's volume, beside Redis' 10Gi: the
    // quota's requests.storage stays below 2^63.
    const topology = loadConfig("production").postgres.topology;
    const instances = topology.kind === "cloudnative-pg" ? topology.instances + (topology.walStorage ? topology.instances : 0) : 1;
    const size = `${Math.floor(8796093005824 / instances)}Mi`;
    const json = accepted("production", (r) => {
      r.postgres.storage.size = size;
      if (r.postgres.topology?.walStorage) r.postgres.topology.walStorage.size = size;
      r.redis.storage.size = "10Gi";
    });
    const emitted =
      topology.kind === "cloudnative-pg"
        ? clusterReleaseValues(json).cluster.storage.size
        : named(json, "kubernetes_stateful_set_v1", "postgres").spec.volume_claim_template[0].spec.resources.requests.storage;
    assert.equal(emitted, size);
  });
});

describe("setting names the API server refuses as ConfigMap keys", () => {
  it("refuses an env name longer than 253 characters", () => {
    const name = "A".repeat(254);
    const { rule } = refused("production", (r) => (r.services[SERVICE].env = { [name]: "x" }), renderPath(["services", SERVICE, "env", name]));
    assert.match(rule, /at most 253 characters: it is a key of the service's settings ConfigMap/);
  });
  it("accepts one of exactly 253, as a key of the service's settings ConfigMap", () => {
    const name = "A".repeat(253);
    const json = accepted("production", (r) => (r.services[SERVICE].env = { [name]: "x" }));
    assert.ok(Object.hasOwn(named(json, "kubernetes_config_map_v1", `${SERVICE}-settings`).data, name));
  });
});

describe("text no process can be started with", () => {
  it("refuses a NUL character in a setting's value and in the migration command, and never prints it raw", () => {
    const env = refused("production", (r) => (r.services[SERVICE].env = { GREETING: "hello\u0000world" }), `services.${SERVICE}.env.GREETING`);
    assert.equal(env.value, '"hello\\u0000world"');
    assert.match(env.rule, /NUL character.*EINVAL \(invalid argument\)/);
    const command = refused("production", (r) => r.migrations.command.push("--tag=a\u0000b"), `migrations.command[${PRODUCTION.migrations.command.length}]`);
    assert.ok(!command.value.includes("\u0000"), command.value);
    assert.match(command.rule, /NUL character/);
  });
  it("accepts a value with a newline, a tab and non-ASCII text, which an environment holds", () => {
    const json = accepted("production", (r) => (r.services[SERVICE].env = { GREETING: "line one\n\tline two, grüße ✓" }));
    assert.equal(named(json, "kubernetes_config_map_v1", `${SERVICE}-settings`).data.GREETING.includes("grüße"), true);
  });
});

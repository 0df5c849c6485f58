/**
 * deploy.sh and the e2e find the platform's namespace in a synthesized stack by its
 * ResourceQuota, in any order of the JSON's keys: the database operator's namespace is restricted
 * too, and sorts first in the file Terraform reads.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ENVIRONMENT_NAMES } from "../../config/schema";
import { platformNamespace } from "../../scripts/platform-namespace";
import { type Json, loadConfig, synthEnvironment } from "../helpers";

/** The same stack with every object's keys in the reverse of their order. */
function reversed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversed);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value as Json).reverse().map(([k, v]) => [k, reversed(v)]));
}

describe("the platform namespace of a synthesized stack", () => {
  for (const env of ENVIRONMENT_NAMES) {
    it(`${env}: is the configured namespace, in either order of the stack's keys`, () => {
      const stack = synthEnvironment(env);
      const expected = loadConfig(env).namespace;
      assert.equal(platformNamespace(stack)?.name, expected);
      assert.equal(platformNamespace(reversed(stack) as Json)?.name, expected);
      const restricted = Object.values(stack.resource.kubernetes_namespace_v1 as Record<string, Json>).filter((n) => n.metadata.labels["pod-security.kubernetes.io/enforce"] === "restricted");
      if (loadConfig(env).postgres.topology.kind === "cloudnative-pg") assert.ok(restricted.length > 1, "the operator's namespace is restricted too: the label alone cannot tell them apart");
    });
  }

  it("is undefined for a stack without a quota", () => {
    assert.equal(platformNamespace({ resource: { kubernetes_namespace_v1: { a: { metadata: { name: "x" } } } } }), undefined);
  });
});

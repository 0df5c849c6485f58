import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { promString, serviceSelector } from "../../dashboards/selectors";

describe("serviceSelector", () => {
  it("selects a namespace, and a service when named", () => {
    assert.equal(serviceSelector("agent-platform"), '{namespace="agent-platform"}');
    assert.equal(serviceSelector("agent-platform", "api-gateway"), '{namespace="agent-platform",service="api-gateway"}');
  });
  it("escapes quotes, backslashes and newlines", () => {
    assert.equal(promString('a"b\\c\nd'), '"a\\"b\\\\c\\nd"');
  });
});

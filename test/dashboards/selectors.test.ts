import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { promString } from "../../dashboards/selectors";

describe("promString", () => {
  it("quotes a label value", () => {
    assert.equal(promString("agent-platform"), '"agent-platform"');
  });
  it("escapes quotes, backslashes and newlines", () => {
    assert.equal(promString('a"b\\c\nd'), '"a\\"b\\\\c\\nd"');
  });
});

/** Every value the program prints is escaped and bounded (config/text.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../config/errors";
import { validateCatalog, validateEnvironment } from "../../config/load";
import { MAX_SHOWN, renderValue, terminalSafe } from "../../config/text";
import { renderSummary } from "../../stacks/summary";
import { rawCatalog, rawEnvironment } from "../helpers";

const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;
const hostile = `x\u001b[2J\u001b]0;pwned\u0007\u202eevil\u2066\u200b${"y".repeat(100_000)}`;

describe("terminal-safe values", () => {
  it("shows control characters, ESC, bidi overrides and zero-width characters as \\uXXXX", () => {
    assert.equal(terminalSafe("a\u001b[31mb\u202ec\u2069d\u200be"), "a\\u001b[31mb\\u202ec\\u2069d\\u200be");
  });

  it("cuts a long value and says how long it was", () => {
    const shown = renderValue(hostile);
    assert.doesNotMatch(shown, RAW_CONTROL);
    assert.match(shown, /… \(100\d{3} characters\)$/);
    assert.ok(shown.length < MAX_SHOWN * 6 + 40, `${shown.length} characters`);
  });

  it("keeps hostile config values out of the terminal: error messages", () => {
    const raw = rawEnvironment("staging");
    raw.cluster.context = hostile;
    raw.services[Object.keys(raw.services)[0]!].replicas = hostile;
    try {
      validateEnvironment(raw, "staging", validateCatalog(rawCatalog()));
      assert.fail("accepted");
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.doesNotMatch(error.message, RAW_CONTROL);
      assert.ok(error.message.length < 2000, `${error.message.length} characters`);
    }
  });

  it("keeps hostile config values out of the terminal: the summary", async () => {
    const raw = rawEnvironment("staging");
    raw.cluster.context = `ctx\u202e\u2066${"z".repeat(200)}`;
    const config = validateEnvironment(raw, "staging", validateCatalog(rawCatalog()));
    const text = renderSummary([config]);
    assert.doesNotMatch(text, RAW_CONTROL);
    assert.match(text, /context ctx\\u202e\\u2066z+… \(205 characters\)/);
  });
});

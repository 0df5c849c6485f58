/**
 * stacks/cdktf-runtime.ts: main.ts turns off cdktf's per-token stack traces. Replacing the export
 * must reach cdktf's own consumers, and must not change a byte of what synth writes.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Lazy } from "cdktf";
import { disableTokenStackTraces, restoreTokenStackTraces } from "../../stacks/cdktf-runtime";
import { PlatformStack } from "../../stacks/platform-stack";
import { loadConfig, testApp } from "../helpers";

/** The stack cdktf recorded when it created a token. */
const creationStack = () => (Lazy.anyValue({ produce: () => 1 }) as unknown as { creationStack: string[] }).creationStack;
const productionJson = () => JSON.stringify(new PlatformStack(testApp(), { config: loadConfig("production", { enableAutoscaling: true }) }).toTerraform());

describe("cdktf's per-token stack traces", () => {
  after(restoreTokenStackTraces);

  it("are recorded by cdktf's token classes unless disabled, and not once disabled", () => {
    restoreTokenStackTraces();
    assert.ok(creationStack().length > 0, "cdktf records a trace by default");
    disableTokenStackTraces();
    disableTokenStackTraces(); // idempotent
    assert.deepEqual(creationStack(), []);
    restoreTokenStackTraces();
    assert.ok(creationStack().length > 0, "restored");
  });

  it("change nothing synth writes", () => {
    restoreTokenStackTraces();
    const withTraces = productionJson();
    disableTokenStackTraces();
    assert.equal(productionJson(), withTraces);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../config/errors";
import { parseRunOptions } from "../../config/run-options";

describe("parseRunOptions", () => {
  it("synthesizes every environment and leaves autoscaling to the config when nothing is set", () => {
    assert.deepEqual(parseRunOptions({}), { environments: ["local", "staging", "production"] });
  });

  it("treats empty variables as unset", () => {
    assert.deepEqual(parseRunOptions({ DEPLOYMENT_ENV: "", ENABLE_AUTOSCALING: "" }), { environments: ["local", "staging", "production"] });
  });

  it("picks the one environment DEPLOYMENT_ENV names", () => {
    assert.deepEqual(parseRunOptions({ DEPLOYMENT_ENV: "staging" }).environments, ["staging"]);
  });

  it("turns autoscaling on and off with ENABLE_AUTOSCALING", () => {
    assert.equal(parseRunOptions({ ENABLE_AUTOSCALING: "true" }).enableAutoscaling, true);
    assert.equal(parseRunOptions({ ENABLE_AUTOSCALING: "false" }).enableAutoscaling, false);
  });

  for (const [variable, value, rule] of [
    ["DEPLOYMENT_ENV", "prod", /must be one of local, staging, production/],
    ["DEPLOYMENT_ENV", "Production", /must be one of local, staging, production/],
    ["DEPLOYMENT_ENV", "production ", /must be one of/],
    ["ENABLE_AUTOSCALING", "TRUE", /must be true or false/],
    ["ENABLE_AUTOSCALING", "1", /must be true or false/],
    ["ENABLE_AUTOSCALING", "yes", /must be true or false/],
  ] as const) {
    it(`fails when ${variable} is ${JSON.stringify(value)}`, () => {
      assert.throws(
        () => parseRunOptions({ [variable]: value }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.problems.length, 1);
          const [problem] = error.problems;
          assert.equal(problem!.source, "environment variable");
          assert.equal(problem!.field, variable);
          assert.equal(problem!.value, JSON.stringify(value));
          assert.match(problem!.rule, rule);
          return true;
        },
      );
    });
  }

  it("reports both variables when both are wrong", () => {
    assert.throws(
      () => parseRunOptions({ DEPLOYMENT_ENV: "qa", ENABLE_AUTOSCALING: "on" }),
      (error: unknown) => error instanceof ConfigError && error.problems.length === 2,
    );
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../config/errors";
import { parseRunOptions, runsUnderCdktfCli } from "../../config/run-options";

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
  describe("under the cdktf CLI", () => {
    // What @cdktf/cli-core's SynthStack.synth sets for the app (node_modules/@cdktf/cli-core/src/lib/synth-stack.js).
    const cli = { CDKTF_OUTDIR: "cdktf.out", CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS: "true", CDKTF_CONTEXT_JSON: '{"cdktfRelativeModules":[]}', SYNTH_HCL_OUTPUT: "false" };

    it("recognises the CLI by its own context key, not by CDKTF_OUTDIR", () => {
      assert.equal(runsUnderCdktfCli(cli), true);
      assert.equal(runsUnderCdktfCli({ CDKTF_OUTDIR: "out" }), false);
      assert.equal(runsUnderCdktfCli({ CDKTF_CONTEXT_JSON: '{"someKey":1}' }), false);
      assert.equal(runsUnderCdktfCli({ CDKTF_CONTEXT_JSON: "not json" }), false);
    });

    for (const value of ["local", "production", "prod"]) {
      it(`synthesizes every environment whatever DEPLOYMENT_ENV holds (${value}), and says it ignored it`, () => {
        const options = parseRunOptions({ ...cli, DEPLOYMENT_ENV: value });
        assert.deepEqual(options.environments, ["local", "staging", "production"]);
        assert.equal(options.cdktfCli, true);
        assert.deepEqual(options.notes, [
          `DEPLOYMENT_ENV=${JSON.stringify(value)} is ignored under the cdktf CLI, which picks the stack from its command line (cdktf diff|deploy <env>): every environment was synthesized`,
        ]);
      });
    }

    it("says nothing when DEPLOYMENT_ENV is unset, and still checks ENABLE_AUTOSCALING", () => {
      assert.equal(parseRunOptions(cli).notes, undefined);
      assert.throws(() => parseRunOptions({ ...cli, ENABLE_AUTOSCALING: "yes" }), ConfigError);
    });
  });

  it("reads PLATFORM_ALLOW_DESTROY as resource addresses, and refuses anything else", () => {
    const address = "kubernetes_stateful_set_v1.postgres_server_stateful-set_41B50D02";
    assert.deepEqual(parseRunOptions({ PLATFORM_ALLOW_DESTROY: ` ${address}  helm_release.monitoring_kube-prometheus-stack_A33E1781 ` }).allowDestroy, [
      address,
      "helm_release.monitoring_kube-prometheus-stack_A33E1781",
    ]);
    assert.equal(parseRunOptions({ PLATFORM_ALLOW_DESTROY: "" }).allowDestroy, undefined);
    assert.throws(
      () => parseRunOptions({ PLATFORM_ALLOW_DESTROY: "postgres" }),
      (e: unknown) => e instanceof ConfigError && e.problems[0]!.field === "PLATFORM_ALLOW_DESTROY" && /<type>\.<name>/.test(e.problems[0]!.rule),
    );
  });
});

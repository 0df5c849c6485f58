/**
 * The users' GitHub Actions workflow: nothing that can write runs the pull request's code.
 * (actionlint checks its syntax in .ci/run; these tests check who gets which credential.)
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";

const PROJECT = resolve(__dirname, "..", "..", "..");
const workflow = parse(readFileSync(join(PROJECT, ".github", "workflows", "platform.yml"), "utf8")) as { jobs: Record<string, any>; permissions: Record<string, string> };
const jobs = Object.entries(workflow.jobs);

/** Whether a job runs code from the checked-out branch (a checkout followed by any run step or local action). */
const runsBranchCode = (job: any) => (job.steps ?? []).some((s: any) => String(s.uses ?? "").startsWith("actions/checkout"));
const text = (job: any) => JSON.stringify(job);
const WRITE_SECRETS = ["secrets.KUBECONFIG }}", "secrets.AWS_ROLE_ARN", "secrets.PG_CONN_STR"];

describe("the users' workflow", () => {
  it("grants read-only repository access by default", () => {
    assert.deepEqual(workflow.permissions, { contents: "read" });
  });

  it("gives jobs that run pull-request code no write permission and no write credential", () => {
    for (const [name, job] of jobs) {
      const onPullRequests = !String(job.if ?? "").includes("github.event_name == 'push'") && name !== "deploy-production";
      if (!onPullRequests || !runsBranchCode(job)) continue;
      for (const [scope, level] of Object.entries(job.permissions ?? {})) {
        assert.ok(level !== "write" || scope === "id-token", `${name} has ${scope}: ${level}`);
      }
      for (const secret of WRITE_SECRETS) assert.ok(!text(job).includes(secret), `${name} uses ${secret}`);
    }
  });

  it("posts the diff from a job that checks out and runs nothing", () => {
    const comment = workflow.jobs.comment;
    assert.equal(comment.permissions["pull-requests"], "write");
    assert.ok(!runsBranchCode(comment));
    assert.ok(comment.steps.every((s: any) => !s.run && (String(s.uses).startsWith("actions/download-artifact") || String(s.uses).startsWith("actions/github-script"))));
  });

  it("diffs with the read-only credentials of the *-diff environments, without taking the state lock", () => {
    const diff = workflow.jobs.diff;
    assert.equal(diff.environment, "${{ matrix.environment }}-diff");
    assert.ok(text(diff).includes("secrets.KUBECONFIG_READONLY"));
    assert.equal(diff.steps.find((s: any) => s.id === "diff").env.TF_CLI_ARGS_plan, "-lock=false");
    assert.match(diff.if, /head\.repo\.full_name == github\.repository/, "forks get no diff job (and no secrets)");
  });

  it("uses write credentials only on main, in the protected staging and production environments", () => {
    for (const [name, job] of jobs) {
      if (!WRITE_SECRETS.some((s) => text(job).includes(s))) continue;
      assert.ok(["staging", "production"].includes(job.environment), `${name} runs in ${job.environment}`);
      assert.ok(name === "deploy-production" || String(job.if).includes("refs/heads/main"), `${name} is not limited to main`);
    }
  });
});

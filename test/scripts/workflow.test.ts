/**
 * The users' GitHub Actions workflow: nothing that can write runs the pull request's code; every
 * secret and variable it reads is in docs/operations.md, where the doc says to set it; a job
 * missing a secret its state backend needs fails naming it. (actionlint checks the syntax in
 * .ci/run; these tests check who gets which credential.)
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { CI_SETTINGS, missingSettings } from "../../scripts/ci-settings";
import { synthEnvironment, tempDir } from "../helpers";

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

  it("reads exactly the secrets and variables docs/operations.md lists, each set where the doc says", () => {
    const read = workflowReads();
    const documented = documentedSettings();
    assert.deepEqual([...documented.keys()].sort(), [...read.keys()].sort(), "the names in the doc's table and in the workflow");
    for (const [name, used] of read) {
      const doc = documented.get(name)!;
      assert.equal(doc.kind, used.kind, `${name}: kind`);
      assert.deepEqual(doc.jobs, used.jobs, `${name}: read by`);
      if (used.kind === "secret") assert.deepEqual(doc.where, used.environments, `${name}: the GitHub environments whose jobs read it`);
      else assert.match(doc.whereText, /repository/, `${name}: a variable is set on the repository`);
    }
  });

  it("checks, per job, the very secrets it reads, before anything uses them", () => {
    const read = workflowReads();
    const secretsOf = (job: string) => [...read].filter(([, r]) => r.kind === "secret" && r.jobs.includes(job)).map(([n]) => n).sort();
    assert.deepEqual(CI_SETTINGS.diff.map((x) => x.name).sort(), secretsOf("diff"));
    assert.deepEqual(CI_SETTINGS.deploy.map((x) => x.name).sort(), secretsOf("deploy-staging"));
    // The check step is told, for each, whether it is set (never its value), and precedes the credentials.
    const steps = workflow.jobs.diff.steps as any[];
    const check = steps.findIndex((s) => s.id === "settings");
    assert.deepEqual(Object.keys(steps[check].env).filter((k) => k.endsWith("_SET")).sort(), CI_SETTINGS.diff.map((x) => `${x.name}_SET`).sort());
    for (const value of Object.entries(steps[check].env).filter(([k]) => k.endsWith("_SET")).map(([, v]) => String(v))) assert.match(value, /^\$\{\{ secrets\.[A-Z_]+ != '' \}\}$/);
    const credentials = steps.findIndex((s) => String(s.uses ?? "").startsWith("aws-actions/configure-aws-credentials"));
    assert.ok(check >= 0 && check < credentials, "the settings check runs before the credentials step");
    assert.equal(steps[credentials].if, "steps.settings.outputs.backend == 's3'");
    const action = parse(readFileSync(join(PROJECT, ".github", "actions", "deploy", "action.yml"), "utf8")) as { runs: { steps: any[] } };
    const actionCheck = action.runs.steps.find((s) => s.id === "settings");
    assert.deepEqual(Object.keys(actionCheck.env).filter((k) => k.endsWith("_SET")).sort(), CI_SETTINGS.deploy.map((x) => `${x.name}_SET`).sort());
    assert.ok(!JSON.stringify(action).includes("inputs.aws-region"), "the region comes from the stack's backend");
  });

  it("fails a job whose environment lacks a secret its backend needs, naming the secret and the GitHub environment", () => {
    const problems = missingSettings("diff", "staging", "s3", (name) => name === "KUBECONFIG_READONLY");
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^AWS_STATE_READ_ROLE is not set: add it as a secret of the GitHub environment staging-diff .*the s3 state backend of config\/staging\.ts needs it/);
    assert.deepEqual(missingSettings("deploy", "production", "pg", (name) => name !== "PG_CONN_STR").map((p) => p.split(" ")[0]), ["PG_CONN_STR"]);
    assert.deepEqual(missingSettings("deploy", "production", "s3", () => true), []);
    assert.deepEqual(missingSettings("diff", "production", "local", () => false).map((p) => p.split(" ")[0]), ["KUBECONFIG_READONLY"]);
  });

  it("runs as the workflow runs it: reads the synthesized stack's backend, writes backend and region as step outputs, exits 1 on a missing secret", () => {
    const dir = tempDir("ci-settings-");
    const stack = synthEnvironment("staging");
    mkdirSync(join(dir, "stacks", "staging"), { recursive: true });
    writeFileSync(join(dir, "stacks", "staging", "cdk.tf.json"), JSON.stringify(stack));
    const [backend, settings] = Object.entries(stack.terraform.backend as Record<string, { region?: string }>)[0]!;
    const output = join(dir, "github-output");
    const run = (set: Record<string, string>) =>
      spawnSync(process.execPath, [join(__dirname, "..", "..", "scripts", "ci-settings.js"), dir, "staging", "diff"], { encoding: "utf8", env: { PATH: process.env.PATH, GITHUB_OUTPUT: output, ...set } });
    const all = Object.fromEntries(CI_SETTINGS.diff.map((x) => [`${x.name}_SET`, "true"]));
    const ok = run(all);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.equal(readFileSync(output, "utf8"), `backend=${backend}\nregion=${settings.region ?? ""}\n`);
    const needed = CI_SETTINGS.diff.find((x) => x.neededFor === backend)!;
    const missing = run({ ...all, [`${needed.name}_SET`]: "false" });
    assert.equal(missing.status, 1);
    assert.match(missing.stdout, new RegExp(`^::error title=CI settings for staging::${needed.name} is not set: add it as a secret of the GitHub environment staging-diff`, "m"));
  });
});

/** Every `secrets.X` and `vars.X` a job of the workflow reads: kind, jobs, GitHub environments. */
function workflowReads(): Map<string, { kind: "secret" | "variable"; jobs: string[]; environments: string[] }> {
  const reads = new Map<string, { kind: "secret" | "variable"; jobs: Set<string>; environments: Set<string> }>();
  for (const [name, job] of jobs) {
    const matrix = (job.strategy?.matrix?.environment ?? []) as string[];
    const environments = job.environment === undefined ? [] : String(job.environment).includes("${{ matrix.environment }}") ? matrix.map((e) => String(job.environment).replace("${{ matrix.environment }}", e)) : [String(job.environment)];
    for (const m of text(job).matchAll(/\b(secrets|vars)\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
      const entry = reads.get(m[2]!) ?? { kind: m[1] === "secrets" ? "secret" : "variable", jobs: new Set<string>(), environments: new Set<string>() };
      entry.jobs.add(name);
      environments.forEach((e) => entry.environments.add(e));
      reads.set(m[2]!, entry);
    }
  }
  assert.ok(!JSON.stringify(workflow).replace(JSON.stringify(workflow.jobs), "").match(/\b(secrets|vars)\./), "no secret or variable outside the jobs");
  return new Map([...reads].map(([n, r]) => [n, { kind: r.kind, jobs: [...r.jobs].sort(), environments: [...r.environments].sort() }]));
}

/** The table of docs/operations.md's "CI for users" whose first column is `name`. */
function documentedSettings(): Map<string, { kind: string; where: string[]; whereText: string; jobs: string[] }> {
  const doc = readFileSync(join(PROJECT, "docs", "operations.md"), "utf8");
  const start = doc.indexOf("### CI for users");
  assert.ok(start >= 0, 'docs/operations.md has no "CI for users" section');
  const section = doc.slice(start, doc.indexOf("\n### ", start + 1) < 0 ? undefined : doc.indexOf("\n### ", start + 1));
  const lines = section.split("\n");
  const header = lines.findIndex((l) => /^\| name \| kind \| set it in \|/.test(l));
  assert.ok(header >= 0, "the section has a table of names, kinds and where to set them");
  const out = new Map<string, { kind: string; where: string[]; whereText: string; jobs: string[] }>();
  for (const row of lines.slice(header + 2)) {
    if (!row.startsWith("|")) break;
    const cells = row.split("|").slice(1, -1).map((c) => c.trim());
    const ticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!).sort();
    out.set(ticked(cells[0]!)[0]!, { kind: cells[1]!, where: ticked(cells[2]!), whereText: cells[2]!, jobs: ticked(cells[4]!) });
  }
  return out;
}

/**
 * The real cdktf CLI (node_modules/cdktf-cli) running the real app, as users run it: `cdktf synth`,
 * `cdktf synth --output "$(mktemp -d)"` and `cdktf diff <env>`, whatever DEPLOYMENT_ENV holds.
 *
 * The project is a throwaway clone: the compiled app, node_modules linked, and cdktf.json with the
 * real app command minus its compile step (`node dist/main.js`; test/scripts/compile.test.ts covers
 * the compile).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { providersDir, writeCliConfig } from "../../scripts/terraform-providers";
import { copyApp, tempDir } from "../helpers";
import { terraformBinary } from "../tools";

const PROJECT = resolve(__dirname, "..", "..", "..");
const CLI = join(PROJECT, "node_modules", "cdktf-cli", "bundle", "bin", "cdktf");

/** ANSI colours and the spinner's cursor moves, which the CLI writes even without a terminal. */
const plain = (text: string) => text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "");

function cloneProject(): { root: string; home: string } {
  const root = join(tempDir("cdktf-cli-"), "project");
  mkdirSync(root);
  copyApp(join(root, "dist"));
  symlinkSync(join(PROJECT, "node_modules"), join(root, "node_modules"));
  writeFileSync(join(root, "package.json"), "{}\n");
  const config = JSON.parse(readFileSync(join(PROJECT, "cdktf.json"), "utf8")) as Record<string, unknown>;
  assert.match(String(config.app), /&& node dist\/main\.js$/, "cdktf.json's app still ends with the app itself");
  writeFileSync(join(root, "cdktf.json"), JSON.stringify({ ...config, app: "node dist/main.js" }));
  const home = tempDir("cdktf-cli-home-");
  return { root, home };
}

function cli(root: string, home: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: root,
    encoding: "utf8",
    timeout: 300_000,
    env: { PATH: process.env.PATH ?? "", HOME: home, CHECKPOINT_DISABLE: "1", DISABLE_VERSION_CHECK: "1", PLATFORM_SUMMARY: "off", ...env },
  });
  return { status: result.status, output: plain(`${result.stdout}${result.stderr}`) };
}

const stacksIn = (outdir: string) => readdirSync(join(outdir, "stacks")).sort();

describe("the cdktf CLI and DEPLOYMENT_ENV", () => {
  const project = cloneProject();
  // A previous output with every stack, as `npm run synth` leaves it.
  const first = spawnSync(process.execPath, [join(project.root, "dist", "main.js")], {
    cwd: project.root,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", HOME: project.home, PLATFORM_SUMMARY: "off" },
  });

  it("synthesizes every stack under `cdktf synth` although DEPLOYMENT_ENV names one, and says so", () => {
    assert.equal(first.status, 0, first.stderr);
    // Before: the app wrote only `local`, and the CLI failed deleting the other stacks' folders
    // (ENOENT … lstat 'cdktf.out/stacks/production').
    const run = cli(project.root, project.home, ["synth"], { DEPLOYMENT_ENV: "local" });
    assert.equal(run.status, 0, run.output);
    assert.doesNotMatch(run.output, /ENOENT/);
    assert.match(run.output, /DEPLOYMENT_ENV="local" is ignored under the cdktf CLI, which picks the stack from its command line/);
    // A note, not an error: the CLI labels every stderr line of the app `[ERROR]`.
    assert.doesNotMatch(run.output, /ERROR.*DEPLOYMENT_ENV="local" is ignored/);
    assert.deepEqual(stacksIn(join(project.root, "cdktf.out")), ["local", "production", "staging"]);
  });

  it("writes into the empty directory `cdktf synth --output \"$(mktemp -d)\"` names", () => {
    const out = mkdtempSync(join(tempDir("cdktf-cli-out-"), "tmp."));
    const run = cli(project.root, project.home, ["synth", "--output", out], { DEPLOYMENT_ENV: "production" });
    assert.equal(run.status, 0, run.output);
    assert.doesNotMatch(run.output, /EISDIR/);
    assert.deepEqual(stacksIn(out), ["local", "production", "staging"]);
    // The local stack reaches the project's state from there too.
    assert.equal(realpathSync(join(out, "stacks", "local", "state")), realpathSync(join(project.root, ".state", "local")));
  });

  it("`cdktf diff local` with DEPLOYMENT_ENV=production synthesizes, finds the local stack and runs Terraform in it", (t) => {
    const terraform = terraformBinary();
    if (!terraform) return t.skip("terraform not found (set TERRAFORM or put it on PATH); .ci/run builds it");
    const mirror = providersDir();
    const env: Record<string, string> = { DEPLOYMENT_ENV: "production", TERRAFORM_BINARY_NAME: terraform };
    const args = ["diff", "local"];
    if (mirror) {
      // Providers from the mirror; the CLI's `terraform providers lock` would ask the registry.
      writeCliConfig(join(project.home, "terraformrc"), mirror);
      env.TF_CLI_CONFIG_FILE = join(project.home, "terraformrc");
      args.push("--skip-provider-lock");
    }
    const run = cli(project.root, project.home, args, env);
    assert.doesNotMatch(run.output, /ENOENT|Could not find stack/);
    assert.match(run.output, /DEPLOYMENT_ENV="production" is ignored under the cdktf CLI/);
    assert.match(run.output, /^local\s+Initializing the backend/m, "Terraform ran in the local stack");
    const backend = JSON.parse(readFileSync(join(project.root, "cdktf.out", "stacks", "local", ".terraform", "terraform.tfstate"), "utf8"));
    assert.deepEqual(backend.backend.config.path, "state/terraform.tfstate", "initialized with the emitted backend");
    if (!mirror) {
      t.diagnostic("TF_PROVIDERS_DIR unset: terraform init asked the registry; the plan was not reached");
      return;
    }
    assert.match(run.output, /Terraform has been successfully initialized/);
    // The plan itself needs a cluster and the charts' repositories: reported, not asserted.
    t.diagnostic(`cdktf diff local exited ${run.status}: the plan needs a reachable cluster and chart repositories`);
    assert.ok(existsSync(join(project.root, ".state", "local", "terraform.tfstate")));
  });
});

/**
 * Local Terraform state lives in the project's `.state/<env>/`, private, whatever the output
 * directory and the working directory: the path arithmetic, the app creating and linking it, the
 * old location refused with instructions that work, and real Terraform writing state through the
 * emitted backend block, then finding it again from another output directory.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { LOCAL_BACKEND, STATE_LINK, stateDirectory, stateLinkTarget } from "../../stacks/local-state";
import { copyApp, type Json, tempDir } from "../helpers";
import { terraformBinary } from "../tools";

const PROJECT = resolve(__dirname, "..", "..", "..");

/** A throwaway clone: dist/ copied, node_modules linked, so the app's project root is a temp dir. */
function tempProject(): { root: string; main: string; home: string } {
  const root = join(tempDir("state-"), "project");
  mkdirSync(root);
  copyApp(join(root, "dist"));
  symlinkSync(join(PROJECT, "node_modules"), join(root, "node_modules"));
  writeFileSync(join(root, "package.json"), "{}\n");
  const home = tempDir("state-home-");
  return { root, main: join(root, "dist", "main.js"), home };
}

/** Runs the app under `umask 000`, the worst case: every mode it sets must come from the app. */
function synth(p: { main: string; home: string }, cwd: string, outdir?: string) {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: p.home, PLATFORM_SUMMARY: "off", DEPLOYMENT_ENV: "local" };
  if (outdir !== undefined) env.CDKTF_OUTDIR = outdir;
  return spawnSync("sh", ["-c", 'umask 000; exec "$0" "$1"', process.execPath, p.main], { cwd, env, encoding: "utf8" });
}

const mode = (path: string) => statSync(path).mode & 0o777;

/** Every entry below `dir` whose mode lets the group or others in. */
function exposed(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if ((lstatSync(path).mode & 0o077) !== 0) out.push(`${entry} ${(lstatSync(path).mode & 0o777).toString(8)}`);
    if (lstatSync(path).isDirectory()) out.push(...exposed(path).map((e) => `${entry}/${e}`));
  }
  return out;
}

describe("local state: path arithmetic", () => {
  it("writes one backend path, relative to the stack's folder, for every output directory", () => {
    assert.deepEqual(LOCAL_BACKEND, { path: "state/terraform.tfstate", workspaceDir: "state/workspaces" });
  });

  it("links the stack's folder to the project's .state/<env>, relatively, from wherever the output is", () => {
    const root = "/clone/agent-platform";
    assert.equal(stateLinkTarget(`${root}/cdktf.out/stacks/local`, root, "local"), "../../../.state/local");
    for (const stackDir of [`${root}/cdktf.out/stacks/local`, "/tmp/out/stacks/local", `${root}/sub/dir/out/stacks/local`, "/stacks/local"]) {
      const target = stateLinkTarget(stackDir, root, "local");
      assert.ok(!target.startsWith("/"), `${stackDir}: ${target} is absolute`);
      assert.equal(resolve(stackDir, target), stateDirectory(root, "local"), stackDir);
    }
    assert.equal(stateDirectory(root, "staging"), `${root}/.state/staging`);
  });
});

describe("local state: the app", () => {
  it("creates .state/local private (0700, files 0600) under umask 000, and every output links to it", () => {
    const p = tempProject();
    const a = synth(p, p.root);
    assert.equal(a.status, 0, a.stderr);
    const other = tempDir("state-elsewhere-");
    mkdirSync(join(other, "cwd"));
    const b = synth(p, join(other, "cwd"), join(other, "out"));
    assert.equal(b.status, 0, b.stderr);

    const stateDir = join(p.root, ".state", "local");
    assert.equal(mode(join(p.root, ".state")), 0o700);
    assert.equal(mode(stateDir), 0o700);
    assert.deepEqual(readdirSync(stateDir).sort(), ["terraform.tfstate", "terraform.tfstate.backup"]);
    for (const f of readdirSync(stateDir)) assert.equal(mode(join(stateDir, f)), 0o600, f);

    const stackA = join(p.root, "cdktf.out", "stacks", "local");
    const stackB = join(other, "out", "stacks", "local");
    assert.equal(readlinkSync(join(stackA, STATE_LINK)), "../../../.state/local", "inside the project the link is the same in every clone");
    assert.ok(!readlinkSync(join(stackB, STATE_LINK)).startsWith("/"));
    for (const stack of [stackA, stackB]) assert.equal(realpathSync(join(stack, STATE_LINK)), realpathSync(stateDir), stack);
    assert.ok(readFileSync(join(stackA, "cdk.tf.json")).equals(readFileSync(join(stackB, "cdk.tf.json"))), "cdk.tf.json depends on the output directory");
    // Only a local backend gets a link.
    const c = synth(p, p.root);
    assert.equal(c.status, 0, c.stderr);
  });

  it("refuses state at the old location, writes nothing, and its instructions move it", () => {
    const p = tempProject();
    const legacy = '{"version": 4, "serial": 7, "lineage": "keep-me"}\n';
    writeFileSync(join(p.root, "terraform.local.tfstate"), legacy, { mode: 0o644 });
    writeFileSync(join(p.root, "terraform.local.tfstate.backup"), legacy, { mode: 0o644 });
    const refused = synth(p, p.root);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /terraform\.local\.tfstate holds local's state at the old location; state now lives in \.state\/local\//);
    assert.doesNotMatch(refused.stderr, /\n\s+at /, "no stack trace");
    assert.equal(existsSync(join(p.root, "cdktf.out")), false);
    assert.equal(existsSync(join(p.root, ".state")), false);

    // The user follows the message, word for word, from the project root.
    const command = /Move it, from the project root: (.+)$/m.exec(refused.stderr)![1]!;
    const moved = spawnSync("sh", ["-c", command], { cwd: p.root, encoding: "utf8" });
    assert.equal(moved.status, 0, moved.stderr);
    const again = synth(p, p.root);
    assert.equal(again.status, 0, again.stderr);
    const state = join(p.root, ".state", "local", "terraform.tfstate");
    assert.equal(readFileSync(state, "utf8"), legacy, "the state was moved, not replaced");
    assert.equal(readFileSync(`${state}.backup`, "utf8"), legacy);
    assert.equal(mode(state), 0o600, "synth tightened the moved state");
    assert.deepEqual(exposed(join(p.root, ".state")), []);
  });

  it("refuses when both the old and the new location hold state, and says to keep one", () => {
    const p = tempProject();
    assert.equal(synth(p, p.root).status, 0);
    writeFileSync(join(p.root, ".state", "local", "terraform.tfstate"), '{"version": 4}\n');
    writeFileSync(join(p.root, "terraform.local.tfstate"), '{"version": 4}\n');
    const refused = synth(p, p.root);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /terraform\.local\.tfstate \(the old location\) and \.state\/local\/terraform\.tfstate both hold local's state\. Keep the one that matches the cluster/);
  });
});

describe("local state: real Terraform through the emitted backend block", () => {
  const terraform = terraformBinary();
  it("writes state private through the link, and a synth into another output directory, from another working directory, plans no changes", (t) => {
    if (!terraform) return t.skip("terraform not found (set TERRAFORM or put it on PATH); .ci/run builds it");
    const p = tempProject();
    assert.equal(synth(p, p.root).status, 0);
    const tfHome = tempDir("state-tf-");
    writeFileSync(join(tfHome, "terraformrc"), "");
    const tf = (dir: string, args: string[]) =>
      spawnSync("sh", ["-c", 'umask 022; exec "$@"', "sh", terraform!, ...args], {
        cwd: dir,
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "", HOME: tfHome, TF_CLI_CONFIG_FILE: join(tfHome, "terraformrc"), CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" },
      });
    // The stack's own terraform block (the emitted backend) around a resource Terraform itself
    // provides: state is written exactly as the real stack's would be, without providers or a cluster.
    const minimal = (stackDir: string) => {
      const stack = JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")) as Json;
      writeFileSync(
        join(stackDir, "cdk.tf.json"),
        JSON.stringify({ terraform: { backend: stack.terraform.backend }, resource: { terraform_data: { marker: { input: "state-location" } } } }),
      );
    };
    const stackA = join(p.root, "cdktf.out", "stacks", "local");
    minimal(stackA);
    for (const args of [["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]]) {
      const r = tf(stackA, args);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
    const stateDir = join(p.root, ".state", "local");
    const state = JSON.parse(readFileSync(join(stateDir, "terraform.tfstate"), "utf8")) as Json;
    assert.deepEqual(state.resources.map((r: Json) => `${r.type}.${r.name}`), ["terraform_data.marker"]);
    assert.deepEqual(exposed(join(p.root, ".state")), [], "Terraform under umask 022 wrote nothing readable by others");
    assert.equal(mode(stateDir), 0o700);
    assert.deepEqual(readdirSync(stackA).filter((f) => f.endsWith("tfstate")), [], "no state in the output directory");

    // Another output directory, another working directory: the same state, no changes.
    const other = tempDir("state-other-");
    mkdirSync(join(other, "cwd"));
    assert.equal(synth(p, join(other, "cwd"), join(other, "out")).status, 0);
    const stackB = join(other, "out", "stacks", "local");
    minimal(stackB);
    assert.equal(tf(stackB, ["init", "-input=false", "-no-color"]).status, 0);
    const plan = tf(stackB, ["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
    assert.equal(plan.status, 0, `expected no changes:\n${plan.stdout}${plan.stderr}`);

    // Synth replaces the first output: the link goes, the state stays.
    assert.equal(synth(p, p.root).status, 0);
    minimal(stackA);
    const replanned = tf(stackA, ["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
    assert.equal(replanned.status, 0, replanned.stdout + replanned.stderr);
    assert.deepEqual(exposed(join(p.root, ".state")), []);
  });
});

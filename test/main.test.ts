/**
 * The app as users run it: `node dist/main.js`, which is what cdktf.json runs after tsc.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { deploymentNames } from "./catalogue";
import { copyApp, loadConfig, readTree, tempDir } from "./helpers";

const DIST = resolve(__dirname, "..");
const PROJECT = resolve(DIST, "..");
const workdir = () => tempDir("platform-app-");

function run(cwd: string, env: Record<string, string> = {}, main = join(DIST, "main.js")) {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !["DEPLOYMENT_ENV", "ENABLE_AUTOSCALING", "CDKTF_OUTDIR", "PLATFORM_DEBUG"].includes(k)),
  );
  const result = spawnSync(process.execPath, [main], {
    cwd,
    env: { ...clean, NODE_PATH: join(PROJECT, "node_modules"), ...env },
    encoding: "utf8",
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}


/** One synth of every environment, run once and read by every test that only needs one. */
let everything: { dir: string; result: ReturnType<typeof run> } | undefined;
function synthesizeAll() {
  if (!everything) {
    const dir = workdir();
    everything = { dir, result: run(dir) };
  }
  return everything;
}

const stackJson = (dir: string, env: string) => JSON.parse(readFileSync(join(dir, "cdktf.out", "stacks", env, "cdk.tf.json"), "utf8"));

describe("main", () => {
  it("synthesizes all three stacks, validations on, and prints the summary", () => {
    const { dir, result } = synthesizeAll();
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(join(dir, "cdktf.out", "stacks")).sort(), ["local", "production", "staging"]);
    assert.match(result.stdout, /^local \(namespace agent-platform/m);
    assert.match(result.stdout, /^production \(namespace agent-platform/m);
    assert.equal(stackJson(dir, "production").resource.kubernetes_horizontal_pod_autoscaler_v2, undefined);
  });

  it("writes byte-identical output in any directory, with no absolute path in it", () => {
    const a = synthesizeAll().dir;
    const b = join(workdir(), "nested", "deeper");
    mkdirSync(b, { recursive: true });
    assert.equal(synthesizeAll().result.status, 0);
    assert.equal(run(b).status, 0);
    const left = readTree(join(a, "cdktf.out"));
    const right = readTree(join(b, "cdktf.out"));
    assert.deepEqual([...left.keys()].sort(), [...right.keys()].sort());
    // The one entry that says where the output sits: the link from the local stack's folder to
    // the project's state (test/stacks/local-state.test.ts). Outside the project it is a relative
    // path up to it; it must lead to the same directory from both outputs.
    const link = join("stacks", "local", "state");
    assert.equal(realpathSync(join(a, "cdktf.out", link)), realpathSync(join(b, "cdktf.out", link)));
    for (const [name, content] of left) {
      if (name === link) continue;
      assert.ok(content.equals(right.get(name)!), `${name} differs between directories`);
      const text = content.toString("utf8");
      for (const needle of [a, b, PROJECT, join(tmpdir(), "platform-app-"), "/home/", "/root/", "/work/"]) assert.ok(!text.includes(needle), `${name} contains ${needle}`);
    }
  });

  it("writes byte-identical output in any clone of the project, the state link included", () => {
    // Two clones at different depths, each synthesized from its own root (as cdktf and npm do).
    const clones = [join(workdir(), "a"), join(workdir(), "one", "two", "b")].map((root) => {
      copyApp(join(root, "dist"));
      const result = run(root, {}, join(root, "dist", "main.js"));
      assert.equal(result.status, 0, result.stderr);
      return readTree(join(root, "cdktf.out"));
    });
    assert.deepEqual([...clones[0]!.keys()].sort(), [...clones[1]!.keys()].sort());
    for (const [name, content] of clones[0]!) assert.ok(content.equals(clones[1]!.get(name)!), `${name} differs between clones`);
    assert.equal(clones[0]!.get(join("stacks", "local", "state"))!.toString(), "-> ../../../.state/local");
  });

  it("synthesizes only DEPLOYMENT_ENV, with HPAs when ENABLE_AUTOSCALING=true", () => {
    const dir = workdir();
    const result = run(dir, { DEPLOYMENT_ENV: "production", ENABLE_AUTOSCALING: "true" });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(join(dir, "cdktf.out", "stacks")), ["production"]);
    // One per Deployment of a service: two for a blue-green one.
    const deployments = loadConfig("production").services.flatMap(deploymentNames);
    assert.equal(Object.keys(stackJson(dir, "production").resource.kubernetes_horizontal_pod_autoscaler_v2).length, deployments.length);
  });

  for (const [variable, value] of [
    ["DEPLOYMENT_ENV", "prod"],
    ["ENABLE_AUTOSCALING", "yes"],
  ] as const) {
    it(`fails on ${variable}=${value} with a message, no stack trace, and the old output untouched`, () => {
      // A real previous output, copied from the shared synth.
      const dir = workdir();
      assert.equal(synthesizeAll().result.status, 0);
      cpSync(join(synthesizeAll().dir, "cdktf.out"), join(dir, "cdktf.out"), { recursive: true });
      const before = readTree(join(dir, "cdktf.out"));
      const result = run(dir, { [variable]: value });
      assert.equal(result.status, 1);
      assert.match(result.stderr, new RegExp(`environment variable: ${variable} = "${value}": must be`));
      assert.doesNotMatch(result.stderr, /^\s+at /m);
      assert.deepEqual(readTree(join(dir, "cdktf.out")), before);
      assert.deepEqual(readdirSync(dir), ["cdktf.out"]);
    });
  }

  it("fails on a bad config file naming the file, field, value and rule, and writes nothing", () => {
    // A copy of the compiled app with one value broken, run the way cdktf runs the real one.
    const dir = workdir();
    const app = join(dir, "app");
    copyApp(app);
    const file = join(app, "config", "production.js");
    const source = readFileSync(file, "utf8");
    // The first service's memory request: the first `memory:` after its key under `services`.
    const service = loadConfig("production").services[0]!.name;
    const entry = source.indexOf(`"${service}": {`, source.indexOf("services: {"));
    const at = source.indexOf(`memory: "`, entry);
    assert.ok(entry > 0 && at > entry, `no memory request for ${service} under services in ${file}`);
    const end = source.indexOf('"', at + 'memory: "'.length);
    writeFileSync(file, `${source.slice(0, at)}memory: "500mb${source.slice(end)}`);
    const result = run(dir, {}, join(app, "main.js"));
    assert.equal(result.status, 1);
    assert.match(result.stderr, new RegExp(`config/production\\.ts: services\\.${service}\\.resources\\.requests\\.memory = "500mb": must be a memory quantity`));
    assert.doesNotMatch(result.stderr, /^\s+at /m);
    assert.equal(existsSync(join(dir, "cdktf.out")), false);
    assert.deepEqual(readdirSync(dir), ["app"]);
  });
});

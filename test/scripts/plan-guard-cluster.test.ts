/**
 * The destroy guard and prevent_destroy against REAL plans: real Terraform, the real providers
 * (TF_PROVIDERS_DIR), the real stacks applied to a real API server (test/e2e/control-plane.ts),
 * then changed the way an operator would change them:
 * - local: the namespace renamed (the namespace, the Postgres StatefulSet and the Secret replaced);
 * - staging: the namespace renamed: Terraform itself refuses (prevent_destroy) until
 *   `--allow-destroy` lifts it for those addresses, and the guard then still refuses unless the
 *   same addresses are allowed;
 * - staging: Redis persistence turned off, its StatefulSet replaced: the new config no longer
 *   marks it, so prevent_destroy (which reads the new config) lets it through; the guard does not;
 * - a resource marked data-bearing removed from the config: only the prior state's output still
 *   knows it was protected.
 * Only the applied resources are targeted (the namespace and the data tier), which keeps the
 * cluster work to seconds; `npm run e2e` applies whole stacks.
 *
 * Skipped, saying why, without terraform, TF_PROVIDERS_DIR or the control plane's cached binaries
 * (built once by test/e2e/build-control-plane.sh; this test never builds them).
 *
 * PLAN_FIXTURES_OUT=<dir> also writes each plan's `terraform show -json` (gzip) there: the
 * fixtures in test/fixtures/plans came from such a run.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { App, TerraformStack } from "cdktf";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import type { EnvironmentName } from "../../config/schema";
import { markDataBearing, protectDataBearing } from "../../constructs/data-bearing";
import { missingFromMirror, providersDir, writeCliConfig } from "../../scripts/terraform-providers";
import { judgePlan } from "../../scripts/plan-guard";
import { synthesizePlatform } from "../../stacks/synthesize";
import { ControlPlane, type ControlPlaneBinaries } from "../e2e/control-plane";
import { type Json, loadConfig, rawEnvironment, tempDir } from "../helpers";
import { terraformBinary } from "../tools";

const DIST = resolve(__dirname, "..", "..");
const GUARD = join(DIST, "scripts", "plan-guard.js");
const FIXTURES_OUT = process.env.PLAN_FIXTURES_OUT;

/** Why the real plans cannot run here, or the binaries they need. */
function prerequisites(): { missing: string } | { terraform: string; mirror: string; bins: ControlPlaneBinaries } {
  const terraform = terraformBinary();
  if (!terraform) return { missing: "terraform not found (set TERRAFORM or put it on PATH)" };
  const mirror = providersDir();
  if (!mirror) return { missing: "TF_PROVIDERS_DIR is unset: the providers come from a filesystem mirror (scripts/terraform-providers.ts)" };
  const lacking = missingFromMirror(mirror, [
    { name: "kubernetes", version: "2.38.0" },
    { name: "helm", version: "3.1.1" },
  ]);
  if (lacking.length > 0) return { missing: `TF_PROVIDERS_DIR lacks ${lacking.join(", ")}` };
  const cache = process.env.E2E_CONTROL_PLANE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "agent-platform", "control-plane");
  const k8s = join(cache, "kubernetes-v1.35.4");
  const kwok = join(cache, "kwok-v0.8.0");
  const etcd = spawnSync("sh", ["-c", "command -v etcd"], { encoding: "utf8" }).stdout.trim();
  const bins: ControlPlaneBinaries = {
    etcd,
    kubeApiserver: join(k8s, "kube-apiserver"),
    kubeControllerManager: join(k8s, "kube-controller-manager"),
    kubeScheduler: join(k8s, "kube-scheduler"),
    kwok: join(kwok, "kwok"),
    kwokStages: join(kwok, "stages.yaml"),
  };
  const absent = Object.entries(bins).filter(([, path]) => !path || !existsSync(path));
  if (absent.length > 0) return { missing: `the control plane is not built (${absent.map(([name]) => name).join(", ")}): test/e2e/build-control-plane.sh, or npm run e2e once` };
  return { terraform, mirror, bins };
}

const needs = prerequisites();

interface Work {
  readonly dir: string;
  tf(args: string[]): { status: number | null; stdout: string; stderr: string };
  /** `terraform show -json` of a saved plan, parsed. */
  show(plan: string): Json;
}

/** Synthesizes `raw` (an environment file's data) as the stack the operator would deploy. */
function stackOf(env: EnvironmentName, raw: Json, allowDestroy: string[] = []): Json {
  const out = tempDir("guard-synth-");
  synthesizePlatform([loadConfig(env, {}, raw)], join(out, "out"), { allowDestroy });
  return JSON.parse(readFileSync(join(out, "out", "stacks", env, "cdk.tf.json"), "utf8")) as Json;
}

/** The copy applied here: state in the working directory, no helm_release (charts need the internet). */
function applicable(stack: Json): Json {
  const json = structuredClone(stack);
  json.terraform.backend = { local: { path: "terraform.tfstate" } };
  delete json.resource.helm_release;
  return json;
}

const address = (stack: Json, type: string, name: string): string => {
  const found = Object.entries((stack.resource[type] ?? {}) as Record<string, Json>).filter(([, r]) => r.metadata?.name === name);
  assert.equal(found.length, 1, `${type} ${name}`);
  return `${type}.${found[0]![0]}`;
};

function guardCli(plan: Json, args: string[]) {
  return spawnSync(process.execPath, [GUARD, ...args], { input: JSON.stringify(plan), encoding: "utf8" });
}

function saveFixture(name: string, plan: Json): void {
  if (!FIXTURES_OUT) return;
  mkdirSync(FIXTURES_OUT, { recursive: true });
  writeFileSync(join(FIXTURES_OUT, `${name}.json.gz`), gzipSync(JSON.stringify(plan), { level: 9 }));
}

describe("the destroy guard on real plans", { timeout: 900_000 }, () => {
  if ("missing" in needs) {
    it("needs real Terraform, the providers and a control plane", (t) => t.skip(needs.missing));
    return;
  }
  const { terraform, mirror, bins } = needs;
  const root = tempDir("guard-cluster-");
  const cp = new ControlPlane(join(root, "control-plane"), bins);
  const home = join(root, "home");
  const tfEnv: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    TF_CLI_CONFIG_FILE: join(root, "terraformrc"),
    TF_PLUGIN_CACHE_DIR: join(root, "plugin-cache"),
    TF_IN_AUTOMATION: "1",
    CHECKPOINT_DISABLE: "1",
    // Fixed, obviously fake values: plans print variables in clear, and fixtures are committed.
    TF_VAR_postgres_superuser_password: "fixture-not-a-secret-superuser",
    TF_VAR_postgres_app_password: "fixture-not-a-secret-app",
    TF_VAR_postgres_monitoring_password: "fixture-not-a-secret-monitoring",
    TF_VAR_grafana_admin_password: "fixture-not-a-secret-grafana",
  };
  const workIn = (name: string): Work => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    const tf = (args: string[]) => {
      const r = spawnSync(terraform, args, { cwd: dir, env: tfEnv, encoding: "utf8", maxBuffer: 256 * 1024 * 1024, timeout: 600_000 });
      return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
    };
    return {
      dir,
      tf,
      show: (plan) => {
        const shown = tf(["show", "-json", plan]);
        assert.equal(shown.status, 0, shown.stderr);
        return JSON.parse(shown.stdout) as Json;
      },
    };
  };
  const ok = (r: { status: number | null; stdout: string; stderr: string }, what: string) => assert.equal(r.status, 0, `${what}:\n${r.stdout.slice(-3000)}${r.stderr.slice(-3000)}`);

  before(async () => {
    await cp.start();
    cp.writeKubeconfig(join(home, ".kube", "config"), [loadConfig("local").cluster.context, loadConfig("staging").cluster.context]);
    writeCliConfig(join(root, "terraformrc"), mirror);
    mkdirSync(join(root, "plugin-cache"));
    for (let i = 0; i < 4; i++) {
      await cp.apply("/api/v1/persistentvolumes", {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: `guard-pv-${i}` },
        spec: { capacity: { storage: "500Gi" }, accessModes: ["ReadWriteOnce"], persistentVolumeReclaimPolicy: "Retain", hostPath: { path: `/tmp/guard-pv-${i}` } },
      });
    }
  });
  after(async () => {
    await cp.stop();
  });

  it("local, namespace renamed: refuses the replaced namespace, StatefulSet and Secret, and nothing else; --allow-destroy for exactly those passes", () => {
    const stack = stackOf("local", rawEnvironment("local"));
    const ns = address(stack, "kubernetes_namespace_v1", "agent-platform");
    const sts = address(stack, "kubernetes_stateful_set_v1", "postgres");
    const secret = address(stack, "kubernetes_secret_v1", "postgres-auth");
    const targets = [ns, sts, secret].map((a) => `-target=${a}`);
    const w = workIn("local");
    writeFileSync(join(w.dir, "cdk.tf.json"), JSON.stringify(applicable(stack)));
    ok(w.tf(["init", "-input=false", "-no-color"]), "init");
    ok(w.tf(["plan", "-input=false", "-no-color", "-out=create.tfplan", ...targets]), "plan");
    const create = w.show("create.tfplan");
    saveFixture("local-create", create);
    assert.deepEqual(judgePlan(create, []).refused, [], "creating destroys nothing");
    ok(w.tf(["apply", "-input=false", "-no-color", "create.tfplan"]), "apply");

    const raw = rawEnvironment("local");
    raw.namespace = "agent-platform-renamed";
    writeFileSync(join(w.dir, "cdk.tf.json"), JSON.stringify(applicable(stackOf("local", raw))));
    ok(w.tf(["plan", "-input=false", "-no-color", "-out=rename.tfplan", ...targets]), "plan after the rename");
    const plan = w.show("rename.tfplan");
    saveFixture("local-rename-namespace", plan);
    const replaced = (plan.resource_changes as Json[]).filter((c) => c.change.actions.includes("delete")).map((c) => c.address).sort();
    assert.ok(replaced.length > 3, `the rename replaces more than the data-bearing resources: ${replaced.join(", ")}`);

    const verdict = judgePlan(plan, []);
    assert.deepEqual(verdict.refused.map((g) => g.address).sort(), [ns, secret, sts].sort());
    for (const g of verdict.refused) assert.equal(g.action, "replace (delete, then create)", g.address);
    const refused = guardCli(plan, []);
    assert.equal(refused.status, 1);
    for (const a of [ns, sts, secret]) assert.ok(refused.stderr.includes(`${a} (`), `${a} listed:\n${refused.stderr}`);
    assert.match(refused.stderr, /\(agent-platform\): replace \(delete, then create\) — a namespace: every volume claim and Secret in it is deleted with it; marked data-bearing by the stack/);
    assert.equal(guardCli(plan, [`--allow-destroy=${ns}`, `--allow-destroy=${sts}`]).status, 1, "one unnamed address is enough to refuse");
    const allowed = guardCli(plan, [ns, sts, secret].map((a) => `--allow-destroy=${a}`));
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.match(allowed.stdout, /as --allow-destroy allows/);
  });

  it("staging, namespace renamed: Terraform refuses (prevent_destroy) until --allow-destroy lifts it, and the guard wants the same addresses", () => {
    const stack = stackOf("staging", rawEnvironment("staging"));
    const ns = address(stack, "kubernetes_namespace_v1", "agent-platform-staging");
    const postgres = address(stack, "kubernetes_stateful_set_v1", "postgres");
    const redis = address(stack, "kubernetes_stateful_set_v1", "redis");
    for (const a of [ns, postgres, redis]) {
      const [type, id] = a.split(".") as [string, string];
      assert.deepEqual(stack.resource[type][id].lifecycle, { prevent_destroy: true }, a);
    }
    const targets = [ns, postgres, redis].map((a) => `-target=${a}`);
    const w = workIn("staging");
    writeFileSync(join(w.dir, "cdk.tf.json"), JSON.stringify(applicable(stack)));
    ok(w.tf(["init", "-input=false", "-no-color"]), "init");
    ok(w.tf(["apply", "-auto-approve", "-input=false", "-no-color", ...targets]), "apply");

    const renamed = rawEnvironment("staging");
    renamed.namespace = "agent-platform-staging-renamed";
    writeFileSync(join(w.dir, "cdk.tf.json"), JSON.stringify(applicable(stackOf("staging", renamed))));
    const blocked = w.tf(["plan", "-input=false", "-no-color", "-out=rename.tfplan", ...targets]);
    assert.equal(blocked.status, 1, `Terraform refuses to plan the replacement:\n${blocked.stdout.slice(-4000)}`);
    assert.match(blocked.stderr.replace(/\s+/g, " "), /Instance cannot be destroyed.* has lifecycle\.prevent_destroy set/);

    // deploy.sh --allow-destroy=<each>: the synth lifts prevent_destroy on exactly those addresses.
    const lifted = stackOf("staging", renamed, [ns, postgres, redis]);
    for (const a of [ns, postgres, redis]) assert.equal(lifted.resource[a.split(".")[0]!][a.split(".")[1]!].lifecycle, undefined, a);
    assert.deepEqual(lifted.resource.helm_release[Object.keys(lifted.resource.helm_release)[0]!].lifecycle, { prevent_destroy: true }, "the others keep it");
    writeFileSync(join(w.dir, "cdk.tf.json"), JSON.stringify(applicable(lifted)));
    ok(w.tf(["plan", "-input=false", "-no-color", "-out=rename.tfplan", ...targets]), "plan with prevent_destroy lifted");
    const plan = w.show("rename.tfplan");
    saveFixture("staging-rename-namespace", plan);
    assert.deepEqual(judgePlan(plan, []).refused.map((g) => g.address).sort(), [ns, postgres, redis].sort());
    assert.equal(guardCli(plan, [`--allow-destroy=${ns}`, `--allow-destroy=${postgres}`]).status, 1, "redis is not allowed");
    assert.equal(guardCli(plan, [ns, postgres, redis].map((a) => `--allow-destroy=${a}`)).status, 0);
  });

  it("staging, Redis persistence turned off: its StatefulSet is replaced; the new config no longer protects it, the guard still refuses", () => {
    // The stack the previous test applied (nothing of its rename was applied).
    const w = workIn("staging");
    const stack = stackOf("staging", rawEnvironment("staging"));
    const redis = address(stack, "kubernetes_stateful_set_v1", "redis");
    const ns = address(stack, "kubernetes_namespace_v1", "agent-platform-staging");
    const raw = rawEnvironment("staging");
    raw.redis.persistence = false;
    delete raw.redis.storage;
    const changed = stackOf("staging", raw);
    assert.equal(changed.resource.kubernetes_stateful_set_v1[redis.split(".")[1]!].lifecycle, undefined, "without a volume it is not data-bearing any more");
    writeFileSync(join(w.dir, "cdk.tf.json"), JSON.stringify(applicable(changed)));
    // Terraform's prevent_destroy reads the new config, so it lets this through.
    ok(w.tf(["plan", "-input=false", "-no-color", "-out=redis.tfplan", `-target=${redis}`, `-target=${ns}`]), "plan");
    const plan = w.show("redis.tfplan");
    saveFixture("staging-replace-statefulset", plan);
    const verdict = judgePlan(plan, []);
    // Only the type names it here: a targeted apply writes no root outputs to state, so the last
    // apply recorded no marks (the next test reads a mark from a full apply's state).
    assert.deepEqual(verdict.refused.map((g) => [g.address, g.action, g.object, g.why]), [[redis, "replace (delete, then create)", "agent-platform-staging/redis", "a StatefulSet"]]);
    assert.equal(guardCli(plan, []).status, 1);
    assert.equal(guardCli(plan, [`--allow-destroy=${redis}`]).status, 0);
    // An allowance for something this plan keeps is refused: a typo must not pass.
    const stale = guardCli(plan, [`--allow-destroy=${redis}`, `--allow-destroy=${ns}`]);
    assert.equal(stale.status, 1);
    assert.match(stale.stderr, /--allow-destroy names what this plan neither deletes nor replaces/);
  });

  it("a marked resource removed from the config: the prior state's output still protects it", () => {
    const w = workIn("removed");
    const synthProbe = (withConfigMap: boolean): void => {
      const app = new App({ outdir: join(w.dir, `out-${withConfigMap}`), stackTraces: false });
      const stack = new TerraformStack(app, "probe");
      new KubernetesProvider(stack, "kubernetes", { configPath: "~/.kube/config", configContext: loadConfig("local").cluster.context });
      const ns = new NamespaceV1(stack, "namespace", { metadata: { name: "guard-probe" } });
      if (withConfigMap) {
        const map = new ConfigMapV1(stack, "ledger", { metadata: { name: "ledger", namespace: ns.metadata.name }, data: { balance: "42" } });
        markDataBearing(map, "the probe's ledger");
      }
      protectDataBearing(stack, { preventDestroy: false });
      app.synth();
      const json = JSON.parse(readFileSync(join(w.dir, `out-${withConfigMap}`, "stacks", "probe", "cdk.tf.json"), "utf8")) as Json;
      json.terraform.backend = { local: { path: "terraform.tfstate" } };
      writeFileSync(join(w.dir, "cdk.tf.json"), JSON.stringify(json));
    };
    synthProbe(true);
    ok(w.tf(["init", "-input=false", "-no-color"]), "init");
    ok(w.tf(["apply", "-auto-approve", "-input=false", "-no-color"]), "apply");
    synthProbe(false);
    ok(w.tf(["plan", "-input=false", "-no-color", "-out=remove.tfplan"]), "plan");
    const plan = w.show("remove.tfplan");
    saveFixture("removed-marked-resource", plan);
    const verdict = judgePlan(plan, []);
    assert.deepEqual(verdict.refused.map((g) => [g.address, g.action, g.why]), [["kubernetes_config_map_v1.ledger", "delete", "marked data-bearing by the stack"]]);
    ok(w.tf(["destroy", "-auto-approve", "-input=false", "-no-color"]), "destroy");
  });
});

/**
 * scripts/deploy.sh, run for real on a copy of the project: real tsc, real synth, real checks.
 * Only the cluster-facing tools are stand-ins on PATH (terraform, kubectl) that record every call,
 * so the order of steps, the refusals and the rollback path can be asserted.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, it } from "node:test";
import { ENVIRONMENT_NAMES } from "../../config/schema";
import { renameKey, replaceValue } from "../../scripts/config-source";
import { isBlueGreen, rollingService } from "../catalogue";
import { runAsync } from "../tools";
import { loadConfig, tempDir } from "../helpers";

const PROJECT = resolve(__dirname, "..", "..", "..");

// What the runs expect, derived from the shipped configs (test/catalogue.ts): the blue-green
// services of production in catalogue order (deploy.sh asks the cluster for each one's live
// track), the one a release and a rollback act on, the kube contexts.
const production = loadConfig("production");
const BLUE_GREEN = production.services.filter(isBlueGreen);
const RELEASED = BLUE_GREEN[0]!;
const upper = (name: string) => name.toUpperCase().replace(/-/g, "_");
const trackVariable = (name: string) => `active_track_${name.replace(/-/g, "_")}`;
/** The stand-in kubectl's answer for every blue-green Service's live track. */
const live = (track: string) => Object.fromEntries(BLUE_GREEN.map((s) => [`FAKE_LIVE_${upper(s.name)}`, track]));
const askLiveTracks = BLUE_GREEN.map((s) => `kubectl get-service ${s.name}`);

/** Replaces the value at `path` of config/<env>.ts in a project copy (scripts/config-source.ts). */
function editConfig(dir: string, env: string, path: string[], value: string): void {
  const file = join(dir, "config", `${env}.ts`);
  writeFileSync(file, replaceValue(readFileSync(file, "utf8"), path, value));
}

const FAKE_TERRAFORM = `#!/usr/bin/env bash
printf 'terraform %s\\n' "$*" >>"$DEPLOY_RECORD"
chdir=.
out=""
for arg in "$@"; do
  case "$arg" in
    -chdir=*) chdir="\${arg#-chdir=}" ;;
    -out=*) out="\${arg#-out=}" ;;
  esac
done
for arg in "$@"; do
  case "$arg" in
    plan) [[ -n "\${TF_VAR_postgres_app_password:-}" ]] && printf 'terraform-env TF_VAR_postgres_app_password=set %s\\n' "$(printf %s "$TF_VAR_postgres_app_password" | sha256sum | cut -c1-16)" >>"$DEPLOY_RECORD"
          printf 'terraform-plans %s\\n' "$(sha256sum <"$chdir/cdk.tf.json" | cut -c1-64)" >>"$DEPLOY_RECORD"
          printf 'terraform-chdir %s\\n' "$chdir" >>"$DEPLOY_RECORD"
          if [[ -n "$out" ]]; then printf 'plan with TF_VAR values' >"$chdir/$out"; printf 'terraform-plan-mode %s\\n' "$(stat -c %a "$chdir/$out")" >>"$DEPLOY_RECORD"; fi
          echo "Plan: 0 to add, 1 to change, 0 to destroy."; exit "\${FAKE_PLAN_STATUS:-0}" ;;
    apply) printf 'state' >"$chdir/fake.tfstate"; printf 'terraform-state-mode %s\\n' "$(stat -c %a "$chdir/fake.tfstate")" >>"$DEPLOY_RECORD"
           exit "\${FAKE_APPLY_STATUS:-0}" ;;
    -json) cat "$FAKE_PLAN_JSON"; exit 0 ;;
  esac
done
exit 0
`;

const FAKE_KUBECTL = `#!/usr/bin/env bash
printf 'kubectl %s\\n' "$*" >>"$DEPLOY_RECORD"
args=" $* "
if [[ "$args" == *" config get-contexts "* ]]; then printf '%s\\n' $FAKE_CONTEXTS; exit 0; fi
if [[ "$args" == *" get service "* ]]; then
  svc="$(sed -E 's/.* get service ([a-z-]+) .*/\\1/' <<<"$args")"
  var="FAKE_LIVE_$(tr 'a-z-' 'A-Z_' <<<"$svc")"
  [[ -n "\${!var:-}" ]] || { echo "Error from server (NotFound)" >&2; exit 1; }
  printf '%s' "\${!var}"; exit 0
fi
if [[ "$args" == *" rollout status "* ]]; then exit "\${FAKE_ROLLOUT_STATUS:-0}"; fi
if [[ "$args" == *" get clusters.postgresql.cnpg.io "* ]]; then
  name="$(sed -E 's/.* get clusters\.postgresql\.cnpg\.io ([a-z0-9-]+).*/\\1/' <<<"$args")"
  [[ " \${FAKE_CLUSTERS:-} " == *" $name "* ]] && exit 0
  echo "Error from server (NotFound)" >&2; exit 1
fi
if [[ "$args" == *" get objectstores.barmancloud.cnpg.io "* ]]; then
  [[ -n "\${FAKE_NO_OBJECTSTORE:-}" ]] && { echo "Error from server (NotFound)" >&2; exit 1; }
  [[ "$args" == *jsonpath* ]] && printf '%s' "\${FAKE_FIRST_POINT:-}"
  exit 0
fi
if [[ "$args" == *" create "* ]]; then cat >"$DEPLOY_RECORD.manifest"; exit 0; fi
if [[ "$args" == *" wait "* ]]; then exit "\${FAKE_WAIT_STATUS:-0}"; fi
exit 0
`;

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Every call of the stand-ins, in order. */
  readonly calls: string[];
  readonly dir: string;
}

/**
 * Saved plans as `terraform show -json` printed them: real plans of the real stacks, made by
 * test/scripts/plan-guard-cluster.test.ts against a real API server (test/fixtures/plans/README.md).
 * The stand-in terraform prints one of them for `show -json`.
 */
const PLANS = resolve(PROJECT, "test", "fixtures", "plans");
const planFile = (name: string): string => {
  const file = join(tempDir("deploy-plan-"), `${name}.json`);
  writeFileSync(file, gunzipSync(readFileSync(join(PLANS, `${name}.json.gz`))));
  return file;
};
let createPlan: string | undefined;

/**
 * The project as deploy.sh sees it (sources, tsconfigs, node_modules linked), with stand-in tools,
 * compiled once: every test copies it, so its own compile is an incremental no-op.
 */
let template: string | undefined;
function buildTemplate(): string {
  const dir = tempDir("deploy-sh-template-");
  for (const entry of ["main.ts", "config", "constructs", "stacks", "dashboards", "scripts", "tsconfig.json", "tsconfig.build.json", "tsconfig.deploy.json", "package.json", "cdktf.json"]) {
    cpSync(join(PROJECT, entry), join(dir, entry), { recursive: true });
  }
  symlinkSync(join(PROJECT, "node_modules"), join(dir, "node_modules"));
  const bin = join(dir, "fake-bin");
  mkdirSync(bin);
  const tool = (name: string, body: string) => {
    writeFileSync(join(bin, name), body);
    chmodSync(join(bin, name), 0o755);
  };
  tool("terraform", FAKE_TERRAFORM);
  tool("kubectl", FAKE_KUBECTL);
  symlinkSync(process.execPath, join(bin, "node"));
  // Only the system tools the script needs, so a terraform or kubectl elsewhere on this machine
  // cannot stand in for the fakes.
  const sys = join(dir, "sys-bin");
  mkdirSync(sys);
  for (const name of ["bash", "sed", "grep", "mkdir", "dirname", "tr", "env", "cat", "chmod", "rm", "stat", "sha256sum", "cut", "od", "mktemp", "promtool", "amtool"]) {
    const found = ["/usr/bin", "/bin"].map((d) => join(d, name)).find((p) => existsSync(p));
    assert.ok(found, `${name} not found`);
    symlinkSync(found, join(sys, name));
  }
  const compiled = spawnSync(process.execPath, [join(dir, "scripts", "compile.cjs"), "tsconfig.deploy.json"], { cwd: dir, encoding: "utf8" });
  assert.equal(compiled.status, 0, compiled.stdout + compiled.stderr);
  return dir;
}

/** A fresh copy of the compiled template; `edit` may break its config. */
function project(edit?: (dir: string) => void, tools: { terraform?: boolean; promtool?: boolean } = {}): string {
  template ??= buildTemplate();
  const dir = tempDir("deploy-sh-");
  // cp -a keeps every mtime, directories' too: the copy's compile sees nothing newer than its
  // build info and starts no tsc, unless `edit` changes a source.
  const copied = spawnSync("cp", ["-a", `${template}/.`, dir], { encoding: "utf8" });
  assert.equal(copied.status, 0, copied.stderr);
  if (tools.terraform === false) rmSync(join(dir, "fake-bin", "terraform"));
  if (tools.promtool === false) rmSync(join(dir, "sys-bin", "promtool"));
  edit?.(dir);
  return dir;
}

async function deploy(dir: string, args: string[], env: Record<string, string>): Promise<Run> {
  const record = join(dir, "calls.log");
  writeFileSync(record, "");
  const result = await runAsync("bash", [join(dir, "scripts", "deploy.sh"), ...args], {
    cwd: dir,
    env: {
      PATH: `${join(dir, "fake-bin")}:${join(dir, "sys-bin")}`,
      HOME: dir,
      DEPLOY_RECORD: record,
      FAKE_CONTEXTS: ENVIRONMENT_NAMES.map((e) => loadConfig(e).cluster.context).join(" "),
      FAKE_PLAN_JSON: (createPlan ??= planFile("local-create")),
      ...env,
    },
  });
  const calls = readFileSync(record, "utf8").split("\n").filter(Boolean);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr, calls, dir };
}

/**
 * Runs that several tests read, each made once: a local deploy, and a production dry run. The
 * tests assert different things about the same run.
 */
let localDeploy: Promise<Run> | undefined;
const deployLocal = () => (localDeploy ??= deploy(project(), [], { DEPLOYMENT_ENV: "local", ENABLE_AUTOSCALING: "false" }));
let productionDryRun: Promise<Run> | undefined;
const dryRunProduction = () => (productionDryRun ??= deploy(project(), ["--dry-run"], { DEPLOYMENT_ENV: "production", ENABLE_AUTOSCALING: "true" }));

/** Calls reduced to their verbs, for order assertions. */
const steps = (calls: string[]) =>
  calls
    .filter((c) => !c.startsWith("terraform-"))
    .map((c) => {
      const words = c.split(" ");
      if (words[0] === "terraform") return `terraform ${words[2]}${c.includes(".tfplan") ? ` ${/(\w+)\.tfplan/.exec(c)![1]}` : ""}`;
      if (c.includes("config get-contexts")) return "kubectl get-contexts";
      if (c.includes(" get service ")) return `kubectl get-service ${/get service ([a-z-]+)/.exec(c)![1]}`;
      if (c.includes("rollout status")) return `kubectl rollout ${/deployment\/([a-z-]+)/.exec(c)![1]}`;
      return c;
    });


describe("scripts/deploy.sh", { concurrency: 3 }, () => {
  for (const [env, message] of [
    [{ DEPLOYMENT_ENV: "prod" }, /DEPLOYMENT_ENV='prod' is not an environment: use local, staging or production/],
    [{}, /DEPLOYMENT_ENV is not set/],
    [{ DEPLOYMENT_ENV: "local", ENABLE_AUTOSCALING: "yes" }, /ENABLE_AUTOSCALING='yes' must be true or false/],
  ] as const) {
    it(`refuses ${JSON.stringify(env)} before doing anything`, async () => {
      const run = await deploy(project(), [], env);
      assert.equal(run.status, 1);
      assert.match(run.stderr, message);
      assert.deepEqual(run.calls, []);
    });
  }

  it("refuses to start without terraform, naming it", async () => {
    const dir = project(undefined, { terraform: false });
    const run = await deploy(dir, [], { DEPLOYMENT_ENV: "local" });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /terraform is not installed or not on PATH/);
    assert.deepEqual(run.calls, []);
    assert.equal(existsSync(join(dir, "cdktf.out")), false);
  });

  it("refuses a Node.js older than 20 before compiling anything", async () => {
    const dir = project((d) => {
      const node = join(d, "fake-bin", "node");
      rmSync(node);
      writeFileSync(node, `#!/usr/bin/env bash\n[[ "$1" == --version ]] && { echo v18.19.1; exit 0; }\nexec ${JSON.stringify(process.execPath)} "$@"\n`);
      chmodSync(node, 0o755);
    });
    const run = await deploy(dir, [], { DEPLOYMENT_ENV: "local" });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /Node\.js v18\.19\.1 is too old: 20 or newer is needed/);
    assert.deepEqual(run.calls, []);
    assert.equal(existsSync(join(dir, "cdktf.out")), false);
  });

  it("stops on a failed synth before any cluster call, pointing at the config", async () => {
    const service = loadConfig("staging").services[0]!.name;
    const dir = project((d) => editConfig(d, "staging", ["services", service, "resources", "requests", "memory"], '"256mb"'));
    const run = await deploy(dir, [], { DEPLOYMENT_ENV: "staging" });
    assert.equal(run.status, 1);
    assert.match(run.stderr, new RegExp(`config/staging\\.ts: services\\.${service}\\.resources\\.requests\\.memory = "256mb"`));
    assert.match(run.stderr, /synth failed: fix the configuration errors above \(config\/staging\.ts\); nothing was deployed/);
    assert.deepEqual(run.calls, []);
  });

  it("stops when a check fails (promtool cannot check the rules), before any cluster call", async () => {
    const run = await deploy(project(undefined, { promtool: false }), [], { DEPLOYMENT_ENV: "staging" });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /promtool is not installed \(apt-get install prometheus\)/);
    assert.match(run.stderr, /checks failed: fix the problems above; nothing was deployed/);
    assert.deepEqual(run.calls, []);
  });

  it("stops when the environment's kube context is missing, before terraform", async () => {
    const run = await deploy(project(), [], { DEPLOYMENT_ENV: "staging", FAKE_CONTEXTS: "some-other-cluster" });
    assert.equal(run.status, 1);
    assert.match(run.stderr, new RegExp(`kube context '${loadConfig("staging").cluster.context}' \\(cluster\\.context in config/staging\\.ts\\) is not in your kubeconfig`));
    assert.deepEqual(steps(run.calls), ["kubectl get-contexts"]);
  });

  it("--dry-run synthesizes, checks and shows the diff, and applies nothing", async () => {
    const run = await dryRunProduction();
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /ok: promtool check rules/);
    assert.match(run.stdout, /Plan: 0 to add, 1 to change/);
    assert.deepEqual(steps(run.calls), ["kubectl get-contexts", "terraform init", ...askLiveTracks, "terraform plan release", "terraform show release"]);
    // The synth honoured ENABLE_AUTOSCALING: one HPA per Deployment of a service.
    const stack = JSON.parse(readFileSync(join(run.dir, "cdktf.out", "stacks", "production", "cdk.tf.json"), "utf8"));
    assert.equal(Object.keys(stack.resource.kubernetes_horizontal_pod_autoscaler_v2).length, production.services.length + BLUE_GREEN.length);
  });

  it("with ENABLE_AUTOSCALING unset, follows the file's autoscaling.enabled, as synth and cdktf diff do", async () => {
    // Before: deploy.sh read unset as false, so a file with autoscaling on deployed without HPAs
    // while the pull request's diff (cdktf diff, no variable) showed them.
    const dir = project((d) => {
      const file = join(d, "config", "production.ts");
      const text = readFileSync(file, "utf8");
      assert.match(text, /autoscaling: \{ enabled: false \}/);
      writeFileSync(file, text.replace("autoscaling: { enabled: false }", "autoscaling: { enabled: true }"));
    });
    const run = await deploy(dir, ["--dry-run"], { DEPLOYMENT_ENV: "production" });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /synthesizing production \(autoscaling as config\/production\.ts sets it\)/);
    const stack = JSON.parse(readFileSync(join(run.dir, "cdktf.out", "stacks", "production", "cdk.tf.json"), "utf8"));
    assert.equal(Object.keys(stack.resource.kubernetes_horizontal_pod_autoscaler_v2 ?? {}).length, production.services.length + BLUE_GREEN.length);
  });

  it("deploys local with generated passwords kept out of git and the logs", async () => {
    const run = await deployLocal();
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(steps(run.calls), ["kubectl get-contexts", "terraform init", "terraform plan release", "terraform show release", "terraform apply release"]);
    assert.ok(run.calls.some((c) => c.startsWith("terraform-env TF_VAR_postgres_app_password=set ")));
    const secrets = join(run.dir, ".secrets", "local.env");
    assert.equal(statSync(secrets).mode & 0o777, 0o600);
    const values = readFileSync(secrets, "utf8").match(/=([0-9a-f]{48})$/gm)!.map((v) => v.slice(1));
    const stack = JSON.parse(readFileSync(join(run.dir, "cdktf.out", "stacks", "local", "cdk.tf.json"), "utf8"));
    const sensitive = Object.values(stack.variable as Record<string, { sensitive?: boolean }>).filter((v) => v.sensitive).length;
    assert.equal(values.length, sensitive);
    for (const value of values) assert.ok(!run.stdout.includes(value) && !run.stderr.includes(value));
  });

  it("--help prints the whole usage comment, to its last full sentence, and does nothing else", async () => {
    const run = await deploy(project(), ["--help"], {});
    assert.equal(run.status, 0, run.stderr);
    const lines = readFileSync(join(PROJECT, "scripts", "deploy.sh"), "utf8").split("\n").slice(1);
    const header = lines.slice(0, lines.findIndex((l) => !l.startsWith("#"))).map((l) => l.replace(/^# ?/, ""));
    assert.equal(run.stdout, `${header.join("\n")}\n`);
    assert.match(run.stdout.trimEnd(), /\.$/, "it ends with a full stop, not mid-sentence");
    for (const usage of ["--dry-run", "rollback SERVICE", "namespaces", "--yes", "DEPLOYMENT_ENV", "ENABLE_AUTOSCALING"]) assert.ok(run.stdout.includes(usage), usage);
    assert.deepEqual(run.calls, []);
  });

  it("--dry-run writes no password and no state: the plan's passwords exist in memory only", async () => {
    const run = await deploy(project(), ["--dry-run"], { DEPLOYMENT_ENV: "local" });
    assert.equal(run.status, 0, run.stderr);
    assert.ok(run.calls.some((c) => c.startsWith("terraform-env TF_VAR_postgres_app_password=set ")), "the plan had its passwords");
    assert.match(run.stdout, /dry run: TF_VAR_postgres_app_password generated for this plan only/);
    assert.equal(existsSync(join(run.dir, ".secrets")), false);
    assert.ok(!steps(run.calls).some((s) => s.startsWith("terraform apply")));
    assert.equal(existsSync(join(run.dir, "cdktf.out", "stacks", "local", "fake.tfstate")), false);
  });

  it("a dry run after a deploy plans with the saved passwords, and leaves .secrets as it was", async () => {
    const dir = project();
    const first = await deploy(dir, [], { DEPLOYMENT_ENV: "local" });
    assert.equal(first.status, 0, first.stderr);
    const secrets = readFileSync(join(dir, ".secrets", "local.env"));
    const dry = await deploy(dir, ["--dry-run"], { DEPLOYMENT_ENV: "local" });
    assert.equal(dry.status, 0, dry.stderr);
    const planned = (run: Run) => run.calls.find((c) => c.startsWith("terraform-env TF_VAR_postgres_app_password=set "));
    assert.equal(planned(dry), planned(first), "the same password (by its hash)");
    assert.doesNotMatch(dry.stdout, /generated/);
    assert.ok(readFileSync(join(dir, ".secrets", "local.env")).equals(secrets));
  });

  it("a misspelt field in the config stops it with the documented message, before any cluster call", async () => {
    const service = loadConfig("staging").services[0]!.name;
    const dir = project((d) => {
      const file = join(d, "config", "staging.ts");
      writeFileSync(file, renameKey(readFileSync(file, "utf8"), ["services", service, "replicas"], "replicaz"));
    });
    const run = await deploy(dir, [], { DEPLOYMENT_ENV: "staging" });
    assert.equal(run.status, 1);
    assert.ok(run.stderr.includes(`config/staging.ts: services.${service}.replicaz = `), run.stderr);
    assert.doesNotMatch(run.stderr, /error TS\d+/);
    assert.match(run.stderr, /compile failed: fix the problems above \(config\/staging\.ts or the program\); nothing was deployed/);
    assert.deepEqual(run.calls, []);
  });

  it("refuses to apply to production without a terminal unless --yes", async () => {
    const run = await deploy(project(), [], { DEPLOYMENT_ENV: "production" });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /refusing to apply to production without a terminal: pass --yes/);
    assert.ok(!steps(run.calls).some((s) => s.startsWith("terraform apply")));
  });

  it("releases blue-green: holds the Service on the live track, waits for the new one, then switches", async () => {
    // The release: the first blue-green service's 1.1.0 goes to green; blue keeps its previous image.
    const name = RELEASED.name;
    const dir = project((d) => {
      editConfig(d, "production", ["services", name, "image"], '{ tag: "1.1.0" }');
      editConfig(d, "production", ["services", name, "release", "active"], '"green"');
    });
    const run = await deploy(dir, ["--yes"], { DEPLOYMENT_ENV: "production", ENABLE_AUTOSCALING: "false", ...live("blue") });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(steps(run.calls), [
      "kubectl get-contexts",
      "terraform init",
      ...askLiveTracks,
      "terraform plan release",
      "terraform show release",
      "terraform apply release",
      `kubectl rollout ${name}-green`,
      "terraform plan switch",
      "terraform show switch",
      "terraform apply switch",
    ]);
    // First apply pins the live track; the switch plan uses the config's default (green).
    assert.ok(run.calls.find((c) => c.includes("-out=release.tfplan"))!.includes(`-var=${trackVariable(name)}=blue`));
    assert.ok(!run.calls.find((c) => c.includes("-out=switch.tfplan"))!.includes("-var="));
    assert.ok(run.stdout.includes(`${name}: blue -> green (roll back with: scripts/deploy.sh rollback ${name})`), run.stdout);
    const stack = JSON.parse(readFileSync(join(dir, "cdktf.out", "stacks", "production", "cdk.tf.json"), "utf8"));
    const image = (deployment: string) => Object.values(stack.resource.kubernetes_deployment_v1 as Record<string, any>).find((d) => d.metadata.name === deployment).spec.template.spec.container[0].image;
    const previous = RELEASED.release.strategy === "blue-green" ? RELEASED.release.previous : RELEASED.image;
    assert.equal(image(`${name}-green`), `${RELEASED.imageRepository}:1.1.0`);
    assert.equal(image(`${name}-blue`), `${RELEASED.imageRepository}${previous.digest ? `@${previous.digest}` : `:${previous.tag}`}`);
  });

  it("keeps the Service on the old track when the new one never becomes ready", async () => {
    const dir = project((d) => editConfig(d, "production", ["services", RELEASED.name, "release", "active"], '"green"'));
    const run = await deploy(dir, ["--yes"], { DEPLOYMENT_ENV: "production", ...live("blue"), FAKE_ROLLOUT_STATUS: "1" });
    assert.equal(run.status, 1);
    assert.ok(run.stderr.includes(`${RELEASED.name}-green did not become ready: the Service stays on blue`), run.stderr);
    assert.ok(!steps(run.calls).includes("terraform apply switch"));
  });

  it("rolls back a blue-green service to its other track, only that Service", async () => {
    const name = RELEASED.name;
    const others = BLUE_GREEN.filter((s) => s.name !== name);
    const run = await deploy(project(), ["--yes", "rollback", name], { DEPLOYMENT_ENV: "production", ...live("green") });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(steps(run.calls), [
      "kubectl get-contexts",
      "terraform init",
      ...askLiveTracks,
      `kubectl get-service ${name}`,
      `kubectl rollout ${name}-blue`,
      // Every other blue-green Service stays where it is live.
      ...others.map((s) => `kubectl get-service ${s.name}`),
      "terraform plan rollback",
      "terraform show rollback",
      "terraform show rollback",
      "terraform apply rollback",
    ]);
    const plan = run.calls.find((c) => c.includes("-out=rollback.tfplan"))!;
    assert.match(plan, new RegExp(`-target=kubernetes_service_v1\\.${name}_service_[0-9A-F]{8}`));
    assert.ok(plan.includes(`-var=${trackVariable(name)}=blue`), plan);
    for (const s of others) assert.ok(plan.includes(`-var=${trackVariable(s.name)}=green`), plan);
    assert.ok(run.stdout.includes(`${name} now routes to blue. Make it permanent in config/production.ts`), run.stdout);
  });

  it("refuses to roll back a service that is not blue-green", async () => {
    const rolling = rollingService(production).name;
    const run = await deploy(project(), ["rollback", rolling], { DEPLOYMENT_ENV: "production" });
    assert.equal(run.status, 1);
    assert.ok(run.stderr.includes(`'${rolling}' is not a blue-green service in production`), run.stderr);
    assert.ok(!steps(run.calls).some((s) => s.startsWith("terraform plan") || s.startsWith("terraform apply")));
  });

  it("stops when the plan fails, applying nothing", async () => {
    const run = await deploy(project(), [], { DEPLOYMENT_ENV: "staging", FAKE_PLAN_STATUS: "1" });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /terraform plan failed: see above; nothing was deployed/);
    assert.ok(!steps(run.calls).some((s) => s.startsWith("terraform apply")));
  });
  it("plans exactly what it synthesized, into the output directory the app was given", async () => {
    const service = loadConfig("local").services.find((s) => !isBlueGreen(s))!;
    const dir = project((d) => editConfig(d, "local", ["services", service.name, "replicas"], String(service.replicas + 1)));
    // A stale output in the default place, and CDKTF_OUTDIR inherited from the shell, relative.
    mkdirSync(join(dir, "cdktf.out", "stacks", "local"), { recursive: true });
    writeFileSync(join(dir, "cdktf.out", "stacks", "local", "cdk.tf.json"), '{"replicas": "7"}');
    const run = await deploy(dir, [], { DEPLOYMENT_ENV: "local", CDKTF_OUTDIR: "elsewhere" });
    assert.equal(run.status, 0, run.stderr);
    assert.ok(run.calls.includes(`terraform-chdir ${join(dir, "elsewhere", "stacks", "local")}`), run.calls.join("\n"));
    const planned = readFileSync(join(dir, "elsewhere", "stacks", "local", "cdk.tf.json"));
    assert.ok(run.calls.includes(`terraform-plans ${createHash("sha256").update(planned).digest("hex")}`), "the plan read the stack just synthesized");
    const edited = Object.values(JSON.parse(planned.toString()).resource.kubernetes_deployment_v1 as Record<string, any>).find((d) => d.metadata.name === service.name);
    assert.equal(edited.spec.replicas, String(service.replicas + 1), "…which holds the edited config");
    assert.equal(readFileSync(join(dir, "cdktf.out", "stacks", "local", "cdk.tf.json"), "utf8"), '{"replicas": "7"}');
  });

  it("writes plan files and state 0600 (umask 077) and removes the plan files when done", async () => {
    const run = await deployLocal();
    assert.equal(run.status, 0, run.stderr);
    assert.ok(run.calls.includes("terraform-plan-mode 600"), run.calls.join("\n"));
    assert.ok(run.calls.includes("terraform-state-mode 600"), run.calls.join("\n"));
    assert.equal(existsSync(join(run.dir, "cdktf.out", "stacks", "local", "release.tfplan")), false);
  });

  it("removes the plan file also when it stops after the diff", async () => {
    const run = await dryRunProduction();
    assert.equal(run.status, 0, run.stderr);
    assert.ok(run.calls.includes("terraform-plan-mode 600"));
    assert.equal(existsSync(join(run.dir, "cdktf.out", "stacks", "production", "release.tfplan")), false);
  });

  it("refuses an empty inherited CDKTF_OUTDIR before doing anything", async () => {
    const run = await deploy(project(), [], { DEPLOYMENT_ENV: "local", CDKTF_OUTDIR: "" });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /CDKTF_OUTDIR is set but empty: unset it to use cdktf\.out/);
    assert.deepEqual(run.calls, []);
  });

  it("`namespaces` applies only the namespaces, so hand-made Secrets have somewhere to live", async () => {
    const run = await deploy(project(), ["namespaces"], { DEPLOYMENT_ENV: "staging" });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(steps(run.calls), ["kubectl get-contexts", "terraform init", "terraform plan namespaces", "terraform show namespaces", "terraform apply namespaces"]);
    const plan = run.calls.find((c) => c.includes("-out=namespaces.tfplan"))!;
    const stack = JSON.parse(readFileSync(join(run.dir, "cdktf.out", "stacks", "staging", "cdk.tf.json"), "utf8"));
    const namespaces = Object.keys(stack.resource.kubernetes_namespace_v1).map((id) => `-target=kubernetes_namespace_v1.${id}`);
    assert.deepEqual(plan.match(/-target=kubernetes_namespace_v1\.[\w-]+/g), namespaces);
    assert.match(run.stdout, /namespaces created; now create the Secrets/);
  });

  it("shows hostile values escaped and bounded, never raw", async () => {
    const hostile = `prod\u001b[2J\u001b]0;pwned\u0007\u202eevil\u2066${"x".repeat(100_000)}`;
    const cases: Record<string, string>[] = [{ DEPLOYMENT_ENV: hostile }, { DEPLOYMENT_ENV: "local", ENABLE_AUTOSCALING: hostile }];
    for (const env of cases) {
      const run = await deploy(project(), [], env);
      assert.equal(run.status, 1);
      assert.doesNotMatch(run.stderr, /[\u0000-\u0009\u000b-\u001f\u007f\u202a-\u202e\u2066-\u2069]/);
      assert.match(run.stderr, /prod\\u001b\[2J\\u001b\]0;pwned\\u0007\\u202eevil\\u2066x+… \(100024 characters\)/);
      assert.ok(run.stderr.length < 400, `${run.stderr.length} characters`);
      assert.deepEqual(run.calls, []);
    }
  });
  describe("the destroy guard", () => {
    const STATEFUL_SET = "kubernetes_stateful_set_v1.postgres_server_stateful-set_41B50D02";
    const NAMESPACE = "kubernetes_namespace_v1.namespace_67941C3A";
    const SECRET = "kubernetes_secret_v1.secrets_postgres_3F82B1CE";
    const REDIS = "kubernetes_stateful_set_v1.redis_server_stateful-set_B60DBCF4";
    const lifecycleOf = (dir: string, env: string, type: string, id: string) =>
      JSON.parse(readFileSync(join(dir, "cdktf.out", "stacks", env, "cdk.tf.json"), "utf8")).resource[type][id].lifecycle;

    it("refuses a plan that replaces the namespace, the StatefulSet and the Secret, listing each address and action; nothing is applied", async () => {
      const run = await deploy(project(), [], { DEPLOYMENT_ENV: "local", FAKE_PLAN_JSON: planFile("local-rename-namespace") });
      assert.equal(run.status, 1);
      for (const address of [NAMESPACE, STATEFUL_SET, SECRET]) assert.match(run.stderr, new RegExp(`^  ${address.replace(/\./g, "\\.")} \\([^)]+\\): replace \\(delete, then create\\) — `, "m"));
      assert.match(run.stderr, /the destroy guard refused the plan \(above\); nothing was applied/);
      assert.deepEqual(steps(run.calls), ["kubectl get-contexts", "terraform init", "terraform plan release", "terraform show release"]);
      assert.ok(run.calls.some((c) => c.includes("show -json release.tfplan")));
    });

    it("applies that plan when --allow-destroy names every one of them (both spellings)", async () => {
      const args = [`--allow-destroy=${NAMESPACE}`, "--allow-destroy", STATEFUL_SET, `--allow-destroy=${SECRET}`];
      const run = await deploy(project(), args, { DEPLOYMENT_ENV: "local", FAKE_PLAN_JSON: planFile("local-rename-namespace") });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /destroy guard: the plan deletes or replaces, as --allow-destroy allows:/);
      assert.ok(steps(run.calls).includes("terraform apply release"));
    });

    it("refuses an allowance that names nothing the plan deletes (a typo), and applies nothing", async () => {
      const run = await deploy(project(), [`--allow-destroy=${STATEFUL_SET}x`], { DEPLOYMENT_ENV: "local" });
      assert.equal(run.status, 1);
      assert.match(run.stderr, /--allow-destroy names what this plan neither deletes nor replaces \(check the address\):\n  kubernetes_stateful_set_v1\.postgres_server_stateful-set_41B50D02x/);
      assert.ok(!steps(run.calls).includes("terraform apply release"));
    });

    it("--dry-run runs the guard too: a refused plan fails the dry run", async () => {
      const run = await deploy(project(), ["--dry-run"], { DEPLOYMENT_ENV: "local", FAKE_PLAN_JSON: planFile("local-rename-namespace") });
      assert.equal(run.status, 1);
      assert.match(run.stderr, /destroy guard: the plan deletes or replaces what holds data/);
    });

    it("--allow-destroy lifts prevent_destroy in production for exactly that address, and lets its replacement through", async () => {
      const dir = project();
      const run = await deploy(dir, ["--yes", `--allow-destroy=${REDIS}`], {
        DEPLOYMENT_ENV: "production",
        FAKE_PLAN_JSON: planFile("staging-replace-statefulset"),
        ...live("blue"),
      });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(lifecycleOf(dir, "production", "kubernetes_stateful_set_v1", REDIS.split(".")[1]!), undefined);
      assert.deepEqual(lifecycleOf(dir, "production", "kubernetes_namespace_v1", NAMESPACE.split(".")[1]!), { prevent_destroy: true });
      // Production's Postgres is the CloudNativePG cluster's release: still protected.
      const releases = JSON.parse(readFileSync(join(dir, "cdktf.out", "stacks", "production", "cdk.tf.json"), "utf8")).resource.helm_release;
      const cluster = Object.keys(releases).find((id) => releases[id].chart === "cluster")!;
      assert.deepEqual(lifecycleOf(dir, "production", "helm_release", cluster), { prevent_destroy: true });
    });

    it("ignores a PLATFORM_ALLOW_DESTROY inherited from the shell: only the flag lifts anything", async () => {
      const dir = project();
      const run = await deploy(dir, ["--yes"], {
        DEPLOYMENT_ENV: "production",
        PLATFORM_ALLOW_DESTROY: REDIS,
        FAKE_PLAN_JSON: planFile("staging-replace-statefulset"),
        ...live("blue"),
      });
      assert.equal(run.status, 1);
      assert.deepEqual(lifecycleOf(dir, "production", "kubernetes_stateful_set_v1", REDIS.split(".")[1]!), { prevent_destroy: true });
      assert.match(run.stderr, /kubernetes_stateful_set_v1\.redis_server_stateful-set_B60DBCF4 \(agent-platform-staging\/redis\): replace \(delete, then create\) — a StatefulSet/);
    });

    it("refuses a malformed --allow-destroy before doing anything", async () => {
      for (const args of [["--allow-destroy="], ["--allow-destroy"], ["--allow-destroy=postgres"], ["--allow-destroy=a.b;rm -rf /"]]) {
        const run = await deploy(project(), args, { DEPLOYMENT_ENV: "local" });
        assert.equal(run.status, 1, args.join(" "));
        assert.match(run.stderr, /--allow-destroy needs a resource address \(<type>\.<name>, as the refusal lists it\)/);
        assert.deepEqual(run.calls, []);
      }
    });
  });
  describe("restore", () => {
    /** An hour ago, to the second, as RFC 3339. */
    const past = () => new Date(Math.floor(Date.now() / 1000) * 1000 - 3600_000).toISOString().replace(".000Z", "Z");
    const manifestOf = (run: Run) => JSON.parse(readFileSync(`${join(run.dir, "calls.log")}.manifest`, "utf8"));
    const created = (run: Run) => run.calls.some((c) => / create /.test(c));

    it("creates a new cluster recovered to the time from the running one's backups, and waits for it; no Terraform apply", async () => {
      const to = past();
      const run = await deploy(project(), ["restore", "--to", to, "--yes"], { DEPLOYMENT_ENV: "production" });
      assert.equal(run.status, 0, run.stderr);
      const name = `postgres-pitr-${to.replace(/[-:TZ]/g, "")}`;
      assert.ok(!run.calls.some((c) => /^terraform (plan|apply)/.test(c)), run.calls.join("\n"));
      assert.ok(run.calls.some((c) => c.includes(`get clusters.postgresql.cnpg.io ${name}`)));
      assert.ok(run.calls.some((c) => / create -f -$/.test(c)));
      assert.ok(run.calls.some((c) => c.includes(`wait --for=condition=Ready clusters.postgresql.cnpg.io/${name}`)));
      const [policy, cluster] = manifestOf(run).items;
      assert.equal(policy.kind, "NetworkPolicy");
      assert.equal(cluster.metadata.name, name);
      assert.deepEqual(cluster.spec.bootstrap.recovery.recoveryTarget, { targetTime: to });
      assert.equal(cluster.spec.externalClusters[0].plugin.parameters.serverName, "postgres");
      assert.match(run.stdout, new RegExp(`restored: ${name} holds postgres as of ${to}; the running cluster is untouched`));
    });

    it("refuses to create over a Cluster that exists, whatever its name", async () => {
      const to = past();
      for (const [args, existing] of [[[], `postgres-pitr-${to.replace(/[-:TZ]/g, "")}`], [["--into", "postgres-copy"], "postgres-copy"]] as const) {
        const run = await deploy(project(), ["restore", "--to", to, ...args, "--yes"], { DEPLOYMENT_ENV: "production", FAKE_CLUSTERS: existing });
        assert.equal(run.status, 1);
        assert.match(run.stderr, new RegExp(`a Cluster named ${existing} already exists in agent-platform: a restore never overwrites a database`));
        assert.ok(!created(run), run.calls.join("\n"));
      }
    });

    it("refuses the running cluster's name, a time to come, a time without a zone, and an environment without backups", async () => {
      const cases: [string[], Record<string, string>, RegExp][] = [
        [["--to", past(), "--into", "postgres"], { DEPLOYMENT_ENV: "production" }, /--into postgres is the running cluster: a restore creates a new cluster and never overwrites a database/],
        [["--to", new Date(Date.now() + 86_400_000).toISOString()], { DEPLOYMENT_ENV: "production" }, /is in the future/],
        [["--to", "2026-12-01 10:04:00"], { DEPLOYMENT_ENV: "production" }, /is not an RFC 3339 time with a zone/],
        [["--to", past()], { DEPLOYMENT_ENV: "local" }, /local runs Postgres as a StatefulSet .* it has no backups to restore from/],
        [[], { DEPLOYMENT_ENV: "production" }, /restore needs the time to restore to/],
      ];
      for (const [args, env, message] of cases) {
        const run = await deploy(project(), ["restore", ...args, "--yes"], env);
        assert.equal(run.status, 1, args.join(" "));
        assert.match(run.stderr, message);
        assert.ok(!created(run));
      }
    });

    it("refuses a time older than the backups reach, and a missing ObjectStore", async () => {
      const early = await deploy(project(), ["restore", "--to", past(), "--yes"], { DEPLOYMENT_ENV: "production", FAKE_FIRST_POINT: new Date().toISOString() });
      assert.equal(early.status, 1);
      assert.match(early.stderr, /is before the earliest point the backups reach/);
      const none = await deploy(project(), ["restore", "--to", past(), "--yes"], { DEPLOYMENT_ENV: "production", FAKE_NO_OBJECTSTORE: "1" });
      assert.equal(none.status, 1);
      assert.match(none.stderr, /the ObjectStore postgres-backups \(the backups of postgres\) is not in agent-platform/);
      assert.ok(!created(early) && !created(none));
    });

    it("leaves the output directory as it was: its synth goes to a private directory, removed on exit", async () => {
      const dir = project((d) => {
        mkdirSync(join(d, "cdktf.out", "stacks", "local"), { recursive: true });
        writeFileSync(join(d, "cdktf.out", "stacks", "local", "cdk.tf.json"), "{}\n");
      });
      const before = spawnSync("find", [join(dir, "cdktf.out"), "-printf", "%p %s %T@\n"], { encoding: "utf8" }).stdout;
      const run = await deploy(dir, ["restore", "--to", past(), "--dry-run"], { DEPLOYMENT_ENV: "staging", TMPDIR: dir });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(spawnSync("find", [join(dir, "cdktf.out"), "-printf", "%p %s %T@\n"], { encoding: "utf8" }).stdout, before);
      assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith("deploy-restore.")), [], "the private directory is removed");
    });

    it("refuses a bad request before it synthesizes or asks the cluster anything (the running cluster's name, no kube context)", async () => {
      const run = await deploy(project(), ["restore", "--to", past(), "--into", "postgres", "--dry-run"], { DEPLOYMENT_ENV: "production", FAKE_CONTEXTS: "" });
      assert.equal(run.status, 1);
      assert.match(run.stderr, /--into postgres is the running cluster/);
      assert.doesNotMatch(run.stdout, /running the project's checks/);
      assert.deepEqual(run.calls.filter((c) => c.startsWith("kubectl")), []);
    });

    it("--dry-run has the API server check the objects and creates nothing", async () => {
      const run = await deploy(project(), ["restore", "--to", past(), "--dry-run"], { DEPLOYMENT_ENV: "staging" });
      assert.equal(run.status, 0, run.stderr);
      assert.ok(run.calls.some((c) => / create --dry-run=server -f -$/.test(c)));
      assert.ok(!run.calls.some((c) => / wait /.test(c)));
    });
  });
});

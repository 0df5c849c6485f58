/**
 * `npm run e2e`: every stack, in both autoscaling modes, planned and applied by real Terraform with
 * the real providers against a real Kubernetes control plane on 127.0.0.1 (test/e2e/control-plane.ts),
 * then checked and destroyed. One line per check, and a closing `N passed, N failed` line; exit 1
 * when anything failed.
 *
 * Needs: terraform (TERRAFORM, else on PATH), etcd (Debian etcd-server), openssl, and either Go
 * (the control plane is built from the Go module proxy once, then cached by version; see
 * build-control-plane.sh) or the cached binaries. Providers come from TF_PROVIDERS_DIR (a
 * filesystem mirror) when it is set, else from the Terraform registry.
 *
 * Helm charts (kube-prometheus-stack, prometheus-adapter, metrics-server) come from
 * HELM_CHARTS_DIR (scripts/pull-charts.sh fills it): with it, the releases are installed from the
 * local archives and checked (test/e2e/charts.ts); without it they are left out of the applied
 * copy, said so per stack, and still validated against the helm provider's schema.
 *
 * After its lifecycle checks, each autoscaling-on stack runs the scenarios of scenarios.ts
 * (scaling, custom metrics, drains, a node failure; E2E_STACKS=<stack>:<scenario> picks one,
 * PROMETHEUS_ADAPTER_BIN enables the custom metrics) and the run prints their table per stack.
 * CNPG_OPERATOR_BIN runs the real CloudNativePG operator on the staging and production stacks
 * (cnpg-operator.ts).
 * E2E_MUTATE plants one defect the run must catch (mutations.ts); E2E_FAIL_FAST=1 stops at the
 * first failed check.
 */
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { type PlatformConfig, validateCatalog, validateEnvironment, ENVIRONMENT_SOURCES } from "../../config/load";
import type { EnvironmentName } from "../../config/schema";
import catalogData from "../../config/services";
import { missingFromMirror, providersDir, requiredProviders, writeCliConfig } from "../../scripts/terraform-providers";
import { synthesizePlatform } from "../../stacks/synthesize";
import { REDIS_SECRET_KEYS } from "../../constructs/redis";
import { checkChartsRemoved, checkInstalledCharts, prepareReleases } from "./charts";
import { ControlPlane, crdEstablished } from "./control-plane";
import { checkDestroyGuard, dropPreventDestroy, forgetLeftOut, guardScenarios, unprotected } from "./data-protection";
import { checkDatabaseCluster, createClusterSecrets, dropDependenciesOnLeftOut } from "./cloudnative-pg";
import { checkDiffIdentity } from "./diff-identity";
import { checkNetworkModel } from "./network";
import { chosenMutation, type Mutation } from "./mutations";
import { hostTools, runScenarios, scenarioTables, selection, type StackSelection } from "./scenarios";
import type { HostTools, StackScenarioReport } from "./scenario-context";

type Json = Record<string, any>;

const PROJECT = resolve(__dirname, "..", "..", "..");
const TERRAFORM = process.env.TERRAFORM ?? "terraform";
const STEP_TIMEOUT_MS = 15 * 60 * 1000;

// ------------------------------------------------------------------------------------------------
// Reporting
// ------------------------------------------------------------------------------------------------

class Reporter {
  passed = 0;
  failed = 0;
  readonly rows: { stack: string; created: number; secondPlan: string; violations: number; destroy: string; seconds: number }[] = [];

  /** Set for E2E_FAIL_FAST and mutation runs: the first failed check ends the run. */
  stop?: (check: string) => never;

  check(stack: string, name: string, ok: boolean, detail = ""): boolean {
    if (ok) this.passed++;
    else this.failed++;
    process.stdout.write(`${ok ? "ok  " : "FAIL"} ${stack}: ${name}${detail ? ` — ${detail}` : ""}\n`);
    if (!ok && this.stop) this.stop(name);
    return ok;
  }

  note(text: string): void {
    process.stdout.write(`     ${text}\n`);
  }
}

// ------------------------------------------------------------------------------------------------
// Terraform
// ------------------------------------------------------------------------------------------------

interface Terraform {
  run(args: string[], extraEnv?: Record<string, string>): SpawnSyncReturns<string>;
}

function terraformIn(dir: string, env: Record<string, string>): Terraform {
  return {
    run(args, extraEnv = {}) {
      return spawnSync(TERRAFORM, args, {
        cwd: dir,
        encoding: "utf8",
        maxBuffer: 256 * 1024 * 1024,
        timeout: STEP_TIMEOUT_MS,
        env: { ...env, ...extraEnv },
      });
    },
  };
}

/** The last lines of a failed command's output, for the report. */
function tail(result: SpawnSyncReturns<string>, lines = 15): string {
  const text = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim().split("\n");
  return text
    .filter((l) => !/^\{/.test(l) || /"@level":"error"/.test(l))
    .slice(-lines)
    .join("\n      ");
}

interface ResourceChange {
  readonly address: string;
  readonly type: string;
  readonly actions: readonly string[];
}

function planChanges(tf: Terraform, planFile: string): ResourceChange[] {
  const shown = tf.run(["show", "-json", planFile]);
  if (shown.status !== 0) throw new Error(`terraform show failed: ${tail(shown)}`);
  const plan = JSON.parse(shown.stdout) as Json;
  return ((plan.resource_changes ?? []) as Json[])
    .map((c) => ({ address: c.address, type: c.type, actions: c.change.actions as string[] }))
    .filter((c) => !(c.actions.length === 1 && c.actions[0] === "no-op"));
}

interface ApplyEvent {
  readonly type: string;
  readonly address: string;
  readonly action: string;
  readonly index: number;
}

/** `terraform apply -json`'s machine-readable UI: resource hook events in order. */
function applyEvents(stdout: string): ApplyEvent[] {
  const events: ApplyEvent[] = [];
  stdout.split("\n").forEach((line, index) => {
    if (!line.startsWith("{")) return;
    const e = JSON.parse(line) as Json;
    if (["apply_start", "apply_complete", "apply_errored"].includes(e.type)) {
      events.push({ type: e.type, address: e.hook?.resource?.addr, action: e.hook?.action, index });
    }
  });
  return events;
}

// ------------------------------------------------------------------------------------------------
// Stacks
// ------------------------------------------------------------------------------------------------

function loadVariant(env: EnvironmentName, autoscaling: boolean, mutate?: (raw: Json) => void): PlatformConfig {
  const raw = structuredClone(ENVIRONMENT_SOURCES[env]) as Json;
  mutate?.(raw);
  return validateEnvironment(raw, env, validateCatalog(catalogData), { enableAutoscaling: autoscaling });
}

function synthesize(config: PlatformConfig, into: string): Json {
  synthesizePlatform([config], into);
  return JSON.parse(readFileSync(join(into, "stacks", config.environment, "cdk.tf.json"), "utf8"));
}

/**
 * The copy of a stack that is applied here: state in the working directory (whatever backend the
 * stack names: the run must not touch a real state store), and the helm_release resources pointed
 * at HELM_CHARTS_DIR's archives, or left out without it or where the e2e cannot install them
 * (test/e2e/charts.ts, NOT_INSTALLED_HERE). `leftOutIds`: the helm_release ids left out.
 */
function applicableCopy(stack: Json): { json: Json; leftOut: string[]; installed: string[]; leftOutIds: string[] } {
  const json = structuredClone(stack);
  json.terraform.backend = { local: { path: "terraform.tfstate" } };
  const releases = prepareReleases(json);
  if (releases.leftOut.length > 0) forgetLeftOut(json, "helm_release");
  releases.leftOut.push(...dropDependenciesOnLeftOut(json).map((d) => `depends_on ${d}`));
  // The run destroys what it made; runStack checks first that the stack carried prevent_destroy.
  dropPreventDestroy(json);
  const leftOutIds = Object.keys(stack.resource.helm_release ?? {}).filter((id) => !json.resource.helm_release?.[id]);
  return { json, ...releases, leftOutIds };
}

const sensitiveVariables = (stack: Json): string[] =>
  Object.entries((stack.variable ?? {}) as Record<string, Json>)
    .filter(([, v]) => v.sensitive)
    .map(([name]) => name);

const namespacesOf = (stack: Json): { id: string; name: string }[] =>
  Object.entries((stack.resource.kubernetes_namespace_v1 ?? {}) as Record<string, Json>).map(([id, r]) => ({ id, name: r.metadata.name }));

const byType = (stack: Json, type: string): [string, Json][] => Object.entries((stack.resource[type] ?? {}) as Record<string, Json>);

// ------------------------------------------------------------------------------------------------
// The run
// ------------------------------------------------------------------------------------------------

interface Context {
  readonly cp: ControlPlane;
  readonly report: Reporter;
  readonly root: string;
  readonly tfEnv: Record<string, string>;
  readonly mirror?: string;
  /** Which scenarios each stack runs after its lifecycle checks (scenarios.ts), and their reports. */
  readonly selection: StackSelection;
  readonly tools: HostTools;
  readonly scenarioReports: StackScenarioReport[];
  /** E2E_MUTATE: a defect planted in every copy of the stack (mutations.ts). */
  readonly mutation?: { readonly name: string; readonly mutation: Mutation };
  /** cert-manager's CRDs (build-control-plane.sh), for a stack that installs the Barman Cloud plugin. */
  readonly certManagerCrds: string;
}

async function runStack(ctx: Context, env: EnvironmentName, autoscaling: boolean): Promise<void> {
  const { cp, report } = ctx;
  const label = `${env}/autoscaling-${autoscaling ? "on" : "off"}`;
  const started = Date.now();
  const auditFrom = cp.auditMark();
  const base = join(ctx.root, label.replace("/", "-"));
  mkdirSync(base, { recursive: true });
  const config = loadVariant(env, autoscaling);
  const stack = synthesize(config, join(base, "out"));
  if (ctx.mutation) report.note(`mutation ${ctx.mutation.name}: ${ctx.mutation.mutation.apply(stack)}`);
  const row = { stack: label, created: 0, secondPlan: "-", violations: -1, destroy: "-", seconds: 0 };
  report.rows.push(row);

  // 1. The whole stack, helm_release included, against both providers' schemas.
  const validateDir = join(base, "validate");
  mkdirSync(validateDir);
  writeFileSync(join(validateDir, "cdk.tf.json"), JSON.stringify({ ...stack, terraform: { ...stack.terraform, backend: undefined } }));
  const vtf = terraformIn(validateDir, ctx.tfEnv);
  const vinit = vtf.run(["init", "-backend=false", "-input=false", "-no-color"]);
  const validate = vinit.status === 0 ? vtf.run(["validate", "-no-color"]) : vinit;
  report.check(label, "terraform validate with provider schemas (helm_release included)", validate.status === 0, validate.status === 0 ? "" : tail(validate));

  if (env !== "local") {
    const missing = unprotected(stack);
    report.check(label, "every data-bearing resource is prevent_destroy (dropped in the applied copy, so the run can destroy)", missing.length === 0, missing.join(", "));
  }
  const { json, leftOut, installed, leftOutIds } = applicableCopy(stack);
  if (installed.length > 0) {
    report.note(`charts installed from HELM_CHARTS_DIR: ${installed.join(", ")}; the operators' admission webhooks off (kwok runs no webhook server; E2E_VALUES in test/e2e/charts.ts)`);
    if (leftOut.length > 0) report.note(`left out of the apply even so (validated above): ${leftOut.join("; ")}`);
  } else report.note(`left out of the apply (HELM_CHARTS_DIR unset: the charts cannot be downloaded here; validated above): ${leftOut.join(", ") || "none"}`);
  const text = JSON.stringify(json);
  if (leftOutIds.length > 0 && !report.check(label, "no applied resource refers to a left-out release", leftOutIds.every((id) => !text.includes(`helm_release.${id}`)), leftOutIds.join(", "))) return;

  const work = join(base, "work");
  mkdirSync(work);
  writeFileSync(join(work, "cdk.tf.json"), JSON.stringify(json, null, 2));
  // Passwords of `variable`-mode environments: random, in the environment only, never printed.
  const secretVars = Object.fromEntries(sensitiveVariables(stack).map((v) => [`TF_VAR_${v}`, randomBytes(18).toString("hex")]));
  const tf = terraformIn(work, { ...ctx.tfEnv, ...secretVars });
  const init = tf.run(["init", "-input=false", "-no-color"]);
  if (!report.check(label, "terraform init", init.status === 0, init.status === 0 ? "" : tail(init))) return;

  const namespaces = namespacesOf(json);
  const platformNs = config.namespace;
  try {
    // 2. Secrets made outside Terraform (`existing` mode), in the README's order: the namespaces
    //    first (a targeted apply), then the Secrets, then everything.
    if (config.secrets.mode === "existing") {
      const targeted = tf.run(["apply", "-auto-approve", "-input=false", "-no-color", ...namespaces.map((n) => `-target=kubernetes_namespace_v1.${n.id}`)]);
      if (!report.check(label, "README order: a targeted apply creates the namespaces first", targeted.status === 0, targeted.status === 0 ? "" : tail(targeted))) return;
      const secret = (ns: string, name: string, data: Record<string, string>) =>
        cp.apply(`/api/v1/namespaces/${ns}/secrets`, {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name },
          data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])),
        });
      const pw = () => randomBytes(18).toString("hex");
      if (config.postgres.topology.kind === "statefulset") await secret(platformNs, "postgres-auth", { "superuser-password": pw(), "app-password": pw(), "monitoring-password": pw() });
      else await createClusterSecrets(cp, config, pw);
      // One key per Redis user (docs/operations.md, "Secrets").
      if (config.redis) await secret(platformNs, "redis-auth", Object.fromEntries(Object.values(REDIS_SECRET_KEYS).map((key) => [key, pw()])));
      await secret(config.monitoringNamespace, "grafana-admin", { "admin-user": "admin", "admin-password": pw() });
      report.check(label, "README order: the Secrets are created by hand in the namespaces Terraform made", true);
    }

    // 2b. A prerequisite the docs name for the Barman Cloud plugin: cert-manager. Its CRDs only
    //     (no controller runs on kwok): the plugin's Issuer and Certificates are admitted, never issued.
    if (installed.some((r) => r.includes("(plugin-barman-cloud "))) {
      const crds = await applyCrds(cp, ctx.certManagerCrds);
      report.check(label, "cert-manager's CRDs applied and established (the plugin's prerequisite; no cert-manager controller runs here)", crds.length >= 4, `${crds.length} CRDs from ${ctx.certManagerCrds}`);
    }

    // 3. Plan and apply.
    const plan = tf.run(["plan", "-input=false", "-no-color", "-out=create.tfplan"]);
    if (!report.check(label, "terraform plan", plan.status === 0, plan.status === 0 ? "" : tail(plan))) return;
    const creates = planChanges(tf, "create.tfplan").filter((c) => c.actions.includes("create"));
    const applied = tf.run(["apply", "-input=false", "-json", "create.tfplan"]);
    const events = applyEvents(applied.stdout);
    const completed = events.filter((e) => e.type === "apply_complete" && e.action === "create").length;
    row.created = completed + (config.secrets.mode === "existing" ? namespaces.length : 0);
    if (
      !report.check(
        label,
        "terraform apply",
        applied.status === 0 && completed === creates.length,
        `${completed} of ${creates.length} planned creations completed${config.secrets.mode === "existing" ? ` (+${namespaces.length} namespaces by the targeted apply)` : ""}, ${Math.round((Date.now() - started) / 1000)} s${applied.status === 0 ? "" : `\n      ${tail(applied)}`}`,
      )
    )
      return;

    // 4. No perpetual diff.
    const second = tf.run(["plan", "-input=false", "-no-color", "-detailed-exitcode", "-out=second.tfplan"]);
    const drift = second.status === 2 ? planChanges(tf, "second.tfplan").map((c) => `${c.address} ${c.actions.join("+")}`) : [];
    row.secondPlan = second.status === 0 ? "No changes" : second.status === 2 ? `${drift.length} change(s)` : "error";
    report.check(label, "a second plan shows no changes (-detailed-exitcode 0)", second.status === 0, second.status === 2 ? drift.join(", ") : second.status === 0 ? "" : tail(second));

    // 4b. Destructive changes are stopped before apply: real plans, never applied.
    if (!autoscaling) {
      const variant = (mutate: (raw: Json) => void, name: string) => synthesize(loadVariant(env, autoscaling, mutate), join(base, `out-${name}`));
      for (const r of checkDestroyGuard(tf, work, guardScenarios(stack, variant), env !== "local")) report.check(label, r.name, r.ok, r.detail);
    }

    // 5. Pod Security: nothing the stack created violated its namespace's audit level.
    // This stack's events only: an earlier stack's (a dry-run probe in a namespace both use) are not its own.
    const violations = cp.podSecurityViolations(namespaces.map((n) => n.name), auditFrom);
    row.violations = violations.length;
    report.check(label, "no PodSecurity violation in the audit log", violations.length === 0, violations.slice(0, 5).map((v) => `${v.namespace} ${v.object}: ${v.violation}`).join("; "));

    // 5b. The traffic matrix's input is what the cluster holds (test/e2e/network.ts).
    await checkNetworkModel(cp, report, label, stack, config, installed.length > 0);

    // 5c. The diff identity plans the deployed stack with its own token and is refused an apply.
    await checkDiffIdentity({ cp, check: (name, ok, detail) => report.check(label, name, ok, detail), terraform: (args, extra) => tf.run(args, extra), stack: json, dir: base, tail });

    // 5d. The charts, installed (with HELM_CHARTS_DIR): CRDs, admission, rules, dashboards, wiring.
    await checkInstalledCharts(cp, report, label, config, json);

    // 6. Literal text reached the cluster literally (the escaping, end to end).
    const dashboards = (await cp.list(`/api/v1/namespaces/${config.monitoringNamespace}/configmaps`)).filter((m) => m.metadata.name.startsWith("dashboard-"));
    const literalOk = dashboards.length > 0 && dashboards.every((m) => Object.values(m.data as Record<string, string>).every((v) => v.includes('"uid": "${datasource}"')));
    report.check(label, "Grafana's ${datasource} arrives in the cluster literally", literalOk, `${dashboards.length} dashboard ConfigMaps`);

    // 6b. The namespace's quota admits the whole stack, and says what it used.
    const quotas = await cp.list(`/api/v1/namespaces/${platformNs}/resourcequotas`);
    const used = quotas[0]?.status?.used ?? {};
    report.check(
      label,
      "the namespace's ResourceQuota admitted every pod and reports its use",
      quotas.length === 1 && Number(used.pods) > 0 && Number(used.pods) <= Number(quotas[0].status.hard.pods),
      quotas[0] ? `pods ${used.pods}/${quotas[0].status.hard.pods}, requests.cpu ${used["requests.cpu"]}/${quotas[0].status.hard["requests.cpu"]}, requests.memory ${used["requests.memory"]}/${quotas[0].status.hard["requests.memory"]}` : "no quota",
    );

    // 6b'. The database cluster's objects, admitted against the operator's CRDs (test/e2e/cloudnative-pg.ts).
    await checkDatabaseCluster(cp, report, label, config, stack, ctx.tfEnv.HOME!);

    // 6c. Every public service has an Ingress whose backend Service exists.
    const ingresses = await cp.list(`/apis/networking.k8s.io/v1/namespaces/${platformNs}/ingresses`);
    const publicServices = config.services.filter((s) => s.exposure === "public").map((s) => s.name).sort();
    const routed = ingresses.flatMap((i) => i.spec.rules.flatMap((r: Json) => r.http.paths.map((p: Json) => p.backend.service.name))).sort();
    const backendsExist = (await Promise.all(routed.map((n: string) => cp.api("GET", `/api/v1/namespaces/${platformNs}/services/${n}`)))).every((r) => r.status === 200);
    report.check(label, "every public service has an Ingress to an existing Service", JSON.stringify(routed) === JSON.stringify(publicServices) && backendsExist, `${ingresses.map((i) => i.spec.rules[0].host).join(", ")}`);

    // 7. HPAs exist and hold their minimum; without autoscaling, none exist and replicas hold.
    const hpaResources = byType(json, "kubernetes_horizontal_pod_autoscaler_v2");
    const hpas = await cp.list(`/apis/autoscaling/v2/namespaces/${platformNs}/horizontalpodautoscalers`);
    if (autoscaling) {
      let held = true;
      let detail = `${hpas.length} HPAs`;
      try {
        await cp.waitFor("every HPA's Deployment at its minReplicas", async () => {
          for (const hpa of await cp.list(`/apis/autoscaling/v2/namespaces/${platformNs}/horizontalpodautoscalers`)) {
            const d = await cp.api("GET", `/apis/apps/v1/namespaces/${platformNs}/deployments/${hpa.spec.scaleTargetRef.name}`);
            if (d.body?.spec?.replicas !== hpa.spec.minReplicas || d.body?.status?.readyReplicas !== hpa.spec.minReplicas) return false;
          }
          return true;
        }, 120_000);
      } catch (error) {
        held = false;
        detail += `: ${(error as Error).message}`;
      }
      report.check(label, "every HPA exists and holds its minimum", held && hpas.length === hpaResources.length && hpas.length > 0, `${detail} (expected ${hpaResources.length})`);
    } else {
      report.check(label, "no HPA exists with autoscaling off", hpas.length === 0 && hpaResources.length === 0, `${hpas.length} HPAs`);
    }

    // 8. Every Service has ready endpoints, on the active track only.
    const trackOf = (service: string) => {
      const variable = (json.variable ?? {})[`active_track_${service.replace(/-/g, "_")}`];
      return variable?.default as string | undefined;
    };
    const endpointProblems = await serviceEndpointProblems(cp, platformNs, byType(json, "kubernetes_service_v1").map(([, s]) => s.metadata.name), trackOf);
    report.check(label, "every Service has ready endpoints on its active track", endpointProblems.length === 0, endpointProblems.join("; "));

    // 9. Blue-green: a switch is exactly one in-place change, and traffic follows it.
    const blueGreen = Object.entries((json.variable ?? {}) as Record<string, Json>).filter(([name]) => name.startsWith("active_track_"));
    if (blueGreen.length > 0) {
      const [variable, def] = blueGreen[0]!;
      const service = variable.slice("active_track_".length).replace(/_/g, "-");
      const other = def.default === "blue" ? "green" : "blue";
      const switchPlan = tf.run(["plan", "-input=false", "-no-color", `-var=${variable}=${other}`, "-out=switch.tfplan"]);
      const changes = switchPlan.status === 0 ? planChanges(tf, "switch.tfplan") : [];
      const one = changes.length === 1 && changes[0]!.type === "kubernetes_service_v1" && changes[0]!.actions.join() === "update";
      report.check(label, `a blue-green switch of ${service} is exactly one in-place change`, one, changes.map((c) => `${c.address} ${c.actions.join("+")}`).join(", ") || tail(switchPlan));
      const switched = tf.run(["apply", "-input=false", "-no-color", "switch.tfplan"]);
      const after = switched.status === 0 ? await serviceEndpointProblems(cp, platformNs, [service], () => other) : ["apply failed"];
      report.check(label, `after the switch, ${service}'s endpoints are the ${other} track's pods`, after.length === 0, after.join("; "));
      const back = tf.run(["apply", "-input=false", "-no-color", "-auto-approve"]);
      report.check(label, `switching back to ${def.default} applies cleanly`, back.status === 0, back.status === 0 ? "" : tail(back));
    }

    // 10. A release: the migration Job is replaced before any Deployment changes.
    const migrator = config.migrations.service;
    const released = loadVariant(env, autoscaling, (raw) => {
      raw.services[migrator].image = { tag: "1.0.1" };
    });
    const releasedStack = synthesize(released, join(base, "out-release"));
    ctx.mutation?.mutation.apply(releasedStack);
    const next = applicableCopy(releasedStack).json;
    writeFileSync(join(work, "cdk.tf.json"), JSON.stringify(next, null, 2));
    const releasePlan = tf.run(["plan", "-input=false", "-no-color", "-out=release.tfplan"]);
    const releaseChanges = releasePlan.status === 0 ? planChanges(tf, "release.tfplan") : [];
    const jobChange = releaseChanges.find((c) => c.type === "kubernetes_job_v1");
    const deploymentChanges = releaseChanges.filter((c) => c.type === "kubernetes_deployment_v1");
    const releaseApply = tf.run(["apply", "-input=false", "-json", "release.tfplan"]);
    const rel = applyEvents(releaseApply.stdout);
    const jobCreated = rel.find((e) => e.type === "apply_complete" && e.address === jobChange?.address && e.action === "create");
    const firstDeployment = rel.find((e) => e.type === "apply_start" && e.address?.startsWith("kubernetes_deployment_v1."));
    const ordered =
      releaseApply.status === 0 &&
      jobChange?.actions.join("+") === "delete+create" &&
      deploymentChanges.length > 0 &&
      !!jobCreated &&
      !!firstDeployment &&
      jobCreated.index < firstDeployment.index;
    report.check(
      label,
      "a release replaces the migration Job, which completes before any Deployment changes",
      ordered,
      `${jobChange?.address ?? "no Job change"} ${jobChange?.actions.join("+") ?? ""}; ${deploymentChanges.length} Deployment update(s)${releaseApply.status === 0 ? "" : `\n      ${tail(releaseApply)}`}`,
    );

    // 11. Scaling, drains and node failure under real controllers (scenarios.ts).
    const scenarioReport = await runScenarios({
      cp,
      report,
      label,
      config: released,
      stack: releasedStack,
      namespace: platformNs,
      dir: join(base, "scenarios"),
      tools: ctx.tools,
      scenarios: ctx.selection.scenarios(label),
      plan: () => {
        const p = tf.run(["plan", "-input=false", "-no-color", "-detailed-exitcode", "-out=scenario.tfplan"]);
        const detail = p.status === 2 ? planChanges(tf, "scenario.tfplan").map((c) => `${c.address} ${c.actions.join("+")}`).join(", ") : p.status === 0 ? "no changes" : tail(p);
        return { code: p.status ?? 1, detail };
      },
    });
    if (scenarioReport) ctx.scenarioReports.push(scenarioReport);
  } finally {
    // 12. Destroy leaves nothing.
    const destroyStarted = Date.now();
    const destroy = tf.run(["destroy", "-auto-approve", "-input=false", "-no-color"]);
    let gone = destroy.status === 0;
    let detail = destroy.status === 0 ? "" : tail(destroy);
    if (gone) {
      try {
        await cp.waitFor("the stack's namespaces to be deleted", async () => {
          for (const ns of namespaces) if ((await cp.api("GET", `/api/v1/namespaces/${ns.name}`)).status !== 404) return false;
          return true;
        }, 180_000);
        const state = tf.run(["state", "list"]);
        gone = state.status === 0 && state.stdout.trim() === "";
        detail = `namespaces gone, state empty, ${Math.round((Date.now() - destroyStarted) / 1000)} s`;
      } catch (error) {
        gone = false;
        detail = (error as Error).message;
      }
    }
    if (gone) await checkChartsRemoved(cp, report, label, json);
    row.destroy = gone ? "clean" : "FAILED";
    row.seconds = Math.round((Date.now() - started) / 1000);
    report.check(label, "destroy leaves nothing", gone, detail);
  }
}

/** Problems with a Service's endpoints: none ready, or a pod of the wrong track among them. */
async function serviceEndpointProblems(cp: ControlPlane, ns: string, services: readonly string[], trackOf: (service: string) => string | undefined): Promise<string[]> {
  const problems: string[] = [];
  for (const service of services) {
    const want = trackOf(service);
    try {
      await cp.waitFor(`ready endpoints of ${service}`, async () => {
        const slices = await cp.list(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices?labelSelector=${encodeURIComponent(`kubernetes.io/service-name=${service}`)}`);
        const ready = slices.flatMap((s) => s.endpoints ?? []).filter((e: Json) => e.conditions?.ready);
        if (ready.length === 0) return false;
        if (!want) return true;
        for (const endpoint of ready) {
          const pod = await cp.api("GET", `/api/v1/namespaces/${ns}/pods/${endpoint.targetRef?.name}`);
          if (pod.body?.metadata?.labels?.["agent-platform/track"] !== want) return false;
        }
        return true;
      }, 60_000);
    } catch {
      problems.push(`${service}: no ready endpoints${want ? ` on track ${want} only` : ""}`);
    }
  }
  return problems;
}

/** Creates (or keeps) every CRD in a YAML file and waits until all are established; returns their names. */
async function applyCrds(cp: ControlPlane, file: string): Promise<string[]> {
  const crds = parseAllDocuments(readFileSync(file, "utf8"))
    .map((d) => d.toJSON() as Json | null)
    .filter((o): o is Json => o?.kind === "CustomResourceDefinition");
  for (const crd of crds) {
    const res = await cp.api("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
    if (res.status !== 201 && res.status !== 409) throw new Error(`CRD ${crd.metadata.name} from ${file}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  }
  await cp.waitFor(`the CRDs of ${file} to be established`, async () => {
    for (const crd of crds) {
      const res = await cp.api("GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
      if (!crdEstablished(res.body)) return false;
    }
    return true;
  }, 60_000);
  return crds.map((c) => c.metadata.name as string);
}

function findControlPlane(): { etcd: string; kubeApiserver: string; kubeControllerManager: string; kubeScheduler: string; kubectl: string; kwok: string; kwokStages: string; kwokExtras: string[]; metricsServer: string; certManagerCrds: string } {
  const cache = process.env.E2E_CONTROL_PLANE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "agent-platform", "control-plane");
  const build = spawnSync("bash", [join(PROJECT, "test", "e2e", "build-control-plane.sh"), cache], { stdio: ["ignore", "inherit", "inherit"] });
  if (build.status !== 0) throw new Error("building the control plane failed (see above); it needs Go and the Go module proxy, once");
  const k8s = join(cache, `kubernetes-${process.env.KUBERNETES_VERSION ?? "v1.35.4"}`);
  const kwok = join(cache, `kwok-${process.env.KWOK_VERSION ?? "v0.8.0"}`);
  const metricsServer = join(cache, `metrics-server-${process.env.METRICS_SERVER_VERSION ?? "v0.8.0"}`, "metrics-server");
  const etcd = spawnSync("sh", ["-c", "command -v etcd"], { encoding: "utf8" }).stdout.trim();
  if (!etcd) throw new Error("etcd is not installed (Debian: apt-get install etcd-server)");
  return {
    etcd,
    kubeApiserver: join(k8s, "kube-apiserver"),
    kubeControllerManager: join(k8s, "kube-controller-manager"),
    kubeScheduler: join(k8s, "kube-scheduler"),
    kubectl: join(k8s, "kubectl"),
    kwok: join(kwok, "kwok"),
    kwokStages: join(kwok, "stages.yaml"),
    kwokExtras: [join(kwok, "metrics.yaml"), join(kwok, "chaos-stages.yaml")],
    metricsServer,
    certManagerCrds: join(cache, `cert-manager-${process.env.CERT_MANAGER_VERSION ?? "v1.19.2"}`, "crds.yaml"),
  };
}

async function main(): Promise<number> {
  const report = new Reporter();
  const started = Date.now();
  const version = spawnSync(TERRAFORM, ["version", "-json"], { encoding: "utf8" });
  if (version.error || version.status !== 0) {
    process.stdout.write(`e2e: terraform not found (${TERRAFORM}); set TERRAFORM or put terraform on PATH\n`);
    return 1;
  }
  const mirror = providersDir();
  const probe = mkdtempSync(join(tmpdir(), "e2e-probe-"));
  const local = loadVariant("local", false);
  const required = requiredProviders(synthesize(local, join(probe, "out")));
  rmSync(probe, { recursive: true, force: true });
  if (mirror) {
    const missing = missingFromMirror(mirror, required);
    if (missing.length > 0) {
      process.stdout.write(`e2e: TF_PROVIDERS_DIR=${mirror} lacks ${missing.join(", ")}\n`);
      return 1;
    }
  }
  process.stdout.write(
    `e2e: terraform ${JSON.parse(version.stdout).terraform_version}, providers ${required.map((p) => `${p.name} ${p.version}`).join(", ")} from ${mirror ?? "the Terraform registry (TF_PROVIDERS_DIR unset)"}\n`,
  );

  const chosen = selection(process.env);
  const mutation = chosenMutation(process.env);
  const root = mkdtempSync(join(tmpdir(), "agent-platform-e2e-"));
  const binaries = findControlPlane();
  const cp = new ControlPlane(join(root, "control-plane"), binaries);
  const scenarioReports: StackScenarioReport[] = [];
  if (mutation) {
    process.stdout.write(`e2e: mutation run (E2E_MUTATE=${mutation.name}): ${mutation.mutation.summary}; must fail, first at a check matching ${mutation.mutation.caughtBy} (suggested E2E_STACKS=${mutation.mutation.stacks})\n`);
  }
  if (mutation || process.env.E2E_FAIL_FAST === "1") {
    // Exiting kills every process the run started (the exit handler below), by PID; the working
    // directory and the logs stay for a look.
    report.stop = (check) => {
      const verdict = mutation ? `; mutation ${mutation.name} ${mutation.mutation.caughtBy.test(check) ? "caught by the check meant to catch it" : `NOT caught where expected (${mutation.mutation.caughtBy})`}` : "";
      process.stdout.write(`\ne2e: stopped at the first failed check (${mutation ? "mutation run" : "E2E_FAIL_FAST=1"}): ${check}${verdict}; logs and working directories kept in ${root}\n`);
      process.exit(1);
    };
  }
  const killOnExit = () => cp.killAll();
  process.once("exit", killOnExit);
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));
  try {
    await cp.start();
    const version = await cp.api("GET", "/version");
    process.stdout.write(
      `e2e: control plane ${version.body.gitVersion} on ${cp.server} (etcd, kube-apiserver with PodSecurity, audit and the aggregation layer, controller-manager, scheduler, kwok with 3 nodes), ${Math.round((Date.now() - started) / 1000)} s\n`,
    );
    const home = join(root, "home");
    const contexts = ["local", "staging", "production"].map((env) => loadVariant(env as EnvironmentName, false).cluster.context);
    cp.writeKubeconfig(join(home, ".kube", "config"), contexts);
    // Volumes for the StatefulSets' claims: static hostPath PVs, never touched by a pod (kwok).
    for (let i = 0; i < 12; i++) {
      await cp.apply("/api/v1/persistentvolumes", {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: `e2e-pv-${i}` },
        spec: { capacity: { storage: "500Gi" }, accessModes: ["ReadWriteOnce"], persistentVolumeReclaimPolicy: "Retain", hostPath: { path: `/tmp/e2e-pv-${i}` } },
      });
    }
    const cliConfig = join(root, "terraformrc");
    writeCliConfig(cliConfig, mirror);
    mkdirSync(join(root, "plugin-cache"));
    const tfEnv: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      TF_CLI_CONFIG_FILE: cliConfig,
      TF_PLUGIN_CACHE_DIR: join(root, "plugin-cache"),
      TF_IN_AUTOMATION: "1",
      CHECKPOINT_DISABLE: "1",
    };
    const tools = hostTools(process.env, binaries.metricsServer, binaries.kubectl);
    process.stdout.write(
      `e2e: scenario tools: metrics-server ${tools.metricsServer ?? "absent"}, prometheus ${tools.prometheus ?? "absent"}, prometheus-adapter ${tools.prometheusAdapter ?? "absent (set PROMETHEUS_ADAPTER_BIN)"}, kubectl ${tools.kubectl ?? "absent"}\n`,
    );
    const ctx: Context = { cp, report, root, tfEnv, mirror, selection: chosen, tools, scenarioReports, mutation, certManagerCrds: binaries.certManagerCrds };
    const only = chosen.stacks;
    for (const env of ["local", "staging", "production"] as const) {
      for (const autoscaling of [false, true]) {
        const label = `${env}/autoscaling-${autoscaling ? "on" : "off"}`;
        if (only && !only.includes(label) && !only.includes(env)) continue;
        await recyclePersistentVolumes(cp);
        try {
          await runStack(ctx, env, autoscaling);
        } catch (error) {
          report.check(label, "the run", false, (error as Error).message);
        }
      }
    }
  } catch (error) {
    report.check("control plane", "start", false, (error as Error).message);
  } finally {
    await cp.stop();
    process.removeListener("exit", killOnExit);
    if (report.failed === 0 && process.env.E2E_KEEP !== "1") rmSync(root, { recursive: true, force: true });
    else process.stdout.write(`e2e: logs and working directories kept in ${root}\n`);
  }
  process.stdout.write("\n| stack | resources created | second plan | PodSecurity violations | destroy | time |\n|---|---|---|---|---|---|\n");
  for (const r of report.rows) process.stdout.write(`| ${r.stack} | ${r.created} | ${r.secondPlan} | ${r.violations < 0 ? "-" : r.violations} | ${r.destroy} | ${r.seconds} s |\n`);
  if (scenarioReports.length > 0) process.stdout.write(`${scenarioTables(scenarioReports)}\n`);
  process.stdout.write(`\n${report.passed} passed, ${report.failed} failed (${Math.round((Date.now() - started) / 1000)} s)\n`);
  return report.failed === 0 ? 0 : 1;
}

/** Released PVs (their claim's namespace is gone) become Available again for the next stack. */
async function recyclePersistentVolumes(cp: ControlPlane): Promise<void> {
  for (const pv of await cp.list("/api/v1/persistentvolumes")) {
    if (pv.status?.phase === "Released") {
      await cp.api("PATCH", `/api/v1/persistentvolumes/${pv.metadata.name}`, { spec: { claimRef: null } }, "application/merge-patch+json");
    }
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    process.stdout.write(`e2e: ${error.message}\n`);
    process.exitCode = 1;
  },
);

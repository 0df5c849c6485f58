/**
 * The real CloudNativePG operator against the e2e's API server (staging and production), with
 * CNPG_OPERATOR_BIN naming its `manager` binary (built from its source at the version
 * config/versions.ts pins, not on the Go module proxy); unset, the run says it skipped this.
 *
 * The operator runs on the host, out of cluster, as its release would run it: authenticated as the
 * chart's ServiceAccount (a TokenRequest token, the control plane's CA), with the environment and
 * arguments of the installed Deployment (WATCH_NAMESPACE, OPERATOR_NAMESPACE, ...) except leader
 * election (it needs an in-cluster namespace) and its ports (free ones); its webhook server gets a
 * certificate signed by the control plane's CA (WEBHOOK_CERT_DIR, so it touches no webhook
 * configuration). Its log is in the run's control-plane/logs directory.
 *
 * What it checks: the stack's Cluster, which names the Barman Cloud plugin (not running here), is
 * marked as needing an unknown plugin and nothing is made for it; a copy without the plugin, in the
 * platform's namespace (its ResourceQuota, LimitRange, restricted Pod Security and NetworkPolicies
 * in force), gets its Secrets, Services, PodDisruptionBudgets, volume claim, initdb Job and first
 * instance pod, all admitted and scheduled, with no RBAC refusal; a Cluster in another namespace is
 * left alone (WATCH_NAMESPACE). Everything it made is removed before the stack's own checks go on.
 */
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PlatformConfig } from "../../config/load";
import type { CloudNativePgSettings } from "../../config/schema";
import { CLUSTER_LABEL, OPERATOR_POD_LABELS } from "../../constructs/postgres-cluster-values";
import { selectorMatches } from "../charts/wiring";
import type { DatabaseReport } from "./cloudnative-pg";
import { type ApiResponse, type ControlPlane, freePort, type HostProcess, httpsJson, readFrom, sleep } from "./control-plane";

type Json = Record<string, any>;

/** The phase the operator gives a Cluster that names a plugin it does not know (cloudnative-pg 1.30.0, api/v1/cluster_types.go). */
export const PHASE_UNKNOWN_PLUGIN = "Cluster cannot proceed to reconciliation due to an unknown plugin being required";
/** The finalizer the operator puts on a plugin's Service in its namespace (pkg/utils/finalizers.go). */
const PLUGIN_FINALIZER = "cnpg.io/cleanupPlugin";
/** The copy of the stack's Cluster, without the plugin. */
const COPY = "e2e-operator";
/**
 * The Cluster the operator must leave alone, in a namespace it does not watch: the monitoring
 * namespace, which the stack already has. (A namespace made for it could not be deleted in an
 * autoscaling-on stack before the scenarios: the namespace controller waits for every aggregated
 * API, and metrics.k8s.io and custom.metrics.k8s.io have no server until then.)
 */
const UNWATCHED = "e2e-unwatched";
const ZONE_KEY = "topology.kubernetes.io/zone";


/** Why the step is skipped, or undefined when CNPG_OPERATOR_BIN names an existing file. */
export function operatorSkipReason(env: NodeJS.ProcessEnv): string | undefined {
  const bin = env.CNPG_OPERATOR_BIN;
  if (!bin) return "CNPG_OPERATOR_BIN is not set (the CloudNativePG operator's manager binary, built from its source, not on the Go module proxy)";
  if (!existsSync(bin)) return `CNPG_OPERATOR_BIN=${bin} does not exist`;
  return undefined;
}

/**
 * The operator's environment and arguments from its installed Deployment's container: values as
 * given, `fieldRef: metadata.namespace` as the Deployment's namespace; `--leader-elect` dropped and
 * the webhook port replaced. Returns a reason string when an entry cannot be resolved.
 */
export function operatorCommand(deployment: Json, webhookPort: number, metricsPort: number): { env: Record<string, string>; args: string[] } | string {
  const container = (deployment.spec?.template?.spec?.containers ?? [])[0] as Json | undefined;
  if (!container) return "the Deployment has no container";
  const env: Record<string, string> = {};
  for (const e of (container.env ?? []) as Json[]) {
    if (typeof e.value === "string") env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.namespace") env[e.name] = deployment.metadata.namespace;
    else return `env ${e.name}: ${JSON.stringify(e.valueFrom ?? {})} cannot be resolved out of cluster`;
  }
  const args = ((container.args ?? []) as string[]).filter((a) => a !== "--leader-elect" && !a.startsWith("--webhook-port=") && !a.startsWith("--metrics-bind-address="));
  args.push(`--webhook-port=${webhookPort}`, `--metrics-bind-address=127.0.0.1:${metricsPort}`);
  return { env, args };
}

/** One HTTPS request with a bearer token, verified against `ca`; a connection error is status 0. */
function tokenRequest(url: string, ca: string, token: string | undefined, method = "GET", body?: unknown): Promise<ApiResponse> {
  const u = new URL(url);
  return httpsJson({ host: u.hostname, port: u.port, path: u.pathname, method, ca, timeout: 10_000, headers: token ? { Authorization: `Bearer ${token}` } : {} }, body).catch((e: Error) => ({ status: 0, body: e.message }));
}

/** Polls until `check` returns a value (not undefined), or the time is up (undefined). */
async function poll<T>(check: () => Promise<T | undefined>, timeoutMs: number, every = 500): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined || Date.now() > deadline) return v;
    await sleep(every);
  }
}

const ownedBy = (o: Json, uid: string) => ((o.metadata?.ownerReferences ?? []) as Json[]).some((r) => r.uid === uid);

/** What the operator makes for a Cluster in its namespace: the collections it is read from. */
const OWNED_COLLECTIONS: readonly [string, (ns: string) => string][] = [
  ["Secret", (ns) => `/api/v1/namespaces/${ns}/secrets`],
  ["Service", (ns) => `/api/v1/namespaces/${ns}/services`],
  ["PodDisruptionBudget", (ns) => `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`],
  ["PersistentVolumeClaim", (ns) => `/api/v1/namespaces/${ns}/persistentvolumeclaims`],
  ["Job", (ns) => `/apis/batch/v1/namespaces/${ns}/jobs`],
  ["Pod", (ns) => `/api/v1/namespaces/${ns}/pods`],
  ["ServiceAccount", (ns) => `/api/v1/namespaces/${ns}/serviceaccounts`],
  ["Role", (ns) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`],
  ["RoleBinding", (ns) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`],
  ["ConfigMap", (ns) => `/api/v1/namespaces/${ns}/configmaps`],
];

/** Every object in a namespace that a Cluster owns or that carries its cluster label, as `Kind/name`. */
async function madeFor(cp: ControlPlane, ns: string, cluster: Json): Promise<Map<string, Json>> {
  const out = new Map<string, Json>();
  for (const [kind, path] of OWNED_COLLECTIONS) {
    for (const o of await cp.list(path(ns))) {
      if (ownedBy(o, cluster.metadata.uid) || o.metadata?.labels?.[CLUSTER_LABEL] === cluster.metadata.name) out.set(`${kind}/${o.metadata.name}`, o);
    }
  }
  return out;
}

/** Everything in a namespace the operator could have made (any Cluster), as `Kind/name`. */
async function anythingIn(cp: ControlPlane, ns: string): Promise<string[]> {
  const out: string[] = [];
  for (const [kind, path] of OWNED_COLLECTIONS) {
    for (const o of await cp.list(path(ns))) {
      // What every namespace has without any operator.
      if (kind === "ServiceAccount" && o.metadata.name === "default") continue;
      if (kind === "ConfigMap" && o.metadata.name === "kube-root-ca.crt") continue;
      out.push(`${kind}/${o.metadata.name}`);
    }
  }
  return out;
}

/** The operator's log lines that say RBAC refused it, and those that say admission did (quota, LimitRange, Pod Security). */
export function operatorRefusals(log: string): { rbac: string[]; admission: string[] } {
  const rbac: string[] = [];
  const admission: string[] = [];
  for (const line of log.split("\n")) {
    if (/is forbidden: User "system:serviceaccount:/.test(line) || /\bcannot (get|list|watch|create|update|patch|delete) resource\b/.test(line)) rbac.push(line);
    else if (/exceeded quota|LimitRange|maximum .* usage per Container|minimum .* usage per Container|violates PodSecurity|forbidden/i.test(line)) admission.push(line);
  }
  return { rbac, admission };
}

export interface OperatorStepInput {
  /** The Cluster as the cluster release renders it (the stack's). */
  readonly cluster: Json;
  /** The Cluster CRD's REST collection in the platform's namespace. */
  readonly clusters: string;
  readonly topology: CloudNativePgSettings;
}

/** The step: nothing (said so) without CNPG_OPERATOR_BIN. */
export async function checkRealOperator(cp: ControlPlane, report: DatabaseReport, label: string, config: PlatformConfig, input: OperatorStepInput): Promise<void> {
  const skip = operatorSkipReason(process.env);
  if (skip) {
    report.note(`the real CloudNativePG operator: skipped — ${skip}`);
    return;
  }
  const bin = process.env.CNPG_OPERATOR_BIN!;
  const ns = config.namespace;
  const operatorNs = input.topology.operatorNamespace;
  const name = `cnpg-operator-${label.replace("/", "-")}`;
  const dir = join(cp.dir, name);
  const backupsPath = input.clusters.replace(/\/clusters$/, "/backups");
  const unwatchedNs = config.monitoringNamespace;
  const otherClusters = input.clusters.replace(`/namespaces/${ns}/`, `/namespaces/${unwatchedNs}/`);
  const auditFrom = cp.auditMark();
  let operator: HostProcess | undefined;
  let logFrom = 0;
  const logFile = join(cp.dir, "logs", `${name}.log`);
  const log = () => readFrom(logFile, logFrom);
  const check = (what: string, ok: boolean, detail = "") => report.check(label, `the real operator: ${what}`, ok, detail);
  try {
    // 1. The installed Deployment says how the operator runs; the chart's ServiceAccount, its token.
    const deployments = (await cp.list(`/apis/apps/v1/namespaces/${operatorNs}/deployments`)).filter((d) => selectorMatches({ matchLabels: OPERATOR_POD_LABELS }, d.metadata.labels));
    const deployment = deployments[0];
    if (deployments.length !== 1) {
      check("the operator's Deployment is installed", false, `${deployments.length} Deployments labelled ${JSON.stringify(OPERATOR_POD_LABELS)} in ${operatorNs}`);
      return;
    }
    const sa = String(deployment.spec.template.spec.serviceAccountName);
    const webhookPort = await freePort();
    const metricsPort = await freePort();
    const command = operatorCommand(deployment, webhookPort, metricsPort);
    if (typeof command === "string") {
      check("its Deployment's environment resolves out of cluster", false, command);
      return;
    }
    const tokenRes = await cp.api("POST", `/api/v1/namespaces/${operatorNs}/serviceaccounts/${sa}/token`, { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } });
    const token = tokenRes.body?.status?.token as string | undefined;
    if (tokenRes.status !== 201 || !token) {
      check(`a token for the ServiceAccount ${operatorNs}/${sa}`, false, `TokenRequest: ${tokenRes.status} ${JSON.stringify(tokenRes.body).slice(0, 200)}`);
      return;
    }
    const ca = readFileSync(cp.pki("ca.crt"), "utf8");
    mkdirSync(join(dir, "webhook"), { recursive: true });
    mkdirSync(join(dir, "operator"), { recursive: true });
    const kubeconfig = join(dir, "operator.kubeconfig");
    cp.writeKubeconfig(kubeconfig, ["operator"], { name: sa, user: { token } });
    // The webhook server's certificate, under the names WEBHOOK_CERT_DIR is read with.
    const serving = cp.issueServingCertificate(name, [`cnpg-webhook-service.${operatorNs}.svc`]);
    writeFileSync(join(dir, "webhook", "apiserver.crt"), readFileSync(serving.cert));
    writeFileSync(join(dir, "webhook", "apiserver.key"), readFileSync(serving.key), { mode: 0o600 });
    // The operator copies the instance manager into every pod from ./operator/manager_<arch> of its working directory.
    const arch = process.arch === "x64" ? "amd64" : process.arch;
    if (!existsSync(join(dir, "operator", `manager_${arch}`))) symlinkSync(bin, join(dir, "operator", `manager_${arch}`));

    // The control for (d), before the operator starts: a Cluster in a namespace it must not watch.
    await cp.apply(otherClusters, {
      apiVersion: input.cluster.apiVersion,
      kind: "Cluster",
      metadata: { name: UNWATCHED, namespace: unwatchedNs },
      spec: { instances: 1, storage: { size: "1Gi" } },
    });

    logFrom = existsSync(logFile) ? statSync(logFile).size : 0;
    operator = cp.startProcess(name, bin, command.args, { ...command.env, KUBECONFIG: kubeconfig, WEBHOOK_CERT_DIR: join(dir, "webhook") }, dir);

    // (a) It starts as the ServiceAccount and answers /readyz.
    const whoami = await tokenRequest(`${cp.server}/apis/authentication.k8s.io/v1/selfsubjectreviews`, ca, token, "POST", { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" });
    const user = String(whoami.body?.status?.userInfo?.username ?? whoami.status);
    const ready = await poll(async () => {
      if (!operator!.running()) return false;
      const r = await tokenRequest(`https://127.0.0.1:${webhookPort}/readyz`, ca, undefined);
      return r.status === 200 ? true : undefined;
    }, 90_000);
    const listening = /"msg":"Listening for changes"[^\n]*/.exec(log())?.[0].match(/"watchNamespaces":\[[^\]]*\]/)?.[0] ?? (/Listening for changes on all namespaces/.test(log()) ? "all namespaces" : "no 'Listening for changes' line");
    const env = `WATCH_NAMESPACE=${command.env.WATCH_NAMESPACE ?? "(unset)"} OPERATOR_NAMESPACE=${command.env.OPERATOR_NAMESPACE ?? "(unset)"}`;
    if (!check(`starts as the chart's ServiceAccount and answers /readyz`, ready === true && user === `system:serviceaccount:${operatorNs}:${sa}`, `as ${user}, ${env} (the Deployment's), ${listening}, /readyz ${ready === true ? "200" : operator.running() ? "no answer in 90 s" : `exited: ${cp.logTail(name, 3)}`}`)) return;

    // (b) The stack's Cluster names the Barman Cloud plugin, which does not run here.
    const real = input.cluster.metadata.name as string;
    const phase = await poll(async () => {
      const c = await cp.api("GET", `${input.clusters}/${real}`);
      return c.body?.status?.phase === PHASE_UNKNOWN_PLUGIN ? c.body : undefined;
    }, 60_000);
    const realNow = (await cp.api("GET", `${input.clusters}/${real}`)).body;
    const madeForReal = realNow?.metadata ? [...(await madeFor(cp, ns, realNow)).keys()] : [];
    // The cluster chart's ScheduledBackup has `immediate: true`: the operator makes its first Backup
    // at once, which then waits for the plugin like the Cluster.
    const backups = (await cp.list(backupsPath)).filter((b) => b.spec?.cluster?.name === real);
    check(
      `the stack's Cluster ${real} (plugins: ${((input.cluster.spec.plugins ?? []) as Json[]).map((p) => p.name).join(", ") || "none"}) waits for its plugin, and nothing is made for it`,
      !!phase && madeForReal.length === 0 && backups.every((b) => b.status?.phase !== "completed"),
      `phase: ${realNow?.status?.phase ?? "none"}; made: ${madeForReal.join(", ") || "nothing"}; Backups: ${backups.map((b) => `${b.metadata.name} (its ScheduledBackup's immediate one, ${b.status?.phase ?? "no phase"}${b.status?.error ? `: ${String(b.status.error).slice(0, 100)}` : ""})`).join(", ") || "none"}`,
    );

    // (c) A copy without the plugin, in the platform's namespace.
    const spec = structuredClone(input.cluster.spec) as Json;
    delete spec.plugins;
    const copy = { apiVersion: input.cluster.apiVersion, kind: "Cluster", metadata: { name: COPY, namespace: ns }, spec };
    const refersToPlugin = JSON.stringify(spec).includes("barman") || JSON.stringify(spec).includes(`${real}-backups`);
    const created = await cp.api("POST", `${input.clusters}?fieldValidation=Strict`, copy);
    if (!check(`a copy of the Cluster without spec.plugins (${COPY}) is admitted in ${ns}`, created.status === 201 && !refersToPlugin, `${created.status}${refersToPlugin ? "; the copy still names the plugin or its ObjectStore" : ""} ${created.status === 201 ? "" : String(created.body?.message ?? "").slice(0, 200)}`)) return;
    const uid = created.body.metadata.uid as string;
    const instances = Number(spec.instances);
    const pod1 = `${COPY}-1`;
    const expected = [
      `Secret/${COPY}-ca`,
      `Secret/${COPY}-server`,
      `Secret/${COPY}-replication`,
      `Service/${COPY}-rw`,
      `Service/${COPY}-ro`,
      `Service/${COPY}-r`,
      `PodDisruptionBudget/${COPY}-primary`,
      ...(instances >= 3 ? [`PodDisruptionBudget/${COPY}`] : []),
      `PersistentVolumeClaim/${pod1}`,
      ...(spec.walStorage ? [`PersistentVolumeClaim/${pod1}-wal`] : []),
      `Job/${pod1}-initdb`,
      `Pod/${pod1}`,
    ];
    let made = new Map<string, Json>();
    await poll(async () => {
      made = await madeFor(cp, ns, { metadata: { name: COPY, uid } });
      const pod = made.get(`Pod/${pod1}`);
      return expected.every((e) => made.has(e)) && pod?.spec?.nodeName ? true : undefined;
    }, 150_000, 1000);
    const missing = expected.filter((e) => !made.has(e));
    check(
      `the copy gets its Secrets, -rw/-ro/-r Services, PodDisruptionBudgets, volume claim, initdb Job and first instance pod`,
      missing.length === 0,
      missing.length ? `missing after 150 s: ${missing.join(", ")}; made: ${[...made.keys()].join(", ")}` : [...made.keys()].filter((k) => !k.startsWith("Pod/") || k === `Pod/${pod1}`).join(", "),
    );

    // The PodDisruptionBudgets, against docs/design.md ("Disruption"): postgres-primary minAvailable 1
    // over the primary; from three instances one over the standbys with minAvailable instances − 2.
    const pdb = (n: string) => made.get(`PodDisruptionBudget/${n}`);
    const primary = pdb(`${COPY}-primary`);
    const standbys = pdb(COPY);
    const pdbOk =
      primary?.spec?.minAvailable === 1 &&
      primary?.spec?.selector?.matchLabels?.["cnpg.io/instanceRole"] === "primary" &&
      (instances >= 3 ? standbys?.spec?.minAvailable === instances - 2 && standbys?.spec?.selector?.matchLabels?.["cnpg.io/instanceRole"] === "replica" : !standbys);
    const describePdb = (p: Json | undefined) => (p ? `${p.metadata.name} minAvailable ${p.spec.minAvailable} over ${JSON.stringify(p.spec.selector?.matchLabels ?? {})}` : "none");
    check(
      `its PodDisruptionBudgets are what docs/design.md ("Disruption") says for ${instances} instances`,
      pdbOk,
      `${describePdb(primary)}; ${instances >= 3 ? describePdb(standbys) : `standbys: ${describePdb(standbys)} (none below three instances)`}`,
    );

    // Admission: Pod Security (the audit log), the quota and the LimitRange (events, the operator's log).
    const violations = cp.podSecurityViolations([ns], auditFrom);
    const events = (await cp.list(`/api/v1/namespaces/${ns}/events`)).filter(
      (e) => String(e.involvedObject?.name ?? "").startsWith(COPY) && (e.reason === "FailedCreate" || /forbidden|exceeded quota/i.test(String(e.message))),
    );
    const refusals = operatorRefusals(log());
    check(
      "every object it made for the copy is admitted: no Pod Security violation, no quota or LimitRange refusal",
      violations.length === 0 && events.length === 0 && refusals.admission.length === 0,
      [
        `${violations.length} PodSecurity violation(s) in ${ns}${violations.length ? `: ${violations.slice(0, 3).map((v) => `${v.object}: ${v.violation}`).join("; ")}` : ""}`,
        `${events.length} refusal event(s)${events.length ? `: ${events.slice(0, 3).map((e) => `${e.involvedObject.kind}/${e.involvedObject.name} ${e.reason}: ${String(e.message).slice(0, 200)}`).join("; ")}` : ""}`,
        `${refusals.admission.length} in the operator's log${refusals.admission.length ? `: ${refusals.admission.slice(0, 2).map((l) => l.slice(0, 300)).join(" | ")}` : ""}`,
      ].join(", "),
    );

    // The first instance pod is scheduled (in one of the zones the config names, where it names some).
    const pod = made.get(`Pod/${pod1}`);
    const nodes = await cp.list("/api/v1/nodes");
    const node = nodes.find((n) => n.metadata.name === pod?.spec?.nodeName);
    const zones = input.topology.zones;
    const nodeZones = nodes.map((n) => n.metadata.labels?.[ZONE_KEY]).filter(Boolean);
    const unschedulable = ((pod?.status?.conditions ?? []) as Json[]).find((c) => c.type === "PodScheduled" && c.status === "False");
    const policies = (await cp.list(`/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`)).filter((p) => pod && selectorMatches(p.spec.podSelector, pod.metadata.labels));
    check(
      `its first instance pod ${pod1} is scheduled${zones ? ` in a zone the config names (${zones.join(", ")})` : ""}`,
      !!node && (!zones || zones.includes(node.metadata.labels?.[ZONE_KEY])),
      node
        ? `on ${node.metadata.name} (${node.metadata.labels?.[ZONE_KEY]}), ${pod?.status?.phase}; NetworkPolicies selecting it: ${policies.map((p) => p.metadata.name).join(", ") || "none"}`
        : `${pod ? `Pending: ${unschedulable?.message ?? "not scheduled"}` : "no pod"}${zones && !zones.some((z) => nodeZones.includes(z)) ? `; the e2e's nodes are in ${nodeZones.join(", ")} (test/e2e/control-plane.ts NODES), the config's required node affinity names ${zones.join(", ")}` : ""}`,
    );

    // (d) WATCH_NAMESPACE: the Cluster in the other namespace, after the copy's whole round.
    const other = (await cp.api("GET", `${otherClusters}/${UNWATCHED}`)).body;
    const inOther = (await anythingIn(cp, unwatchedNs)).filter((o) => o.split("/")[1]!.startsWith(UNWATCHED));
    const mentions = log().split("\n").filter((l) => l.includes(UNWATCHED));
    check(
      `a Cluster in another namespace (${UNWATCHED} in ${unwatchedNs}) is left alone (WATCH_NAMESPACE=${command.env.WATCH_NAMESPACE ?? "unset"})`,
      !other?.status && inOther.length === 0 && mentions.length === 0,
      `status: ${other?.status ? JSON.stringify(other.status).slice(0, 120) : "none"}; objects there: ${inOther.join(", ") || "none"}; log lines naming it: ${mentions.length}`,
    );

    // RBAC: no 403 for the operator's ServiceAccount (writes are audited; reads show in its log).
    const saUser = `system:serviceaccount:${operatorNs}:${sa}`;
    const denied = cp.auditEvents(auditFrom, saUser).filter((e: Json) => e.user?.username === saUser && e.responseStatus?.code === 403);
    check(
      "RBAC refuses the operator nothing (no 403 in the audit log, no 'forbidden' in its log)",
      denied.length === 0 && refusals.rbac.length === 0,
      `${denied.length} audited 403(s)${denied.length ? `: ${denied.slice(0, 3).map((e) => `${e.verb} ${e.objectRef?.resource}`).join(", ")}` : ""}; ${refusals.rbac.length} RBAC line(s) in its log${refusals.rbac.length ? `: ${refusals.rbac[0]!.slice(0, 300)}` : ""}`,
    );
    report.note(
      `the real operator on kwok: ${pod1} is a kwok pod, so no instance manager answers the operator's status endpoint (port 8000): ${instances > 2 ? `${COPY}-2..${instances} are never created, ` : instances === 2 ? `${COPY}-2 is never created, ` : ""}no roles, no replication, failover, switchover or backup happen here (npm test's drills run those with real servers); the stack's own Cluster waits for the Barman Cloud plugin, which does not run either`,
    );
  } catch (error) {
    check("the step", false, (error as Error).message);
  } finally {
    await cleanUp(cp, report, label, ns, operatorNs, input.clusters, otherClusters, backupsPath, operator);
  }
}

/**
 * Removes what the step made, with the operator still running (so nothing it owns is left half
 * done), then stops it; and takes its finalizer off the plugin's Service, which a running operator
 * would have released when the release is uninstalled.
 */
async function cleanUp(cp: ControlPlane, report: DatabaseReport, label: string, ns: string, operatorNs: string, clusters: string, otherClusters: string, backups: string, operator: HostProcess | undefined): Promise<void> {
  const problems: string[] = [];
  const removed: string[] = [];
  try {
    // The Backups the operator made (the ScheduledBackup's immediate one); without an operator, none.
    for (const b of await cp.list(backups)) {
      await cp.api("DELETE", `${backups}/${b.metadata.name}`);
      removed.push(`Backup ${b.metadata.name}`);
    }
    await cp.api("DELETE", `${clusters}/${COPY}`);
    await cp.api("DELETE", `${otherClusters}/${UNWATCHED}`);
    const gone = await poll(async () => {
      if ((await cp.api("GET", `${clusters}/${COPY}`)).status !== 404) return undefined;
      if ((await cp.api("GET", `${otherClusters}/${UNWATCHED}`)).status !== 404) return undefined;
      const left = [...(await madeFor(cp, ns, { metadata: { name: COPY, uid: "-" } })).keys()];
      return left.length === 0 && (await cp.list(backups)).length === 0 ? true : undefined;
    }, 120_000, 1000);
    if (!gone) problems.push(`after 120 s: ${[...(await madeFor(cp, ns, { metadata: { name: COPY, uid: "-" } })).keys()].join(", ") || `Cluster ${COPY} or ${UNWATCHED}`} still there`);
  } catch (error) {
    problems.push((error as Error).message);
  }
  await operator?.stop();
  try {
    for (const s of await cp.list(`/api/v1/namespaces/${operatorNs}/services`)) {
      const finalizers = (s.metadata.finalizers ?? []) as string[];
      if (finalizers.includes(PLUGIN_FINALIZER)) {
        const res = await cp.api("PATCH", `/api/v1/namespaces/${operatorNs}/services/${s.metadata.name}`, { metadata: { finalizers: finalizers.filter((f) => f !== PLUGIN_FINALIZER) } }, "application/merge-patch+json");
        if (res.status !== 200) problems.push(`Service ${s.metadata.name}: finalizer not removed (${res.status})`);
        else removed.push(`${PLUGIN_FINALIZER} from Service ${operatorNs}/${s.metadata.name}`);
      }
    }
    // The copy's volume, Released (Retain), is Available again for the stack's later steps.
    for (const pv of await cp.list("/api/v1/persistentvolumes")) {
      if (pv.status?.phase === "Released" && pv.spec?.claimRef?.namespace === ns && String(pv.spec.claimRef.name).startsWith(`${COPY}-`)) {
        await cp.api("PATCH", `/api/v1/persistentvolumes/${pv.metadata.name}`, { spec: { claimRef: null } }, "application/merge-patch+json");
      }
    }
  } catch (error) {
    problems.push((error as Error).message);
  }
  report.check(label, "the real operator: everything the step made is removed, the operator stopped", problems.length === 0, problems.join("; ") || `Clusters ${COPY} (and what it owned) and ${UNWATCHED}${removed.length ? `, ${removed.join(", ")}` : ""}; log: ${join(cp.dir, "logs", `cnpg-operator-${label.replace("/", "-")}.log`)}`);
}

/**
 * The e2e's part of the replicated database (staging and production: a CloudNativePG cluster from
 * the operator's charts, constructs/postgres-cluster.ts).
 *
 * With HELM_CHARTS_DIR the stack's three releases are installed by the apply like every other
 * chart (test/e2e/charts.ts): the operator (its admission webhooks off in the applied copy: no
 * process serves them on kwok), the Barman Cloud plugin (cert-manager's CRDs applied first, from
 * the Go module proxy: its Issuer and Certificates are cert-manager kinds), and the cluster
 * release. After the apply this checks: the CRDs the charts installed, established; the Cluster,
 * ObjectStore and ScheduledBackup stored as rendered (nothing pruned by the CRD schemas); the
 * operator's and the plugin's Deployments Ready; a Cluster the schema must refuse, refused (the
 * control); a restore's objects admitted (dry run); and scripts/deploy.sh restore against the API
 * server: it refuses the running cluster's name and its --dry-run passes the API server's.
 *
 * What cannot run here, said so in the run's output: the operator, its webhooks, the instance
 * manager and the plugin reconcile nothing (kwok runs no containers), so no instance pod, no `-rw`
 * Service, no PodDisruptionBudget and no backup exists; with CNPG_OPERATOR_BIN the real operator
 * runs on the host for one step (test/e2e/cnpg-operator.ts). Replication, failover, archiving and
 * point-in-time recovery are exercised with real PostgreSQL, PgBouncer and barman-cloud in npm
 * test (test/drills/).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { PlatformConfig } from "../../config/load";
import { DEFAULT_API_SERVER } from "../../config/network";
import { MONITORING_ROLE } from "../../config/semantics";
import { BACKUP_SECRET_KEYS, clusterInputs, clusterSecrets, restoreManifest } from "../../constructs/postgres-cluster-values";
import { helmSetup, renderRelease } from "../cnpg-charts";
import { checkRealOperator } from "./cnpg-operator";
import { type ControlPlane, crdEstablished } from "./control-plane";

type Json = Record<string, any>;

/** The run's reporter (run.ts). */
export interface DatabaseReport {
  check(stack: string, name: string, ok: boolean, detail?: string): boolean;
  note(text: string): void;
}

const PROJECT = resolve(__dirname, "..", "..", "..");

/**
 * Drops, in place, every `depends_on` entry that names a `helm_release` the applied copy left out
 * (PgBouncer and the migration Job wait for the cluster's release). Returns `resource → release`.
 */
export function dropDependenciesOnLeftOut(json: Json): string[] {
  const dropped: string[] = [];
  for (const [type, resources] of Object.entries((json.resource ?? {}) as Record<string, Record<string, Json>>)) {
    for (const [id, r] of Object.entries(resources)) {
      if (!Array.isArray(r.depends_on)) continue;
      const kept = (r.depends_on as string[]).filter((d) => {
        if (!d.startsWith("helm_release.") || json.resource.helm_release?.[d.slice("helm_release.".length)]) return true;
        dropped.push(`${type}.${id} → ${d}`);
        return false;
      });
      if (kept.length > 0) r.depends_on = kept;
      else delete r.depends_on;
    }
  }
  return dropped;
}

/**
 * The database Secrets an `existing`-mode environment's operator creates by hand before the
 * first apply (docs/operations.md, "Secrets"): the cluster's application and monitoring logins
 * (basic-auth, the user names the cluster's roles have) and the object store's keys. Returns the
 * names created; none for the StatefulSet topology (run.ts makes its postgres-auth).
 */
export async function createClusterSecrets(cp: ControlPlane, config: PlatformConfig, password: () => string): Promise<string[]> {
  const inputs = clusterInputs(config);
  if (!inputs) return [];
  const names = clusterSecrets(inputs.topology);
  const secret = (name: string, type: string, data: Record<string, string>) =>
    cp.apply(`/api/v1/namespaces/${config.namespace}/secrets`, {
      apiVersion: "v1",
      kind: "Secret",
      type,
      metadata: { name },
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])),
    });
  await secret(names.app, "kubernetes.io/basic-auth", { username: config.postgres.appUser, password: password() });
  await secret(names.monitoring, "kubernetes.io/basic-auth", { username: MONITORING_ROLE, password: password() });
  const created: string[] = [names.app, names.monitoring];
  const store = inputs.topology.backup?.objectStore;
  if (store) {
    await secret(store.credentialsSecretName, "Opaque", { [BACKUP_SECRET_KEYS.accessKeyId]: "AKIAE2EEXAMPLE", [BACKUP_SECRET_KEYS.secretAccessKey]: password() });
    created.push(store.credentialsSecretName);
  }
  return created;
}

/** The REST collection of a namespaced object, from the CRDs (or a NetworkPolicy). */
function collection(crds: Json[], object: Json, namespace: string): string | undefined {
  const [group, version] = String(object.apiVersion).split("/");
  const crd = crds.find((c) => c.spec.group === group && c.spec.names.kind === object.kind);
  if (crd) return `/apis/${group}/${version}/namespaces/${namespace}/${crd.spec.names.plural}`;
  if (object.apiVersion === "networking.k8s.io/v1" && object.kind === "NetworkPolicy") return `/apis/networking.k8s.io/v1/namespaces/${namespace}/networkpolicies`;
  return undefined;
}

/**
 * Where `stored` lacks or differs from what `rendered` says, as paths (`spec.instances: 3 ≠ 2`).
 * Defaults the API server adds are not differences; a field the CRD schema pruned is.
 */
export function missingFrom(stored: unknown, rendered: unknown, path = ""): string[] {
  if (rendered !== null && typeof rendered === "object" && !Array.isArray(rendered)) {
    if (stored === null || typeof stored !== "object" || Array.isArray(stored)) return [`${path || "."}: not an object`];
    return Object.entries(rendered as Json).flatMap(([k, v]) => missingFrom((stored as Json)[k], v, path ? `${path}.${k}` : k));
  }
  if (Array.isArray(rendered)) {
    if (!Array.isArray(stored) || stored.length !== rendered.length) return [`${path}: ${JSON.stringify(stored)?.slice(0, 80)} ≠ ${JSON.stringify(rendered).slice(0, 80)}`];
    return rendered.flatMap((v, i) => missingFrom(stored[i], v, `${path}[${i}]`));
  }
  return stored === rendered ? [] : [`${path}: ${JSON.stringify(stored)?.slice(0, 80) ?? "absent"} ≠ ${JSON.stringify(rendered).slice(0, 80)}`];
}

/** The checks after the apply; nothing for a StatefulSet topology. */
export async function checkDatabaseCluster(cp: ControlPlane, report: DatabaseReport, label: string, config: PlatformConfig, stack: Json, home: string): Promise<void> {
  const inputs = clusterInputs(config);
  if (!inputs) return;
  const { topology } = inputs;
  report.note(
    "CloudNativePG: the operator, the instance manager and the Barman Cloud plugin reconcile nothing on kwok (no containers): no instance pod, -rw Service, PodDisruptionBudget or backup exists here; npm test's drills run the database side (replication, failover, archiving, recovery) with real servers",
  );
  const helm = helmSetup();
  if (typeof helm === "string") {
    report.note(`skipped: the database releases and their objects in the API server — ${helm}`);
    return;
  }
  const releases = Object.values((stack.resource.helm_release ?? {}) as Record<string, Json>);
  const release = (chart: string) => releases.find((r) => r.chart === chart);
  const operator = release("cloudnative-pg");
  const plugin = release("plugin-barman-cloud");
  const cluster = release("cluster");
  if (!operator || !cluster || !!plugin !== !!topology.backup) {
    report.check(label, "the stack has the operator's and the cluster's releases (and the plugin's where it backs up)", false, releases.map((r) => r.chart).join(", "));
    return;
  }
  const ns = config.namespace;
  const operatorNs = topology.operatorNamespace;

  // 1. The CRDs the operator's and the plugin's releases installed, established.
  const expectedCrds = [operator, ...(plugin ? [plugin] : [])].flatMap((r) => renderRelease(helm, r, operatorNs)).filter((o) => o.kind === "CustomResourceDefinition");
  const crds: Json[] = [];
  const notEstablished: string[] = [];
  for (const want of expectedCrds) {
    const res = await cp.api("GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${want.metadata.name}`);
    if (res.status !== 200) notEstablished.push(`${want.metadata.name}: ${res.status}`);
    else {
      crds.push(res.body);
      if (!crdEstablished(res.body)) notEstablished.push(`${want.metadata.name}: not established`);
    }
  }
  report.check(label, "the operator's and the plugin's releases installed their CRDs, established", expectedCrds.length >= 10 && notEstablished.length === 0, `${expectedCrds.length - notEstablished.length}/${expectedCrds.length}${notEstablished.length ? `: ${notEstablished.join(", ")}` : ""}`);

  // 2. The cluster release's objects, stored as rendered: nothing refused, nothing pruned.
  const objects = renderRelease(helm, cluster, ns);
  const kinds = objects.map((o) => o.kind).sort();
  const expected = ["Cluster", ...(topology.backup ? ["ObjectStore", "ScheduledBackup"] : [])].sort();
  const problems: string[] = [];
  for (const o of objects) {
    const path = collection(crds, o, o.metadata.namespace ?? ns);
    if (!path) {
      problems.push(`${o.kind} ${o.metadata.name}: no CRD serves it`);
      continue;
    }
    const res = await cp.api("GET", `${path}/${o.metadata.name}`);
    if (res.status !== 200) problems.push(`${o.kind} ${o.metadata.name}: GET ${res.status}`);
    else problems.push(...missingFrom(res.body.spec, o.spec, "spec").map((d) => `${o.kind} ${o.metadata.name} ${d}`));
  }
  report.check(
    label,
    "the API server stores the cluster release's objects as rendered (nothing pruned by the CRD schemas)",
    problems.length === 0 && JSON.stringify(kinds) === JSON.stringify(expected),
    problems.length ? problems.slice(0, 6).join("; ") : `${kinds.join(", ")} in ${ns}`,
  );
  const stored = objects.find((o) => o.kind === "Cluster");
  if (stored) {
    const s = stored.spec;
    report.note(
      `Cluster ${stored.metadata.name}: ${s.instances} instances, synchronous ${s.postgresql?.synchronous ? `${s.postgresql.synchronous.method} ${s.postgresql.synchronous.number} (dataDurability ${s.postgresql.synchronous.dataDurability ?? "required"})` : "off"}, anti-affinity ${s.affinity?.podAntiAffinityType ?? "-"} on ${s.affinity?.topologyKey ?? "-"}, storage ${s.storage?.size}${s.walStorage ? ` + WAL ${s.walStorage.size}` : ""}`,
    );
  }

  // 3. The operator's and the plugin's pods Ready (kwok), and no webhook left registered by the copy.
  const deployments = (await cp.list(`/apis/apps/v1/namespaces/${operatorNs}/deployments`)).filter((d) => d.metadata.labels?.["app.kubernetes.io/managed-by"] === "Helm");
  const notReady = deployments.filter((d) => d.status?.readyReplicas !== d.spec.replicas).map((d) => `${d.metadata.name} ${d.status?.readyReplicas ?? 0}/${d.spec.replicas}`);
  report.check(
    label,
    "the operator's (and the plugin's) Deployments are Ready in their namespace (kwok)",
    deployments.length === (plugin ? 2 : 1) && notReady.length === 0,
    `${deployments.map((d) => `${d.metadata.name} ${d.status?.readyReplicas ?? 0}/${d.spec.replicas}`).join(", ")}`,
  );

  // 4. The control: the same Cluster with a synchronous method the schema does not know.
  if (stored) {
    const broken = structuredClone(stored);
    broken.metadata = { name: "e2e-control", namespace: ns };
    broken.spec.postgresql.synchronous = { ...(broken.spec.postgresql.synchronous ?? {}), method: "all", number: 1 };
    const res = await cp.api("POST", `${collection(crds, broken, ns)}?dryRun=All&fieldValidation=Strict`, broken);
    report.check(label, "control: a Cluster with synchronous.method 'all' is refused", res.status === 422, `${res.status} ${String(res.body?.message ?? "").slice(0, 200)}`);
  }

  // 5. The restore's objects (a new cluster from the backups, and its NetworkPolicy), and the command.
  if (topology.backup && stored) {
    const manifest = restoreManifest(inputs, "e2e-restore", "2026-01-01T00:00:00Z", {
      operatorNamespace: operatorNs,
      monitoringNamespace: config.monitoringNamespace,
      apiServer: config.cluster.apiServer ?? DEFAULT_API_SERVER,
    }) as Json;
    const refused: string[] = [];
    for (const o of manifest.items as Json[]) {
      const res = await cp.api("POST", `${collection(crds, o, ns)}?dryRun=All&fieldValidation=Strict`, o);
      if (res.status !== 201) refused.push(`${o.kind} ${o.metadata.name}: ${res.status} ${String(res.body?.message ?? "").slice(0, 300)}`);
    }
    report.check(label, "the API server admits a restore's Cluster and NetworkPolicy (strict, dry run)", refused.length === 0, refused.join("; ") || (manifest.items as Json[]).map((o) => o.kind).join(", "));
    await checkRestoreCommand(cp, report, label, config, stored, collection(crds, stored, ns)!, home);
    const left = await cp.api("GET", `${collection(crds, stored, ns)}/e2e-restored`);
    report.check(label, "a dry-run restore leaves no Cluster behind", left.status === 404, `GET: ${left.status}`);
  }

  // 6. The real operator on the host, with CNPG_OPERATOR_BIN (test/e2e/cnpg-operator.ts).
  if (stored) await checkRealOperator(cp, report, label, config, { cluster: stored, clusters: collection(crds, stored, ns)!, topology });
}

/**
 * scripts/deploy.sh restore against the API server, where the release's Cluster and ObjectStore
 * exist: a restore into the running cluster's name is refused before anything is asked of the
 * cluster; one into the name of another existing Cluster (made here for the check) is refused on
 * the API server's answer; a --dry-run restore into a new name passes the API server's dry run.
 */
async function checkRestoreCommand(cp: ControlPlane, report: DatabaseReport, label: string, config: PlatformConfig, running: Json, clusters: string, home: string): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), "e2e-restore-out-"));
  const name = String(running.metadata.name);
  const deploy = (args: string[]) =>
    spawnSync("bash", [join(PROJECT, "scripts", "deploy.sh"), "restore", ...args], {
      cwd: PROJECT,
      encoding: "utf8",
      timeout: 300_000,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, KUBECONFIG: join(home, ".kube", "config"), DEPLOYMENT_ENV: config.environment, CDKTF_OUTDIR: join(out, "cdktf.out") },
    });
  const lastLines = (r: { stdout: string; stderr: string }) => `${r.stdout}${r.stderr}`.trim().split("\n").slice(-2).join(" | ");
  const existing = { ...structuredClone(running), metadata: { name: "e2e-existing", namespace: config.namespace } };
  try {
    const over = deploy(["--to", "2026-01-01T00:00:00Z", "--into", name, "--dry-run"]);
    report.check(label, `deploy.sh restore refuses the running cluster's name (${name})`, over.status === 1 && /is the running cluster/.test(over.stderr), `exit ${over.status}: ${lastLines(over)}`);
    await cp.apply(clusters, existing);
    const taken = deploy(["--to", "2026-01-01T00:00:00Z", "--into", "e2e-existing", "--dry-run"]);
    report.check(
      label,
      "deploy.sh restore refuses the name of another Cluster that exists (the API server's answer)",
      taken.status === 1 && /a Cluster named e2e-existing already exists/.test(taken.stderr),
      `exit ${taken.status}: ${lastLines(taken)}`,
    );
    const dry = deploy(["--to", "2026-01-01T00:00:00Z", "--into", "e2e-restored", "--dry-run"]);
    report.check(
      label,
      "deploy.sh restore --dry-run: the API server admits the new cluster (server-side dry run)",
      dry.status === 0 && /created \(server dry run\)/.test(dry.stdout),
      `exit ${dry.status}${dry.status === 0 ? "" : `: ${lastLines(dry)}`}`,
    );
  } finally {
    await cp.api("DELETE", `${clusters}/e2e-existing`);
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * The e2e's part of the replicated database (staging and production: a CloudNativePG cluster from
 * the operator's charts, constructs/postgres-cluster.ts).
 *
 * What runs: the Cluster, its ObjectStore and ScheduledBackup, rendered by real helm from the
 * stack's own release values, are sent to the real API server (strict field validation, dry run)
 * against the CRDs the operator's and the plugin's charts install; a Cluster the schema must refuse
 * is refused (the control); the restore's objects (scripts/deploy.sh restore) are admitted too, and
 * deploy.sh restore itself runs against the API server: it refuses a name that exists and its
 * --dry-run passes the API server's. The releases themselves are left out of the apply until the
 * e2e installs charts (test/e2e/run.ts says so), so their depends_on are dropped from the applied
 * copy here.
 *
 * What cannot run here, said so in the run's output: the operator, its webhooks, the instance
 * manager and the Barman Cloud plugin (kwok runs no containers), so no instance pod, no `-rw`
 * Service, no PodDisruptionBudget and no backup exists. Replication, failover, archiving and
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
import type { ControlPlane } from "./control-plane";

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

/** The REST collection of a namespaced custom resource, from its CRD. */
function collection(crds: Json[], object: Json, namespace: string): string | undefined {
  const [group, version] = String(object.apiVersion).split("/");
  const crd = crds.find((c) => c.spec.group === group && c.spec.names.kind === object.kind);
  if (crd) return `/apis/${group}/${version}/namespaces/${namespace}/${crd.spec.names.plural}`;
  if (object.apiVersion === "networking.k8s.io/v1" && object.kind === "NetworkPolicy") return `/apis/networking.k8s.io/v1/namespaces/${namespace}/networkpolicies`;
  return undefined;
}

/** The admission checks; nothing for a StatefulSet topology. */
export async function checkDatabaseCluster(cp: ControlPlane, report: DatabaseReport, label: string, config: PlatformConfig, stack: Json, home: string): Promise<void> {
  const inputs = clusterInputs(config);
  if (!inputs) return;
  const { topology } = inputs;
  report.note(
    "CloudNativePG: the operator, its webhooks, the instance manager and the Barman Cloud plugin do not run on kwok (no containers): no instance pod, -rw Service, PodDisruptionBudget or backup exists here; npm test's drills run the database side (replication, failover, archiving, recovery) with real servers",
  );
  const helm = helmSetup();
  if (typeof helm === "string") {
    report.note(`skipped: the Cluster's admission by the API server — ${helm}`);
    return;
  }
  const releases = Object.values((stack.resource.helm_release ?? {}) as Record<string, Json>);
  const release = (chart: string) => releases.find((r) => r.chart === chart);
  const operator = release("cloudnative-pg");
  const cluster = release("cluster");
  if (!operator || !cluster) {
    report.check(label, "the stack has the operator's and the cluster's releases", false, releases.map((r) => r.chart).join(", "));
    return;
  }
  const ns = config.namespace;
  const crds = [operator, release("plugin-barman-cloud")]
    .filter((r): r is Json => !!r)
    .flatMap((r) => renderRelease(helm, r, topology.operatorNamespace))
    .filter((o) => o.kind === "CustomResourceDefinition");
  const created: string[] = [];
  try {
    // 1. The CRDs the charts install, as the API server stores them.
    for (const crd of crds) {
      const res = await cp.api("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
      if (res.status === 201) created.push(crd.metadata.name);
      else if (res.status !== 409) throw new Error(`CRD ${crd.metadata.name}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    }
    await cp.waitFor("the CRDs to be established", async () => {
      for (const crd of crds) {
        const res = await cp.api("GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
        if (!(res.body?.status?.conditions ?? []).some((c: Json) => c.type === "Established" && c.status === "True")) return false;
      }
      return true;
    }, 60_000);
    report.check(label, "the operator's and the plugin's charts' CRDs are established", true, `${crds.length} CRDs (${created.length} created by this check)`);

    // 2. The cluster release's objects, strict, as a dry run.
    const objects = renderRelease(helm, cluster, ns);
    const kinds = objects.map((o) => o.kind).sort();
    const problems: string[] = [];
    for (const o of objects) {
      const path = collection(crds, o, ns);
      if (!path) {
        problems.push(`${o.kind} ${o.metadata.name}: no CRD serves it`);
        continue;
      }
      const res = await cp.api("POST", `${path}?dryRun=All&fieldValidation=Strict`, o);
      if (res.status !== 201) problems.push(`${o.kind} ${o.metadata.name}: ${res.status} ${String(res.body?.message ?? "").slice(0, 300)}`);
    }
    const expected = ["Cluster", ...(topology.backup ? ["ObjectStore", "ScheduledBackup"] : [])].sort();
    report.check(
      label,
      "the API server admits the cluster release's objects against the CRD schemas (strict, dry run)",
      problems.length === 0 && JSON.stringify(kinds) === JSON.stringify(expected),
      problems.length ? problems.join("; ") : `${kinds.join(", ")}`,
    );

    // 3. The control: the same Cluster with a synchronous method the schema does not know.
    const clusterObject = objects.find((o) => o.kind === "Cluster");
    if (clusterObject) {
      const broken = structuredClone(clusterObject);
      broken.spec.postgresql.synchronous = { ...(broken.spec.postgresql.synchronous ?? {}), method: "all", number: 1 };
      const res = await cp.api("POST", `${collection(crds, broken, ns)}?dryRun=All&fieldValidation=Strict`, broken);
      report.check(label, "control: a Cluster with synchronous.method 'all' is refused", res.status === 422, `${res.status} ${String(res.body?.message ?? "").slice(0, 200)}`);
    }

    // 4. The restore's objects (a new cluster from the backups, and its NetworkPolicy).
    if (topology.backup) {
      const manifest = restoreManifest(inputs, "e2e-restore", "2026-01-01T00:00:00Z", {
        operatorNamespace: topology.operatorNamespace,
        monitoringNamespace: config.monitoringNamespace,
        apiServer: config.cluster.apiServer ?? DEFAULT_API_SERVER,
      }) as Json;
      const refused: string[] = [];
      for (const o of manifest.items as Json[]) {
        const res = await cp.api("POST", `${collection(crds, o, ns)}?dryRun=All&fieldValidation=Strict`, o);
        if (res.status !== 201) refused.push(`${o.kind} ${o.metadata.name}: ${res.status} ${String(res.body?.message ?? "").slice(0, 300)}`);
      }
      report.check(label, "the API server admits a restore's Cluster and NetworkPolicy (strict, dry run)", refused.length === 0, refused.join("; ") || (manifest.items as Json[]).map((o) => o.kind).join(", "));
      await checkRestoreCommand(cp, report, label, config, objects, crds, home);
    }
  } finally {
    for (const name of created) await cp.api("DELETE", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
  }
}

/**
 * scripts/deploy.sh restore against the API server: the ObjectStore the release would create is
 * created (inert: no plugin runs), then a restore into an existing Cluster's name is refused and
 * a --dry-run restore passes the API server's dry run. Nothing of it remains.
 */
async function checkRestoreCommand(cp: ControlPlane, report: DatabaseReport, label: string, config: PlatformConfig, objects: Json[], crds: Json[], home: string): Promise<void> {
  const ns = config.namespace;
  const store = objects.find((o) => o.kind === "ObjectStore")!;
  const storePath = collection(crds, store, ns)!;
  const clusters = collection(crds, { apiVersion: "postgresql.cnpg.io/v1", kind: "Cluster" }, ns)!;
  const existing = structuredClone(objects.find((o) => o.kind === "Cluster")!);
  existing.metadata = { name: "e2e-existing", namespace: ns };
  const out = mkdtempSync(join(tmpdir(), "e2e-restore-out-"));
  const deploy = (args: string[]) =>
    spawnSync("bash", [join(PROJECT, "scripts", "deploy.sh"), "restore", ...args], {
      cwd: PROJECT,
      encoding: "utf8",
      timeout: 300_000,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, KUBECONFIG: join(home, ".kube", "config"), DEPLOYMENT_ENV: config.environment, CDKTF_OUTDIR: join(out, "cdktf.out") },
    });
  try {
    await cp.apply(storePath, store);
    await cp.apply(clusters, existing);
    const taken = deploy(["--to", "2026-01-01T00:00:00Z", "--into", "e2e-existing", "--dry-run"]);
    report.check(
      label,
      "deploy.sh restore refuses a name a Cluster already has (the API server's answer)",
      taken.status === 1 && /a Cluster named e2e-existing already exists/.test(taken.stderr),
      `exit ${taken.status}: ${taken.stderr.trim().split("\n").slice(-1)[0] ?? ""}`,
    );
    const dry = deploy(["--to", "2026-01-01T00:00:00Z", "--into", "e2e-restored", "--dry-run"]);
    report.check(
      label,
      "deploy.sh restore --dry-run: the API server admits the new cluster (server-side dry run)",
      dry.status === 0 && /created \(server dry run\)/.test(dry.stdout),
      `exit ${dry.status}${dry.status === 0 ? "" : `: ${`${dry.stdout}${dry.stderr}`.trim().split("\n").slice(-3).join(" | ")}`}`,
    );
    const left = await cp.api("GET", `${clusters}/e2e-restored`);
    report.check(label, "a dry-run restore leaves no Cluster behind", left.status === 404, `GET: ${left.status}`);
  } finally {
    await cp.api("DELETE", `${clusters}/e2e-existing`);
    await cp.api("DELETE", `${storePath}/${store.metadata.name}`);
    rmSync(out, { recursive: true, force: true });
  }
}

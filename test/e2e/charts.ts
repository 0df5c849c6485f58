/**
 * The Helm charts in the e2e. With HELM_CHARTS_DIR (a directory scripts/pull-charts.sh filled),
 * the applied copy of each stack keeps its `helm_release` resources, each pointed at its local
 * archive (`chart` = the .tgz, no `repository`), so the helm provider installs them for real: the
 * CRDs, then every object of the charts, which the API server admits or refuses. Without it they
 * are left out, as before, and the run says so.
 *
 * What cannot run on kwok (it runs no containers), handled here and said so in the run's output:
 * - the operators' admission webhooks (kube-prometheus-stack's; CloudNativePG's): the API server
 *   would call webhooks no process serves. The applied copy turns them off (E2E_VALUES, one extra
 *   values document, e2e only); the CRDs' schemas still admit or refuse every object.
 * - the operators themselves: their pods are Ready, but nothing reconciles, so the Prometheus and
 *   Alertmanager StatefulSets, and the database's instances, never exist. Their custom resources
 *   are checked (here, and for the database in test/e2e/cloudnative-pg.ts).
 * - cert-manager, which the Barman Cloud plugin's chart needs: the run applies its CRDs only
 *   (test/e2e/run.ts), so the plugin's Issuer and Certificates are admitted and never issued.
 * - the aggregated APIs (metrics.k8s.io, custom.metrics.k8s.io): registered as the charts make
 *   them, pointing at their Services, and left Unavailable (no process behind the pods, and this
 *   API server has no front-proxy client certificate). Nothing here edits them: whoever serves
 *   the APIs from the host repoints `spec.service` of the two APIServices the run names.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { parse } from "yaml";
import { CHART_SUPPRESSIONS } from "../../constructs/chart-suppressions";
import type { PlatformConfig } from "../../config/load";
import { monitoredDatabase } from "../../constructs/monitoring-values";
import { toGrafanaJson } from "../../dashboards/common";
import { platformDashboards } from "../../dashboards/dashboards";
import { literal } from "../../constructs/terraform-text";
import { alertScenarios, runUnitTests, scenarioTests } from "../dashboards/alert-scenarios";
import { checkRules } from "../dashboards/tools";
import { type Json, parseObjects } from "../charts/helm";
import { BOOTSTRAP_ROLES } from "../charts/rbac";
import { loadConfig } from "../helpers";
import { type ControlPlane, crdEstablished } from "./control-plane";
import { unescapeLiteral } from "../../constructs/terraform-text-plain";

/** The run's reporter (run.ts). */
export interface ChartsReport {
  check(stack: string, name: string, ok: boolean, detail?: string): boolean;
  note(text: string): void;
}

/** The charts directory, when the e2e installs the charts. */
export function chartsDir(): string | undefined {
  return process.env.HELM_CHARTS_DIR ? resolve(process.env.HELM_CHARTS_DIR) : undefined;
}

/**
 * Values the applied copy adds to a chart's release (one more values document, e2e only): the
 * admission webhooks off, since kwok runs no webhook server and the API server would refuse every
 * object a `failurePolicy: Fail` webhook watches. The CRDs' schemas still admit or refuse every
 * object. kube-prometheus-stack's operator webhook (its certificate Jobs would "complete" without
 * making a certificate), and CloudNativePG's operator webhooks (mutating and validating).
 */
export const E2E_VALUES: Readonly<Record<string, string>> = {
  "kube-prometheus-stack": "prometheusOperator:\n  admissionWebhooks:\n    enabled: false\n",
  "cloudnative-pg": "webhook:\n  mutating:\n    create: false\n  validating:\n    create: false\n",
};

/**
 * Prepares the applied copy's `helm_release` resources: pointed at the local archives when the
 * charts are there (returns what is installed), else removed (returns what is left out).
 */
export function prepareReleases(json: Json): { installed: string[]; leftOut: string[] } {
  const releases = (json.resource.helm_release ?? {}) as Record<string, Json>;
  const dir = chartsDir();
  const describe = (id: string, r: Json) => `helm_release.${id} (${r.chart} ${r.version})`;
  if (!dir) {
    const leftOut = Object.entries(releases).map(([id, r]) => describe(id, r));
    delete json.resource.helm_release;
    return { installed: [], leftOut };
  }
  const installed: string[] = [];
  const leftOut: string[] = [];
  for (const [id, r] of Object.entries(releases)) {
    const archive = join(dir, `${r.chart}-${r.version}.tgz`);
    if (!existsSync(archive)) throw new Error(`${archive} is missing: HELM_CHARTS_DIR must hold ${r.chart} ${r.version} (scripts/pull-charts.sh)`);
    installed.push(describe(id, r));
    const chart = String(r.chart);
    r.chart = archive;
    delete r.repository;
    const extra = E2E_VALUES[chart];
    if (extra) r.values = [...r.values, literal(extra)];
  }
  if (Object.keys(releases).length === 0) delete json.resource.helm_release;
  return { installed, leftOut };
}

/** What one stack's releases are, for the checks after apply and destroy. */
export interface InstalledReleases {
  readonly names: readonly { readonly name: string; readonly namespace: string }[];
}

/** The releases of the applied copy (names and namespaces resolved from the stack). */
export function installedReleases(json: Json): InstalledReleases {
  const namespaces = (json.resource.kubernetes_namespace_v1 ?? {}) as Record<string, Json>;
  const resolveNs = (v: string) => {
    const id = /^\$\{kubernetes_namespace_v1\.([^.]+)\.metadata\[0\]\.name\}$/.exec(v)?.[1];
    return id ? String(namespaces[id]!.metadata.name) : v;
  };
  return { names: Object.values((json.resource.helm_release ?? {}) as Record<string, Json>).map((r) => ({ name: r.name, namespace: resolveNs(r.namespace) })) };
}

/** A release's manifest, from the release Secret helm keeps (base64 of gzip of JSON, in a Secret). */
async function releaseManifest(cp: ControlPlane, release: { name: string; namespace: string }): Promise<Json[]> {
  const secrets = await cp.list(`/api/v1/namespaces/${release.namespace}/secrets?labelSelector=${encodeURIComponent(`owner=helm,name=${release.name},status=deployed`)}`);
  if (secrets.length !== 1) throw new Error(`${secrets.length} deployed release Secrets for ${release.name}`);
  const encoded = Buffer.from(secrets[0].data.release as string, "base64").toString("utf8");
  const decoded = JSON.parse(gunzipSync(Buffer.from(encoded, "base64")).toString("utf8")) as Json;
  return parseObjects(String(decoded.manifest));
}

/** API paths per apiVersion and kind, from discovery. */
async function discovery(cp: ControlPlane, apiVersion: string): Promise<Map<string, { plural: string; namespaced: boolean }>> {
  const res = await cp.api("GET", apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`);
  const out = new Map<string, { plural: string; namespaced: boolean }>();
  for (const r of (res.body?.resources ?? []) as Json[]) if (!String(r.name).includes("/")) out.set(r.kind, { plural: r.name, namespaced: r.namespaced });
  return out;
}

/**
 * Every object of every release, sent back to the API server as a dry run with strict field
 * validation: a field the schema does not know (helm's own apply drops it silently) is an error.
 */
async function strictProblems(cp: ControlPlane, releases: InstalledReleases): Promise<{ objects: number; problems: string[]; control: string }> {
  const cache = new Map<string, Map<string, { plural: string; namespaced: boolean }>>();
  const problems: string[] = [];
  let objects = 0;
  let control = "no custom resource to break";
  for (const release of releases.names) {
    const manifest = await releaseManifest(cp, release);
    // Control: the same request with one unknown field must be refused, or this check sees nothing.
    const monitor = manifest.find((o) => o.kind === "ServiceMonitor");
    if (monitor) {
      const broken = structuredClone(monitor);
      broken.spec.endpoints[0].scrapeTimout = "5s";
      const res = await cp.api("POST", `/apis/monitoring.coreos.com/v1/namespaces/${monitor.metadata.namespace ?? release.namespace}/servicemonitors?dryRun=All&fieldValidation=Strict`, broken);
      control = `a ServiceMonitor with spec.endpoints[0].scrapeTimout: ${res.status} ${String(res.body?.message ?? "").slice(0, 160)}`;
      if (res.status !== 400 && res.status !== 422) problems.push(`control not refused: ${control}`);
    }
    for (const o of manifest) {
      let api = cache.get(o.apiVersion);
      if (!api) cache.set(o.apiVersion, (api = await discovery(cp, o.apiVersion)));
      const r = api.get(o.kind);
      if (!r) {
        problems.push(`${o.kind} ${o.metadata.name}: the API server serves no ${o.apiVersion} ${o.kind}`);
        continue;
      }
      const base = o.apiVersion.includes("/") ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
      const path = `${base}${r.namespaced ? `/namespaces/${o.metadata.namespace ?? release.namespace}` : ""}/${r.plural}?dryRun=All&fieldValidation=Strict`;
      const res = await cp.api("POST", path, o);
      objects++;
      // 409: it exists (decoding, where strict validation happens, came first and passed).
      if (res.status !== 409 && res.status !== 201) problems.push(`${o.kind} ${o.metadata.name}: ${res.status} ${String(res.body?.message ?? JSON.stringify(res.body)).slice(0, 300)}`);
    }
  }
  return { objects, problems, control };
}

/** The chart checks after the apply (the releases installed). */
export async function checkInstalledCharts(cp: ControlPlane, report: ChartsReport, label: string, config: PlatformConfig, json: Json): Promise<void> {
  const releases = installedReleases(json);
  if (releases.names.length === 0) return;
  const ns = config.monitoringNamespace;

  // The CRDs, established.
  const crds = (await cp.list("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")).filter((c) => c.spec.group === "monitoring.coreos.com");
  const established = crds.filter(crdEstablished);
  report.check(label, "kube-prometheus-stack's CRDs are installed and established", crds.length >= 10 && established.length === crds.length, `${established.length}/${crds.length} monitoring.coreos.com CRDs`);

  // Every object of every release, admitted; every field of it known to the API server.
  const strict = await strictProblems(cp, releases);
  report.check(
    label,
    "every object the releases installed passes the API server's strict field validation (dry run); an unknown field is refused",
    strict.problems.length === 0 && strict.objects > 0,
    `${strict.objects} objects; control: ${strict.control}${strict.problems.length ? `; ${strict.problems.slice(0, 5).join("; ")}` : ""}`,
  );

  // Ours, admitted and stored: the PrometheusRule, the ServiceMonitors and the PodMonitor, as
  // many as the release's values declare.
  const rules = await cp.list(`/apis/monitoring.coreos.com/v1/namespaces/${ns}/prometheusrules`);
  const kpsValues = Object.values((json.resource.helm_release ?? {}) as Record<string, Json>).find((r) => r.name === "kps");
  const kps = kpsValues ? (parse(unescapeLiteral(String(kpsValues.values[0]))) as Json) : {};
  for (const [kind, plural, key] of [
    ["ServiceMonitors", "servicemonitors", "additionalServiceMonitors"],
    ["PodMonitors", "podmonitors", "additionalPodMonitors"],
  ] as const) {
    const stored = await cp.list(`/apis/monitoring.coreos.com/v1/namespaces/${ns}/${plural}`);
    const want = ((kps.prometheus?.[key] ?? []) as Json[]).map((m) => String(m.name)).sort();
    const have = stored.map((m) => m.metadata.name as string).filter((n) => n.startsWith("agent-platform-")).sort();
    report.check(label, `the API server admitted and stores our ${kind}`, want.length > 0 && JSON.stringify(have) === JSON.stringify(want), `${have.join(", ")} of ${stored.length}; declared ${want.join(", ")}`);
  }
  const ours = rules.filter((r) => String(r.metadata.name).endsWith("-agent-platform"));
  report.check(label, "the API server admitted and stores our PrometheusRule (where alerting is on)", ours.length === (config.monitoring.alerting ? 1 : 0) && !!kpsValues, `${ours.length} of ${rules.length} PrometheusRules`);

  // The rules as stored are the ones promtool tests.
  if (ours.length === 1) {
    const groups = ours[0].spec.groups as { name: string; rules: Json[] }[];
    const checked = checkRules(groups);
    report.check(label, "promtool check rules passes on the PrometheusRule read back from the API server", checked.status === 0, checked.status === 0 ? checked.output.trim().split("\n").pop() : checked.output.slice(0, 500));
    const production = loadConfig("production");
    if (JSON.stringify(config.monitoring.thresholds) === JSON.stringify(production.monitoring.thresholds) && config.namespace === production.namespace) {
      const unit = runUnitTests(groups, alertScenarios(config).filter((s) => groups.some((g) => g.rules.some((r: Json) => r.alert === s.alert))).flatMap(scenarioTests));
      report.check(label, "every alert fires on its scenario and stays quiet otherwise, on the stored PrometheusRule (promtool test rules)", unit.status === 0, unit.status === 0 ? "" : unit.output.slice(0, 500));
    } else report.note(`the alert scenarios are written for production's thresholds and namespace; ${label} differs, so its stored rules get promtool check rules only`);
    const all = checkRules(rules.flatMap((r) => r.spec.groups as Json[]));
    report.check(label, "promtool check rules passes on every PrometheusRule Prometheus would load (the chart's too)", all.status === 0, all.status === 0 ? `${rules.length} PrometheusRules` : all.output.slice(0, 500));
  }

  // The dashboards the sidecar finds where it searches: ours, exactly as the tests check them.
  const grafana = await cp.api("GET", `/apis/apps/v1/namespaces/${ns}/deployments/kps-grafana`);
  const sidecar = ((grafana.body?.spec?.template?.spec?.containers ?? []) as Json[]).find((c) => c.name === "grafana-sc-dashboard");
  const env = Object.fromEntries(((sidecar?.env ?? []) as Json[]).map((e) => [e.name, e.value]));
  const searched = String(env.NAMESPACE ?? ns);
  const loaded = (await cp.list(`/api/v1/namespaces/${searched}/configmaps?labelSelector=${encodeURIComponent(`${env.LABEL}=${env.LABEL_VALUE}`)}`)).flatMap((cm) => Object.values(cm.data as Record<string, string>).map((t) => ({ name: cm.metadata.name as string, dashboard: JSON.parse(t) as Json })));
  const ctx = { namespace: config.namespace, environment: config.environment, pooler: !!config.pgbouncer, database: monitoredDatabase(config) };
  const expected = platformDashboards(ctx).map((d) => JSON.stringify(toGrafanaJson(d, ctx)));
  const found = loaded.filter((l) => l.name.startsWith("dashboard-")).map((l) => JSON.stringify(l.dashboard));
  const uids = loaded.map((l) => l.dashboard.uid);
  report.check(
    label,
    "Grafana's sidecar searches its own namespace and finds exactly the tested dashboards there, uids unique",
    searched === ns && JSON.stringify(found.sort()) === JSON.stringify([...expected].sort()) && new Set(uids).size === uids.length,
    `NAMESPACE=${env.NAMESPACE}; ${found.length} platform + ${loaded.length - found.length} chart dashboards`,
  );

  // Chart workloads Ready on kwok.
  const deployments = (await cp.list(`/apis/apps/v1/namespaces/${ns}/deployments`)).filter((d) => d.metadata.labels?.["app.kubernetes.io/managed-by"] === "Helm");
  const daemonSets = (await cp.list("/apis/apps/v1/daemonsets")).filter((d) => d.metadata.labels?.["app.kubernetes.io/managed-by"] === "Helm");
  const notReady = [
    ...deployments.filter((d) => d.status?.readyReplicas !== d.spec.replicas).map((d) => `Deployment ${d.metadata.name} ${d.status?.readyReplicas ?? 0}/${d.spec.replicas}`),
    ...daemonSets.filter((d) => !(d.status?.numberReady > 0 && d.status.numberReady === d.status.desiredNumberScheduled)).map((d) => `DaemonSet ${d.metadata.name} ${d.status?.numberReady ?? 0}/${d.status?.desiredNumberScheduled}`),
  ];
  report.check(label, "every chart workload is Ready (kwok)", notReady.length === 0 && deployments.length >= 3, `${deployments.map((d) => d.metadata.name).join(", ")}${daemonSets.length ? `; ${daemonSets.map((d) => d.metadata.name).join(", ")}` : ""}${notReady.length ? `; not ready: ${notReady.join(", ")}` : ""}`);
  report.note("the operator's pod is Ready but reconciles nothing on kwok: the Prometheus and Alertmanager StatefulSets it would create do not exist; their custom resources are checked above");

  // The declared Pod Security exception: only node-exporter runs in a privileged namespace.
  const privileged = (await cp.list("/api/v1/namespaces")).filter((n) => n.metadata.labels?.["pod-security.kubernetes.io/enforce"] === "privileged" && n.metadata.labels?.["app.kubernetes.io/part-of"] === "agent-platform");
  const podsThere = (await Promise.all(privileged.map((n) => cp.list(`/api/v1/namespaces/${n.metadata.name}/pods`)))).flat();
  const declared = CHART_SUPPRESSIONS.filter((s) => s.rule.startsWith("PSS-")).map((s) => s.name);
  const strangers = podsThere.filter((p) => !declared.some((d) => p.metadata.name.startsWith(`${d}-`)));
  report.check(label, "only the declared node-exporter pods run where Pod Security is privileged", strangers.length === 0 && (podsThere.length > 0) === config.monitoring.alerting, `${podsThere.length} pod(s) in ${privileged.map((n) => n.metadata.name).join(", ") || "no privileged namespace"}`);
  // And the exception is needed: node-exporter's pod, in the monitoring namespace (baseline), is refused.
  const exporter = daemonSets.find((d) => declared.includes(d.metadata.name));
  if (exporter) {
    // Its service account lives in its own namespace: the probe runs as the default one.
    const { serviceAccountName: _sa, serviceAccount: _legacy, ...spec } = exporter.spec.template.spec as Json;
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "pss-probe", labels: exporter.spec.template.metadata.labels }, spec };
    const res = await cp.api("POST", `/api/v1/namespaces/${ns}/pods?dryRun=All`, pod);
    const refused = res.status === 403 && /violates PodSecurity/.test(String(res.body?.message));
    report.check(label, `node-exporter's pod is refused anywhere but its privileged namespace (dry run in ${ns})`, refused, `${res.status} ${String(res.body?.message ?? "").slice(0, 200)}`);
  }

  // Kubernetes' bootstrap roles the charts bind are what the chart checks assume.
  const drift: string[] = [];
  for (const [key, role] of Object.entries(BOOTSTRAP_ROLES)) {
    const name = key.split("/").pop()!;
    const path = role.kind === "ClusterRole" ? `/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}` : `/apis/rbac.authorization.k8s.io/v1/namespaces/${role.namespace}/roles/${name}`;
    const live = (await cp.api("GET", path)).body?.rules ?? [];
    const norm = (rules: readonly Json[]) => JSON.stringify(rules.map((r) => ({ apiGroups: r.apiGroups ?? [], resources: r.resources ?? [], resourceNames: r.resourceNames ?? [], verbs: r.verbs })));
    if (norm(live) !== norm(role.rules as readonly Json[])) drift.push(`${key}: ${JSON.stringify(live)}`);
  }
  report.check(label, "the bootstrap roles the charts bind grant what the chart checks assume", drift.length === 0, drift.join("; "));

  // The aggregated APIs: registered, pointing at Services that exist; Unavailable here.
  const apiServices = (await cp.list("/apis/apiregistration.k8s.io/v1/apiservices")).filter((a) => a.spec.service && ["metrics.k8s.io", "custom.metrics.k8s.io"].includes(a.spec.group));
  const states: string[] = [];
  let pointed = true;
  for (const a of apiServices) {
    const svc = await cp.api("GET", `/api/v1/namespaces/${a.spec.service.namespace}/services/${a.spec.service.name}`);
    pointed &&= svc.status === 200;
    const available = (a.status?.conditions ?? []).find((c: Json) => c.type === "Available");
    states.push(`${a.metadata.name} → ${a.spec.service.namespace}/${a.spec.service.name}:${a.spec.service.port ?? 443} Available=${available?.status ?? "?"} (${available?.reason ?? "no status yet"})`);
  }
  const wanted = [...(config.autoscalingEnabled && !config.monitoring.clusterMetricsApis.includes("metrics.k8s.io") ? ["v1beta1.metrics.k8s.io"] : []), ...(json.resource.helm_release && Object.values(json.resource.helm_release as Record<string, Json>).some((r) => r.name === "prometheus-adapter") ? ["v1beta1.custom.metrics.k8s.io"] : [])];
  report.check(label, "the aggregated APIs the charts register point at Services that exist", pointed && JSON.stringify(apiServices.map((a) => a.metadata.name).sort()) === JSON.stringify(wanted.sort()), states.join("; ") || "none (autoscaling off)");
  if (apiServices.length > 0) report.note("no chart pod serves them on kwok: the scaling scenarios (scenarios.ts) repoint them at metrics-server and prometheus-adapter run on the host, and hand them back before destroy");
}

/** The CRD groups the charts (and the run, for cert-manager) install. */
const CRD_GROUPS = ["monitoring.coreos.com", "postgresql.cnpg.io", "barmancloud.cnpg.io", "cert-manager.io"];

/** After destroy: nothing of the releases is left but their CRDs, which Helm never deletes (removed here for the next stack). */
export async function checkChartsRemoved(cp: ControlPlane, report: ChartsReport, label: string, json: Json): Promise<void> {
  const releases = installedReleases(json);
  if (releases.names.length === 0) return;
  const names = releases.names.map((r) => r.name);
  const leftovers: string[] = [];
  for (const path of ["/apis/rbac.authorization.k8s.io/v1/clusterroles", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "/apis/apiregistration.k8s.io/v1/apiservices", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"]) {
    for (const o of await cp.list(path)) {
      if (names.includes(o.metadata.labels?.["app.kubernetes.io/instance"]) || names.includes(o.metadata.labels?.release) || o.metadata.labels?.["app.kubernetes.io/part-of"] === "agent-platform") leftovers.push(`${path.split("/").pop()}/${o.metadata.name}`);
    }
  }
  const kubeSystem = (await cp.list("/api/v1/namespaces/kube-system/services")).filter((s) => names.includes(s.metadata.labels?.release));
  leftovers.push(...kubeSystem.map((s) => `services/kube-system/${s.metadata.name}`));
  report.check(label, "destroy removes every release and its cluster-scoped objects", leftovers.length === 0, leftovers.join(", "));
  const crds = (await cp.list("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")).filter((c) => CRD_GROUPS.includes(c.spec.group));
  for (const c of crds) await cp.api("DELETE", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${c.metadata.name}`);
  const groups = [...new Set(crds.map((c) => String(c.spec.group)))].sort();
  report.note(`${crds.length} CRDs stay after destroy (${groups.join(", ") || "none"}): Helm leaves CRDs by design (kube-prometheus-stack's crds/, CloudNativePG's marked resource-policy keep), and cert-manager's were applied by the run; deleted here so the next stack installs them afresh`);
}

/**
 * Every Helm release of every stack, rendered by real helm from the pinned chart with the exact
 * values the stack hands it, for the target Kubernetes version; then checked together with the
 * stack's own objects: what the RBAC grants, the policy gate's pod rules on the charts' workloads,
 * and the wiring (Grafana's sidecars, ServiceMonitors, the adapter's rules, the aggregated APIs,
 * our Ingresses and NetworkPolicies against the charts' Services and pods). Without
 * HELM_CHARTS_DIR every test here skips and says why.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { CHART_SECRET_READERS, CHART_SUPPRESSIONS } from "../../constructs/chart-suppressions";
import { ADMISSION_CLUSTER_RULES, ALL_VERBS, ADMISSION_NAMESPACE_RULES, OPERATOR_CLUSTER_RULES, OPERATOR_NAMESPACE_RULES, PROMETHEUS_CLUSTER_RULES, type RbacRule } from "../../constructs/monitoring-rbac";
import { KUBE_STATE_METRICS_COLLECTORS } from "../../constructs/monitoring-values";
import { CHART_PODS } from "../network/stand-ins";
import { CHARTS } from "../../config/versions";
import { loadConfig } from "../helpers";
import { unknownCustomResourceFields } from "./dead-keys";
import { chartArchive, helmOrSkip, type Json, KUBERNETES_VERSION, render, type RenderedObject } from "./helm";
import { grantsOf, mayServiceAccount, secretReadersOutsideTheirNamespace } from "./rbac";
import { clusterApiVersions, type ClusterView, clusterView, STACKS } from "./releases";
import { adapterConfig, adapterProblems, apiServiceProblems, grafanaSidecars, idleNetworkPolicies, ingressBackendProblems, podMonitorProblems, serviceMonitorProblems, sidecarConfigMaps, sidecarRefusals } from "./wiring";
import { applySuppressions, workloadFindings } from "./workloads";

const find = (objects: readonly RenderedObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `no ${kind} ${name} in the render`);
  return found;
};
const containerArgs = (deployment: RenderedObject): string[] => (deployment.spec.template.spec.containers as Json[]).flatMap((c) => (c.args ?? []) as string[]);

describe("charts: every release renders", () => {
  it("HELM_CHARTS_DIR holds every pinned chart as helm pull leaves it, at exactly the pinned version", (t) => {
    const helm = helmOrSkip(t);
    if (!helm) return;
    for (const c of Object.values(CHARTS)) {
      const archive = chartArchive(helm, c.chart, c.version);
      const shown: { status: number | null; stdout: string; stderr: string } = spawnSync(helm.binary, ["show", "chart", archive], { encoding: "utf8" });
      assert.equal(shown.status, 0, shown.stderr);
      const chart = parse(shown.stdout) as Json;
      assert.equal(chart.name, c.chart);
      assert.equal(chart.version, c.version);
    }
  });

  for (const s of STACKS) {
    it(`${s.label}: every release renders with the stack's values for Kubernetes ${KUBERNETES_VERSION}`, async (t) => {
      const helm = helmOrSkip(t);
      if (!helm) return;
      const view = await clusterView(helm, s.env, s.autoscaling);
      assert.ok(view.releases.length > 0);
      for (const r of view.releases) {
        assert.ok(r.objects.length > 0, `${r.name} rendered nothing`);
        assert.deepEqual(unknownCustomResourceFields(r.objects), [], `${r.name}: custom resources with fields their CRD does not define`);
      }
      // kube-prometheus-stack brings its CRDs (the helm provider installs crds/ too).
      const kps = view.releases.find((r) => r.chart === "kube-prometheus-stack")!;
      for (const kind of ["PrometheusRule", "ServiceMonitor", "Prometheus"]) assert.ok(kps.objects.some((o) => o.kind === "CustomResourceDefinition" && o.spec.names.kind === kind), `CRD of ${kind}`);
    });
  }
});

describe("charts: RBAC on the rendered objects", () => {
  for (const s of STACKS) {
    it(`${s.label}: no Role or ClusterRole, ours or a chart's, reads Secrets outside the namespace it serves`, async (t) => {
      const helm = helmOrSkip(t);
      if (!helm) return;
      const view = await clusterView(helm, s.env, s.autoscaling);
      const { unresolved } = grantsOf(view.all);
      assert.deepEqual(unresolved, []);
      const findings = secretReadersOutsideTheirNamespace(view.all);
      const describe = (f: (typeof findings)[number]) => `${f.binding} → ${f.role} grants ${f.subject} ${JSON.stringify(f.rule.verbs)} on secrets in ${f.scope} (${f.source})`;
      assert.deepEqual(findings.filter((f) => !f.declared).map(describe), []);
      // A chart's declared ClusterRole that no longer reads Secrets is a stale exception.
      for (const d of CHART_SECRET_READERS.filter((x) => view.releases.some((r) => r.chart === x.chart))) {
        assert.ok(findings.some((f) => f.role === `ClusterRole/${d.clusterRole}` && f.declared === d.reason), `stale CHART_SECRET_READERS entry: ${d.chart} ClusterRole ${d.clusterRole}`);
      }
      // Declared on the stack's own Roles, with a reason (the diff identity, which plans the whole stack).
      for (const f of findings.filter((x) => x.declared)) t.diagnostic(`declared: ${describe(f)}: ${f.declared}`);
    });

    it(`${s.label}: the operator watches only the namespaces it manages and reads Secrets only where Prometheus runs`, async (t) => {
      const helm = helmOrSkip(t);
      if (!helm) return;
      const view = await clusterView(helm, s.env, s.autoscaling);
      const kps = view.releases.find((r) => r.chart === "kube-prometheus-stack")!;
      const ns = kps.namespace;
      const args = containerArgs(find(kps.objects, "Deployment", "kps-operator"));
      const nodeExporterNs = kps.objects.find((o) => o.kind === "DaemonSet")?.metadata.namespace as string | undefined;
      assert.ok(args.includes(`--namespaces=${[ns, ...(nodeExporterNs ? [nodeExporterNs] : [])].join(",")}`), args.join(" "));
      for (const flag of ["prometheus", "alertmanager", "thanos-ruler"]) assert.ok(args.includes(`--${flag}-instance-namespaces=${ns}`), flag);
      const operator = { name: "kps-operator", namespace: ns };
      assert.ok(mayServiceAccount(view.all, operator, "get", "secrets", ns));
      assert.ok(mayServiceAccount(view.all, operator, "create", "configmaps", ns));
      for (const elsewhere of ["*", loadConfig(s.env).namespace, "kube-system"]) {
        assert.ok(!mayServiceAccount(view.all, operator, "get", "secrets", elsewhere), `the operator reads Secrets in ${elsewhere}`);
      }
      // kube-state-metrics runs without its Secret collector, so with no right to list Secrets.
      const ksmArgs = containerArgs(find(kps.objects, "Deployment", "kps-kube-state-metrics"));
      const resourcesArg = ksmArgs.find((a) => a.startsWith("--resources="))!;
      assert.deepEqual(resourcesArg.slice("--resources=".length).split(",").sort(), [...KUBE_STATE_METRICS_COLLECTORS].sort());
      assert.ok(!mayServiceAccount(view.all, { name: "kps-kube-state-metrics", namespace: ns }, "list", "secrets", "*"));
    });
  }

  it("the stack's chart RBAC grants everything the chart's own would, Secrets and ConfigMaps confined to the monitoring namespace", async (t) => {
    const helm = helmOrSkip(t);
    if (!helm) return;
    const view = await clusterView(helm, "production", true);
    const kps = view.releases.find((r) => r.chart === "kube-prometheus-stack")!;
    // The chart with its own RBAC, as it would install it without ours.
    const own = await render(helm, { chart: kps.chart, version: kps.version, release: kps.name, namespace: kps.namespace, values: [...kps.values, "global:\n  rbac:\n    create: true\n"], apiVersions: clusterApiVersions(view.releases) });
    // `*` as the chart writes it is every verb; ours spells them out.
    const triples = (rules: readonly RbacRule[] | readonly Json[]) =>
      (rules as Json[]).flatMap((r) =>
        [...(r.apiGroups ?? ["-"])].flatMap((g: string) => [...(r.resources ?? r.nonResourceURLs ?? [])].flatMap((res: string) => (r.verbs as string[]).flatMap((v) => (v === "*" ? ALL_VERBS : [v]).map((x) => `${g}|${res}|${x}`)))),
      );
    const ours = new Set([...triples(OPERATOR_CLUSTER_RULES), ...triples(PROMETHEUS_CLUSTER_RULES), ...triples(ADMISSION_CLUSTER_RULES)]);
    const oursNamespaced = new Set([...triples(OPERATOR_NAMESPACE_RULES), ...triples(ADMISSION_NAMESPACE_RULES)]);
    const chartRoles = own.objects.filter((o) => (o.kind === "ClusterRole" || o.kind === "Role") && ["kps-operator", "kps-prometheus", "kps-admission"].includes(o.metadata.name));
    assert.equal(chartRoles.length, 4, chartRoles.map((r) => `${r.kind} ${r.metadata.name}`).join(", "));
    for (const role of chartRoles) {
      for (const triple of triples(role.rules as Json[])) {
        const [, resource] = triple.split("|");
        const confined = resource === "secrets" || resource === "configmaps";
        assert.ok(confined ? oursNamespaced.has(triple) : ours.has(triple), `${role.kind} ${role.metadata.name} grants ${triple}, which MonitoringRbac does not`);
      }
    }
    // And the chart's operator ClusterRole is the finding: * on Secrets in every namespace.
    const chartOperator = chartRoles.find((r) => r.kind === "ClusterRole" && r.metadata.name === "kps-operator")!;
    assert.ok((chartOperator.rules as Json[]).some((r) => r.resources.includes("secrets") && r.verbs.includes("*")));
    assert.ok(secretReadersOutsideTheirNamespace(own.objects).some((f) => f.role === "ClusterRole/kps-operator" && f.scope === "every namespace"));
  });
});

describe("charts: the policy gate's pod rules on the charts' workloads", () => {
  for (const s of STACKS) {
    it(`${s.label}: every rendered workload passes, but for the declared suppressions`, async (t) => {
      const helm = helmOrSkip(t);
      if (!helm) return;
      const view = await clusterView(helm, s.env, s.autoscaling);
      for (const r of view.releases) {
        const { violations, stale } = applySuppressions(r.name, workloadFindings(r.name, r.objects), r.objects);
        assert.deepEqual(violations.map((v) => `${v.kind} ${v.namespace}/${v.name} ${v.rule}: ${v.detail} (${v.source})`), [], r.name);
        assert.deepEqual(stale.map((x) => `${x.kind} ${x.name} ${x.rule}`), [], `${r.name}: stale chart suppressions`);
      }
      // Host namespaces and hostPath are excused for node-exporter only, in its privileged namespace.
      for (const sup of CHART_SUPPRESSIONS.filter((x) => x.rule.startsWith("PSS-"))) {
        const ds = view.all.find((o) => o.kind === sup.kind && o.metadata.name === sup.name);
        if (!ds) continue;
        const ns = view.own.find((o) => o.kind === "Namespace" && o.metadata.name === ds.metadata.namespace);
        assert.equal(ns?.metadata.labels["pod-security.kubernetes.io/enforce"], "privileged", `${sup.name} runs in ${ds.metadata.namespace}`);
        assert.deepEqual(view.all.filter((o) => ["Deployment", "DaemonSet", "StatefulSet", "Job"].includes(o.kind) && o.metadata.namespace === ds.metadata.namespace).map((o) => o.metadata.name), [sup.name]);
      }
    });
  }
});

describe("charts: wiring", () => {
  for (const s of STACKS) {
    it(`${s.label}: Grafana's sidecars search the namespace their Role covers, and find the dashboards there`, async (t) => {
      const helm = helmOrSkip(t);
      if (!helm) return;
      const view = await clusterView(helm, s.env, s.autoscaling);
      const sidecars = grafanaSidecars(view.all);
      const ns = view.releases.find((r) => r.chart === "kube-prometheus-stack")!.namespace;
      assert.deepEqual(sidecars.map((c) => c.container).sort(), ["grafana-init-sc-datasources", "grafana-sc-dashboard"]);
      for (const c of sidecars) {
        assert.deepEqual(c.namespaces, [ns], `${c.container} searches ${c.env.NAMESPACE}`);
        assert.deepEqual(sidecarRefusals(view.all, c), []);
      }
      const dashboards = sidecarConfigMaps(view.all, sidecars.find((c) => c.container === "grafana-sc-dashboard")!);
      const ours = Object.values((view.stack.resource.kubernetes_config_map_v1 ?? {}) as Record<string, Json>).filter((c) => c.metadata.labels?.grafana_dashboard === "1");
      assert.ok(ours.length > 0 && ours.every((c) => dashboards.some((d) => d.metadata.name === c.metadata.name)), "our dashboard ConfigMaps are found");
      assert.equal(sidecarConfigMaps(view.all, sidecars.find((c) => c.container === "grafana-init-sc-datasources")!).length, 1, "the chart's Prometheus datasource");
    });

    it(`${s.label}: every ServiceMonitor selects a Service that exists, every PodMonitor a pod, with the port it names`, async (t) => {
      const helm = helmOrSkip(t);
      if (!helm) return;
      const view = await clusterView(helm, s.env, s.autoscaling);
      assert.ok(view.all.filter((o) => o.kind === "ServiceMonitor").length >= 4);
      assert.deepEqual(serviceMonitorProblems(view.all), []);
      // The services' PodMonitor reaches every service's Deployment, both blue-green colours.
      const podMonitor = view.all.find((o) => o.kind === "PodMonitor" && o.metadata.name === "agent-platform-services");
      assert.ok(podMonitor, "the chart renders our PodMonitor");
      assert.deepEqual(podMonitorProblems(view.all), []);
      const scraped = podMonitorProblems([...view.all.filter((o) => o.kind !== "PodMonitor"), { ...podMonitor!, spec: { ...podMonitor!.spec, podMetricsEndpoints: [{ port: "no-such-port" }] } }])[0]?.targets ?? [];
      const deployments = view.own.filter((o) => o.kind === "Deployment" && o.spec.template.metadata.labels?.["app.kubernetes.io/component"] === "service").map((o) => `${o.metadata.namespace}/Deployment/${o.metadata.name}`);
      assert.ok(deployments.length >= 5);
      assert.deepEqual(scraped.sort(), deployments.sort());
    });

    it(`${s.label}: the aggregated APIs point at Services that exist and reach the server's port; the adapter names only the contract's series`, async (t) => {
      const helm = helmOrSkip(t);
      if (!helm) return;
      const view = await clusterView(helm, s.env, s.autoscaling);
      const apis = apiServiceProblems(view.all);
      assert.deepEqual(apis.filter((a) => a.problem).map((a) => `${a.apiService}: ${a.problem}`), []);
      const expected = [...(view.releases.some((r) => r.chart === "metrics-server") ? ["v1beta1.metrics.k8s.io"] : []), ...(view.releases.some((r) => r.chart === "prometheus-adapter") ? ["v1beta1.custom.metrics.k8s.io"] : [])];
      assert.deepEqual(view.all.filter((o) => o.kind === "APIService").map((o) => o.metadata.name).sort(), expected.sort());
      const adapter = adapterConfig(view.all);
      assert.equal(!!adapter, view.releases.some((r) => r.chart === "prometheus-adapter"));
      if (adapter) {
        const hpaMetrics = Object.values((view.stack.resource.kubernetes_horizontal_pod_autoscaler_v2 ?? {}) as Record<string, Json>).flatMap((h) =>
          ((h.spec.metric ?? []) as Json[]).filter((m) => m.type === "Pods").map((m) => String(m.pods.metric.name)),
        );
        assert.ok(hpaMetrics.length > 0);
        assert.deepEqual(adapterProblems(adapter.config, [...new Set(hpaMetrics)]), [], adapter.source);
      }
    });

    it(`${s.label}: our Ingresses reach the charts' Services, and our NetworkPolicies select pods that run`, async (t) => {
      const helm = helmOrSkip(t);
      if (!helm) return;
      const view = await clusterView(helm, s.env, s.autoscaling);
      assert.deepEqual(ingressBackendProblems(view.all), []);
      assert.deepEqual(idleNetworkPolicies(view.all), []);
    });
  }

  for (const s of STACKS) {
    it(`${s.label}: the traffic matrix's stand-ins for the charts' pods carry the labels and ports the charts render`, async (t) => {
      const helm = helmOrSkip(t);
      if (!helm) return;
      const view = await clusterView(helm, s.env, s.autoscaling);
      const problems: string[] = [];
      let compared = 0;
      for (const r of view.releases) {
        const standIns = CHART_PODS[r.chart]!({ name: r.name, namespace: r.namespace, values: parse(r.values[0]!) as Json });
        for (const cluster of r.objects.filter((o) => o.kind === "Cluster")) {
          const instances = standIns.filter((p) => p.role === "postgres" && p.labels["cnpg.io/cluster"] === cluster.metadata.name).length;
          if (instances !== Number(cluster.spec.instances)) problems.push(`Cluster ${cluster.metadata.name}: ${cluster.spec.instances} instances rendered, ${instances} stand-ins`);
        }
        for (const pod of standIns) {
          // The operator builds these at runtime, from the custom resources: not in the render.
          if (pod.role === "prometheus" || pod.role === "alertmanager") continue;
          // A Cluster's instances and its join Job, which the operator makes from the Cluster the
          // chart renders: that Cluster must be the one they stand in for (name, namespace, count).
          // Their labels and ports come from the operator's source (pkg/specs), not from a render.
          if (pod.role === "postgres" || pod.role === "postgres-job") {
            const cluster = r.objects.find((o) => o.kind === "Cluster" && o.metadata.name === pod.labels["cnpg.io/cluster"] && o.metadata.namespace === pod.namespace);
            if (!cluster) problems.push(`${pod.namespace}/${pod.name}: the chart renders no Cluster ${pod.labels["cnpg.io/cluster"]} in ${pod.namespace}`);
            else {
              const instance = Number(/^.+-(\d+)(-join)?$/.exec(pod.name)?.[1]);
              if (!(instance >= 1 && instance <= Number(cluster.spec.instances))) problems.push(`${pod.namespace}/${pod.name}: the Cluster has ${cluster.spec.instances} instances`);
              compared++;
            }
            continue;
          }
          const owner = r.objects.find((o) => ["Deployment", "Job"].includes(o.kind) && o.metadata.name === pod.name);
          if (!owner) {
            problems.push(`${pod.namespace}/${pod.name}: the chart renders no such workload`);
            continue;
          }
          compared++;
          const template = owner.spec.template as Json;
          const ports = ((template.spec.containers ?? []) as Json[]).flatMap((c) => ((c.ports ?? []) as Json[]).map((p) => `${p.name ?? ""}:${p.containerPort}/${p.protocol ?? "TCP"}`)).sort();
          const modelled = pod.ports.map((p) => `${p.name ?? ""}:${p.port}/${p.protocol}`).sort();
          const canonical = (labels: Json) => JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
          if (canonical(template.metadata.labels) !== canonical(pod.labels)) {
            problems.push(`${pod.namespace}/${pod.name}: rendered labels ${JSON.stringify(template.metadata.labels)}, stand-in ${JSON.stringify(pod.labels)}`);
          }
          if (JSON.stringify(ports) !== JSON.stringify(modelled)) problems.push(`${pod.namespace}/${pod.name}: rendered ports ${ports.join(" ")}, stand-in ${modelled.join(" ")}`);
        }
      }
      assert.deepEqual(problems, []);
      assert.ok(compared >= 3, `${compared} stand-ins compared`);
    });
  }

  it("the checks can fail: kube-prometheus-stack's own searchNamespace (ALL) is refused by Grafana's Role, a wrong port and a series outside the contract are caught", async (t) => {
    const helm = helmOrSkip(t);
    if (!helm) return;
    const view: ClusterView = await clusterView(helm, "production", true);
    const kps = view.releases.find((r) => r.chart === "kube-prometheus-stack")!;
    // The finding: without our override the chart's values search ALL namespaces, which the
    // namespaced Role refuses, so no dashboard would load.
    const chartDefault = await render(helm, { chart: kps.chart, version: kps.version, release: kps.name, namespace: kps.namespace, values: [...kps.values, "grafana:\n  sidecar:\n    dashboards:\n      searchNamespace: ALL\n"], apiVersions: clusterApiVersions(view.releases) });
    const objects = [...view.own, ...chartDefault.objects];
    const sidecar = grafanaSidecars(objects).find((c) => c.container === "grafana-sc-dashboard")!;
    assert.equal(sidecar.env.NAMESPACE, "ALL");
    assert.deepEqual(sidecarRefusals(objects, sidecar).length, 2, "list and watch on configmaps cluster-wide are refused");

    const broken = structuredClone(view.all) as RenderedObject[];
    const monitor = broken.find((o) => o.kind === "ServiceMonitor" && o.metadata.name === "agent-platform-pgbouncer")!;
    monitor.spec.endpoints[0].port = "metric";
    assert.match(serviceMonitorProblems(broken).map((p) => p.problem).join("\n"), /endpoint port metric is not a port of/);
    monitor.spec.selector.matchLabels["app.kubernetes.io/component"] = "servce";
    assert.match(serviceMonitorProblems(broken).map((p) => p.problem).join("\n"), /selects no Service/);
    const podMonitor = broken.find((o) => o.kind === "PodMonitor" && o.metadata.name === "agent-platform-services")!;
    podMonitor.spec.podMetricsEndpoints[0].port = "metric";
    assert.match(podMonitorProblems(broken).map((p) => p.problem).join("\n"), /endpoint port metric is not a container port of/);
    podMonitor.spec.selector.matchLabels["app.kubernetes.io/component"] = "servce";
    assert.match(podMonitorProblems(broken).map((p) => p.problem).join("\n"), /selects no pod/);

    const adapter = adapterConfig(view.all)!;
    const config = structuredClone(adapter.config);
    config.rules.push({ seriesQuery: 'queue_depth{namespace!="",pod!=""}', name: { as: "queue_depth" } });
    assert.match(adapterProblems(config, ["queue_length"]).join("\n"), /names queue_depth, which config\/metrics.ts does not define/);

    const api = broken.find((o) => o.kind === "APIService" && o.metadata.name === "v1beta1.metrics.k8s.io")!;
    api.spec.service.name = "metrics-servr";
    assert.match(apiServiceProblems(broken).map((a) => a.problem ?? "").join("\n"), /points at Service monitoring\/metrics-servr, which nothing creates/);
  });
});

import { DEFAULT_API_SERVER, DEFAULT_NODE_CIDRS } from "../../config/network";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { DIFF_IDENTITY } from "../../constructs/diff-identity";
import { Monitoring } from "../../constructs/monitoring";
import { chartWorkloads, monitoringInputs, monitoringValues } from "../../constructs/monitoring-values";
import { unescapeLiteral } from "../../constructs/terraform-text";
import { METRICS_APIS } from "../../config/metrics";
import { ENVIRONMENT_NAMES } from "../../config/schema";
import { ALERT_NAMES } from "../../dashboards/alerts";
import { type Json, loadConfig, named, rawEnvironment, resources, synthEnvironment, synthScope } from "../helpers";
import { VARIANTS } from "../variants";

const release = (json: Json, chart: string) => Object.values(resources(json, "helm_release")).find((r) => r.chart === chart);
const values = (json: Json, chart: string) => parse(unescapeLiteral(release(json, chart)!.values[0]));

describe("Monitoring", () => {
  const production = synthEnvironment("production");
  const local = synthEnvironment("local");

  it("installs kube-prometheus-stack from its pinned chart version", () => {
    const kps = release(production, "kube-prometheus-stack")!;
    assert.equal(kps.version, "67.8.0");
    assert.equal(kps.repository, "https://prometheus-community.github.io/helm-charts");
    assert.equal(kps.atomic, true);
  });

  it("scrapes the exporters through ServiceMonitors, the services and a cluster's instances through PodMonitors", () => {
    const v = values(production, "kube-prometheus-stack");
    assert.equal(v.prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues, false);
    assert.equal(v.prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues, false);
    assert.equal(v.prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues, false);
    const monitors = v.prometheus.additionalServiceMonitors as Json[];
    // Production's Postgres is a CloudNativePG cluster: no postgres Service with a metrics port.
    assert.deepEqual(monitors.map((m) => m.name), ["agent-platform-redis", "agent-platform-pgbouncer"]);
    assert.deepEqual((v.prometheus.additionalPodMonitors as Json[]).map((m) => m.name), ["agent-platform-services", "agent-platform-postgres-cluster"]);
    assert.deepEqual((v.prometheus.additionalPodMonitors as Json[])[1], {
      name: "agent-platform-postgres-cluster",
      selector: { matchLabels: { "cnpg.io/cluster": "postgres", "cnpg.io/podRole": "instance" } },
      namespaceSelector: { matchNames: ["agent-platform"] },
      podMetricsEndpoints: [{ port: "metrics", path: "/metrics", interval: "30s", scrapeTimeout: "10s" }],
    });
    const localMonitors = (values(local, "kube-prometheus-stack").prometheus.additionalServiceMonitors as Json[]).map((m) => m.name);
    // Local runs no Redis (rate limiting in memory), so scrapes none.
    assert.deepEqual(localMonitors, ["agent-platform-postgres"]);
    assert.deepEqual((values(local, "kube-prometheus-stack").prometheus.additionalPodMonitors as Json[]).map((m) => m.name), ["agent-platform-services"]);
    // Each monitor selects Services that exist, on a port they name.
    const services = Object.values(resources(production, "kubernetes_service_v1"));
    for (const m of monitors) {
      const selected = services.filter((s) => Object.entries(m.selector.matchLabels).every(([k, val]) => s.metadata.labels[k] === val));
      assert.ok(selected.length > 0, m.name);
      for (const s of selected) assert.ok(s.spec.port.some((p: Json) => p.name === m.endpoints[0].port), `${m.name} -> ${s.metadata.name}`);
      assert.deepEqual(m.namespaceSelector, { matchNames: ["agent-platform"] });
    }
  });

  it("scrapes every pod of every service, both blue-green colours, labelled with the service's name", () => {
    const v = values(production, "kube-prometheus-stack");
    assert.equal(v.prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues, false);
    // The services' PodMonitor (a CloudNativePG cluster's instances have one of their own).
    const monitor = (v.prometheus.additionalPodMonitors as Json[]).find((m) => m.name === "agent-platform-services");
    assert.ok(monitor);
    assert.deepEqual(monitor!.namespaceSelector, { matchNames: ["agent-platform"] });
    const endpoint = monitor!.podMetricsEndpoints[0];
    assert.equal(endpoint.path, "/metrics");
    // Both colours of web-dashboard (the Service selects one) carry the selected labels and port.
    const deployments = Object.values(resources(production, "kubernetes_deployment_v1"));
    const selected = deployments.filter((d) => Object.entries(monitor!.selector.matchLabels).every(([k, val]) => d.spec.template.metadata.labels[k] === val));
    assert.deepEqual(
      selected.map((d) => d.metadata.name).filter((n) => n.startsWith("web-dashboard")).sort(),
      ["web-dashboard-blue", "web-dashboard-green"],
    );
    for (const d of selected) assert.ok(d.spec.template.spec.container[0].port.some((p: Json) => p.name === endpoint.port), d.metadata.name);
    // `job` and `service` name the service, as the ServiceMonitor on its Service did.
    assert.equal(monitor!.jobLabel, "app.kubernetes.io/name");
    assert.deepEqual(endpoint.relabelings, [{ sourceLabels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], targetLabel: "service" }]);
  });

  for (const variant of VARIANTS) {
    it(`scrapes the pods of every service in the catalogue (${variant.label})`, () => {
      const json = variant.stack("production");
      const monitor = (values(json, "kube-prometheus-stack").prometheus.additionalPodMonitors as Json[]).find((m) => m.name === "agent-platform-services")!;
      const scraped = [
        ...new Set(
          Object.values(resources(json, "kubernetes_deployment_v1"))
            .filter((d) => Object.entries(monitor.selector.matchLabels).every(([k, val]) => d.spec.template.metadata.labels[k] === val))
            .map((d) => d.spec.template.metadata.labels["app.kubernetes.io/name"] as string),
        ),
      ].sort();
      assert.deepEqual(scraped, variant.config("production").services.map((s) => s.name).sort());
    });
  }

  it("delivers the alert rules and Alertmanager's routing through chart values in production", () => {
    const v = values(production, "kube-prometheus-stack");
    const rules = v.additionalPrometheusRulesMap["agent-platform"].groups.flatMap((g: Json) => g.rules.map((r: Json) => r.alert));
    // Every alert, the database's included (a replicated, backed-up cluster, behind PgBouncer).
    assert.deepEqual([...rules].sort(), [...ALERT_NAMES].sort());
    assert.equal(v.alertmanager.enabled, true);
    assert.equal(v.alertmanager.config.route.receiver, "default");
    assert.equal(v.prometheus.prometheusSpec.retention, "15d");
    assert.equal(v.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage, "100Gi");
  });

  it("runs basic metrics only locally: no Alertmanager, no rules, no node exporter, small footprint", () => {
    const v = values(local, "kube-prometheus-stack");
    assert.deepEqual(v.alertmanager, { enabled: false });
    assert.equal(v.additionalPrometheusRulesMap, undefined);
    assert.equal(v.nodeExporter.enabled, false);
    assert.equal(v.defaultRules.create, false);
    assert.equal(v.prometheus.prometheusSpec.retention, "1d");
    assert.equal(v.prometheus.prometheusSpec.storageSpec, undefined);
  });

  it("takes Grafana's admin password from a Secret, as a mounted file, never the chart's default or an env var", () => {
    const g = values(production, "kube-prometheus-stack").grafana;
    assert.equal(g.admin, undefined);
    assert.deepEqual(g.env, { GF_SECURITY_ADMIN_USER: "admin", GF_SECURITY_ADMIN_PASSWORD__FILE: "/etc/secrets/grafana-admin/admin-password" });
    assert.deepEqual(g.extraSecretMounts, [{ name: "grafana-admin", secretName: "grafana-admin", mountPath: "/etc/secrets/grafana-admin", readOnly: true, defaultMode: 0o440 }]);
    assert.deepEqual(named(local, "kubernetes_secret_v1", "grafana-admin").data, { "admin-password": "${var.grafana_admin_password}" });
  });

  it("scrapes Redis only where it runs", () => {
    const monitors = (json: Json) => (values(json, "kube-prometheus-stack").prometheus.additionalServiceMonitors as Json[]).map((m) => m.name);
    assert.ok(monitors(production).includes("agent-platform-redis"));
    assert.equal(Object.keys(resources(local, "kubernetes_stateful_set_v1")).some((id) => id.includes("redis")), false);
    assert.ok(!monitors(local).includes("agent-platform-redis"));
  });

  it("provisions the dashboards as ConfigMaps beside Grafana, where its sidecar looks (the database's where a cluster runs)", () => {
    const v = values(production, "kube-prometheus-stack");
    // The sidecar searches its own namespace only, for ConfigMaps only: kube-prometheus-stack's
    // own values say ALL, which the namespaced Role refuses (test/charts/ proves it on the render).
    assert.deepEqual(v.grafana.sidecar.dashboards, { enabled: true, label: "grafana_dashboard", labelValue: "1", resource: "configmap", searchNamespace: ["monitoring"], skipReload: true });
    const maps = Object.values(resources(production, "kubernetes_config_map_v1")).filter((c) => c.metadata.labels.grafana_dashboard === "1");
    assert.deepEqual(maps.map((m) => m.metadata.name.replace(/^dashboard-/, "")).sort(), [
      "agent-platform-business",
      "agent-platform-database",
      "agent-platform-db-pool",
      "agent-platform-overview",
      "agent-platform-rate-limits",
      "agent-platform-redis-cache",
      "agent-platform-resources",
    ]);
    assert.equal(Object.values(resources(local, "kubernetes_config_map_v1")).filter((c) => c.metadata.labels.grafana_dashboard === "1").length, 6);
    const monitoringNs = Object.entries(resources(production, "kubernetes_namespace_v1")).find(([, n]) => n.metadata.name === "monitoring")![0];
    for (const m of maps) {
      assert.equal(m.metadata.namespace, `\${kubernetes_namespace_v1.${monitoringNs}.metadata[0].name}`);
      const [file, json] = Object.entries(m.data as Record<string, string>)[0]!;
      assert.equal(JSON.parse(unescapeLiteral(json)).uid, file.replace(/\.json$/, ""));
    }
  });

  for (const env of ENVIRONMENT_NAMES) {
    it(`gives Grafana no way to read a Secret in ${env}: no chart RBAC, a Role for ConfigMaps in its own namespace, searched there`, () => {
      const json = synthEnvironment(env, { enableAutoscaling: true });
      const v = values(json, "kube-prometheus-stack");
      // The chart creates a ClusterRole when rbac.create && !namespaced, a Role granting configmaps
      // AND secrets when namespaced: neither may be rendered.
      assert.equal(v.grafana.rbac.create, false);
      assert.equal(v.grafana.sidecar.datasources.resource, "configmap");
      assert.deepEqual(v.grafana.sidecar.dashboards.searchNamespace, [loadConfig(env).monitoringNamespace]);
      // No Role grants Secrets but the diff identity's own, declared for a plan's reads
      // (test/constructs/diff-identity.test.ts), and the operator's and the webhook Jobs', in the
      // monitoring namespace with a declared suppression; no ClusterRole does.
      const diffIdentity = (role: Json) => role.metadata.labels?.["app.kubernetes.io/component"] === "diff-identity" && role.metadata.name === `${DIFF_IDENTITY}-secrets`;
      for (const [type, kind] of [["kubernetes_cluster_role_v1", "ClusterRole"], ["kubernetes_role_v1", "Role"]] as const) {
        for (const role of Object.values(resources(json, type)).filter((r) => !diffIdentity(r))) {
          const secrets = (role.rule as Json[]).some((rule) => (rule.resources ?? []).includes("secrets") || (rule.resources ?? []).includes("*"));
          if (kind === "Role" && ["kps-operator", "kps-admission"].includes(role.metadata.name)) {
            assert.ok(secrets && role["//"].suppressions.some((x: Json) => x.rule === "KS-RBAC-SECRETS"), role.metadata.name);
            assert.match(role.metadata.namespace, /kubernetes_namespace_v1\.monitoring_namespace_/);
          } else assert.ok(!secrets, `${kind} ${role.metadata.name} grants Secrets`);
        }
      }
      const role = named(json, "kubernetes_role_v1", "kps-grafana-configmaps");
      assert.deepEqual(role.rule, [{ api_groups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] }]);
      const binding = named(json, "kubernetes_role_binding_v1", "kps-grafana-configmaps");
      assert.equal(binding.subject[0].name, v.grafana.serviceAccount.name);
    });
  }

  it("keeps the monitoring namespace at baseline, and node-exporter alone in a privileged namespace of its own", () => {
    const ns = (json: Json, name: string) => Object.values(resources(json, "kubernetes_namespace_v1")).find((n) => n.metadata.name === name);
    for (const json of [production, local]) {
      assert.equal(ns(json, "monitoring")!.metadata.labels["pod-security.kubernetes.io/enforce"], "baseline");
      assert.equal(ns(json, "monitoring")!.metadata.labels["pod-security.kubernetes.io/warn"], "restricted");
    }
    assert.equal(ns(production, "monitoring-node-exporter")!.metadata.labels["pod-security.kubernetes.io/enforce"], "privileged");
    assert.equal(values(production, "kube-prometheus-stack")["prometheus-node-exporter"].namespaceOverride, "monitoring-node-exporter");
    // Where node-exporter does not run, nothing is privileged.
    assert.equal(ns(local, "monitoring-node-exporter"), undefined);
  });

  it("denies all traffic in the monitoring namespace but what each component needs", () => {
    const policies = Object.values(resources(production, "kubernetes_network_policy_v1")).filter((p) => String(p.metadata.namespace).includes("kubernetes_namespace_v1.monitoring_namespace"));
    const byName = new Map(policies.map((p) => [p.metadata.name, p.spec]));
    assert.deepEqual(byName.get("default-deny-all")!.pod_selector, {});
    assert.deepEqual(byName.get("default-deny-all")!.policy_types, ["Ingress", "Egress"]);
    // Alertmanager: nothing admits it but Prometheus (the scrape policy), and it only talks out on 443.
    const admitting = policies.filter((p) => (p.spec.ingress ?? []).length > 0 && (p.spec.pod_selector.match_labels?.["app.kubernetes.io/name"] === "alertmanager" || !p.spec.pod_selector.match_labels));
    for (const p of admitting) {
      for (const rule of p.spec.ingress) {
        const fromPrometheus = (rule.from ?? []).every((f: Json) => f.pod_selector?.match_labels?.["app.kubernetes.io/name"] === "prometheus");
        const apiServerPorts = (rule.ports ?? []).length > 0 && rule.ports.every((port: Json) => ["443", "6443", "10250"].includes(port.port));
        assert.ok(fromPrometheus || apiServerPorts, `${p.metadata.name} admits more than Prometheus to Alertmanager's 9093`);
      }
    }
    // Grafana reads Prometheus, nothing else in the cluster.
    assert.deepEqual(byName.get("grafana")!.egress, [{ to: [{ pod_selector: { match_labels: { "app.kubernetes.io/name": "prometheus" } } }], ports: [{ port: "9090", protocol: "TCP" }] }]);
  });

  it("admits Prometheus' pods, and only them, to the platform's metrics ports, and no one from monitoring to the APIs", () => {
    for (const p of Object.values(resources(production, "kubernetes_network_policy_v1"))) {
      for (const rule of (p.spec.ingress ?? []) as Json[]) {
        for (const from of (rule.from ?? []) as Json[]) {
          if (from.namespace_selector?.match_labels?.["kubernetes.io/metadata.name"] !== "monitoring") continue;
          assert.deepEqual(from.pod_selector, { match_labels: { "app.kubernetes.io/name": "prometheus" } }, `${p.metadata.name} admits all of monitoring`);
          assert.ok(rule.ports.every((port: Json) => port.port === "metrics"), `${p.metadata.name} admits Prometheus beyond the metrics port`);
        }
      }
    }
  });

  it("serves every metric every HPA reads through exactly one provider", () => {
    for (const env of ENVIRONMENT_NAMES) {
      const json = synthEnvironment(env, { enableAutoscaling: true });
      const hpas = Object.values(resources(json, "kubernetes_horizontal_pod_autoscaler_v2"));
      assert.ok(hpas.length > 0);
      const ms = release(json, "metrics-server");
      const adapter = release(json, "prometheus-adapter");
      const custom = adapter ? (values(json, "prometheus-adapter").rules.custom as Json[]).map((r) => r.name.as) : [];
      if (adapter) assert.deepEqual(values(json, "prometheus-adapter").rules.external, []);
      for (const hpa of hpas) {
        for (const metric of hpa.spec.metric as Json[]) {
          if (metric.type === "Resource") assert.ok(ms, `${env}: ${metric.resource.name} of ${hpa.metadata.name} has no metrics.k8s.io provider`);
          else if (metric.type === "Pods") assert.equal(custom.filter((name) => name === metric.pods.metric.name).length, 1, `${env}: ${metric.pods.metric.name}`);
          else assert.fail(`${env}: ${metric.type} metric has no provider`);
        }
      }
      assert.equal(ms?.version, "3.13.0");
      // Without HPAs, no metrics API provider is installed at all.
      const off = synthEnvironment(env, { enableAutoscaling: false });
      assert.equal(release(off, "metrics-server"), undefined);
      assert.equal(release(off, "prometheus-adapter"), undefined);
    }
  });

  it("leaves metrics.k8s.io to the cluster where it serves it, and refuses a second custom metrics provider", () => {
    const raw = rawEnvironment("production");
    raw.monitoring.clusterMetricsApis = ["metrics.k8s.io", "external.metrics.k8s.io"];
    const json = synthEnvironment("production", { enableAutoscaling: true }, raw);
    assert.equal(release(json, "metrics-server"), undefined);
    raw.monitoring.clusterMetricsApis = ["custom.metrics.k8s.io"];
    assert.throws(() => loadConfig("production", {}, raw), /monitoring\.clusterMetricsApis = \["custom\.metrics\.k8s\.io"\]: says the cluster serves custom\.metrics\.k8s\.io, and the HPAs' .* need prometheus-adapter for it: two providers/);
    const plan = monitoringValues(monitoringInputs(loadConfig("production", { enableAutoscaling: true }))).plan;
    for (const api of METRICS_APIS) if (plan.needs[api].length > 0) assert.equal(plan.providers[api].length, 1, api);
  });

  it("sizes every container the charts run, and the summary counts them as the values say", () => {
    for (const env of ENVIRONMENT_NAMES) {
      const json = synthEnvironment(env, { enableAutoscaling: true });
      const kps = values(json, "kube-prometheus-stack");
      const workloads = chartWorkloads(monitoringValues(monitoringInputs(loadConfig(env, { enableAutoscaling: true }))));
      const byName = new Map(workloads.map((w) => [w.name, w]));
      const cpu = (r: Json) => r.requests.cpu;
      assert.deepEqual(byName.get("prometheus")!.containers.map((c) => c.name), ["prometheus", "config-reloader"]);
      assert.equal(cpu(kps.prometheus.prometheusSpec.resources), loadConfig(env).monitoring.prometheusResources.requests.cpu);
      for (const path of ["prometheusOperator.resources", "prometheusOperator.prometheusConfigReloader.resources", "kube-state-metrics.resources", "grafana.resources", "grafana.sidecar.resources"]) {
        const r = path.split(".").reduce((o: Json, k) => o?.[k], kps);
        assert.ok(r?.requests?.cpu && r?.requests?.memory && r?.limits?.cpu && r?.limits?.memory, `${env}: ${path}`);
      }
      if (release(json, "metrics-server")) assert.equal(byName.get("metrics-server")!.pods, values(json, "metrics-server").replicas);
    }
  });

  it("installs prometheus-adapter only when autoscaling is on, with rules for exactly the HPAs' metrics", () => {
    assert.equal(release(production, "prometheus-adapter"), undefined);
    const on = synthEnvironment("production", { enableAutoscaling: true });
    const adapter = release(on, "prometheus-adapter")!;
    assert.equal(adapter.version, "4.13.0");
    // After kube-prometheus-stack (the Prometheus it reads); the namespace's policies are
    // test/stacks/release-order.test.ts's.
    assert.deepEqual(
      (adapter.depends_on as string[]).filter((d) => d.startsWith("helm_release.")),
      [`helm_release.${Object.keys(resources(on, "helm_release")).find((k) => k.includes("kube-prometheus-stack"))}`],
    );
    const v = parse(adapter.values[0]);
    assert.equal(v.rules.default, false);
    assert.deepEqual(v.rules.custom.map((r: Json) => r.name.as), ["http_request_duration_seconds_p95", "http_requests_per_second", "queue_length"]);
    assert.equal(v.prometheus.url, "http://kps-prometheus.monitoring.svc");
  });

  it("serves CPU and memory only (no adapter) where the HPAs read nothing else", () => {
    const local = synthEnvironment("local", { enableAutoscaling: true });
    assert.equal(release(local, "prometheus-adapter"), undefined);
    // One HPA per Deployment of a service: two for a blue-green one.
    const deployments = loadConfig("local").services.reduce((n, s) => n + (s.release.strategy === "blue-green" ? 2 : 1), 0);
    assert.equal(Object.keys(resources(local, "kubernetes_horizontal_pod_autoscaler_v2")).length, deployments);
  });

  it("mounts the PagerDuty routing key from its Secret when PagerDuty is on", () => {
    const v = values(production, "kube-prometheus-stack");
    assert.deepEqual(v.alertmanager.alertmanagerSpec.secrets, ["pagerduty"]);
    assert.equal(v.alertmanager.config.receivers.find((r: Json) => r.name === "pagerduty").pagerduty_configs[0].routing_key_file, "/etc/alertmanager/secrets/pagerduty/routing-key");
  });

  it("fails when an HPA names a metric no adapter rule serves", () => {
    const config = loadConfig("production");
    assert.throws(
      () =>
        synthScope((scope) => {
          new Monitoring(scope, "m", {
            platformNamespace: { name: "agent-platform", literalName: "agent-platform" },
            namespace: "monitoring",
            environment: "production",
            settings: config.monitoring,
            hpaMetrics: ["queue_length", "gpu_utilization"],
            secretsMode: "existing",
            dns: config.dns,
            apiServer: DEFAULT_API_SERVER,
            nodeCidrs: DEFAULT_NODE_CIDRS,
          });
        }),
      /no prometheus-adapter rule serves gpu_utilization/,
    );
  });

  it("delivers JSON logging settings to every service", () => {
    for (const [json, config] of [[production, loadConfig("production")], [local, loadConfig("local")]] as const) {
      for (const { name } of config.services) {
        const data = named(json, "kubernetes_config_map_v1", `${name}-settings`).data;
        assert.equal(data.LOG_FORMAT, "json");
        assert.equal(data.LOG_LEVEL, config.logging.level);
        assert.equal(data.PLATFORM_CORRELATION_ID_HEADER, "X-Correlation-ID");
      }
    }
    assert.notEqual(loadConfig("local").logging.level, loadConfig("production").logging.level, "the environments differ, so the level is read per environment");
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Testing } from "cdktf";
import { parse } from "yaml";
import { Monitoring } from "../../constructs/monitoring";
import { type Json, loadConfig, named, rawEnvironment, resources, synthEnvironment } from "../helpers";

const release = (json: Json, chart: string) => Object.values(resources(json, "helm_release")).find((r) => r.chart === chart);
const values = (json: Json, chart: string) => parse(release(json, chart)!.values[0]);

describe("Monitoring", () => {
  const production = synthEnvironment("production");
  const local = synthEnvironment("local");

  it("installs kube-prometheus-stack from its pinned chart version", () => {
    const kps = release(production, "kube-prometheus-stack")!;
    assert.equal(kps.version, "67.8.0");
    assert.equal(kps.repository, "https://prometheus-community.github.io/helm-charts");
    assert.equal(kps.atomic, true);
  });

  it("scrapes every service and both exporters through ServiceMonitors the selectors pick up", () => {
    const v = values(production, "kube-prometheus-stack");
    assert.equal(v.prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues, false);
    assert.equal(v.prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues, false);
    const monitors = v.prometheus.additionalServiceMonitors as Json[];
    assert.deepEqual(monitors.map((m) => m.name), ["agent-platform-services", "agent-platform-redis", "agent-platform-postgres"]);
    // Each monitor selects Services that exist, on a port they name.
    const services = Object.values(resources(production, "kubernetes_service_v1"));
    for (const m of monitors) {
      const selected = services.filter((s) => Object.entries(m.selector.matchLabels).every(([k, val]) => s.metadata.labels[k] === val));
      assert.ok(selected.length > 0, m.name);
      for (const s of selected) assert.ok(s.spec.port.some((p: Json) => p.name === m.endpoints[0].port), `${m.name} -> ${s.metadata.name}`);
      assert.deepEqual(m.namespaceSelector, { matchNames: ["agent-platform"] });
    }
    assert.equal(monitors[0]!.endpoints[0].path, "/metrics");
  });

  it("delivers the alert rules and Alertmanager's routing through chart values in production", () => {
    const v = values(production, "kube-prometheus-stack");
    const rules = v.additionalPrometheusRulesMap["agent-platform"].groups.flatMap((g: Json) => g.rules.map((r: Json) => r.alert));
    assert.equal(rules.length, 9);
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

  it("takes Grafana's admin password from a Secret, never the chart's default", () => {
    assert.deepEqual(values(production, "kube-prometheus-stack").grafana.admin, {
      existingSecret: "grafana-admin",
      userKey: "admin-user",
      passwordKey: "admin-password",
    });
    assert.equal(named(local, "kubernetes_secret_v1", "grafana-admin").data["admin-password"], "${var.grafana_admin_password}");
  });

  it("provisions the six dashboards as ConfigMaps for Grafana's sidecar", () => {
    const v = values(production, "kube-prometheus-stack");
    assert.deepEqual(v.grafana.sidecar.dashboards, { enabled: true, label: "grafana_dashboard", labelValue: "1", searchNamespace: "ALL" });
    const maps = Object.values(resources(production, "kubernetes_config_map_v1")).filter((c) => c.metadata.labels.grafana_dashboard === "1");
    assert.equal(maps.length, 6);
    for (const m of maps) {
      const [file, json] = Object.entries(m.data as Record<string, string>)[0]!;
      assert.equal(JSON.parse(json).uid, file.replace(/\.json$/, ""));
    }
  });

  it("installs prometheus-adapter only when autoscaling is on, with rules for exactly the HPAs' metrics", () => {
    assert.equal(release(production, "prometheus-adapter"), undefined);
    const on = synthEnvironment("production", { enableAutoscaling: true });
    const adapter = release(on, "prometheus-adapter")!;
    assert.equal(adapter.version, "4.13.0");
    assert.deepEqual(adapter.depends_on, [`helm_release.${Object.keys(resources(on, "helm_release")).find((k) => k.includes("kube-prometheus-stack"))}`]);
    const v = parse(adapter.values[0]);
    assert.equal(v.rules.default, false);
    assert.deepEqual(v.rules.custom.map((r: Json) => r.name.as), ["http_request_duration_seconds_p95", "http_requests_per_second", "queue_length"]);
    assert.equal(v.prometheus.url, "http://kps-prometheus.monitoring.svc");
  });

  it("serves CPU and memory only (no adapter) where the HPAs read nothing else", () => {
    const local = synthEnvironment("local", { enableAutoscaling: true });
    assert.equal(release(local, "prometheus-adapter"), undefined);
    assert.equal(Object.keys(resources(local, "kubernetes_horizontal_pod_autoscaler_v2")).length, 5);
  });

  it("mounts the PagerDuty routing key from its Secret when PagerDuty is on", () => {
    const raw = rawEnvironment("production");
    raw.monitoring.pagerduty.enabled = true;
    const v = values(synthEnvironment("production", {}, raw), "kube-prometheus-stack");
    assert.deepEqual(v.alertmanager.alertmanagerSpec.secrets, ["pagerduty"]);
    assert.equal(v.alertmanager.config.receivers.find((r: Json) => r.name === "pagerduty").pagerduty_configs[0].routing_key_file, "/etc/alertmanager/secrets/pagerduty/routing-key");
  });

  it("fails when an HPA names a metric no adapter rule serves", () => {
    const config = loadConfig("production");
    assert.throws(
      () =>
        Testing.synthScope((scope) => {
          new Monitoring(scope, "m", {
            platformNamespace: { name: "agent-platform", literalName: "agent-platform" },
            namespace: "monitoring",
            environment: "production",
            settings: config.monitoring,
            hpaMetrics: ["queue_length", "gpu_utilization"],
            secretsMode: "existing",
          });
        }),
      /no prometheus-adapter rule serves gpu_utilization/,
    );
  });

  it("delivers JSON logging settings to every service", () => {
    for (const name of ["api-gateway", "web-dashboard"]) {
      const data = named(production, "kubernetes_config_map_v1", `${name}-settings`).data;
      assert.equal(data.LOG_FORMAT, "json");
      assert.equal(data.LOG_LEVEL, "info");
      assert.equal(data.PLATFORM_CORRELATION_ID_HEADER, "X-Correlation-ID");
    }
    assert.equal(named(local, "kubernetes_config_map_v1", "api-gateway-settings").data.LOG_LEVEL, "debug");
  });
});

import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, describe, it } from "node:test";
import { stringify } from "yaml";
import { alertmanagerConfig, alertmanagerSecrets } from "../../dashboards/alertmanager";
import { renderSummary } from "../../stacks/summary";
import { loadConfig, rawEnvironment } from "../helpers";
import { tool, writeFiles } from "./tools";

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function write(config: Record<string, unknown>): string {
  const dir = writeFiles({ "alertmanager.yaml": stringify(config) });
  dirs.push(dir);
  return dir;
}

const receiverFor = (dir: string, labels: string[]) => {
  const result = tool("amtool", ["config", "routes", "test", "--config.file=alertmanager.yaml", ...labels], dir);
  assert.equal(result.status, 0, result.output);
  return result.output.split("\n").filter((l) => l.trim() && !l.startsWith("Warning"))[0]!.trim();
};

describe("Alertmanager config", () => {
  const withPagerDuty = loadConfig("production").monitoring;
  const production = loadConfig("staging").monitoring;
  it("ships production paging PagerDuty, and staging without it only because its config says why", () => {
    assert.equal(withPagerDuty.pagerduty.enabled, true);
    assert.equal(production.pagerduty.enabled, false);
    assert.ok((production.criticalAlertsUnrouted ?? "").length >= 20);
  });

  it("passes amtool check-config, with and without PagerDuty", () => {
    for (const settings of [production, withPagerDuty]) {
      const result = tool("amtool", ["check-config", "alertmanager.yaml"], write(alertmanagerConfig(settings)));
      assert.equal(result.status, 0, result.output);
      assert.match(result.output, /SUCCESS/);
    }
  });

  it("routes critical alerts to PagerDuty when enabled, warnings to the default receiver", () => {
    const dir = write(alertmanagerConfig(withPagerDuty));
    assert.equal(receiverFor(dir, ["severity=critical", "alertname=AgentPlatformHighErrorRatio"]), "pagerduty");
    assert.equal(receiverFor(dir, ["severity=warning", "alertname=AgentPlatformHighLatencyP95"]), "default");
    assert.equal(receiverFor(dir, ["alertname=Watchdog", "severity=none"]), "null");
  });

  it("routes everything to the default receiver without PagerDuty (staging)", () => {
    const dir = write(alertmanagerConfig(production));
    assert.equal(receiverFor(dir, ["severity=critical", "alertname=AgentPlatformHighErrorRatio"]), "default");
  });

  it("reads the routing key from the mounted Secret file, never inline", () => {
    const config = alertmanagerConfig(withPagerDuty) as { receivers: { name: string; pagerduty_configs?: Record<string, unknown>[] }[] };
    const pd = config.receivers.find((r) => r.name === "pagerduty")!.pagerduty_configs![0]!;
    assert.equal(pd.routing_key_file, "/etc/alertmanager/secrets/pagerduty/routing-key");
    assert.equal(pd.routing_key, undefined);
    assert.equal(pd.service_key, undefined);
  });

  const toPagerDuty = { ...withPagerDuty, warnings: { to: "pagerduty" as const } };
  const toSlack = { ...withPagerDuty, warnings: { to: "slack" as const, webhookSecret: { name: "slack-webhook", key: "url" }, channel: "#platform-alerts" } };

  it("passes amtool check-config with warnings routed to PagerDuty or Slack", () => {
    for (const settings of [toPagerDuty, toSlack]) {
      const result = tool("amtool", ["check-config", "alertmanager.yaml"], write(alertmanagerConfig(settings)));
      assert.equal(result.status, 0, result.output);
    }
  });

  it("routes warnings to a receiver with an integration where monitoring.warnings says, critical alerts still to PagerDuty", () => {
    for (const settings of [toPagerDuty, toSlack]) {
      const dir = write(alertmanagerConfig(settings));
      assert.equal(receiverFor(dir, ["severity=warning", "alertname=AgentPlatformHighLatencyP95"]), "warnings");
      assert.equal(receiverFor(dir, ["severity=critical", "alertname=AgentPlatformHighErrorRatio"]), "pagerduty");
      assert.equal(receiverFor(dir, ["alertname=Watchdog", "severity=none"]), "null");
      const config = alertmanagerConfig(settings) as { receivers: { name: string; [k: string]: unknown }[] };
      const warnings = config.receivers.find((r) => r.name === "warnings")!;
      assert.ok(Object.keys(warnings).some((k) => k.endsWith("_configs")), "the warnings receiver has an integration");
    }
    const slack = (alertmanagerConfig(toSlack) as { receivers: { name: string; slack_configs?: Record<string, unknown>[] }[] }).receivers.find((r) => r.name === "warnings")!;
    assert.deepEqual(slack.slack_configs, [{ api_url_file: "/etc/alertmanager/secrets/slack-webhook/url", channel: "#platform-alerts", send_resolved: true }]);
    assert.deepEqual(alertmanagerSecrets(toSlack), ["pagerduty", "slack-webhook"]);
  });

  it("has no warnings receiver unless monitoring.warnings names one: the summary then says they go nowhere", () => {
    const config = alertmanagerConfig(withPagerDuty) as { receivers: { name: string }[] };
    assert.ok(!config.receivers.some((r) => r.name === "warnings"));
    assert.match(renderSummary([loadConfig("production")]), /warning alerts: nowhere: no receiver with an integration takes them/);
    const raw = rawEnvironment("production");
    raw.monitoring.warnings = toSlack.warnings;
    assert.match(renderSummary([loadConfig("production", {}, raw)]), /warning alerts: Slack #platform-alerts \(webhook URL from Secret monitoring\/slack-webhook, key url\)/);
  });

  it("amtool rejects a broken config (the check can fail)", () => {
    const result = tool("amtool", ["check-config", "alertmanager.yaml"], write({ route: { receiver: "missing" }, receivers: [{ name: "default" }] }));
    assert.notEqual(result.status, 0);
  });
});

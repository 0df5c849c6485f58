import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, describe, it } from "node:test";
import { stringify } from "yaml";
import { alertmanagerConfig } from "../../dashboards/alertmanager";
import { loadConfig } from "../helpers";
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

  it("amtool rejects a broken config (the check can fail)", () => {
    const result = tool("amtool", ["check-config", "alertmanager.yaml"], write({ route: { receiver: "missing" }, receivers: [{ name: "default" }] }));
    assert.notEqual(result.status, 0);
  });
});

/**
 * The monitoring configuration as plain files, for the tools that check it (promtool, amtool) and
 * for humans: written beside the stacks at `cdktf.out/monitoring/<environment>/` on every synth.
 * The same objects go into the Helm values, so what is checked is what is deployed.
 */
import type { PlatformConfig } from "../config/load";
import { toYaml } from "../constructs/yaml";
import { alertmanagerConfig } from "./alertmanager";
import { alertRuleGroups } from "./alerts";
import { toGrafanaJson } from "./common";
import { platformDashboards } from "./dashboards";

/** File path (relative to the environment's folder) → content. */
export function monitoringFiles(config: PlatformConfig): Record<string, string> {
  const files: Record<string, string> = {};
  const m = config.monitoring;
  if (m.alerting) {
    files["prometheus-rules.yaml"] = toYaml({
      groups: alertRuleGroups({ namespace: config.namespace, thresholds: m.thresholds, runbookBaseUrl: m.runbookBaseUrl }),
    });
    files["alertmanager.yaml"] = toYaml(alertmanagerConfig(m));
  }
  const ctx = { namespace: config.namespace, environment: config.environment };
  for (const dashboard of platformDashboards(ctx)) {
    files[`dashboards/${dashboard.uid}.json`] = `${JSON.stringify(toGrafanaJson(dashboard, ctx), null, 2)}\n`;
  }
  return files;
}

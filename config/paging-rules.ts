/**
 * Who is paged. Production always pages someone: alerting on and critical alerts routed to
 * PagerDuty. Staging may opt out of either, with a reason (`monitoring.criticalAlertsUnrouted`,
 * which the summary prints); local needs none. Warnings go where `monitoring.warnings` says, or
 * the summary says plainly that they go nowhere.
 */
import { type ConfigProblem, problemAt } from "./errors";
import type { PlatformConfig } from "./types";

export function pagingProblems(config: PlatformConfig, source: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (field: string, value: unknown, rule: string) => problems.push(problemAt(source, field, value, rule));
  const m = config.monitoring;
  if (config.environment === "production") {
    if (!m.alerting) add("monitoring.alerting", false, "must be true in production: production always pages someone (no Alertmanager means no alert reaches anybody)");
    else if (!m.pagerduty.enabled)
      add(
        "monitoring.pagerduty.enabled",
        false,
        `must be true in production: a critical alert must page someone${m.criticalAlertsUnrouted !== undefined ? " (monitoring.criticalAlertsUnrouted is for staging; production cannot opt out)" : ""}`,
      );
  }
  if (config.environment === "staging" && !m.alerting && m.criticalAlertsUnrouted === undefined)
    add("monitoring.alerting", false, "turns alerting off in staging without a reason: say why nobody needs staging's alerts in monitoring.criticalAlertsUnrouted (the summary prints it)");
  if (m.warnings?.to === "pagerduty" && !m.pagerduty.enabled)
    add("monitoring.warnings.to", "pagerduty", "needs pagerduty.enabled: warnings go to the same PagerDuty service as critical alerts");
  if (m.warnings && !m.alerting) add("monitoring.warnings", m.warnings, "needs alerting: true: without Alertmanager no warning is sent anywhere");
  return problems;
}

/**
 * Alertmanager routing: everything is grouped per alert and service; critical alerts go to
 * PagerDuty when it is enabled; warnings go where `monitoring.warnings` says (PagerDuty with
 * severity warning, or a Slack channel); everything else to the default receiver, which has no
 * integration (visible in the Alertmanager UI and Grafana only: the summary says so). The
 * PagerDuty routing key and the Slack webhook URL are read from files mounted from Secrets
 * (`routing_key_file`, `api_url_file`), so neither enters the JSON or Terraform state.
 * @see https://prometheus.io/docs/alerting/latest/configuration/
 */
import type { MonitoringSettings } from "../config/schema";

/** Where kube-prometheus-stack mounts `alertmanager.alertmanagerSpec.secrets`. */
export const ALERTMANAGER_SECRETS_DIR = "/etc/alertmanager/secrets";

/** The Secrets Alertmanager mounts (kube-prometheus-stack `alertmanagerSpec.secrets`). */
export function alertmanagerSecrets(monitoring: Pick<MonitoringSettings, "pagerduty" | "warnings">): string[] {
  const names = [
    ...(monitoring.pagerduty.enabled && monitoring.pagerduty.routingKeySecret ? [monitoring.pagerduty.routingKeySecret.name] : []),
    ...(monitoring.warnings?.to === "slack" ? [monitoring.warnings.webhookSecret.name] : []),
  ];
  return [...new Set(names)];
}

export function alertmanagerConfig(monitoring: Pick<MonitoringSettings, "pagerduty" | "warnings">): Record<string, unknown> {
  const pd = monitoring.pagerduty.enabled ? monitoring.pagerduty.routingKeySecret : undefined;
  const receivers: Record<string, unknown>[] = [{ name: "default" }];
  const routes: Record<string, unknown>[] = [
    // The operator's own heartbeat: always firing by design, never worth a notification.
    { receiver: "null", matchers: ['alertname="Watchdog"'] },
  ];
  receivers.push({ name: "null" });
  if (pd) {
    receivers.push({
      name: "pagerduty",
      pagerduty_configs: [
        {
          routing_key_file: `${ALERTMANAGER_SECRETS_DIR}/${pd.name}/${pd.key}`,
          send_resolved: true,
          severity: "critical",
        },
      ],
    });
    routes.push({ receiver: "pagerduty", matchers: ['severity="critical"'], continue: false });
  }
  const warnings = monitoring.warnings;
  if (warnings?.to === "pagerduty" && pd) {
    receivers.push({
      name: "warnings",
      pagerduty_configs: [{ routing_key_file: `${ALERTMANAGER_SECRETS_DIR}/${pd.name}/${pd.key}`, send_resolved: true, severity: "warning" }],
    });
  } else if (warnings?.to === "slack") {
    receivers.push({
      name: "warnings",
      slack_configs: [{ api_url_file: `${ALERTMANAGER_SECRETS_DIR}/${warnings.webhookSecret.name}/${warnings.webhookSecret.key}`, channel: warnings.channel, send_resolved: true }],
    });
  }
  if (receivers.some((r) => r.name === "warnings")) routes.push({ receiver: "warnings", matchers: ['severity="warning"'], continue: false });
  return {
    route: {
      receiver: "default",
      group_by: ["alertname", "namespace", "service"],
      group_wait: "30s",
      group_interval: "5m",
      repeat_interval: "4h",
      routes,
    },
    // A critical alert silences the warnings of the same alert and service.
    inhibit_rules: [
      { source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ["alertname", "namespace", "service"] },
    ],
    receivers,
  };
}

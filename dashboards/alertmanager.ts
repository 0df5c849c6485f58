/**
 * Alertmanager routing: everything is grouped per alert and service; critical alerts go to
 * PagerDuty when it is enabled, everything else to the default receiver (visible in the
 * Alertmanager UI and Grafana). The PagerDuty routing key is read from a file mounted from a
 * Secret (`routing_key_file`), so the key never enters the JSON or Terraform state.
 * @see https://prometheus.io/docs/alerting/latest/configuration/
 */
import type { MonitoringSettings } from "../config/schema";

/** Where kube-prometheus-stack mounts `alertmanager.alertmanagerSpec.secrets`. */
export const ALERTMANAGER_SECRETS_DIR = "/etc/alertmanager/secrets";

export function alertmanagerConfig(monitoring: Pick<MonitoringSettings, "pagerduty">): Record<string, unknown> {
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

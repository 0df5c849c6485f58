/**
 * Shared building blocks of the Grafana dashboards: panel defaults, variables, query helpers.
 * A dashboard is a function of typed config returning Grafana's dashboard JSON model.
 * @see https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/
 */
import { type MonitoredDatabase, promString } from "./selectors";

export interface Target {
  readonly expr: string;
  readonly legend: string;
}

export interface Panel {
  readonly type: "timeseries" | "stat";
  readonly title: string;
  readonly unit: string;
  readonly targets: readonly Target[];
  /** Grafana grid units: 24 wide. */
  readonly width: number;
  readonly height: number;
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
}

export interface DashboardContext {
  /** The platform's namespace: every query is scoped to it. */
  readonly namespace: string;
  readonly environment: string;
  /**
   * PgBouncer runs: the database dashboard gets its pool-statistics row.
   * @default false
   */
  readonly pooler?: boolean;
  /**
   * The database: a CloudNativePG cluster gets the database dashboard (replication, failover,
   * archiving and backups).
   * @default the StatefulSet
   */
  readonly database?: MonitoredDatabase;
}

/** Matchers for the platform's namespace and the dashboard's `$service` variable. */
export const svc = (ctx: DashboardContext): string => `namespace=${promString(ctx.namespace)},service=~"$service"`;
/** Matchers for kube-state-metrics and cAdvisor series, which carry pod and container labels. */
export const ns = (ctx: DashboardContext): string => `namespace=${promString(ctx.namespace)}`;
/** Grafana's rate window: at least four scrape intervals. */
export const RATE = "$__rate_interval";

export const timeseries = (title: string, unit: string, targets: Target[], width = 12, height = 8): Panel => ({
  type: "timeseries",
  title,
  unit,
  targets,
  width,
  height,
});

/** Grafana's JSON model for a dashboard, with the `$service` variable and fixed uid. */
export function toGrafanaJson(dashboard: Dashboard, ctx: DashboardContext): Record<string, unknown> {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  const panels = dashboard.panels.map((panel, i) => {
    if (x + panel.width > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const gridPos = { x, y, w: panel.width, h: panel.height };
    x += panel.width;
    rowHeight = Math.max(rowHeight, panel.height);
    return {
      id: i + 1,
      type: panel.type,
      title: panel.title,
      datasource: { type: "prometheus", uid: "${datasource}" },
      gridPos,
      fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
      options: { legend: { displayMode: "table", placement: "bottom", calcs: ["lastNotNull", "max"] }, tooltip: { mode: "multi" } },
      targets: panel.targets.map((t, j) => ({ refId: String.fromCharCode(65 + j), expr: t.expr, legendFormat: t.legend })),
    };
  });
  return {
    uid: dashboard.uid,
    title: dashboard.title,
    tags: ["agent-platform", ctx.environment],
    timezone: "utc",
    schemaVersion: 39,
    version: 1,
    editable: false,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    templating: {
      list: [
        { name: "datasource", type: "datasource", query: "prometheus", current: { text: "Prometheus", value: "prometheus" } },
        {
          name: "service",
          type: "query",
          datasource: { type: "prometheus", uid: "${datasource}" },
          query: { query: `label_values(up{${ns(ctx)}}, service)`, refId: "service" },
          includeAll: true,
          multi: true,
          current: { text: "All", value: "$__all" },
          refresh: 2,
        },
      ],
    },
    panels,
  };
}

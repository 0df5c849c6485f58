/**
 * Mutation runs: `E2E_MUTATE=<name>` plants one deliberate defect in every copy of the synthesized
 * stack the run applies or reads, as if a construct had rendered it, and the run stops at the first
 * failed check (`E2E_FAIL_FAST`), saying whether it is the check meant to catch that defect. The
 * scenarios take their expectations from the config, never from the stack, so a defect in the
 * stack must show as a difference between what the controllers do and what the config says.
 *
 *   E2E_MUTATE=hpa-target E2E_STACKS=production/autoscaling-on:scaling npm run e2e
 *   E2E_MUTATE=adapter-unit E2E_STACKS=production/autoscaling-on:custom-metrics npm run e2e
 *   E2E_MUTATE=pdb E2E_STACKS=production/autoscaling-on:drain npm run e2e
 *
 * Every one of them must exit 1 (docs/validation.md lists what each run printed).
 */
import { parse, stringify } from "yaml";
import { unescapeLiteral } from "../../constructs/terraform-text-plain";

type Json = Record<string, any>;

/** One planted defect. */
export interface Mutation {
  /** What the defect is, in the words of the issue it stands for. */
  readonly summary: string;
  /** The scenario selection that shows it soonest. */
  readonly stacks: string;
  /** The check (its name, as the run prints it) that must be the first to fail. */
  readonly caughtBy: RegExp;
  /** Changes the stack in place; returns what was changed, or throws when the stack has nothing to change. */
  apply(stack: Json): string;
}

const entries = (stack: Json, type: string): [string, Json][] => Object.entries((stack.resource?.[type] ?? {}) as Record<string, Json>).sort(([a], [b]) => a.localeCompare(b));

/** A Helm release's values document, parsed, changed and written back (Terraform's template escapes kept). */
function editReleaseValues(stack: Json, chart: string, edit: (values: Json) => string): string {
  const release = entries(stack, "helm_release").find(([, r]) => String(r.chart).endsWith(chart) || r.name === chart)?.[1];
  if (!release) throw new Error(`the stack has no ${chart} release to mutate`);
  const text = unescapeLiteral(String(release.values[0]));
  const values = parse(text) as Json;
  const what = edit(values);
  release.values = [stringify(values).replace(/\$\{/g, "$${").replace(/%\{/g, "%%{"), ...release.values.slice(1)];
  return what;
}

/** The adapter's rule that serves `metric`. */
function adapterRule(values: Json, metric: string): Json {
  const rule = ((values.rules?.custom ?? []) as Json[]).find((r) => r.name?.as === metric);
  if (!rule) throw new Error(`the prometheus-adapter values have no rule serving ${metric}`);
  return rule;
}

export const MUTATIONS: Readonly<Record<string, Mutation>> = {
  "adapter-name": {
    summary: "an adapter rule that names its metric wrong (queue_length served as queue_length_items)",
    stacks: "production/autoscaling-on:custom-metrics",
    caughtBy: /every HPA reads every one of its metrics/,
    apply: (stack) =>
      editReleaseValues(stack, "prometheus-adapter", (values) => {
        adapterRule(values, "queue_length").name.as = "queue_length_items";
        return "prometheus-adapter rule queue_length: name.as queue_length_items";
      }),
  },
  "adapter-labels": {
    summary: "an adapter rule that drops the pod label (http_requests_per_second attributed to namespaces only)",
    stacks: "production/autoscaling-on:custom-metrics",
    caughtBy: /every HPA reads every one of its metrics/,
    apply: (stack) =>
      editReleaseValues(stack, "prometheus-adapter", (values) => {
        delete adapterRule(values, "http_requests_per_second").resources.overrides.pod;
        return "prometheus-adapter rule http_requests_per_second: resources.overrides.pod removed";
      }),
  },
  "adapter-unit": {
    summary: "an adapter rule in the wrong unit (http_requests_per_second as requests per 2 minutes: increase instead of rate)",
    stacks: "production/autoscaling-on:custom-metrics",
    caughtBy: /http_requests_per_second|web-dashboard/,
    apply: (stack) =>
      editReleaseValues(stack, "prometheus-adapter", (values) => {
        const rule = adapterRule(values, "http_requests_per_second");
        if (!/rate\(/.test(rule.metricsQuery)) throw new Error(`the http_requests_per_second rule has no rate(): ${rule.metricsQuery}`);
        rule.metricsQuery = String(rule.metricsQuery).replace("rate(", "increase(");
        return `prometheus-adapter rule http_requests_per_second: metricsQuery ${rule.metricsQuery}`;
      }),
  },
  "hpa-target": {
    summary: "an HPA whose CPU target is not the configured one (+15 points on the first HPA)",
    stacks: "production/autoscaling-on:scaling",
    caughtBy: /CPU to \d+: replicas step/,
    apply: (stack) => {
      const [id, hpa] = entries(stack, "kubernetes_horizontal_pod_autoscaler_v2")[0] ?? [];
      const cpu = ((hpa?.spec.metric ?? []) as Json[]).find((m) => m.type === "Resource" && m.resource?.name === "cpu");
      if (!cpu) throw new Error("the stack has no HPA with a CPU target to mutate");
      const before = cpu.resource.target.average_utilization as number;
      cpu.resource.target.average_utilization = before + 15;
      return `${id}: CPU averageUtilization ${before} → ${before + 15}`;
    },
  },
  pdb: {
    summary: "a PodDisruptionBudget that blocks every drain (minAvailable 100% on the first service's)",
    stacks: "production/autoscaling-on:drain",
    caughtBy: /drain .*: completes within/,
    apply: (stack) => {
      const [id, pdb] = entries(stack, "kubernetes_pod_disruption_budget_v1").find(([, p]) => p.spec.selector?.match_labels?.["app.kubernetes.io/name"] !== undefined) ?? [];
      if (!pdb) throw new Error("the stack has no PodDisruptionBudget to mutate");
      const before = JSON.stringify({ min_available: pdb.spec.min_available, max_unavailable: pdb.spec.max_unavailable });
      delete pdb.spec.max_unavailable;
      pdb.spec.min_available = "100%";
      return `${id}: ${before} → {"min_available":"100%"}`;
    },
  },
};

/** The mutation E2E_MUTATE names, if any; an unknown name is an error naming the known ones. */
export function chosenMutation(env: NodeJS.ProcessEnv): { name: string; mutation: Mutation } | undefined {
  const name = env.E2E_MUTATE?.trim();
  if (!name) return undefined;
  const mutation = MUTATIONS[name];
  if (!mutation) throw new Error(`E2E_MUTATE: unknown mutation ${JSON.stringify(name)}; known: ${Object.keys(MUTATIONS).join(", ")}`);
  return { name, mutation };
}

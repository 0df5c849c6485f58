/**
 * The policy gate's pod-level rules (stacks/policy.ts) on the workloads the charts render: each
 * Deployment, DaemonSet, StatefulSet and Job in the provider's shape the gate reads, with the
 * declared chart suppressions (constructs/chart-suppressions.ts) applied, stale ones reported.
 */
import { CHART_SUPPRESSIONS, type ChartSuppression } from "../../constructs/chart-suppressions";
import { podTemplateFindings, type PolicyRuleId } from "../../stacks/policy";
import type { Json, RenderedObject } from "./helm";

/** Kubernetes' list names that the provider spells as repeated singular blocks. */
const SINGULAR: Record<string, string> = {
  containers: "container",
  initContainers: "init_container",
  volumes: "volume",
  volumeMounts: "volume_mount",
  ports: "port",
  topologySpreadConstraints: "topology_spread_constraint",
};
const TEXT_MAPS = new Set(["labels", "annotations", "matchLabels", "nodeSelector", "data"]);
const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A Kubernetes object in the provider's shape: snake_case keys, singular block names. */
export function providerShape(value: unknown, key = ""): unknown {
  if (Array.isArray(value)) return value.map((v) => providerShape(v, key));
  if (value && typeof value === "object") {
    if (TEXT_MAPS.has(key)) return { ...(value as Json) };
    return Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [SINGULAR[k] ?? snake(k), providerShape(v, k)]));
  }
  return value;
}

const TYPES: Record<string, string> = {
  Deployment: "kubernetes_deployment_v1",
  DaemonSet: "kubernetes_daemon_set_v1",
  StatefulSet: "kubernetes_stateful_set_v1",
  Job: "kubernetes_job_v1",
};

export interface WorkloadFinding {
  readonly release: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly rule: PolicyRuleId;
  readonly detail: string;
  readonly source: string;
}

/** Every pod-level finding on a release's rendered workloads. */
export function workloadFindings(release: string, objects: readonly RenderedObject[]): WorkloadFinding[] {
  const out: WorkloadFinding[] = [];
  for (const o of objects.filter((x) => x.kind in TYPES)) {
    const body = providerShape({ metadata: o.metadata, spec: o.spec }) as Json;
    for (const f of podTemplateFindings({ type: TYPES[o.kind]!, id: o.metadata.name, body })) {
      out.push({ release, kind: o.kind, namespace: String(o.metadata.namespace), name: o.metadata.name, ...f, source: (o as { source?: string }).source ?? "" });
    }
  }
  return out;
}

const matches = (s: ChartSuppression, f: WorkloadFinding) => s.release === f.release && s.kind === f.kind && s.name === f.name && s.rule === f.rule;

/** Findings split by the declared suppressions; suppressions of this release that excused nothing. */
export function applySuppressions(release: string, findings: readonly WorkloadFinding[], rendered: readonly RenderedObject[]): { violations: WorkloadFinding[]; suppressed: WorkloadFinding[]; stale: ChartSuppression[] } {
  const violations = findings.filter((f) => !CHART_SUPPRESSIONS.some((s) => matches(s, f)));
  const suppressed = findings.filter((f) => CHART_SUPPRESSIONS.some((s) => matches(s, f)));
  // A suppression is stale when its workload is rendered and the rule passes there.
  const stale = CHART_SUPPRESSIONS.filter(
    (s) => s.release === release && rendered.some((o) => o.kind === s.kind && o.metadata.name === s.name) && !findings.some((f) => matches(s, f)),
  );
  return { violations, suppressed, stale };
}

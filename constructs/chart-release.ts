import { Release } from "@cdktf/provider-helm/lib/release";
import type { ITerraformDependable } from "cdktf";
import type { Construct } from "constructs";
import { literal } from "./terraform-text";
import { toYaml } from "./yaml";

/** A pinned chart: where it comes from and which version (config/versions.ts, CHARTS). */
export interface PinnedChart {
  readonly repository: string;
  readonly chart: string;
  readonly version: string;
}

export interface ChartReleaseProps {
  readonly name: string;
  readonly namespace: string;
  readonly chart: PinnedChart;
  /** The values document, rendered as YAML (literal text: never a Terraform template). */
  readonly values: Record<string, unknown>;
  /** @default 600 */
  readonly timeoutSeconds?: number;
  /**
   * Helm waits for the release's workloads and rolls back a failed install or upgrade. Off only for
   * a chart whose objects Helm cannot judge ready (custom resources reconciled by an operator).
   * @default true
   */
  readonly waitForReady?: boolean;
  readonly dependsOn?: ITerraformDependable[];
}

/** Every Helm release of the stacks: pinned chart, values as literal YAML, five revisions kept. */
export function chartRelease(scope: Construct, id: string, props: ChartReleaseProps): Release {
  const wait = props.waitForReady ?? true;
  return new Release(scope, id, {
    name: props.name,
    namespace: props.namespace,
    repository: props.chart.repository,
    chart: props.chart.chart,
    version: props.chart.version,
    values: [literal(toYaml(props.values))],
    atomic: wait,
    cleanupOnFail: wait,
    wait,
    timeout: props.timeoutSeconds ?? 600,
    maxHistory: 5,
    dependsOn: props.dependsOn,
  });
}

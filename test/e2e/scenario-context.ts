/**
 * What every scenario of the end-to-end run (scaling, custom metrics, drains, node failure) is
 * given by run.ts, and what it reports back for the per-stack table.
 */
import type { PlatformConfig } from "../../config/load";
import type { ControlPlane } from "./control-plane";
import type { Observer } from "./observe";

type Json = Record<string, any>;

/** The scenarios one stack can run after its apply; E2E_SCENARIOS and E2E_STACKS select them. */
export const SCENARIOS = ["scaling", "custom-metrics", "drain", "node-failure"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** run.ts's reporter: one line per check. */
export interface Checks {
  check(stack: string, name: string, ok: boolean, detail?: string): boolean;
  note(text: string): void;
}

/** Programs the scenarios run on the host; absent ones make their part skip, with a message. */
export interface HostTools {
  readonly metricsServer?: string;
  readonly prometheus?: string;
  readonly prometheusAdapter?: string;
  readonly kubectl?: string;
}

export interface ScenarioContext {
  readonly cp: ControlPlane;
  readonly report: Checks;
  /** `production/autoscaling-on`. */
  readonly label: string;
  readonly config: PlatformConfig;
  /** The synthesized stack, Helm releases included (their values are read, never applied here). */
  readonly stack: Json;
  /** The platform's namespace. */
  readonly namespace: string;
  /** A working directory for this stack's scenarios. */
  readonly dir: string;
  readonly tools: HostTools;
  readonly scenarios: ReadonlySet<ScenarioName>;
  readonly observer: Observer;
  /** `terraform plan -detailed-exitcode` on the applied copy: 0 no changes, 2 changes. */
  plan(): { readonly code: number; readonly detail: string };
}

/** One row of a stack's scaling table. */
export interface ScalingRow {
  readonly workload: string;
  readonly min: number;
  readonly max: number;
  /** Highest replica count seen during the run. */
  readonly reached: number;
  /** What drove each scale-up, in order (from the HPA's SuccessfulRescale events). */
  readonly drivers: readonly string[];
  readonly upSeconds?: number;
  readonly downSeconds?: number;
  readonly customUpSeconds?: number;
  readonly customDownSeconds?: number;
  readonly customDrivers: readonly string[];
}

export interface DrainRow {
  readonly node: string;
  readonly evictions: number;
  readonly seconds: number;
  /** The workload closest to its budget's minimum during the drain: `api-gateway-blue 9/10`. */
  readonly lowest: string;
}

export interface NodeFailureRow {
  readonly node: string;
  readonly pods: number;
  /** Seconds from the failure to every Deployment fully ready elsewhere. */
  readonly statelessSeconds?: number;
  /** Seconds from the failure to every StatefulSet pod ready elsewhere. */
  readonly dataTierSeconds?: number;
}

/** What the scenarios of one stack report, for the table run.ts prints and docs/validation.md shows. */
export interface StackScenarioReport {
  readonly label: string;
  readonly scaling: ScalingRow[];
  readonly drains: DrainRow[];
  nodeFailure?: NodeFailureRow;
  /** Peak: pods, and quota use as the API server reports it. */
  peak?: string;
  seconds: number;
  readonly skipped: string[];
}

/**
 * How the platform's Deployments roll and spread, the same for every one of them; the capacity
 * model (config/capacity.ts) counts the surge this allows.
 */
import { ROLLING_MAX_SURGE_PERCENT } from "../config/sizes";

/** Surge first, never drop below the current count: a rollout never reduces capacity. */
export function surgeOnlyRollingUpdate() {
  return { type: "RollingUpdate", rollingUpdate: { maxSurge: `${ROLLING_MAX_SURGE_PERCENT}%`, maxUnavailable: "0" } };
}

/**
 * Spread across hostnames and zones, softly (`ScheduleAnyway`): a single-node cluster and an
 * uneven node pool still schedule; hard spreading is the cluster owners' capacity decision.
 */
export function spreadOverNodesAndZones(selector: Record<string, string>) {
  return ["kubernetes.io/hostname", "topology.kubernetes.io/zone"].map((topologyKey) => ({
    maxSkew: 1,
    topologyKey,
    whenUnsatisfiable: "ScheduleAnyway",
    labelSelector: [{ matchLabels: selector }],
  }));
}

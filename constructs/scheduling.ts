/**
 * How the platform's Deployments roll, spread and leave a failed node, the same for every one of
 * them; the capacity model (config/capacity.ts) counts the surge this allows.
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

/**
 * Seconds a stateless pod stays bound to a node that stopped being Ready (its kubelet reports
 * NotReady, or stopped reporting at all) before the node lifecycle controller evicts it. The
 * cluster default is 300 s (the DefaultTolerationSeconds admission plugin); docs/design.md,
 * "Node failure", says why 30 s suits the services and PgBouncer and why the data tier keeps 300 s.
 */
export const STATELESS_NODE_FAILURE_TOLERATION_SECONDS = 30;

/**
 * Tolerations of the two taints a failed node gets, `not-ready` and `unreachable`, for `seconds`
 * (NoExecute: the pod is evicted once they pass).
 * @see https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions
 */
export function nodeFailureTolerations(seconds: number = STATELESS_NODE_FAILURE_TOLERATION_SECONDS) {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > 3600) {
    throw new Error(`'nodeFailureTolerationSeconds' (${seconds}) must be a whole number of seconds from 0 to 3600`);
  }
  return ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"].map((key) => ({
    key,
    operator: "Exists",
    effect: "NoExecute",
    tolerationSeconds: String(seconds),
  }));
}

/**
 * The destroy guard: reads a saved plan as `terraform show -json <plan>` prints it (stdin) and
 * refuses it when it deletes or replaces anything that holds data, unless the operator named that
 * exact address. scripts/deploy.sh runs it on every plan before applying it.
 *
 *   terraform show -json release.tfplan | node dist/scripts/plan-guard.js [--allow-destroy=<address> ...] [--allow-unused]
 *
 * Holds data:
 * - by type: namespaces (deleting one deletes every volume claim and Secret in it), StatefulSets,
 *   PersistentVolumeClaims and PersistentVolumes, and Secrets (a Secret in the plan is one the
 *   platform owns: Terraform manages it);
 * - by mark: every address in the stack's output `data_bearing_resources`
 *   (constructs/data-bearing.ts), read from the configuration, the planned outputs and the
 *   output's value before this plan, so a resource removed from the config in this very plan is
 *   still known as protected.
 *
 * Deletes or replaces: the change's actions include `delete` (`["delete"]`, `["delete","create"]`,
 * `["create","delete"]`), for current and deposed objects alike. `forget` (a `removed` block that
 * keeps the object) is not a deletion.
 *
 * `--allow-destroy=<address>` (repeatable) lets exactly that address go. An allowance that matches
 * nothing this plan deletes is refused too (a typo must not pass silently, nor a stale flag stay
 * in a pipeline), except with `--allow-unused`, for a follow-up plan of the same run.
 *
 * Exit status: 0 accepted, 1 refused, 2 the input or the arguments are unusable.
 * @see https://developer.hashicorp.com/terraform/internals/json-format#change-representation
 */
import { readFileSync } from "node:fs";
import { terminalSafe } from "../config/text";
import { DATA_BEARING_OUTPUT, TERRAFORM_ADDRESS } from "../config/terraform-names";

type Json = Record<string, any>;

/** Resource types whose deletion loses data whatever the stack says, and what goes with them. */
export const DATA_TYPES: Readonly<Record<string, string>> = {
  kubernetes_namespace_v1: "a namespace: every volume claim and Secret in it is deleted with it",
  kubernetes_namespace: "a namespace: every volume claim and Secret in it is deleted with it",
  kubernetes_stateful_set_v1: "a StatefulSet",
  kubernetes_stateful_set: "a StatefulSet",
  kubernetes_persistent_volume_claim_v1: "a PersistentVolumeClaim",
  kubernetes_persistent_volume_claim: "a PersistentVolumeClaim",
  kubernetes_persistent_volume_v1: "a PersistentVolume",
  kubernetes_persistent_volume: "a PersistentVolume",
  kubernetes_secret_v1: "a Secret the platform owns",
  kubernetes_secret: "a Secret the platform owns",
};

/** One deletion or replacement of something that holds data. */
export interface GuardedChange {
  readonly address: string;
  /** `delete`, `replace (delete, then create)`, `replace (create, then delete)`. */
  readonly action: string;
  /** The Kubernetes name (and namespace) of the object, when the plan shows one. */
  readonly object?: string;
  /** Why it is guarded: its type, its mark, or both. */
  readonly why: string;
}

export interface GuardVerdict {
  /** Guarded changes no allowance names. */
  readonly refused: readonly GuardedChange[];
  /** Guarded changes an allowance names. */
  readonly allowed: readonly GuardedChange[];
  /** Allowances that name no guarded change of this plan. */
  readonly unused: readonly string[];
  /** The data-bearing addresses the plan records. */
  readonly dataBearing: readonly string[];
}

/**
 * The addresses recorded as data-bearing: in the plan's configuration and planned outputs (this
 * config), and in the output's value before the plan (the last apply). The last one is read from
 * `output_changes`: the plan's `prior_state` holds outputs re-evaluated against the new config
 * during refresh, so a resource removed in this plan is already gone from it there.
 */
export function dataBearingAddresses(plan: Json): string[] {
  const output = (container: Json | undefined) => container?.[DATA_BEARING_OUTPUT];
  const lists: unknown[] = [
    output(plan.configuration?.root_module?.outputs)?.expression?.constant_value,
    output(plan.planned_values?.outputs)?.value,
    output(plan.output_changes)?.before,
    output(plan.output_changes)?.after,
    output(plan.prior_state?.values?.outputs)?.value,
  ];
  const found = new Set<string>();
  for (const list of lists) if (Array.isArray(list)) for (const a of list) if (typeof a === "string") found.add(a);
  return [...found].sort();
}

function describeActions(actions: readonly string[]): string {
  if (actions.length === 1) return actions[0]!;
  if (actions[0] === "delete") return "replace (delete, then create)";
  if (actions[0] === "create") return "replace (create, then delete)";
  return actions.join("+");
}

function objectName(change: Json): string | undefined {
  const metadata = change.before?.metadata?.[0] ?? change.after?.metadata?.[0];
  if (typeof metadata?.name === "string" && metadata.name !== "") {
    return typeof metadata.namespace === "string" && metadata.namespace !== "" ? `${metadata.namespace}/${metadata.name}` : metadata.name;
  }
  // helm_release
  const name = change.before?.name ?? change.after?.name;
  const namespace = change.before?.namespace ?? change.after?.namespace;
  if (typeof name === "string" && name !== "") return typeof namespace === "string" && namespace !== "" ? `${namespace}/${name}` : name;
  return undefined;
}

/** Judges a plan (the parsed output of `terraform show -json <plan>`). */
export function judgePlan(plan: Json, allowDestroy: readonly string[]): GuardVerdict {
  const marked = new Set(dataBearingAddresses(plan));
  const allow = new Set(allowDestroy);
  const guarded: GuardedChange[] = [];
  for (const change of (plan.resource_changes ?? []) as Json[]) {
    const actions = (change.change?.actions ?? []) as string[];
    if (change.mode === "data" || !actions.includes("delete")) continue;
    const address = String(change.address);
    const reasons = [DATA_TYPES[change.type], marked.has(address) ? "marked data-bearing by the stack" : undefined].filter(Boolean);
    if (reasons.length === 0) continue;
    const object = objectName(change.change ?? {});
    guarded.push({
      address,
      action: `${describeActions(actions)}${change.deposed ? ` (deposed object ${change.deposed})` : ""}`,
      ...(object ? { object } : {}),
      why: reasons.join("; "),
    });
  }
  const named = new Set(guarded.map((g) => g.address));
  return {
    refused: guarded.filter((g) => !allow.has(g.address)),
    allowed: guarded.filter((g) => allow.has(g.address)),
    unused: [...allow].filter((a) => !named.has(a)).sort(),
    dataBearing: [...marked],
  };
}

const line = (g: GuardedChange) => `  ${terminalSafe(g.address, 200)}${g.object ? ` (${terminalSafe(g.object, 200)})` : ""}: ${g.action} — ${g.why}`;

/** The guard's report: what stdout or stderr shows, and the exit status. */
export function renderVerdict(verdict: GuardVerdict, options: { allowUnused: boolean }): { status: number; stdout: string; stderr: string } {
  const unused = options.allowUnused ? [] : verdict.unused;
  if (verdict.refused.length === 0 && unused.length === 0) {
    const stdout =
      verdict.allowed.length === 0
        ? "destroy guard: the plan deletes or replaces nothing that holds data\n"
        : `destroy guard: the plan deletes or replaces, as --allow-destroy allows:\n${verdict.allowed.map(line).join("\n")}\n`;
    return { status: 0, stdout, stderr: "" };
  }
  const parts: string[] = [];
  if (verdict.refused.length > 0) {
    parts.push(`destroy guard: the plan deletes or replaces what holds data, and no --allow-destroy names it:\n${verdict.refused.map(line).join("\n")}`);
  }
  if (unused.length > 0) {
    parts.push(
      `destroy guard: --allow-destroy names what this plan neither deletes nor replaces (check the address):\n${unused.map((a) => `  ${terminalSafe(a, 200)}`).join("\n")}`,
    );
  }
  parts.push(
    "Nothing was applied. If the loss is intended (data backed up, or not needed), run again with --allow-destroy=<address> for each address above; otherwise change the config so the plan keeps them (docs/operations.md, \"Destroy guard\").",
  );
  return { status: 1, stdout: verdict.allowed.length > 0 ? `destroy guard: allowed by --allow-destroy:\n${verdict.allowed.map(line).join("\n")}\n` : "", stderr: `${parts.join("\n")}\n` };
}

function main(args: readonly string[]): number {
  const allow: string[] = [];
  let allowUnused = false;
  for (const arg of args) {
    if (arg === "--allow-unused") allowUnused = true;
    else if (arg.startsWith("--allow-destroy=") && TERRAFORM_ADDRESS.test(arg.slice("--allow-destroy=".length))) allow.push(arg.slice("--allow-destroy=".length));
    else {
      process.stderr.write(`plan-guard: unusable argument ${terminalSafe(JSON.stringify(arg), 200)}: expected --allow-destroy=<type>.<name> or --allow-unused\n`);
      return 2;
    }
  }
  let plan: Json;
  try {
    plan = JSON.parse(readFileSync(0, "utf8")) as Json;
    if (typeof plan !== "object" || plan === null || typeof plan.format_version !== "string") throw new Error("not the JSON of terraform show -json <plan>");
  } catch (error) {
    process.stderr.write(`plan-guard: cannot read the plan on stdin: ${terminalSafe((error as Error).message, 200)}\n`);
    return 2;
  }
  const report = renderVerdict(judgePlan(plan, allow), { allowUnused });
  process.stdout.write(report.stdout);
  process.stderr.write(report.stderr);
  return report.status;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));

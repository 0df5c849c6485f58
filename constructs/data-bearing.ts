/**
 * Resources that hold data a deletion or re-creation loses: a database's StatefulSet (its volume
 * claims), a namespace (deleting it deletes every claim and hand-made Secret in it), a Helm release
 * whose chart owns volumes (a CloudNativePG cluster, Grafana's volume).
 *
 * One call marks a resource, wherever it is built:
 *
 *   markDataBearing(release, "CloudNativePG cluster agent-platform: the database and its WAL");
 *
 * The stack then calls {@link protectDataBearing} once, after every construct exists, which
 * - sets `lifecycle.prevent_destroy = true` on each marked resource where the environment asks for
 *   it (staging, production): Terraform itself then refuses any plan that deletes or replaces it;
 * - emits the Terraform output `data_bearing_resources`, the marked addresses. An output lives in
 *   Terraform state, so the destroy guard (scripts/plan-guard.ts, run by scripts/deploy.sh on every
 *   saved plan) knows a resource was protected even in the plan that removes it from the config,
 *   where `prevent_destroy` no longer applies.
 * @see https://developer.hashicorp.com/terraform/language/meta-arguments/lifecycle#prevent_destroy
 */
import { Lazy, TerraformOutput, type TerraformResource, type TerraformStack } from "cdktf";
import { DATA_BEARING_OUTPUT } from "../config/terraform-names";
import { literal } from "./terraform-text";

export { DATA_BEARING_OUTPUT };

// Weak: tests build many stacks; a mark must not keep a discarded one alive.
const marked = new WeakMap<TerraformResource, string>();

/**
 * Marks `resource` as holding data. `reason` says what is lost with it, for the reader of the
 * stack (it is not emitted).
 * @throws when `reason` is empty: the next engineer needs to know why
 */
export function markDataBearing(resource: TerraformResource, reason: string): void {
  if (reason.trim() === "") throw new Error(`markDataBearing(${resource.node.path}): say what data the resource holds`);
  marked.set(resource, reason);
}

/** A marked resource of a stack. */
export interface DataBearingResource {
  readonly resource: TerraformResource;
  /** Its Terraform address: `<type>.<logical id>`. */
  readonly address: string;
  readonly reason: string;
}

/** The resources marked below `stack`, in construct order. */
export function dataBearingResources(stack: TerraformStack): DataBearingResource[] {
  return stack.node
    .findAll()
    .filter((c): c is TerraformResource => marked.has(c as TerraformResource))
    .map((resource) => ({ resource, address: addressOf(resource), reason: marked.get(resource)! }));
}

export interface DataProtectionProps {
  /** Sets `lifecycle.prevent_destroy = true` on every marked resource. */
  readonly preventDestroy: boolean;
  /**
   * Addresses whose `prevent_destroy` is left off for this synth: the operator named them to
   * `deploy.sh --allow-destroy`, for the one plan that deletes them on purpose.
   * @default none
   */
  readonly allowDestroy?: readonly string[];
}

/**
 * Protects every resource marked below `stack` and records their addresses in the output
 * {@link DATA_BEARING_OUTPUT}. Call it once, after the stack's constructs exist.
 */
export function protectDataBearing(stack: TerraformStack, props: DataProtectionProps): void {
  const allowed = new Set(props.allowDestroy ?? []);
  if (props.preventDestroy) {
    for (const { resource, address } of dataBearingResources(stack)) {
      if (!allowed.has(address)) resource.lifecycle = { ...resource.lifecycle, preventDestroy: true };
    }
  }
  const output = new TerraformOutput(stack, DATA_BEARING_OUTPUT, {
    description: literal("Resources holding data: scripts/deploy.sh refuses a plan that deletes or replaces one unless --allow-destroy names it"),
    // Resolved at synth, when every logical id is final.
    value: Lazy.listValue({ produce: () => dataBearingResources(stack).map((r) => literal(r.address)) }),
  });
  output.overrideLogicalId(DATA_BEARING_OUTPUT);
}

function addressOf(resource: TerraformResource): string {
  return `${resource.terraformResourceType}.${resource.friendlyUniqueId}`;
}

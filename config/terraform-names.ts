/**
 * Names shared by the stack and the tools that read its plans, kept free of cdktf so that
 * scripts/plan-guard.ts (run by deploy.sh on every plan) loads in milliseconds.
 */

/** The Terraform output listing the data-bearing resources' addresses (constructs/data-bearing.ts). */
export const DATA_BEARING_OUTPUT = "data_bearing_resources";

/**
 * A resource address in the root module, as Terraform prints it and cdktf names it:
 * `kubernetes_stateful_set_v1.postgres_server_stateful-set_41B50D02`.
 * @see https://developer.hashicorp.com/terraform/cli/state/resource-addressing
 */
export const TERRAFORM_ADDRESS = /^[a-z][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_-]*$/;

/** External tools the tests run for real, found once. */
import { spawnSync } from "node:child_process";

let terraform: string | null | undefined;

/** Terraform: TERRAFORM, else `terraform` on PATH; undefined when neither runs. */
export function terraformBinary(): string | undefined {
  if (terraform === undefined) {
    const candidate = process.env.TERRAFORM ?? "terraform";
    const probe = spawnSync(candidate, ["version", "-json"], { encoding: "utf8" });
    terraform = probe.status === 0 ? candidate : null;
  }
  return terraform ?? undefined;
}

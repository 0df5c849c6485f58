/**
 * Declared exceptions to a policy rule (the synth-time gate's `PSS-*`, `KS-*`, `HELM-*` rules)
 * or to a checkov check (`CKV_*`). A suppression lives next to the resource it excuses, always
 * with a reason, and travels in the resource's `//` comment block of the Terraform JSON, where
 * both the policy gate and checkov (`checkov:skip=<id>:<reason>`, one per line) read it. Every
 * suppression is listed in the synth summary and in the README.
 */
import type { TerraformResource } from "cdktf";

export interface Suppression {
  readonly rule: string;
  readonly reason: string;
}

const declared = new WeakMap<TerraformResource, Suppression[]>();

/** Excuses `resource` from `rule`. The reason is required and must say why, not just "n/a". */
export function suppress(resource: TerraformResource, rule: string, reason: string): void {
  if (!/^(PSS|KS|HELM)-[A-Z0-9-]+$|^CKV_[A-Z0-9_]+$/.test(rule)) {
    throw new Error(`suppression of '${rule}': not a policy rule id (PSS-*, KS-*, HELM-*) or a checkov id (CKV_*)`);
  }
  if (reason.trim().length < 20) {
    throw new Error(`suppression of ${rule} on ${resource.node.path}: give a reason of at least 20 characters, saying why the rule does not fit`);
  }
  const list = declared.get(resource) ?? [];
  if (list.some((s) => s.rule === rule)) return;
  list.push({ rule, reason });
  declared.set(resource, list);
  resource.addOverride("//.suppressions", list.map((s) => ({ ...s })));
  const checkov = list.filter((s) => s.rule.startsWith("CKV_"));
  if (checkov.length > 0) resource.addOverride("//.checkov", checkov.map((s) => `checkov:skip=${s.rule}:${s.reason}`));
}

/**
 * checkov's CKV_K8S_15 (pull policy Always) where the environment side-loads its images (local):
 * one reason for every Deployment that pulls `IfNotPresent`.
 */
export function suppressSideLoadedPullPolicy(resource: TerraformResource, imagePullPolicy: string): void {
  if (imagePullPolicy === "Always") return;
  suppress(resource, "CKV_K8S_15", "images are side-loaded into the local cluster (kind load docker-image); Always would ask a registry the laptop may not reach");
}

/**
 * Everything synth checks on a stack's own Terraform JSON, after the one resolve that produces it
 * and before the output is swapped in: the interpolation guard (every `${…}`/`%{…}` is a
 * reference cdktf made), the policy gate (Pod Security, kube-score, Polaris, Helm values) and the
 * cross-construct rules of the stack itself.
 */
import { describeTemplateFinding, findTemplateInjections } from "./interpolation-guard";
import { duplicateObjects } from "./object-names";
import { secretStrings } from "./secret-scan";
import { boundedLines } from "../config/errors";
import { redactText } from "../config/secrets";
import type { PlatformStack } from "./platform-stack";
import { describeFinding, evaluatePolicy, type PolicyResult } from "./policy";

export interface StackCheckResult {
  /** Problems that fail synth, each naming where, what and the fix. */
  readonly problems: readonly string[];
  readonly policy: PolicyResult;
}

export function checkStack(stack: PlatformStack, json: Record<string, any> = stack.synthesized): StackCheckResult {
  const environment = stack.config.environment;
  const policy = evaluatePolicy(json, { environment, helmValues: stack.monitoring.helmValues, ingressControllerNamespace: stack.config.ingressController.namespace });
  const problems = [
    ...findTemplateInjections(json).map(describeTemplateFinding),
    ...policy.violations.map(describeFinding),
    ...stack.unservedHpaMetrics(),
    ...duplicateObjects(json),
    // The plain files written beside the stack (rules, Alertmanager config, dashboards).
    ...secretStrings({}, stack.monitoring.files).map((f) => `${f.where} ${f.reason}: it would be written to cdktf.out; keep it in a Secret`),
  ].map((p) => `[${environment}] ${p}`);
  return { problems, policy };
}

/** Synthesis refused by a check: every problem of every stack, nothing written. */
export class SynthesisError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(
      `Synthesis refused (${problems.length.toLocaleString("en-US")} ${problems.length === 1 ? "problem" : "problems"}); nothing was written:\n${boundedLines(problems.map((p) => `  ${redactText(p)}`)).join("\n")}`,
    );
    this.name = "SynthesisError";
  }
}

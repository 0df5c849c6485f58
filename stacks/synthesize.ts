import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { App } from "cdktf";
import type { PlatformConfig } from "../config/load";
import { PlatformStack } from "./platform-stack";
import type { SuppressedFinding } from "./policy";

/**
 * Builds one stack per environment and synthesizes them, all or nothing: the app writes into a
 * scratch directory beside `outdir` and replaces `outdir` only after every stack synthesized and
 * every validation passed. A failed run leaves the previous output untouched. Beside the stacks it
 * writes each environment's alert rules, Alertmanager config and dashboards as plain files
 * (`monitoring/<env>/`), for promtool, amtool and reviewers.
 * @returns the warnings the constructs raised and the policy suppressions in force, to show
 */
export interface SynthesisReport {
  /** Warnings the constructs raised. */
  readonly warnings: readonly string[];
  /** Policy suppressions in force, per environment: every excused rule, where and why. */
  readonly suppressions: readonly { readonly environment: string; readonly finding: SuppressedFinding }[];
}

export function synthesizePlatform(configs: readonly PlatformConfig[], outdir: string): SynthesisReport {
  let warnings: string[];
  let stacks: PlatformStack[];
  const scratch = `${outdir}.partial-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  try {
    // Stack traces in metadata would carry this machine's absolute paths into cdk.tf.json.
    const app = new App({ outdir: scratch, stackTraces: false });
    stacks = configs.map((config) => new PlatformStack(app, { config }));
    app.synth();
    warnings = app.node
      .findAll()
      .flatMap((c) => c.node.metadata)
      .filter((m) => m.type === "@cdktf/warn")
      .map((m) => String(m.data));
    for (const stack of stacks) {
      for (const [file, content] of Object.entries(stack.monitoring.files)) {
        const path = join(scratch, "monitoring", stack.config.environment, file);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, content);
      }
    }
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  }
  if (existsSync(outdir)) rmSync(outdir, { recursive: true, force: true });
  renameSync(scratch, outdir);
  const suppressions = stacks.flatMap((stack) =>
    (stack.policy.results.get(stack.node.id)?.suppressed ?? []).map((finding) => ({ environment: stack.config.environment, finding })),
  );
  return { warnings, suppressions };
}

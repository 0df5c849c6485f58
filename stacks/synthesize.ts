import { existsSync, renameSync, rmSync } from "node:fs";
import { App } from "cdktf";
import type { PlatformConfig } from "../config/load";
import { PlatformStack } from "./platform-stack";

/**
 * Builds one stack per environment and synthesizes them, all or nothing: the app writes into a
 * scratch directory beside `outdir` and replaces `outdir` only after every stack synthesized and
 * every validation passed. A failed run leaves the previous output untouched.
 * @returns the warnings the constructs raised, for the caller to show
 */
export function synthesizePlatform(configs: readonly PlatformConfig[], outdir: string): string[] {
  let warnings: string[];
  const scratch = `${outdir}.partial-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  try {
    // Stack traces in metadata would carry this machine's absolute paths into cdk.tf.json.
    const app = new App({ outdir: scratch, stackTraces: false });
    for (const config of configs) new PlatformStack(app, { config });
    app.synth();
    warnings = app.node
      .findAll()
      .flatMap((c) => c.node.metadata)
      .filter((m) => m.type === "@cdktf/warn")
      .map((m) => String(m.data));
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  }
  if (existsSync(outdir)) rmSync(outdir, { recursive: true, force: true });
  renameSync(scratch, outdir);
  return warnings;
}

/**
 * The CDK for Terraform app: reads the environment variables (the only place that does), loads
 * and validates the configuration, builds one stack per environment and synthesizes them.
 *
 * Nothing is written unless every environment is valid and every stack synthesizes: the app
 * synthesizes into a scratch directory beside the output and swaps it in at the end.
 */
import { loadEnvironments } from "./config/load";
import { parseRunOptions } from "./config/run-options";
import { synthesizePlatform } from "./stacks/synthesize";
import { renderSummary } from "./stacks/summary";

function main(): number {
  try {
    const options = parseRunOptions(process.env);
    const configs = loadEnvironments(options.environments, options);
    const outdir = process.env.CDKTF_OUTDIR ?? "cdktf.out";
    const report = synthesizePlatform(configs, outdir);
    for (const warning of report.warnings) process.stderr.write(`Warning: ${warning}\n`);
    if (process.env.PLATFORM_SUMMARY !== "off") process.stdout.write(renderSummary(configs, report.suppressions));
    return 0;
  } catch (error) {
    process.stderr.write(`${describe(error)}\n`);
    return 1;
  }
}

/** A message, never a stack trace: every error the app raises is written for its reader. */
function describe(error: unknown): string {
  if (error instanceof Error) return process.env.PLATFORM_DEBUG === "1" ? (error.stack ?? error.message) : error.message;
  return String(error);
}

process.exitCode = main();

/**
 * The CDK for Terraform app: reads the environment variables (the only place that does), loads
 * and validates the configuration, checks the output directory, builds one stack per environment
 * and synthesizes them.
 *
 * Nothing is written unless every environment is valid and every stack synthesizes and passes its
 * checks: the app synthesizes into a scratch directory beside the output and swaps it in at the
 * end. cdktf and the providers are loaded only once the configuration is known to be valid.
 */
import { homedir } from "node:os";
import { resolve } from "node:path";
import { loadEnvironments } from "./config/load";
import { parseRunOptions } from "./config/run-options";
import { redactText } from "./config/secrets";
import { terminalSafe } from "./config/text";
import { checkOutputDirectory } from "./stacks/output-directory";

/** The project root: main.js runs from dist/. */
const PROJECT_ROOT = resolve(__dirname, "..");

function main(): number {
  try {
    const options = parseRunOptions(process.env);
    const configs = loadEnvironments(options.environments, options);
    const outdir = checkOutputDirectory(process.env.CDKTF_OUTDIR, { projectRoot: PROJECT_ROOT, cwd: process.cwd(), home: homedir() });
    if (process.env.PLATFORM_DEBUG !== "1") require("./stacks/cdktf-runtime").disableTokenStackTraces();
    const { synthesizePlatform } = require("./stacks/synthesize") as typeof import("./stacks/synthesize");
    // A note is information, not a problem: under the cdktf CLI (which labels every stderr line
    // `[ERROR]`) it goes to stdout, which the CLI shows as the app's output.
    const noteStream = options.cdktfCli ? process.stdout : process.stderr;
    for (const note of options.notes ?? []) noteStream.write(`Note: ${terminalSafe(note, 2000)}\n`);
    const report = synthesizePlatform(configs, outdir, { projectRoot: PROJECT_ROOT, allowDestroy: options.allowDestroy });
    // The cdktf CLI prints the manifest's warnings itself, as `WARN [stack]: …` (redacted at their
    // source, stacks/synthesize.ts), and labels everything the app writes to stderr `[ERROR]`:
    // printed here too, each warning would appear twice, once as an error.
    if (!options.cdktfCli) {
      for (const warning of report.warnings) process.stderr.write(`Warning: ${terminalSafe(redactText(warning), 2000)}\n`);
    }
    if (process.env.PLATFORM_SUMMARY !== "off") {
      const { renderSummary } = require("./stacks/summary") as typeof import("./stacks/summary");
      process.stdout.write(renderSummary(configs, report.suppressions));
    }
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

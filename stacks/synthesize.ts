import { mkdirSync, writeFileSync } from "node:fs";
import { ConfigError } from "../config/errors";
import { environmentFile } from "../config/load";
import { redactText } from "../config/secrets";
import { terminalSafe } from "../config/text";
import { dirname, join } from "node:path";
import { App } from "cdktf";
import type { PlatformConfig } from "../config/load";
import { checkStack, SynthesisError } from "./checks";
import { checkLegacyState, linkStateDirectory, prepareStateDirectory } from "./local-state";
import { ScratchOutput } from "./output-directory";
import { PlatformStack } from "./platform-stack";
import type { SuppressedFinding } from "./policy";
import type { IConstruct } from "constructs";

/** What a successful synth reports for the reader. */
export interface SynthesisReport {
  /** Warnings the constructs raised. */
  readonly warnings: readonly string[];
  /** Policy suppressions in force, per environment: every excused rule, where and why. */
  readonly suppressions: readonly { readonly environment: string; readonly finding: SuppressedFinding }[];
}

/** What synthesizePlatform needs beyond the configs and the output directory. */
export interface SynthesisOptions {
  /**
   * The project's root: local backends keep state in its `.state/<env>/` (stacks/local-state.ts),
   * which synth creates private and links from each such stack's folder.
   * @default none: no state directory, no link (tests and the e2e, which bring their own backend)
   */
  readonly projectRoot?: string;
  /**
   * Addresses of data-bearing resources whose `prevent_destroy` is lifted for this synth
   * (`scripts/deploy.sh --allow-destroy`).
   * @default none
   */
  readonly allowDestroy?: readonly string[];
}

/**
 * Builds one stack per environment and synthesizes them, all or nothing, into `outdir` (already
 * checked by `checkOutputDirectory`): the stacks are written into a scratch directory beside it,
 * resolved once each; the interpolation guard and the policy gate then read that very JSON, and
 * only when every stack passed is the scratch directory swapped in. Beside the stacks it writes
 * each environment's alert rules, Alertmanager config and dashboards as plain files
 * (`monitoring/<env>/`), for promtool, amtool and reviewers. With `projectRoot`, each stack with
 * a local backend gets its private state directory and the `state` link to it.
 * @throws LegacyStateError when a local state sits at the old location; SynthesisError listing
 * every problem of every stack. Nothing is written then.
 */
export function synthesizePlatform(configs: readonly PlatformConfig[], outdir: string, options: SynthesisOptions = {}): SynthesisReport {
  const { projectRoot } = options;
  const localState = configs.filter((c) => c.backend.type === "local").map((c) => c.environment);
  if (projectRoot) checkLegacyState(projectRoot, localState);
  const scratch = new ScratchOutput(outdir);
  try {
    // Stack traces in metadata would carry this machine's absolute paths into cdk.tf.json.
    const app = new App({ outdir: scratch.path, stackTraces: false });
    const stacks = configs.map((config) => asConfigError(config, () => new PlatformStack(app, { config, allowDestroy: options.allowDestroy })));
    redactWarnings(app);
    synthesizeOnce(app, stacks);
    const problems: string[] = [];
    const suppressions: SynthesisReport["suppressions"][number][] = [];
    for (const stack of stacks) {
      const result = checkStack(stack);
      problems.push(...result.problems);
      suppressions.push(...result.policy.suppressed.map((finding) => ({ environment: stack.config.environment, finding })));
    }
    if (problems.length > 0) throw new SynthesisError(problems);
    for (const stack of stacks) {
      for (const [file, content] of Object.entries(stack.monitoring.files)) {
        const path = join(scratch.path, "monitoring", stack.config.environment, file);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, content);
      }
    }
    if (projectRoot) {
      for (const env of localState) {
        prepareStateDirectory(projectRoot, env);
        linkStateDirectory(join(scratch.path, "stacks", env), join(outdir, "stacks", env), projectRoot, env);
      }
    }
    const warnings = constructWarnings(app);
    scratch.commit();
    return { warnings, suppressions };
  } finally {
    scratch.discard();
  }
}

/**
 * Redacts every warning below `scope` where it is raised (config/secrets.ts, the one rule set): the
 * cdktf CLI prints the manifest's warnings itself, and main.ts leaves them to it there.
 */
function redactWarnings(scope: IConstruct): void {
  for (const c of scope.node.findAll()) {
    for (const entry of c.node.metadata) if (entry.type === "@cdktf/warn") (entry as { data: unknown }).data = redactText(String(entry.data));
  }
}

/** The warnings constructs below `scope` raised (`Annotations.of(…).addWarning`), in tree order. */
export function constructWarnings(scope: IConstruct): string[] {
  return scope.node
    .findAll()
    .flatMap((c) => c.node.metadata)
    .filter((m) => m.type === "@cdktf/warn")
    .map((m) => String(m.data));
}

/**
 * What `App.synth()` does, minus its preparing pass: that pass resolves every element of every
 * stack once more only to find cross-stack references, which these stacks never have (each
 * environment stands alone). Each stack is resolved exactly once, by the synthesizer that writes
 * it; PlatformStack keeps that result for the checks. A stack with dependencies takes the full path.
 */
function synthesizeOnce(app: App, stacks: readonly PlatformStack[]): void {
  if (stacks.some((s) => s.dependencies.length > 0)) {
    app.synth();
    return;
  }
  const session = { outdir: app.outdir, skipValidation: false, manifest: app.manifest };
  for (const stack of stacks) asConfigError(stack.config, () => stack.synthesizer.synthesize(session));
  app.manifest.writeToFile();
}

/**
 * Runs `build` for one environment; an error a construct or cdktf throws (a name two constructs
 * share, a validation) becomes a configuration error in the documented shape, naming the
 * environment's file: config/semantics.ts should have refused the config first, so the message
 * also says that this is a gap in the checks. Its text is cut and redacted like any value.
 */
function asConfigError<T>(config: PlatformConfig, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const text = terminalSafe(redactText(error instanceof Error ? error.message : String(error)), 400);
    throw new ConfigError([
      {
        source: environmentFile(config.environment),
        field: "(the whole file)",
        value: "(not shown)",
        rule: `the ${config.environment} stack cannot be built from it: ${text}. The configuration checks (config/semantics.ts) should have named the field; please report this message`,
      },
    ]);
  }
}

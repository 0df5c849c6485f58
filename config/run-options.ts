/**
 * What a run is asked to do, from its environment variables. main.ts is the only caller and the
 * only place that reads process.env; everything else receives these options.
 */
import { ConfigError, type ConfigProblem, renderValue } from "./errors";
import { ENVIRONMENT_NAMES, type EnvironmentName } from "./schema";
import { TERRAFORM_ADDRESS } from "./terraform-names";

export interface RunOptions {
  /** DEPLOYMENT_ENV: the one environment to synthesize; unset means all of them. */
  readonly environments: readonly EnvironmentName[];
  /** ENABLE_AUTOSCALING: overrides each environment's `autoscaling.enabled` when set. */
  readonly enableAutoscaling?: boolean;
  /** CI=true (GitHub Actions, GitLab CI and most others set it): local Terraform state is refused. */
  readonly ci?: boolean;
  /**
   * The cdktf CLI runs the app ({@link runsUnderCdktfCli}): every environment is synthesized,
   * whatever DEPLOYMENT_ENV holds, because the CLI picks the stack itself (`cdktf diff <env>`).
   */
  readonly cdktfCli?: boolean;
  /**
   * PLATFORM_ALLOW_DESTROY (set by `scripts/deploy.sh --allow-destroy=<address>`): Terraform
   * addresses of data-bearing resources whose `prevent_destroy` this synth lifts, so the one plan
   * that deletes them on purpose can run.
   */
  readonly allowDestroy?: readonly string[];
  /** Things the run should tell its reader (stderr), such as a variable it ignored and why. */
  readonly notes?: readonly string[];
}

const SOURCE = "environment variable";

export function parseRunOptions(env: Readonly<Record<string, string | undefined>>): RunOptions {
  const problems: ConfigProblem[] = [];
  let environments: readonly EnvironmentName[] = ENVIRONMENT_NAMES;
  let enableAutoscaling: boolean | undefined;

  const deploymentEnv = env.DEPLOYMENT_ENV;
  const cdktfCli = runsUnderCdktfCli(env);
  const notes: string[] = [];
  if (cdktfCli && deploymentEnv !== undefined && deploymentEnv !== "") {
    // The CLI synthesizes, then works on the stack its command line names; it also deletes the
    // stack folders of the previous output that the new one lacks, and fails (ENOENT) when this
    // app already replaced that output. Synthesizing every stack satisfies both.
    notes.push(
      `DEPLOYMENT_ENV=${renderValue(deploymentEnv)} is ignored under the cdktf CLI, which picks the stack from its command line (cdktf diff|deploy <env>): every environment was synthesized`,
    );
  } else if (deploymentEnv !== undefined && deploymentEnv !== "") {
    if ((ENVIRONMENT_NAMES as readonly string[]).includes(deploymentEnv)) environments = [deploymentEnv as EnvironmentName];
    else
      problems.push({
        source: SOURCE,
        field: "DEPLOYMENT_ENV",
        value: renderValue(deploymentEnv),
        rule: `must be one of ${ENVIRONMENT_NAMES.join(", ")} (or unset for all of them)`,
      });
  }

  const autoscaling = env.ENABLE_AUTOSCALING;
  if (autoscaling !== undefined && autoscaling !== "") {
    if (autoscaling === "true") enableAutoscaling = true;
    else if (autoscaling === "false") enableAutoscaling = false;
    else
      problems.push({
        source: SOURCE,
        field: "ENABLE_AUTOSCALING",
        value: renderValue(autoscaling),
        rule: "must be true or false (or unset to use each environment's config)",
      });
  }

  const allowDestroy: string[] = [];
  for (const address of (env.PLATFORM_ALLOW_DESTROY ?? "").split(/[\s,]+/).filter((a) => a !== "")) {
    if (TERRAFORM_ADDRESS.test(address)) allowDestroy.push(address);
    else
      problems.push({
        source: SOURCE,
        field: "PLATFORM_ALLOW_DESTROY",
        value: renderValue(address),
        rule: "must list Terraform resource addresses (<type>.<name>, as deploy.sh's refusal prints them), separated by spaces",
      });
  }

  if (problems.length > 0) throw new ConfigError(problems);
  const ci = env.CI === "true" || env.CI === "1";
  return {
    environments,
    ...(enableAutoscaling === undefined ? {} : { enableAutoscaling }),
    ...(ci ? { ci } : {}),
    ...(cdktfCli ? { cdktfCli } : {}),
    ...(allowDestroy.length > 0 ? { allowDestroy } : {}),
    ...(notes.length > 0 ? { notes } : {}),
  };
}

/**
 * Whether the cdktf CLI runs this app. Every CLI command that synthesizes (synth, diff, deploy,
 * destroy, watch, output, list) runs the app through one function, `SynthStack.synth` in
 * `@cdktf/cli-core` (node_modules/@cdktf/cli-core/src/lib/synth-stack.js), which sets
 * `CDKTF_OUTDIR`, `CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS=true`, `SYNTH_HCL_OUTPUT` and
 * `CDKTF_CONTEXT_JSON`, the last always holding the CLI's own `cdktfRelativeModules` key.
 * `CDKTF_OUTDIR` is also set by hand and by deploy.sh, so it proves nothing; the context key is
 * internal to the CLI (cdktf's App reads the context, nobody writes that key by hand), so it is
 * the signal.
 */
export function runsUnderCdktfCli(env: Readonly<Record<string, string | undefined>>): boolean {
  const context = env.CDKTF_CONTEXT_JSON;
  if (!context) return false;
  try {
    const parsed: unknown = JSON.parse(context);
    return typeof parsed === "object" && parsed !== null && Object.hasOwn(parsed, "cdktfRelativeModules");
  } catch {
    return false;
  }
}

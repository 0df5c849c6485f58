/**
 * What a run is asked to do, from its environment variables. main.ts is the only caller and the
 * only place that reads process.env; everything else receives these options.
 */
import { ConfigError, type ConfigProblem, renderValue } from "./errors";
import { ENVIRONMENT_NAMES, type EnvironmentName } from "./schema";

export interface RunOptions {
  /** DEPLOYMENT_ENV: the one environment to synthesize; unset means all of them. */
  readonly environments: readonly EnvironmentName[];
  /** ENABLE_AUTOSCALING: overrides each environment's `autoscaling.enabled` when set. */
  readonly enableAutoscaling?: boolean;
  /** CI=true (GitHub Actions, GitLab CI and most others set it): local Terraform state is refused. */
  readonly ci?: boolean;
}

const SOURCE = "environment variable";

export function parseRunOptions(env: Readonly<Record<string, string | undefined>>): RunOptions {
  const problems: ConfigProblem[] = [];
  let environments: readonly EnvironmentName[] = ENVIRONMENT_NAMES;
  let enableAutoscaling: boolean | undefined;

  const deploymentEnv = env.DEPLOYMENT_ENV;
  if (deploymentEnv !== undefined && deploymentEnv !== "") {
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

  if (problems.length > 0) throw new ConfigError(problems);
  const ci = env.CI === "true" || env.CI === "1";
  return { environments, ...(enableAutoscaling === undefined ? {} : { enableAutoscaling }), ...(ci ? { ci } : {}) };
}

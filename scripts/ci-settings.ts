/**
 * What the users' GitHub Actions workflow needs set for one environment, checked before any step
 * uses it: a missing secret fails the job here, naming the secret, the GitHub environment that
 * must hold it and the backend that needs it, instead of a credentials step that silently skips
 * and a `terraform init` that later fails with "No valid credential sources found".
 *
 *   node dist/scripts/ci-settings.js <cdktf.out> <environment> <diff|deploy>
 *
 * Reads the synthesized stack (its backend type and region) and, from the environment, which
 * settings are present (`<NAME>_SET=true|false`, so no secret value ever reaches this process).
 * Writes `backend=` and `region=` to $GITHUB_OUTPUT when set (else stdout); prints each missing
 * setting as a GitHub `::error::` annotation and exits 1.
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Where a workflow job reads its settings from: the job, and the GitHub environment it runs in. */
export type CiJob = "diff" | "deploy";

export interface CiSetting {
  readonly name: string;
  /** A secret of the job's GitHub environment. */
  readonly kind: "secret";
  /** Which backend needs it; `always` for the cluster's kubeconfig. */
  readonly neededFor: "always" | "s3" | "pg";
  readonly purpose: string;
}

/** Every secret each job needs, by backend. docs/operations.md ("CI for users") lists the same. */
export const CI_SETTINGS: Readonly<Record<CiJob, readonly CiSetting[]>> = {
  diff: [
    { name: "KUBECONFIG_READONLY", kind: "secret", neededFor: "always", purpose: "a kubeconfig for the platform-diff ServiceAccount (read-only)" },
    { name: "AWS_STATE_READ_ROLE", kind: "secret", neededFor: "s3", purpose: "an OIDC role that may read the state object" },
    { name: "PG_STATE_READ_CONN_STR", kind: "secret", neededFor: "pg", purpose: "a connection string that may read the state schema" },
  ],
  deploy: [
    { name: "KUBECONFIG", kind: "secret", neededFor: "always", purpose: "the deployer's kubeconfig" },
    { name: "AWS_ROLE_ARN", kind: "secret", neededFor: "s3", purpose: "an OIDC role that may read and write the state and take its lock" },
    { name: "PG_CONN_STR", kind: "secret", neededFor: "pg", purpose: "a connection string that may read and write the state schema" },
  ],
};

/** The GitHub environment a job runs in for a platform environment. */
export const githubEnvironment = (job: CiJob, environment: string): string => (job === "diff" ? `${environment}-diff` : environment);

/** The problems with the settings a job has for a stack whose backend is `backend`. */
export function missingSettings(job: CiJob, environment: string, backend: string, present: (name: string) => boolean): string[] {
  return CI_SETTINGS[job]
    .filter((s) => (s.neededFor === "always" || s.neededFor === backend) && !present(s.name))
    .map(
      (s) =>
        `${s.name} is not set: add it as a secret of the GitHub environment ${githubEnvironment(job, environment)} (Settings > Environments)` +
        `${s.neededFor === "always" ? "" : `; the ${backend} state backend of config/${environment}.ts needs it`}: ${s.purpose}. See docs/operations.md, "CI for users".`,
    );
}

function main(outdir: string | undefined, environment: string | undefined, job: string | undefined): number {
  if (!outdir || !environment || (job !== "diff" && job !== "deploy")) {
    process.stderr.write("usage: ci-settings <cdktf.out> <environment> <diff|deploy>\n");
    return 2;
  }
  const file = join(outdir, "stacks", environment, "cdk.tf.json");
  if (!existsSync(file)) {
    process.stderr.write(`no synthesized stack at ${file}: run the synth first\n`);
    return 1;
  }
  const backends = (JSON.parse(readFileSync(file, "utf8")).terraform?.backend ?? {}) as Record<string, { region?: string }>;
  const [backend = "local", settings = {}] = Object.entries(backends)[0] ?? [];
  const outputs = `backend=${backend}\nregion=${settings.region ?? ""}\n`;
  if (process.env.GITHUB_OUTPUT) appendFileSync(process.env.GITHUB_OUTPUT, outputs);
  else process.stdout.write(outputs);
  const problems = missingSettings(job, environment, backend, (name) => process.env[`${name}_SET`] === "true");
  for (const p of problems) process.stdout.write(`::error title=CI settings for ${environment}::${p}\n`);
  return problems.length > 0 ? 1 : 0;
}

if (require.main === module) process.exitCode = main(process.argv[2], process.argv[3], process.argv[4]);

/**
 * The manifest of a point-in-time restore into a new CloudNativePG cluster, for scripts/deploy.sh
 * `restore`: the environment's cluster spec, bootstrapped from its backups to a target time, and
 * the new cluster's NetworkPolicy (constructs/postgres-cluster-values.ts, `restoreManifest`).
 *
 *   node dist/scripts/restore-manifest.js <environment> <target time, RFC 3339> [<new cluster name>]
 *
 * Prints `name=<new cluster>`, `source=<running cluster>`, `objectstore=<its ObjectStore>`,
 * `namespace=<namespace>`, then `manifest=<the List as one line of JSON>`. Refuses (exit 1, a
 * message naming the problem) a time that is not RFC 3339 with a zone or lies in the future, an
 * environment without a CloudNativePG cluster or without backups, and a name that is the running
 * cluster's or no DNS label. Reads the same config the synth read; writes nothing.
 */
import { DEFAULT_API_SERVER } from "../config/network";
import { loadEnvironments } from "../config/load";
import { ConfigError } from "../config/errors";
import { ENVIRONMENT_NAMES, type EnvironmentName } from "../config/schema";
import { terminalSafe } from "../config/text";
import { clusterInputs, objectStoreName, RESTORE_NAME, restoreManifest } from "../constructs/postgres-cluster-values";

/** RFC 3339 with seconds and a zone, the form CloudNativePG's `recoveryTarget.targetTime` takes. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** The default name of the new cluster: the running one's, `-pitr-`, the target time in UTC. */
export function defaultRestoreName(source: string, target: Date): string {
  const stamp = target.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "").replace("T", "");
  return `${source}-pitr-${stamp}`;
}

export function main(args: readonly string[], now = new Date()): { code: number; out: string; err: string } {
  const [environment, time, into] = args;
  const fail = (message: string) => ({ code: 1, out: "", err: `restore: ${message}\n` });
  if (!environment || !time) return { code: 2, out: "", err: "usage: restore-manifest <environment> <target time, RFC 3339> [<new cluster name>]\n" };
  if (!(ENVIRONMENT_NAMES as readonly string[]).includes(environment)) return fail(`'${terminalSafe(environment, 40)}' is not an environment (${ENVIRONMENT_NAMES.join(", ")})`);
  if (!RFC3339.test(time) || Number.isNaN(Date.parse(time)))
    return fail(`--to '${terminalSafe(time, 40)}' is not an RFC 3339 time with a zone, such as 2026-12-01T10:04:00Z`);
  const target = new Date(time);
  if (target.getTime() > now.getTime()) return fail(`--to ${time} is in the future: a restore replays WAL up to a time that has passed`);
  let config;
  try {
    [config] = loadEnvironments([environment as EnvironmentName]);
  } catch (error) {
    if (error instanceof ConfigError) return fail(error.message);
    throw error;
  }
  const inputs = clusterInputs(config!);
  if (!inputs) return fail(`${environment} runs Postgres as a StatefulSet (postgres.topology in config/${environment}.ts): it has no backups to restore from`);
  if (!inputs.topology.backup) return fail(`${environment}'s cluster ${inputs.topology.name} has no backups (postgres.topology.backup in config/${environment}.ts)`);
  const name = into ?? defaultRestoreName(inputs.topology.name, target);
  if (!RESTORE_NAME.test(name)) return fail(`--into '${terminalSafe(name, 60)}' is not a cluster name: a lower-case DNS label of at most 40 characters, starting with a letter`);
  if (name === inputs.topology.name) return fail(`--into ${name} is the running cluster: a restore creates a new cluster and never overwrites a database`);
  const manifest = restoreManifest(inputs, name, time, {
    operatorNamespace: inputs.topology.operatorNamespace,
    monitoringNamespace: config!.monitoringNamespace,
    apiServer: config!.cluster.apiServer ?? DEFAULT_API_SERVER,
  });
  const lines = [`name=${name}`, `source=${inputs.topology.name}`, `objectstore=${objectStoreName(inputs.topology)}`, `namespace=${inputs.namespace}`, `manifest=${JSON.stringify(manifest)}`];
  return { code: 0, out: `${lines.join("\n")}\n`, err: "" };
}

if (require.main === module) {
  const result = main(process.argv.slice(2));
  process.stdout.write(result.out);
  process.stderr.write(result.err);
  process.exitCode = result.code;
}

/**
 * Rules across environment files: environments that would overwrite each other's state, objects
 * or traffic. Each clash is reported once, in the file of the environment that ranks lower
 * (local, then staging, then production), naming the other file: it is the copy that was not
 * edited.
 */
import { stateKey } from "./backend-rules";
import { type ConfigProblem, problemAt } from "./errors";
import { environmentRoutes, prefixKey } from "./ingress-rules";
import { NODE_EXPORTER_SUFFIX } from "./name-rules";
import { ENVIRONMENT_NAMES } from "./schema";
import type { PlatformConfig } from "./types";

export interface LoadedEnvironment {
  readonly config: PlatformConfig;
  readonly source: string;
}

/** The namespaces an environment's stack creates (and deletes on destroy). */
function createdNamespaces(c: PlatformConfig): [field: string, name: string][] {
  return [
    ["namespace", c.namespace],
    ["monitoringNamespace", c.monitoringNamespace],
    ["monitoringNamespace", `${c.monitoringNamespace}${NODE_EXPORTER_SUFFIX}`],
    ...(c.postgres.topology.kind === "cloudnative-pg" ? [["postgres.topology.operatorNamespace", c.postgres.topology.operatorNamespace] as [string, string]] : []),
  ];
}

/** `~/.kube/config` and `./~/.kube/config`-style spellings of one file compare equal. */
const kubeconfig = (path: string) => path.replace(/^\.\//, "").replace(/\/+/g, "/");

/**
 * Problems between environments. `selected`: the environments this run synthesizes; a clash is
 * reported when at least one side is selected (deploying either overwrites the other).
 */
export function crossEnvironmentProblems(environments: readonly LoadedEnvironment[], selected: ReadonlySet<string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const rank = (e: LoadedEnvironment) => ENVIRONMENT_NAMES.indexOf(e.config.environment);
  const sorted = [...environments].sort((a, b) => rank(a) - rank(b));
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      const low = sorted[i]!;
      const high = sorted[j]!;
      if (!selected.has(low.config.environment) && !selected.has(high.config.environment)) continue;
      problems.push(...pairProblems(low, high));
    }
  }
  return problems;
}

function pairProblems(low: LoadedEnvironment, high: LoadedEnvironment): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const a = low.config;
  const b = high.config;
  const add = (field: string, value: unknown, rule: string) => problems.push(problemAt(low.source, field, value, rule));
  const other = `${b.environment} (${high.source})`;
  const also = (what: string) => `is also ${what} of ${other}`;

  // One state for two environments: each apply would plan to destroy the other's resources.
  if (a.backend.type === "s3" && b.backend.type === "s3" && a.backend.bucket === b.backend.bucket && stateKey(a) === stateKey(b))
    add("backend.key", stateKey(a), `${also("the state")} (same bucket ${a.backend.bucket} and key): each environment's apply would overwrite the other's state and plan to destroy its resources; give each environment its own key`);
  if (a.backend.type === "pg" && b.backend.type === "pg" && a.backend.schemaName === b.backend.schemaName)
    add("backend.schemaName", a.backend.schemaName, `${also("the state schema")}: against one database (PG_CONN_STR) each environment's apply would overwrite the other's state; give each environment its own schema`);

  // One cluster for two environments.
  if (a.cluster.context === b.cluster.context && kubeconfig(a.cluster.kubeconfigPath) === kubeconfig(b.cluster.kubeconfigPath)) {
    const mine = createdNamespaces(a);
    const theirs = new Set(createdNamespaces(b).map(([, n]) => n));
    const clash = mine.find(([, n]) => theirs.has(n));
    add(
      "cluster.context",
      a.cluster.context,
      `${also("the cluster")} (same kubeconfig and context): ${
        clash ? `both stacks create namespace ${clash[1]} (${clash[0]}), so one environment's apply would change or delete the other's objects, and ` : ""
      }both install the monitoring Helm release "kps", whose cluster-wide objects (ClusterRoles kps-operator and kps-prometheus, webhook configurations kps-admission; the metrics APIServices) one release owns: the second install fails. Point each environment at its own cluster`,
    );
  }

  // One public host for two environments: its DNS record points at one ingress controller.
  const hosts = new Map(environmentRoutes(b).map((r) => [`${r.host}${prefixKey(r.path)}`, r]));
  const reported = new Set<string>();
  for (const r of environmentRoutes(a)) {
    const theirs = hosts.get(`${r.host}${prefixKey(r.path)}`);
    if (!theirs || reported.has(r.host)) continue;
    reported.add(r.host);
    const field = r.field === "ingress.grafanaHost" ? r.field : r.field.replace(/\.paths\[\d+\]$/, ".host");
    add(field, r.host, `${also("a host")} (${theirs.owner}): a host's DNS record points at one ingress controller, so one environment would never receive this traffic (and both would request its certificate); give each environment its own host`);
  }
  return problems;
}

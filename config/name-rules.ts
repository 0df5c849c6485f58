/**
 * Names the stack derives from configuration, and the names it reserves for itself: a name that
 * overflows Kubernetes' limits, a namespace that is someone else's, or a service whose name the
 * data tier, the migration Job or the monitoring stack already uses. Each is one message naming
 * the field, before any construct is built (a construct would fail with a message naming
 * neither file nor field, or the API server would refuse the apply half-way).
 *
 * Kubernetes' rules: namespaces and most object names are DNS-1123 labels of at most 63
 * characters (k8s.io/apimachinery pkg/util/validation `IsDNS1123Label`); two objects of one kind
 * in one namespace cannot share a name (the API server answers AlreadyExists).
 */
import { type ConfigProblem, problemAt } from "./errors";
import type { PlatformConfig } from "./types";

/**
 * Objects the stack creates in the platform namespace under fixed names (constructs/*.ts): a
 * service of the same name would collide with one of them (same kind and name: AlreadyExists at
 * apply) or share its selector label `app.kubernetes.io/name` (the data tier's Service,
 * PodDisruptionBudget and NetworkPolicy would select the service's pods, and Postgres' policy
 * would admit it directly, bypassing PgBouncer). test/config/names.test.ts checks this list
 * against every object of a synthesized stack.
 */
export const DATA_TIER_NAMES: Readonly<Record<string, string>> = {
  postgres: "Postgres (StatefulSet, Service, ServiceAccount, PodDisruptionBudget and NetworkPolicy postgres)",
  redis: "Redis (StatefulSet, Service, ServiceAccount, PodDisruptionBudget and NetworkPolicy redis)",
  pgbouncer: "PgBouncer (Deployment, Service, ServiceAccount, PodDisruptionBudget and NetworkPolicy pgbouncer)",
  "db-migrate": "the migration Job (NetworkPolicy db-migrate, Job db-migrate-<release>, pods labelled db-migrate that Postgres admits directly)",
  "default-deny-all": "the namespace's default-deny NetworkPolicy",
  "allow-dns-egress": "the namespace's DNS NetworkPolicy",
  "platform-diff": "the diff identity (ServiceAccount platform-diff, constructs/diff-identity.ts), which a pull request's plan runs as",
};

/** Prefix of the migration Job's name (`db-migrate-<release>`): a service of that name reads as a migration everywhere. */
export const MIGRATION_PREFIX = "db-migrate-";

/**
 * Prometheus `job` names the monitoring stack's own alert rules and dashboards select
 * (kube-prometheus-stack 67.8.0, templates/prometheus/rules-1.14: `job="apiserver"`,
 * `job="kubelet"`, `job="node-exporter"`, `job=~".*etcd.*"`, `job="kps-prometheus"` and the other
 * `<release>-*` jobs). A service is scraped under its Service's name, so a service named like one
 * of them would feed the cluster's alerts and recording rules (false KubeletDown, wrong node
 * dashboards).
 */
export const MONITORING_JOB_NAMES = ["apiserver", "kubelet", "kube-scheduler", "kube-controller-manager", "kube-proxy", "kube-state-metrics", "node-exporter", "windows-exporter"];
/** The monitoring release's name (constructs/monitoring-values.ts STACK_RELEASE): its jobs are `kps-*`. */
export const MONITORING_RELEASE_PREFIX = "kps-";

/** Suffix of the namespace node-exporter runs in (`<monitoringNamespace>-node-exporter`, constructs/monitoring.ts). */
export const NODE_EXPORTER_SUFFIX = "-node-exporter";

/** Namespaces the cluster or its usual add-ons own, whatever the configuration says. */
const WELL_KNOWN_NAMESPACES: Readonly<Record<string, string>> = {
  default: "Kubernetes' default namespace",
  "ingress-nginx": "ingress-nginx's namespace",
  "cert-manager": "cert-manager's namespace",
  "local-path-storage": "kind's storage provisioner's namespace",
};

/** Why a catalogue service's name is one the stack reserves, or undefined. */
export function reservedServiceName(name: string): string | undefined {
  if (Object.hasOwn(DATA_TIER_NAMES, name)) return `is the name of ${DATA_TIER_NAMES[name]}`;
  if (name.startsWith(MIGRATION_PREFIX)) return `starts with ${MIGRATION_PREFIX}, the migration Job's name (${MIGRATION_PREFIX}<release>)`;
  if (MONITORING_JOB_NAMES.includes(name) || name.startsWith(MONITORING_RELEASE_PREFIX) || name.includes("etcd"))
    return "is a Prometheus job the monitoring stack's own rules and dashboards select (apiserver, kubelet, node-exporter, kube-state-metrics, kps-*, anything with etcd): its metrics would feed the cluster's alerts";
  return undefined;
}

/** The catalogue's names the stack reserves for itself (config/services.ts is where a service is named). */
export function catalogNameProblems(names: readonly string[], source: string): ConfigProblem[] {
  return names.flatMap((name) => {
    const why = reservedServiceName(name);
    return why ? [problemAt(source, name, name, `${why}: the service needs a name of its own (rename it here and in every environment file)`)] : [];
  });
}

/** Why a service's name is another service's derived Deployment name, or undefined. */
function derivedCollision(name: string, config: Pick<PlatformConfig, "services">): string | undefined {
  for (const other of config.services) {
    if (other.name === name || other.release.strategy !== "blue-green") continue;
    for (const track of ["blue", "green"]) {
      if (name === `${other.name}-${track}`) return `is the name of ${other.name}'s ${track} Deployment (${other.name} releases blue-green)`;
    }
  }
  return undefined;
}

export function derivedNameProblems(config: PlatformConfig, source: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (field: string, value: unknown, rule: string) => problems.push(problemAt(source, field, value, rule));

  for (const s of config.services) {
    const why = derivedCollision(s.name, config);
    if (why) add(`services.${s.name}`, s.name, `${why}: the two would share Deployment, PodDisruptionBudget and autoscaler names; rename the service (config/services.ts and every environment file) or release ${s.name.replace(/-(blue|green)$/, "")} rolling`);
  }

  // Namespaces: the stack creates (and on destroy deletes) the platform's, the monitoring one and
  // node-exporter's; each must be new, distinct, and not a namespace someone else owns.
  const nodeExporter = `${config.monitoringNamespace}${NODE_EXPORTER_SUFFIX}`;
  const configured: Record<string, string> = {
    [config.ingressController.namespace]: `the ingress controller's namespace (ingressController.namespace)`,
    [config.dns.namespace]: `the cluster DNS's namespace (dns.namespace)`,
  };
  const topology = config.postgres.topology;
  const operatorNamespace = topology.kind === "cloudnative-pg" ? topology.operatorNamespace : undefined;
  const created: [field: string, name: string, what: string][] = [
    ["namespace", config.namespace, "the platform's namespace"],
    ["monitoringNamespace", config.monitoringNamespace, "the monitoring namespace"],
    ...(operatorNamespace ? [["postgres.topology.operatorNamespace", operatorNamespace, "the database operator's namespace"] as [string, string, string]] : []),
  ];
  const owner = (name: string): string | undefined =>
    name.startsWith("kube-")
      ? "a Kubernetes system namespace (kube-*)"
      : Object.hasOwn(WELL_KNOWN_NAMESPACES, name)
        ? WELL_KNOWN_NAMESPACES[name]
        : Object.hasOwn(configured, name)
          ? configured[name]
          : undefined;
  const reported = new Set<string>();
  for (const [field, name, what] of created) {
    const taken = owner(name);
    if (taken) {
      add(field, name, `is ${taken}: the stack creates ${what} and deletes it on destroy, so it must be a namespace of its own`);
      reported.add(field);
    }
  }
  if (!reported.has("monitoringNamespace")) {
    if (config.monitoringNamespace === config.namespace)
      add("monitoringNamespace", config.monitoringNamespace, "must differ from namespace: monitoring runs under its own Pod Security level and policies");
    else if (nodeExporter.length > 63)
      add(
        "monitoringNamespace",
        config.monitoringNamespace,
        `derives node-exporter's namespace ${config.monitoringNamespace}${NODE_EXPORTER_SUFFIX} (${nodeExporter.length} characters), above the 63 a namespace name may have: use at most ${63 - NODE_EXPORTER_SUFFIX.length} characters`,
      );
    else if (owner(nodeExporter) || nodeExporter === config.namespace)
      add("monitoringNamespace", config.monitoringNamespace, `derives node-exporter's namespace ${nodeExporter}, which is ${owner(nodeExporter) ?? "the platform's namespace (namespace)"}: choose another monitoring namespace`);
  }
  if (operatorNamespace && !reported.has("postgres.topology.operatorNamespace")) {
    const same = [
      ["namespace", config.namespace],
      ["monitoringNamespace", config.monitoringNamespace],
      ["node-exporter's namespace, derived from monitoringNamespace", nodeExporter],
    ].find(([, name]) => name === operatorNamespace);
    if (same)
      add(
        "postgres.topology.operatorNamespace",
        operatorNamespace,
        `is also ${same[0]}: the database operator and its plugin get a namespace of their own (its default-deny policies and Pod Security level would fall on the other's pods); choose another, such as cnpg-system`,
      );
  }
  if (!reported.has("namespace") && config.namespace === nodeExporter)
    add("namespace", config.namespace, `is node-exporter's namespace, which the stack derives from monitoringNamespace (${config.monitoringNamespace}${NODE_EXPORTER_SUFFIX})`);
  return problems;
}

/**
 * The connections a stack should allow, derived from the configuration and the charts' facts, never
 * from the policies: the catalogue's `calls`, `usesDatabase`, `internetEgress` and exposure, the
 * data tier (services → PgBouncer → Postgres, the migration Job → Postgres, Redis' users), DNS,
 * and monitoring (Prometheus → metrics ports only, Grafana and the adapter → Prometheus, the API
 * server → the aggregated APIs and the operator's webhook, Alertmanager → PagerDuty).
 */
import type { PlatformConfig } from "../../config/load";
import type { Endpoint, NetworkModel } from "./model";
import { clusterRanges } from "./model";
import { NODE_SCRAPES, type PodPort } from "./stand-ins";

/** One rule of the expected matrix: who may reach whom on which port, and why. */
interface Expectation {
  readonly why: string;
  readonly from: (e: Endpoint) => boolean;
  readonly to: (e: Endpoint) => boolean;
  readonly port: (p: PodPort, to: Endpoint) => boolean;
}

const role = (r: string) => (e: Endpoint) => e.roles.includes(r);
const named = (name: string) => (p: PodPort) => p.name === name && p.protocol === "TCP";
/** Postgres' port: `postgres` on the StatefulSet, `postgresql` on a CloudNativePG instance. */
const postgresPort = (p: PodPort) => (p.name === "postgres" || p.name === "postgresql") && p.protocol === "TCP";
const numbered = (...ports: number[]) => (p: PodPort) => p.protocol === "TCP" && ports.includes(p.port);

/** Whether a service uses Redis: a cache, or rate limits counted in Redis. */
function redisUser(config: PlatformConfig, s: PlatformConfig["services"][number]): boolean {
  return !!config.redis && (s.cache !== undefined || (s.rateLimit !== undefined && config.rateLimiting.backend === "redis"));
}

/**
 * The expectations of one stack. `port` of a talksTo entry is a port name (matched against the
 * destination's declared ports) or a number (an address's port).
 */
export function expectations(config: PlatformConfig, model: NetworkModel): Expectation[] {
  const out: Expectation[] = [];
  const managedPod = (e: Endpoint) => e.namespace !== undefined && model.managedNamespaces.has(e.namespace);
  const platformPod = (e: Endpoint) => e.namespace === config.namespace;

  out.push({ why: "DNS", from: managedPod, to: role("kube-dns"), port: (p) => p.port === 53 });
  if (config.dns.nodeLocalAddress) out.push({ why: "DNS (NodeLocal DNSCache)", from: managedPod, to: role("node-local-dns"), port: (p) => p.port === 53 });

  for (const s of config.services) {
    const self = role(`service:${s.name}`);
    for (const callee of s.calls) out.push({ why: `calls: ${s.name} → ${callee}`, from: self, to: role(`service:${callee}`), port: named("http") });
    if (s.exposure === "public") out.push({ why: `exposure: public`, from: role("ingress-controller"), to: self, port: named("http") });
    if (s.usesDatabase) {
      out.push(
        config.pgbouncer
          ? { why: "usesDatabase (through PgBouncer)", from: self, to: role("pgbouncer"), port: named("pgbouncer") }
          : { why: "usesDatabase", from: self, to: role("postgres"), port: postgresPort },
      );
    }
    if (redisUser(config, s)) out.push({ why: s.cache ? "cache" : "rate limits in Redis", from: self, to: role("redis"), port: named("redis") });
    if (s.internetEgress) out.push({ why: "internetEgress", from: self, to: role("internet"), port: numbered(443) });
  }
  if (config.pgbouncer) out.push({ why: "PgBouncer's server connections", from: role("pgbouncer"), to: role("postgres"), port: postgresPort });
  out.push({ why: "migrations (direct, past the pooler)", from: role("migration"), to: role("postgres"), port: postgresPort });
  // A CloudNativePG cluster's instances (and the operator's Jobs) archive WAL and back up to the
  // object store: the internet, unless its addresses are configured.
  const topology = config.postgres.topology;
  if (topology.kind === "cloudnative-pg" && topology.backup && !topology.backup.objectStore.cidrs) {
    const endpoint = new URL(topology.backup.objectStore.endpoint ?? `https://s3.${topology.backup.objectStore.region}.amazonaws.com`);
    const port = endpoint.port ? Number(endpoint.port) : endpoint.protocol === "http:" ? 80 : 443;
    out.push({ why: "WAL archiving and backups (the object store)", from: (e) => e.roles.includes("postgres") || e.roles.includes("postgres-job"), to: role("internet"), port: numbered(port) });
  }

  // Monitoring.
  const kps = Object.values(model.helmValues).find((v) => v.prometheus?.prometheusSpec) ?? {};
  out.push({ why: "scrape: the platform's metrics ports", from: role("prometheus"), to: platformPod, port: named("metrics") });
  out.push({ why: "scrape: the charts' metrics ports", from: role("prometheus"), to: (e) => !!e.standIn, port: (p) => (p as { scraped?: boolean }).scraped === true });
  out.push({ why: "alerts", from: role("prometheus"), to: role("alertmanager"), port: named("http-web") });
  const serviceMonitors = kps.kubernetesServiceMonitors?.enabled !== false;
  if (serviceMonitors && (kps.coreDns?.enabled ?? true)) out.push({ why: "scrape: CoreDNS", from: role("prometheus"), to: role("kube-dns"), port: named("metrics") });
  const nodePorts = serviceMonitors ? NODE_SCRAPES.filter((t) => kps[t.key]?.enabled ?? t.byDefault).map((t) => t.port) : [];
  out.push({ why: "scrape: kubelets, host-network exporters, control plane", from: role("prometheus"), to: role("node"), port: numbered(...nodePorts) });

  const { apiServer } = clusterRanges(config);
  out.push({ why: "the API server (watch, discovery)", from: (e) => managedPod(e) && e.standIn?.usesApiServer === true, to: role("api-server"), port: numbered(...apiServer.ports) });
  out.push({ why: "aggregated API or admission webhook", from: role("api-server"), to: (e) => managedPod(e) && !!e.standIn, port: (p) => (p as { calledByApiServer?: boolean }).calledByApiServer === true });
  for (const pod of model.pods) {
    for (const t of pod.standIn?.talksTo ?? []) {
      out.push({ why: `${pod.role} → ${t.role}`, from: (e) => e.id === pod.id, to: role(t.role), port: typeof t.port === "number" ? numbered(t.port) : named(t.port) });
    }
  }
  if (config.ingress.grafanaHost) out.push({ why: "Grafana exposed (ingress.grafanaHost)", from: role("ingress-controller"), to: role("grafana"), port: named("grafana") });
  if (config.monitoring.alerting && config.monitoring.pagerduty.enabled) out.push({ why: "PagerDuty", from: role("alertmanager"), to: role("internet"), port: numbered(443) });
  return out;
}

/** Why a connection is expected, or undefined when it is not. */
export function expectedReason(rules: readonly Expectation[], from: Endpoint, to: Endpoint, port: PodPort): string | undefined {
  return rules.find((r) => r.from(from) && r.to(to) && r.port(port, to))?.why;
}

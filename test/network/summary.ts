/**
 * The expected traffic matrix of a stack as the tables docs/design.md shows ("Network policies"):
 * who reaches whom on which port, blue and green tracks folded into their service. Derived from the
 * configuration alone (no engine): the matrix test holds the engine's answer equal to it.
 *
 *   npm run build && node dist/test/network/summary.js           # prints production's, autoscaling on
 *   npm run build && node dist/test/network/summary.js --write   # and puts it in docs/design.md
 */
import type { PlatformConfig } from "../../config/load";
import { expectations, expectedReason } from "./expected";
import { connections } from "./matrix";
import type { Endpoint, NetworkModel } from "./model";

/** A short name for an endpoint's role. */
function roleName(e: Endpoint): string {
  if (e.role.startsWith("service:")) return e.role.slice("service:".length);
  return e.role === "kube-dns" ? "DNS" : e.role;
}

/** Role → role → ports, for the expected connections. */
function expectedPairs(config: PlatformConfig, model: NetworkModel): Map<string, Map<string, Set<string>>> {
  const rules = expectations(config, model);
  const pairs = new Map<string, Map<string, Set<string>>>();
  for (const c of connections(model)) {
    // An address in two ranges (the API server's and the nodes', by default) plays both roles;
    // the table shows each connection under the role that expects it.
    if (!expectedReason(rules, c.from, { ...c.to, roles: [c.to.role] }, c.port)) continue;
    const to = pairs.get(roleName(c.from)) ?? new Map<string, Set<string>>();
    pairs.set(roleName(c.from), to);
    const ports = to.get(roleName(c.to)) ?? new Set<string>();
    to.set(roleName(c.to), ports);
    ports.add(`${c.port.name && c.to.namespace ? `${c.port.name} ` : ""}${c.port.port}${c.port.protocol === "UDP" ? "/udp" : ""}`);
  }
  return pairs;
}

const portNumber = (text: string) => Number(/([0-9]+)(\/udp)?$/.exec(text)?.[1] ?? 0);
const cell = (ports: Set<string> | undefined) => (ports ? [...ports].sort((a, b) => portNumber(a) - portNumber(b) || a.localeCompare(b)).join(", ") : "");

/** Two markdown tables: the platform's namespace as a grid, the monitoring namespace as a list. */
export function matrixMarkdown(config: PlatformConfig, model: NetworkModel): string {
  const pairs = expectedPairs(config, model);
  const services = config.services.map((s) => s.name);
  const data = ["pgbouncer", "postgres", "redis"].filter((r) => model.pods.some((p) => p.role === r));
  const platformSources = ["ingress-controller", ...services, ...data, "migration", "prometheus"];
  const platformTargets = [...services, ...data, "DNS", "internet"];
  const header = `| from \\ to | ${platformTargets.join(" | ")} |`;
  const grid = [header, `|---|${platformTargets.map(() => "---").join("|")}|`];
  for (const from of platformSources) {
    const row = platformTargets.map((to) => cell(pairs.get(from)?.get(to)));
    if (row.some((c) => c)) grid.push(`| ${from} | ${row.join(" | ")} |`);
  }
  const monitoringRoles = new Set(model.pods.filter((p) => p.namespace === config.monitoringNamespace).map(roleName));
  const list = ["| from | to: ports |", "|---|---|"];
  for (const [from, targets] of [...pairs].sort(([a], [b]) => a.localeCompare(b))) {
    if (!monitoringRoles.has(from) && from !== "api-server") continue;
    const entries = [...targets]
      .filter(([to]) => from !== "prometheus" || !platformTargets.includes(to) || to === "DNS")
      .map(([to, ports]) => `${to}: ${cell(ports)}`)
      .sort();
    if (from === "prometheus") entries.unshift(`every pod in ${config.namespace}: its port named metrics`);
    list.push(`| ${from} | ${entries.join("; ")} |`);
  }
  return `${grid.join("\n")}\n\nThe monitoring namespace, and what the API server reaches:\n\n${list.join("\n")}\n`;
}

if (require.main === module) {
  // Loaded here, not at the top: the docs test imports this module without synthesizing twice.
  const { loadConfig, synthEnvironment } = require("../helpers") as typeof import("../helpers");
  const { buildModel } = require("./model") as typeof import("./model");
  const config = loadConfig("production", { enableAutoscaling: true });
  const table = matrixMarkdown(config, buildModel(synthEnvironment("production", { enableAutoscaling: true }), config));
  if (process.argv[2] === "--write") {
    // Between the markers docs/design.md holds it with (test/network/summary.test.ts reads them).
    const { readFileSync, writeFileSync } = require("node:fs") as typeof import("node:fs");
    const design = require("node:path").join(__dirname, "..", "..", "..", "docs", "design.md") as string;
    const doc = readFileSync(design, "utf8");
    const markers = /(<!-- traffic-matrix:production -->\n)[\s\S]*?(<!-- \/traffic-matrix -->)/;
    if (!markers.test(doc)) throw new Error(`${design} has no traffic-matrix markers`);
    const updated = doc.replace(markers, (_, open: string, close: string) => `${open}${table}${close}`);
    if (updated === doc) process.stdout.write("docs/design.md: the production traffic matrix was already up to date\n");
    else {
      writeFileSync(design, updated);
      process.stdout.write("docs/design.md: the production traffic matrix was rewritten\n");
    }
  } else process.stdout.write(table);
}

/**
 * The traffic matrix: every relevant connection of a stack (each pod and address that may start
 * one, to each declared port of each pod and each probed port of each address, where at least one
 * end is a pod of a namespace the stack creates), evaluated by the engine and compared with the
 * expected matrix. Every allowed connection must be expected and every expected one allowed.
 */
import type { PlatformConfig } from "../../config/load";
import { evaluate, type Traffic, type TrafficPeer } from "./engine";
import { expectations, expectedReason } from "./expected";
import type { Endpoint, NetworkModel } from "./model";
import type { PodPort } from "./stand-ins";

export interface Connection {
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly port: PodPort;
}

export interface MatrixRow extends Connection {
  /** Why it is expected; undefined when it is not. */
  readonly expected?: string;
  readonly allowed: boolean;
}

/** Addresses that start connections: the API server (aggregated APIs, webhooks) and the internet. */
const SOURCE_ADDRESSES = new Set(["api-server", "internet"]);

export function connections(model: NetworkModel): Connection[] {
  const managed = (e: Endpoint) => e.namespace !== undefined && model.managedNamespaces.has(e.namespace);
  const sources = [...model.pods, ...model.addresses.filter((a) => SOURCE_ADDRESSES.has(a.role))];
  const destinations = [...model.pods, ...model.addresses];
  const out: Connection[] = [];
  for (const from of sources) {
    for (const to of destinations) {
      if (!managed(from) && !managed(to)) continue;
      for (const port of to.ports) out.push({ from, to, port });
    }
  }
  return out;
}

function peer(model: NetworkModel, e: Endpoint): TrafficPeer {
  if (e.namespace === undefined) return { IP: e.ip };
  return {
    Internal: { PodLabels: { ...e.labels }, NamespaceLabels: { ...(model.namespaces[e.namespace] ?? { "kubernetes.io/metadata.name": e.namespace }) }, Namespace: e.namespace },
    IP: e.ip,
  };
}

/** The engine's input for these connections. */
export function traffic(model: NetworkModel, list: readonly Connection[]): Traffic[] {
  return list.map((c) => ({ Source: peer(model, c.from), Destination: peer(model, c.to), ResolvedPort: c.port.port, ResolvedPortName: c.port.name ?? "", Protocol: c.port.protocol }));
}

/** Evaluates the whole matrix of a model with the engine and sets each row's expectation. */
export async function computeMatrix(binary: string, dir: string, config: PlatformConfig, model: NetworkModel): Promise<MatrixRow[]> {
  const list = connections(model);
  const verdicts = await evaluate(binary, dir, model.policies, traffic(model, list));
  const rules = expectations(config, model);
  return list.map((c, i) => ({ ...c, expected: expectedReason(rules, c.from, c.to, c.port), allowed: verdicts[i]! }));
}

/** Rows where the engine and the expectation disagree. */
export function mismatches(rows: readonly MatrixRow[]): MatrixRow[] {
  return rows.filter((r) => (r.expected !== undefined) !== r.allowed);
}

export const portText = (p: PodPort): string => `${p.name ? `${p.name} ` : ""}${p.port}/${p.protocol}`;

/** A readable table: source → destination:port, expected (and why), actual. */
export function renderRows(rows: readonly MatrixRow[], limit = 60): string {
  const lines = rows.slice(0, limit).map((r) => `| ${r.from.id} → ${r.to.id}:${portText(r.port)} | ${r.expected ? `allowed (${r.expected})` : "denied"} | ${r.allowed ? "allowed" : "denied"} |`);
  const more = rows.length > limit ? [`(${rows.length - limit} more)`] : [];
  return ["| source → destination:port | expected | engine |", "|---|---|---|", ...lines, ...more].join("\n");
}

/**
 * The independent NetworkPolicy engine: cyclonus (github.com/mattfenwick/cyclonus v0.5.6), whose
 * `analyze --mode query-traffic` evaluates each connection (source and destination with their
 * labels, namespace labels and address, port number and name, protocol) against a set of
 * NetworkPolicies with the matcher its conformance probes check real CNIs against. No cluster.
 *
 * Found as $CYCLONUS (then nothing else is tried), else the CI cache (`${XDG_CACHE_HOME:-~/.cache}/agent-platform/bin/cyclonus-v0.5.6`,
 * which .ci/run fills with `go install`), else `cyclonus` on PATH.
 */
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { KubernetesNetworkPolicy } from "./model";

export const CYCLONUS_VERSION = "v0.5.6";

/** One connection, in cyclonus' `matcher.Traffic` shape. */
export interface Traffic {
  readonly Source: TrafficPeer;
  readonly Destination: TrafficPeer;
  readonly ResolvedPort: number;
  readonly ResolvedPortName: string;
  readonly Protocol: string;
}
export interface TrafficPeer {
  readonly Internal?: { readonly PodLabels: Record<string, string>; readonly NamespaceLabels: Record<string, string>; readonly Namespace: string };
  readonly IP: string;
}

let found: string | null | undefined;

/** The engine's binary, or undefined (with the places looked) when there is none. */
export function cyclonusBinary(): { path?: string; looked: string[] } {
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "agent-platform", "bin", `cyclonus-${CYCLONUS_VERSION}`);
  // CYCLONUS, where set, is the only candidate: CI must run the binary it built, no other.
  const candidates = process.env.CYCLONUS ? [process.env.CYCLONUS] : [cache, "cyclonus"];
  if (found === undefined) {
    found = candidates.find((c) => spawnSync(c, ["version"], { encoding: "utf8" }).status === 0) ?? null;
  }
  return { path: found ?? undefined, looked: candidates };
}

/**
 * Evaluates every traffic against the policies.
 * @returns one verdict per traffic, in order
 */
export async function evaluate(binary: string, dir: string, policies: readonly KubernetesNetworkPolicy[], traffic: readonly Traffic[]): Promise<boolean[]> {
  const policyFile = join(dir, "policies.json");
  const trafficFile = join(dir, "traffic.json");
  writeFileSync(policyFile, JSON.stringify({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicyList", items: policies }));
  writeFileSync(trafficFile, JSON.stringify(traffic));
  const out = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(binary, ["analyze", "--mode", "query-traffic", "--policy-path", policyFile, "--traffic-path", trafficFile], { stdio: ["ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => stdout.push(d));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout: Buffer.concat(stdout).toString(), stderr }));
  });
  if (out.status !== 0) throw new Error(`cyclonus exited ${out.status}: ${out.stderr.slice(-2000)}`);
  // Each traffic's result table ends in a footer row: `| IS ALLOWED? |  TRUE  |`.
  const verdicts = [...out.stdout.matchAll(/^\| IS ALLOWED\? \|\s+(TRUE|FALSE)\s+\|/gm)].map((m) => m[1] === "TRUE");
  if (verdicts.length !== traffic.length) throw new Error(`cyclonus answered ${verdicts.length} verdicts for ${traffic.length} connections`);
  return verdicts;
}

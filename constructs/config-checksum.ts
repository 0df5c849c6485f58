import { createHash } from "node:crypto";

/**
 * The pod-template annotation that carries a digest of every ConfigMap the pod reads. Kubernetes
 * rolls a workload only when its pod template changes; a ConfigMap edited in place changes nothing
 * the workload controller sees, so without this digest a changed `pgbouncer.ini`, `redis.conf` or
 * service setting would apply cleanly and take effect only at the next unrelated restart.
 */
export const CONFIG_CHECKSUM_ANNOTATION = "agent-platform/config-sha256";

/**
 * The digest of the ConfigMaps a pod reads, keyed by ConfigMap name, each as its plain (unescaped)
 * data. Key order does not matter; any change to a name, key or value changes the digest.
 * Secrets are never digested: a hash of a short password in the plan is a guessable copy of it.
 */
export function configChecksum(configMaps: Readonly<Record<string, Readonly<Record<string, string>>>>): string {
  const sorted = (record: Readonly<Record<string, unknown>>) => Object.keys(record).sort();
  const canonical = sorted(configMaps).map((name) => [name, sorted(configMaps[name]).map((key) => [key, configMaps[name][key]])]);
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

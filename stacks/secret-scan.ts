/**
 * Secret-looking literals in a synthesized stack, by the one rule set of config/secrets.ts: env
 * values of every container (by name or shape), and ConfigMap data (by key and shape where the
 * ConfigMap becomes a container's environment, by shape where it is mounted as files). The policy
 * gate fails synth on these; scripts/check.ts runs the same scan on a written stack.
 */
import { secretReason, secretShape } from "../config/secrets";
import { unescapeLiteral } from "../constructs/terraform-text-plain";

type Json = Record<string, any>;

export interface SecretFinding {
  /** `kubernetes_deployment_v1.x`. */
  readonly resource: string;
  readonly path: string;
  /** Where in the resource, without the value. */
  readonly where: string;
  readonly reason: string;
}

const WORKLOADS = ["kubernetes_deployment_v1", "kubernetes_stateful_set_v1", "kubernetes_job_v1"];

export function secretLiterals(stack: Json): SecretFinding[] {
  const resources = (stack.resource ?? {}) as Record<string, Record<string, Json>>;
  const findings: SecretFinding[] = [];
  const envConfigMaps = new Set<string>();
  for (const type of WORKLOADS) {
    for (const [id, w] of Object.entries(resources[type] ?? {})) {
      const pod = w.spec?.template?.spec ?? {};
      for (const c of [...(pod.container ?? []), ...(pod.init_container ?? [])] as Json[]) {
        for (const e of (c.env ?? []) as Json[]) {
          if (e.value === undefined) continue;
          const reason = secretReason(String(e.name), unescapeLiteral(String(e.value)));
          if (reason) findings.push({ resource: `${type}.${id}`, path: w["//"]?.metadata?.path ?? id, where: `container ${c.name}: env ${e.name}`, reason });
        }
        for (const from of (c.env_from ?? []) as Json[]) if (from.config_map_ref?.name) envConfigMaps.add(String(from.config_map_ref.name));
      }
    }
  }
  for (const [id, cm] of Object.entries(resources.kubernetes_config_map_v1 ?? {})) {
    const ref = `\${kubernetes_config_map_v1.${id}.metadata[0].name}`;
    const asEnv = envConfigMaps.has(ref) || envConfigMaps.has(String(cm.metadata?.name));
    for (const [key, raw] of Object.entries((cm.data ?? {}) as Record<string, string>)) {
      const value = unescapeLiteral(String(raw));
      const reason = asEnv ? secretReason(key, value) : secretShape(value) ? `its value looks like ${secretShape(value)}` : undefined;
      if (reason) findings.push({ resource: `kubernetes_config_map_v1.${id}`, path: cm["//"]?.metadata?.path ?? id, where: `data ${key}${asEnv ? " (an env var)" : ""}`, reason });
    }
  }
  return findings;
}

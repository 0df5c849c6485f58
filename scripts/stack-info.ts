/**
 * Reads a synthesized stack and prints what scripts/deploy.sh needs, one `key=value` per line:
 *   context=<kube context>  namespace=<namespace>  secrets=<existing|variable>
 *   bluegreen=<service> <terraform variable> <configured active track> <Service's resource address>
 *   namespace_resource=<address of each namespace the stack creates>
 * Usage: node dist/scripts/stack-info.js <cdktf.out> <environment>
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { platformNamespace } from "./platform-namespace";

function main(outdir: string | undefined, environment: string | undefined): number {
  if (!outdir || !environment) {
    process.stderr.write("usage: stack-info <cdktf.out> <environment>\n");
    return 2;
  }
  const file = join(outdir, "stacks", environment, "cdk.tf.json");
  if (!existsSync(file)) {
    process.stderr.write(`no synthesized stack at ${file}: run the synth first\n`);
    return 1;
  }
  const stack = JSON.parse(readFileSync(file, "utf8"));
  const lines = [`context=${stack.provider.kubernetes[0].config_context}`];
  lines.push(`namespace=${platformNamespace(stack)?.name ?? ""}`);
  const variables = (stack.variable ?? {}) as Record<string, { default?: string; sensitive?: boolean }>;
  lines.push(`secrets=${Object.values(variables).some((v) => v.sensitive) ? "variable" : "existing"}`);
  const services = Object.entries(stack.resource.kubernetes_service_v1 ?? {}) as [string, { metadata: { name: string } }][];
  for (const [name, variable] of Object.entries(variables)) {
    const match = /^active_track_(.+)$/.exec(name);
    if (!match) continue;
    const service = match[1]!.replace(/_/g, "-");
    const id = services.find(([, r]) => r.metadata.name === service)?.[0];
    lines.push(`bluegreen=${service} ${name} ${variable.default} kubernetes_service_v1.${id}`);
  }
  for (const [name, variable] of Object.entries(variables)) if (variable.sensitive) lines.push(`secret=${name}`);
  for (const id of Object.keys(stack.resource.kubernetes_namespace_v1 ?? {})) lines.push(`namespace_resource=kubernetes_namespace_v1.${id}`);
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

process.exitCode = main(process.argv[2], process.argv[3]);

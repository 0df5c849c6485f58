import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { LocalBackend, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import type { PlatformConfig } from "../config/load";
import { Microservice } from "../constructs/microservice";
import { PlatformNamespace } from "../constructs/platform-namespace";

export interface PlatformStackProps {
  readonly config: PlatformConfig;
}

/**
 * One environment of the platform: providers, backend, namespace and the services. The stack's id
 * is the environment's name, which is what `cdktf diff <env>` and `cdktf deploy <env>` take.
 */
export class PlatformStack extends TerraformStack {
  readonly config: PlatformConfig;
  readonly namespace: PlatformNamespace;
  readonly services: readonly Microservice[];

  constructor(scope: Construct, props: PlatformStackProps) {
    const { config } = props;
    super(scope, config.environment);
    this.config = config;

    // Relative to the stack's working directory (cdktf.out/stacks/<env>): state lives next to the
    // project, outside cdktf.out, which synth rewrites. A relative path keeps the JSON identical on
    // every machine.
    new LocalBackend(this, { path: `../../../terraform.${config.environment}.tfstate` });

    new KubernetesProvider(this, "kubernetes", {
      configPath: config.cluster.kubeconfigPath,
      configContext: config.cluster.context,
    });

    this.namespace = new PlatformNamespace(this, "namespace", { name: config.namespace });

    const callersOf = (name: string) => config.services.filter((s) => s.calls.includes(name)).map((s) => s.name);
    const portOf = new Map(config.services.map((s) => [s.name, s.port]));

    this.services = config.services.map(
      (service) =>
        new Microservice(this, service.name, {
          namespace: this.namespace,
          environment: config.environment,
          service,
          autoscaling: config.autoscalingEnabled,
          imagePullPolicy: config.imagePullPolicy,
          callees: service.calls.map((name) => ({ name, port: portOf.get(name)! })),
          callers: callersOf(service.name),
          ingressController: config.ingressController,
          monitoringNamespace: config.monitoringNamespace,
        }),
    );
  }
}

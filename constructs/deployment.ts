import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "./security";
import { type SecretFile, secretFilesVolume } from "./platform-secrets";
import { literalList } from "./terraform-text";
import { nodeFailureTolerations, spreadOverNodesAndZones, surgeOnlyRollingUpdate } from "./scheduling";

/** Where a service's Secret files are mounted. Not under /etc/platform: that is the files ConfigMap. */
export const SECRETS_DIR = "/etc/platform-secrets";

export interface HttpProbePaths {
  readonly liveness: string;
  readonly readiness: string;
  readonly startup: string;
}

export interface ContainerResources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu: string; readonly memory: string };
}

export interface ServiceDeploymentProps {
  readonly namespace: string;
  readonly name: string;
  /** Labels of the Deployment object itself. */
  readonly labels: Record<string, string>;
  /** Immutable pod selector; never carries a version. */
  readonly selector: Record<string, string>;
  /** Pod template labels; must include every selector label. */
  readonly podLabels: Record<string, string>;
  /** Annotations on the pod template; a change rolls the pods (used for config checksums). */
  readonly podAnnotations?: Record<string, string>;
  /**
   * Pod count. Leave undefined when an HPA owns the Deployment, or every apply resets the HPA's
   * decision.
   */
  readonly replicas?: number;
  readonly serviceAccountName: string;
  /** Full image reference with an explicit tag or digest. */
  readonly image: string;
  /**
   * Overrides the image's entrypoint.
   * @default the image's
   */
  readonly command?: readonly string[];
  /**
   * Further ConfigMaps mounted read-only, by mount path.
   * @default none
   */
  readonly configMapMounts?: readonly { readonly name: string; readonly configMapName: string; readonly mountPath: string }[];
  readonly imagePullPolicy: "Always" | "IfNotPresent";
  readonly port: number;
  /**
   * Port serving `/metrics`, named `metrics`.
   * @default none (metrics on `port`)
   */
  readonly metricsPort?: number;
  readonly probes: HttpProbePaths;
  readonly resources: ContainerResources;
  /** ConfigMap whose keys become the container's environment. */
  readonly configMapName: string;
  /**
   * Secret keys mounted as files under /etc/platform/secrets (never environment variables).
   * @default none
   */
  readonly secretFiles?: readonly SecretFile[];
  /**
   * ConfigMap mounted read-only at /etc/platform.
   * @default none
   */
  readonly filesConfigMapName?: string;
  /**
   * Spread pods across nodes and zones. Soft (ScheduleAnyway), so a single-node cluster still runs.
   * @default false
   */
  readonly spreadAcrossNodes?: boolean;
  /**
   * Size of the writable /tmp (the root filesystem is read-only).
   * @default "64Mi"
   */
  readonly tmpSize?: string;
  /**
   * Seconds a pod stays on a node that is NotReady or unreachable before it is evicted and
   * replaced elsewhere.
   * @default 30 (STATELESS_NODE_FAILURE_TOLERATION_SECONDS; the cluster's own default is 300)
   */
  readonly nodeFailureTolerationSeconds?: number;
  readonly dependsOn?: ITerraformDependable[];
}

/**
 * A Deployment of one HTTP container, secure by default: the restricted Pod Security profile set
 * explicitly, read-only root filesystem with a writable /tmp, no service-account token, distinct
 * startup/liveness/readiness probes, resource requests and limits, and surge-only rolling updates.
 * @see https://kubernetes.io/docs/concepts/workloads/controllers/deployment/
 */
export class ServiceDeployment extends Construct {
  readonly resource: DeploymentV1;
  readonly name: string;

  constructor(scope: Construct, id: string, props: ServiceDeploymentProps) {
    super(scope, id);
    for (const [key, value] of Object.entries(props.selector)) {
      if (props.podLabels[key] !== value) {
        throw new Error(`${props.name}: 'podLabels' must carry selector label ${key}=${value}, or the Deployment selects no pods`);
      }
    }
    if (props.probes.liveness === props.probes.readiness) {
      throw new Error(`${props.name}: liveness and readiness probes must differ (both ${props.probes.liveness})`);
    }
    if (props.replicas !== undefined && (!Number.isInteger(props.replicas) || props.replicas < 1)) {
      throw new Error(`${props.name}: 'replicas' (${props.replicas}) must be a whole number >= 1`);
    }
    this.name = props.name;
    const secretFiles = props.secretFiles ?? [];

    const httpGet = (path: string) => ({ path, port: "http", scheme: "HTTP" });
    const spread = props.spreadAcrossNodes ? spreadOverNodesAndZones(props.selector) : undefined;

    this.resource = new DeploymentV1(this, "resource", {
      metadata: { name: props.name, namespace: props.namespace, labels: props.labels },
      waitForRollout: true,
      dependsOn: props.dependsOn,
      spec: {
        ...(props.replicas === undefined ? {} : { replicas: String(props.replicas) }),
        revisionHistoryLimit: 5,
        progressDeadlineSeconds: 600,
        selector: { matchLabels: props.selector },
        strategy: surgeOnlyRollingUpdate(),
        template: {
          metadata: { labels: props.podLabels, annotations: props.podAnnotations },
          spec: {
            serviceAccountName: props.serviceAccountName,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: 30,
            securityContext: restrictedPodSecurityContext(),
            topologySpreadConstraint: spread,
            toleration: nodeFailureTolerations(props.nodeFailureTolerationSeconds),
            container: [
              {
                name: "app",
                image: props.image,
                imagePullPolicy: props.imagePullPolicy,
                command: props.command ? literalList(props.command) : undefined,
                port: [
                  { name: "http", containerPort: props.port, protocol: "TCP" },
                  ...(props.metricsPort !== undefined ? [{ name: "metrics", containerPort: props.metricsPort, protocol: "TCP" }] : []),
                ],
                envFrom: [{ configMapRef: { name: props.configMapName } }],
                resources: { requests: { ...props.resources.requests }, limits: { ...props.resources.limits } },
                securityContext: restrictedContainerSecurityContext(),
                startupProbe: { httpGet: httpGet(props.probes.startup), periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 30 },
                livenessProbe: { httpGet: httpGet(props.probes.liveness), periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
                readinessProbe: { httpGet: httpGet(props.probes.readiness), periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3 },
                volumeMount: [
                  { name: "tmp", mountPath: "/tmp" },
                  ...(props.filesConfigMapName ? [{ name: "platform", mountPath: "/etc/platform", readOnly: true }] : []),
                  ...(secretFiles.length > 0 ? [{ name: "secrets", mountPath: SECRETS_DIR, readOnly: true }] : []),
                  ...(props.configMapMounts ?? []).map((m) => ({ name: m.name, mountPath: m.mountPath, readOnly: true })),
                ],
              },
            ],
            volume: [
              { name: "tmp", emptyDir: { sizeLimit: props.tmpSize ?? "64Mi" } },
              ...(props.filesConfigMapName ? [{ name: "platform", configMap: { name: props.filesConfigMapName, defaultMode: "0444" } }] : []),
              ...(secretFiles.length > 0 ? [secretFilesVolume("secrets", secretFiles)] : []),
              ...(props.configMapMounts ?? []).map((m) => ({ name: m.name, configMap: { name: m.configMapName, defaultMode: "0444" } })),
            ],
          },
        },
      },
    });
  }
}

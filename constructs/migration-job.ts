import { JobV1 } from "@cdktf/provider-kubernetes/lib/job-v1";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { Construct } from "constructs";
import { objectLabels, selectorLabels } from "./labels";
import type { NamespaceRef } from "./platform-namespace";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "./security";
import { SECRETS_DIR } from "./deployment";
import { type SecretFile, secretFilesVolume } from "./platform-secrets";
import { literalList } from "./terraform-text";

export const MIGRATION_NAME = "db-migrate";

export interface MigrationJobProps {
  readonly namespace: NamespaceRef;
  /** Release the Job belongs to (the image tag); part of its name, so each release runs once. */
  readonly release: string;
  readonly image: string;
  readonly imagePullPolicy: "Always" | "IfNotPresent";
  readonly command: readonly string[];
  /** ConfigMap holding the database settings (the migrating service's). */
  readonly configMapName: string;
  /** Secret keys mounted as files (the database password), as in the service's pods. */
  readonly secretFiles: readonly SecretFile[];
  readonly backoffLimit: number;
  readonly timeoutSeconds: number;
  /** Pod labels of the database, for the Job's egress. */
  readonly database: { readonly labels: Record<string, string>; readonly port: number };
}

/** `1.4.2` → `1-4-2`; digests shortened. Kubernetes names are DNS labels. */
export function releaseSlug(release: string): string {
  const slug = release
    .toLowerCase()
    .replace(/^sha256:/, "")
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/, "");
  if (!slug) throw new Error(`release '${release}' has no characters usable in a Kubernetes name`);
  return slug;
}

/**
 * Applies database migrations once per release, before the Deployments roll (they depend on it).
 * Terraform waits for completion; a failure stops the apply. No `ttlSecondsAfterFinished`: a Job
 * deleted by the TTL controller would be re-created by the next apply.
 */
export class MigrationJob extends Construct {
  readonly job: JobV1;

  constructor(scope: Construct, id: string, props: MigrationJobProps) {
    super(scope, id);
    const namespace = props.namespace.name;
    const labels = objectLabels(MIGRATION_NAME, "migration", props.release);
    const podSelector = selectorLabels(MIGRATION_NAME);

    this.job = new JobV1(this, "job", {
      metadata: { name: `${MIGRATION_NAME}-${releaseSlug(props.release)}`, namespace, labels },
      waitForCompletion: true,
      timeouts: { create: `${props.timeoutSeconds + 60}s`, update: `${props.timeoutSeconds + 60}s` },
      spec: {
        backoffLimit: props.backoffLimit,
        activeDeadlineSeconds: props.timeoutSeconds,
        template: {
          metadata: { labels },
          spec: {
            restartPolicy: "Never",
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: restrictedPodSecurityContext(),
            container: [
              {
                name: "migrate",
                image: props.image,
                imagePullPolicy: props.imagePullPolicy,
                command: literalList(props.command),
                envFrom: [{ configMapRef: { name: props.configMapName } }],
                resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
                securityContext: restrictedContainerSecurityContext(),
                volumeMount: [
                  { name: "tmp", mountPath: "/tmp" },
                  { name: "secrets", mountPath: SECRETS_DIR, readOnly: true },
                ],
              },
            ],
            volume: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }, secretFilesVolume("secrets", props.secretFiles)],
          },
        },
      },
    });

    new NetworkPolicyV1(this, "network-policy", {
      metadata: { name: MIGRATION_NAME, namespace, labels: objectLabels(MIGRATION_NAME, "migration") },
      spec: {
        podSelector: { matchLabels: podSelector },
        policyTypes: ["Ingress", "Egress"],
        ingress: [],
        egress: [{ to: [{ podSelector: { matchLabels: props.database.labels } }], ports: [{ port: String(props.database.port), protocol: "TCP" }] }],
      },
    });
  }
}

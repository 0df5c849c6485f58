import { JobV1 } from "@cdktf/provider-kubernetes/lib/job-v1";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { Construct } from "constructs";
import { objectLabels, selectorLabels } from "./labels";
import type { NamespaceRef } from "./platform-namespace";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "./security";
import { SECRETS_DIR } from "./deployment";
import { type SecretFile, secretFilesVolume } from "./platform-secrets";
import { createHash } from "node:crypto";
import { versionLabel } from "../config/names";
import { SIZES } from "../config/sizes";
import { literal, literalList } from "./terraform-text";

export const MIGRATION_NAME = "db-migrate";

export interface MigrationJobProps {
  readonly namespace: NamespaceRef;
  /** The migrating service's image tag and digest: the release the Job belongs to, once each. */
  readonly release: { readonly tag?: string; readonly digest?: string };
  readonly image: string;
  readonly imagePullPolicy: "Always" | "IfNotPresent";
  readonly command: readonly string[];
  /** ConfigMap holding the database settings (the migrating service's). */
  readonly configMapName: string;
  /** Secret keys mounted as files (the database password), as in the service's pods. */
  readonly secretFiles: readonly SecretFile[];
  readonly backoffLimit: number;
  readonly timeoutSeconds: number;
  /**
   * Postgres itself, never a pooler: migrations need session features (advisory locks, DDL in
   * one session). Its host and port override the service's settings; its labels open the egress.
   */
  readonly database: { readonly host: string; readonly labels: Record<string, string>; readonly port: number; readonly sslmode: "require" | "disable" };
  /**
   * An image with `pg_isready`: an init container waits until the database answers on its host
   * before migrating. Needed where Terraform cannot wait for the database itself (a
   * CloudNativePG Cluster is a custom resource Helm does not watch); the Job's deadline bounds it.
   * @default no wait (Terraform waited for the StatefulSet's rollout)
   */
  readonly waitImage?: string;
}

/** The init container's loop: until the server answers (a refusal of credentials is an answer). */
export function databaseWaitCommand(host: string, port: number): string[] {
  return ["sh", "-c", `until pg_isready -q -h ${host} -p ${port}; do sleep 2; done`];
}

/**
 * The part of the Job's name that names the release, a DNS label of at most 40 characters: the tag
 * (`1.4.2` → `1-4-2`), or a digest's first 12 hex digits. A tag too long for that, or with no
 * usable character, ends in the first 8 hex digits of its SHA-256 instead, so two releases never
 * share a Job (a shared name would mean the second release's migrations never run).
 */
export function releaseSlug(release: { readonly tag?: string; readonly digest?: string }): string {
  if (release.tag === undefined) return release.digest!.slice("sha256:".length, "sha256:".length + 12);
  const slug = release.tag
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (slug.length > 0 && slug.length <= 40) return slug;
  const hash = createHash("sha256").update(release.tag).digest("hex").slice(0, 8);
  return `${slug.slice(0, 31).replace(/-+$/, "")}${slug ? "-" : ""}${hash}`.replace(/^-+/, "");
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
    const labels = objectLabels(MIGRATION_NAME, "migration", versionLabel(props.release));
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
            initContainer: props.waitImage
              ? [
                  {
                    name: "wait-for-database",
                    image: props.waitImage,
                    imagePullPolicy: props.imagePullPolicy,
                    command: literalList(databaseWaitCommand(props.database.host, props.database.port)),
                    resources: { requests: { ...SIZES.databaseWait.requests }, limits: { ...SIZES.databaseWait.limits } },
                    securityContext: restrictedContainerSecurityContext(),
                  },
                ]
              : undefined,
            container: [
              {
                name: "migrate",
                image: props.image,
                imagePullPolicy: props.imagePullPolicy,
                command: literalList(props.command),
                envFrom: [{ configMapRef: { name: props.configMapName } }],
                // Explicit env wins over envFrom: straight to Postgres, past any pooler.
                env: [
                  { name: "PLATFORM_DATABASE_HOST", value: literal(props.database.host) },
                  { name: "PLATFORM_DATABASE_PORT", value: String(props.database.port) },
                  { name: "PLATFORM_DATABASE_POOLING", value: "direct" },
                  { name: "PLATFORM_DATABASE_SSLMODE", value: props.database.sslmode },
                ],
                resources: { requests: { ...SIZES.migration.requests }, limits: { ...SIZES.migration.limits } },
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

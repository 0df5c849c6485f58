/**
 * Security settings that satisfy the Pod Security Standards' `restricted` profile, set explicitly
 * on every container so that no default of the cluster or the image is relied upon.
 * @see https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
 */

/** UID and GID the platform's containers run as; any non-zero ID the image tolerates works. */
export const DEFAULT_RUN_AS_USER = 10001;

export interface RunAs {
  /** @default 10001 */
  readonly user?: number;
  /** @default the user ID */
  readonly group?: number;
}

/** Container-level context: no privilege, no escalation, no capabilities, read-only root. */
export function restrictedContainerSecurityContext(runAs: RunAs = {}) {
  const user = runAs.user ?? DEFAULT_RUN_AS_USER;
  if (!Number.isInteger(user) || user <= 0) {
    throw new Error(`runAs.user (${user}) must be a positive integer: the restricted profile forbids running as root`);
  }
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser: String(user),
    runAsGroup: String(runAs.group ?? user),
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** Pod-level context; `fsGroup` makes mounted volumes writable by the non-root user. */
export function restrictedPodSecurityContext(runAs: RunAs = {}) {
  const user = runAs.user ?? DEFAULT_RUN_AS_USER;
  const group = runAs.group ?? user;
  return {
    runAsNonRoot: true,
    runAsUser: String(user),
    runAsGroup: String(group),
    fsGroup: String(group),
    seccompProfile: { type: "RuntimeDefault" },
  };
}

import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { objectLabels } from "./labels";
import { BACKUP_SECRET_KEYS } from "./postgres-cluster-values";
import { REDIS_SECRET_KEYS, type RedisPurpose } from "./redis";

/** A key of a Kubernetes Secret, consumed through `secretKeyRef`, never as a literal value. */
export interface SecretKeyRef {
  readonly secretName: string;
  readonly key: string;
}

export interface PlatformSecretsProps {
  readonly namespace: string;
  /** `existing`: Secrets made outside Terraform. `variable`: made here from sensitive variables. */
  readonly mode: "existing" | "variable";
  /** Whether Redis runs, and so needs its users' passwords. */
  readonly redis: boolean;
  /**
   * A CloudNativePG cluster instead of the StatefulSet: its roles' passwords live in
   * `kubernetes.io/basic-auth` Secrets (keys `username`, `password`), one per role, as the operator
   * requires; there is no superuser password; `backup` names the object store's credentials.
   * @default the StatefulSet's `postgres-auth`
   */
  readonly cluster?: {
    readonly appSecret: string;
    readonly appUser: string;
    readonly monitoringSecret: string;
    readonly monitoringUser: string;
    readonly backupSecret?: string;
  };
}

/** The Secrets the data tier reads, and their fixed names and keys. */
export const SECRET_NAMES = { redis: "redis-auth", postgres: "postgres-auth" } as const;

/**
 * Where the data tier's passwords live. No value ever enters the synthesized JSON: in `existing`
 * mode only names are referenced; in `variable` mode the JSON holds `${var.…}` and the value comes
 * from TF_VAR_<name> at plan time (and is kept in Terraform state, which must be protected).
 */
export class PlatformSecrets extends Construct {
  /** Each Redis user's password (`redis-auth`, one key per purpose), when Redis runs. */
  readonly redisPasswords?: Readonly<Record<RedisPurpose, SecretKeyRef>>;
  /** The StatefulSet's superuser; absent on CloudNativePG, which runs without a superuser password. */
  readonly postgresSuperuserPassword?: SecretKeyRef;
  readonly postgresAppPassword: SecretKeyRef;
  /** The monitoring role's (pg_monitor) password, for postgres_exporter and PgBouncer's stats. */
  readonly postgresMonitoringPassword: SecretKeyRef;

  constructor(scope: Construct, id: string, props: PlatformSecretsProps) {
    super(scope, id);
    const cluster = props.cluster;
    if (cluster) {
      this.postgresAppPassword = { secretName: cluster.appSecret, key: "password" };
      this.postgresMonitoringPassword = { secretName: cluster.monitoringSecret, key: "password" };
    } else {
      this.postgresSuperuserPassword = { secretName: SECRET_NAMES.postgres, key: "superuser-password" };
      this.postgresAppPassword = { secretName: SECRET_NAMES.postgres, key: "app-password" };
      this.postgresMonitoringPassword = { secretName: SECRET_NAMES.postgres, key: "monitoring-password" };
    }
    const purposes = Object.keys(REDIS_SECRET_KEYS) as RedisPurpose[];
    if (props.redis) this.redisPasswords = Object.fromEntries(purposes.map((p) => [p, { secretName: SECRET_NAMES.redis, key: REDIS_SECRET_KEYS[p] }])) as Record<RedisPurpose, SecretKeyRef>;
    if (props.mode === "existing") return;

    const variable = (id: string, description: string) => {
      const v = new TerraformVariable(this, id, { type: "string", sensitive: true, nullable: false, description });
      // A stable, readable name: users set TF_VAR_<id>.
      v.overrideLogicalId(id);
      return v;
    };
    const app = variable("postgres_app_password", "Postgres application role password (TF_VAR_postgres_app_password)");
    const monitoring = variable("postgres_monitoring_password", "Postgres monitoring role (pg_monitor) password (TF_VAR_postgres_monitoring_password)");
    if (cluster) {
      const basicAuth = (id: string, name: string, username: string, password: string) =>
        new SecretV1(this, id, {
          metadata: { name, namespace: props.namespace, labels: objectLabels("postgres", "database") },
          type: "kubernetes.io/basic-auth",
          data: { username, password },
        });
      basicAuth("postgres-app", cluster.appSecret, cluster.appUser, app.stringValue);
      basicAuth("postgres-monitoring", cluster.monitoringSecret, cluster.monitoringUser, monitoring.stringValue);
      if (cluster.backupSecret) {
        const keyId = variable("postgres_backup_access_key_id", "Object store access key id for the database's backups (TF_VAR_postgres_backup_access_key_id)");
        const secretKey = variable("postgres_backup_secret_access_key", "Object store secret access key for the database's backups (TF_VAR_postgres_backup_secret_access_key)");
        new SecretV1(this, "postgres-backup", {
          metadata: { name: cluster.backupSecret, namespace: props.namespace, labels: objectLabels("postgres", "database") },
          data: { [BACKUP_SECRET_KEYS.accessKeyId]: keyId.stringValue, [BACKUP_SECRET_KEYS.secretAccessKey]: secretKey.stringValue },
        });
      }
    } else {
      const superuser = variable("postgres_superuser_password", "Postgres superuser password (TF_VAR_postgres_superuser_password)");
      new SecretV1(this, "postgres", {
        metadata: { name: SECRET_NAMES.postgres, namespace: props.namespace, labels: objectLabels("postgres", "database") },
        data: { "superuser-password": superuser.stringValue, "app-password": app.stringValue, "monitoring-password": monitoring.stringValue },
      });
    }
    if (props.redis) {
      const data = Object.fromEntries(
        purposes.map((p) => {
          const name = redisPasswordVariable(p);
          return [REDIS_SECRET_KEYS[p], variable(name, `Redis user ${p}'s password (TF_VAR_${name})`).stringValue];
        }),
      );
      new SecretV1(this, "redis", {
        metadata: { name: SECRET_NAMES.redis, namespace: props.namespace, labels: objectLabels("redis", "cache") },
        data,
      });
    }
  }
}

/** The sensitive variable holding a Redis user's password in `variable` mode: `redis_<purpose>_password`. */
export const redisPasswordVariable = (purpose: RedisPurpose): string => `redis_${purpose}_password`;

/**
 * A Secret key delivered as a file. Files, unlike environment variables, are not inherited by
 * child processes, not shown by `kubectl describe`, and not written into crash reports.
 */
export interface SecretFile {
  /** File name inside the mount directory. */
  readonly file: string;
  readonly ref: SecretKeyRef;
}

/** A projected volume holding each Secret key as `<mount>/<file>`, readable by the pod's group only. */
export function secretFilesVolume(name: string, files: readonly SecretFile[]) {
  return {
    name,
    projected: [
      {
        defaultMode: "0440",
        sources: files.map((f) => ({ secret: [{ name: f.ref.secretName, items: [{ key: f.ref.key, path: f.file }] }] })),
      },
    ],
  };
}

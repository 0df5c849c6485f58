import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { objectLabels } from "./labels";
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
  readonly postgresSuperuserPassword: SecretKeyRef;
  readonly postgresAppPassword: SecretKeyRef;
  /** The monitoring role's (pg_monitor) password, for postgres_exporter and PgBouncer's stats. */
  readonly postgresMonitoringPassword: SecretKeyRef;

  constructor(scope: Construct, id: string, props: PlatformSecretsProps) {
    super(scope, id);
    this.postgresSuperuserPassword = { secretName: SECRET_NAMES.postgres, key: "superuser-password" };
    this.postgresAppPassword = { secretName: SECRET_NAMES.postgres, key: "app-password" };
    this.postgresMonitoringPassword = { secretName: SECRET_NAMES.postgres, key: "monitoring-password" };
    const purposes = Object.keys(REDIS_SECRET_KEYS) as RedisPurpose[];
    if (props.redis) this.redisPasswords = Object.fromEntries(purposes.map((p) => [p, { secretName: SECRET_NAMES.redis, key: REDIS_SECRET_KEYS[p] }])) as Record<RedisPurpose, SecretKeyRef>;
    if (props.mode === "existing") return;

    const variable = (id: string, description: string) => {
      const v = new TerraformVariable(this, id, { type: "string", sensitive: true, nullable: false, description });
      // A stable, readable name: users set TF_VAR_<id>.
      v.overrideLogicalId(id);
      return v;
    };
    const superuser = variable("postgres_superuser_password", "Postgres superuser password (TF_VAR_postgres_superuser_password)");
    const app = variable("postgres_app_password", "Postgres application role password (TF_VAR_postgres_app_password)");
    const monitoring = variable("postgres_monitoring_password", "Postgres monitoring role (pg_monitor) password (TF_VAR_postgres_monitoring_password)");
    new SecretV1(this, "postgres", {
      metadata: { name: SECRET_NAMES.postgres, namespace: props.namespace, labels: objectLabels("postgres", "database") },
      data: { "superuser-password": superuser.stringValue, "app-password": app.stringValue, "monitoring-password": monitoring.stringValue },
    });
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

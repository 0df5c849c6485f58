import { Construct } from "constructs";
import type { RedisSettings } from "../config/schema";
import { parseMemoryBytes } from "../config/quantity";
import { DATA_SERVICE_UID, EXPORTER_UID, IMAGES } from "../config/versions";
import type { NamespaceRef } from "./platform-namespace";
import { type SecretKeyRef, secretEnv } from "./platform-secrets";
import { DATA_SECRETS_DIR, StatefulService } from "./stateful-service";
import { suppress } from "./suppressions";

const PASSWORD_FILE = `${DATA_SECRETS_DIR}/redis-password`;

export const REDIS_PORT = 6379;

export interface RedisProps {
  readonly namespace: NamespaceRef;
  readonly settings: RedisSettings;
  readonly password: SecretKeyRef;
  /** Pod labels of the services that use Redis; no other pod reaches it. */
  readonly clients: readonly Record<string, string>[];
  readonly monitoringNamespace: string;
}

/**
 * `redis.conf` for the official image. The password is not in it: it arrives as
 * `--requirepass $(REDIS_PASSWORD)`, expanded by the kubelet from the Secret.
 * @see https://redis.io/docs/latest/operate/oss_and_stack/management/config-file/
 */
export function renderRedisConf(settings: RedisSettings): string {
  const lines = [
    "# Rendered from config/<environment>.ts by constructs/redis.ts. Do not edit by hand.",
    "bind * -::*",
    `port ${REDIS_PORT}`,
    // Reached only through its NetworkPolicy and with a password.
    "protected-mode no",
    `maxmemory ${parseMemoryBytes(settings.maxmemory)}`,
    `maxmemory-policy ${settings.maxmemoryPolicy}`,
    ...(settings.persistence
      ? ["appendonly yes", "appendfsync everysec", "save 900 1 300 10 60 10000"]
      : ["appendonly no", 'save ""']),
    "loglevel notice",
    "",
  ];
  return lines.join("\n");
}

/** Redis from the official image, with persistence per environment and a redis_exporter sidecar. */
export class Redis extends Construct {
  readonly server: StatefulService;
  readonly port = REDIS_PORT;

  constructor(scope: Construct, id: string, props: RedisProps) {
    super(scope, id);
    const { settings } = props;
    this.server = new StatefulService(this, "server", {
      namespace: props.namespace,
      name: "redis",
      component: "cache",
      image: IMAGES.redis,
      // The password is read from its Secret file at start; the data directory is an argument,
      // not in redis.conf, so the file runs anywhere (tests included).
      command: ["sh", "-c", `exec redis-server /etc/redis/redis.conf --dir /data --requirepass "$(cat ${PASSWORD_FILE})"`],
      env: [],
      port: { name: "redis", number: REDIS_PORT },
      // redis-cli authenticates with REDISCLI_AUTH; PONG only when the password is accepted.
      probeCommand: ["sh", "-c", `REDISCLI_AUTH="$(cat ${PASSWORD_FILE})" redis-cli -h 127.0.0.1 ping | grep -q PONG`],
      resources: settings.resources,
      runAsUser: DATA_SERVICE_UID,
      configFiles: { "/etc/redis": { "redis.conf": renderRedisConf(settings) } },
      dataPath: "/data",
      storage: settings.persistence ? settings.storage : undefined,
      exporter: {
        image: IMAGES.redisExporter,
        port: 9121,
        env: [{ name: "REDIS_ADDR", value: `redis://127.0.0.1:${REDIS_PORT}` }, secretEnv("REDIS_PASSWORD", props.password)],
        runAsUser: EXPORTER_UID,
        healthPath: "/health",
      },
      secretFiles: [{ file: "redis-password", ref: props.password }],
      clients: props.clients,
      monitoringNamespace: props.monitoringNamespace,
    });
    suppress(
      this.server.statefulSet,
      "KS-SECRET-ENV",
      "redis_exporter takes the password only from an env var or a JSON map of addresses; it reads REDIS_PASSWORD from the Secret, in the exporter sidecar only",
    );
  }
}

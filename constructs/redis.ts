import { Construct } from "constructs";
import type { RedisSettings } from "../config/schema";
import { parseMemoryBytes } from "../config/quantity";
import { SIZES } from "../config/sizes";
import { DATA_SERVICE_UID, EXPORTER_UID, IMAGES } from "../config/versions";
import type { NamespaceRef } from "./platform-namespace";
import type { SecretKeyRef } from "./platform-secrets";
import { DATA_SECRETS_DIR, type MemoryDir, StatefulService } from "./stateful-service";

export const REDIS_PORT = 6379;

/** The purposes Redis serves, one ACL user each, with a password in the Secret `redis-auth`. */
export type RedisPurpose = "ratelimit" | "cache" | "exporter";

/** A Redis ACL user: what it may run, on which keys. */
export interface RedisUser {
  /** The ACL user name, which clients send with AUTH. */
  readonly name: string;
  /** Key patterns it may touch (`~pattern`); none for users that read no key. */
  readonly keys: readonly string[];
  /** Commands (`command` or `command|subcommand`), each with why the user needs it. */
  readonly commands: Readonly<Record<string, string>>;
}

/**
 * One user per purpose, each with exactly what its job needs (docs/design.md, "Redis users").
 * Every other command is refused, FLUSHALL, CONFIG SET, ACL, KEYS, SCAN, DEBUG and MONITOR
 * included, and so is every key outside the user's prefix (inside scripts too: Redis checks each
 * `redis.call` against the caller's ACL). No user may publish or subscribe.
 * @see https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/
 */
export const REDIS_USERS: Readonly<Record<RedisPurpose | "probe", RedisUser>> = {
  ratelimit: {
    name: "ratelimit",
    keys: ["ratelimit:*"],
    commands: {
      // The sliding-window counter: a Lua script reads the previous and current window's counters,
      // decides, and increments the current one with a TTL, atomically across pods.
      eval: "runs the sliding-window script (and loads it on NOSCRIPT)",
      evalsha: "runs the loaded sliding-window script",
      "script|load": "loads the script once per connection pool",
      get: "reads a window's counter",
      mget: "reads both windows' counters at once",
      incr: "counts a request",
      incrby: "counts a weighted request",
      expire: "bounds a counter's life to two windows",
      pexpire: "the same, in milliseconds",
      ttl: "reports when a limit resets (Retry-After)",
      pttl: "the same, in milliseconds",
      time: "the server's clock, one clock for every pod",
      multi: "drivers' transactional pipelines",
      exec: "drivers' transactional pipelines",
      discard: "drivers' transactional pipelines",
      ping: "connection pools' health checks",
    },
  },
  cache: {
    name: "cache",
    keys: ["cache:*"],
    commands: {
      get: "reads an entry",
      mget: "reads several entries",
      set: "writes an entry (with EX or PX: every entry has a TTL)",
      setex: "writes an entry with a TTL (older clients)",
      getex: "reads an entry and refreshes its TTL",
      del: "invalidates an entry",
      unlink: "invalidates an entry without blocking",
      exists: "checks for an entry",
      expire: "sets an entry's TTL",
      pexpire: "the same, in milliseconds",
      ttl: "reads an entry's TTL",
      pttl: "the same, in milliseconds",
      multi: "drivers' transactional pipelines (set_many)",
      exec: "drivers' transactional pipelines",
      discard: "drivers' transactional pipelines",
      ping: "connection pools' health checks",
    },
  },
  exporter: {
    name: "exporter",
    keys: [],
    // What redis_exporter v1.67 runs per scrape with the options set here (exporter/exporter.go,
    // latency.go, slowlog.go): no key checks, no client list, no ping-on-connect.
    commands: {
      info: "INFO ALL: memory, clients, stats, keyspace, commandstats",
      "config|get": "CONFIG GET *: maxmemory, databases",
      "client|setname": "names its connection redis_exporter",
      "slowlog|len": "redis_slowlog_length",
      "slowlog|get": "the last slow command's id and duration",
      "latency|latest": "latency spikes",
      "latency|histogram": "per-command latency histograms",
    },
  },
  probe: {
    name: "probe",
    keys: [],
    commands: { ping: "readiness and liveness: PONG only once the data is loaded" },
  },
};

/** The Secret key (in `redis-auth`) holding each purpose's password. */
export const REDIS_SECRET_KEYS: Readonly<Record<RedisPurpose, string>> = {
  ratelimit: "ratelimit-password",
  cache: "cache-password",
  exporter: "exporter-password",
};

/** Where the init container writes the ACL file (hashes only) and the probe's password. */
export const ACL_DIR: MemoryDir = { volume: "acl", path: "/run/redis/acl" };
/** Where the init container writes redis_exporter's password file (the exporter's mount only). */
export const EXPORTER_AUTH_DIR: MemoryDir = { volume: "exporter-auth", path: "/run/redis/exporter" };
const ACL_FILE = "users.acl";
const PROBE_PASSWORD_FILE = "probe-password";
const EXPORTER_PASSWORD_FILE = "password.json";
/** redis_exporter's address of Redis, also the key of its password file's map. */
const EXPORTER_ADDRESS = `redis://127.0.0.1:${REDIS_PORT}`;

/**
 * `redis.conf` for the official image. No password is in it: the users come from the ACL file
 * the init container writes (`aclfile`), with SHA-256 hashes of the passwords.
 * @see https://redis.io/docs/latest/operate/oss_and_stack/management/config-file/
 */
export function renderRedisConf(settings: RedisSettings): string {
  const lines = [
    "# Rendered from config/<environment>.ts by constructs/redis.ts. Do not edit by hand.",
    "bind * -::*",
    `port ${REDIS_PORT}`,
    // The default user is off (and has no nopass), so protected mode refuses nobody the ACL admits;
    // it would close Redis to everything but loopback if a default user without a password ever
    // came back.
    "protected-mode yes",
    `aclfile ${ACL_DIR.path}/${ACL_FILE}`,
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

/** One ACL file line: `user <name> on #<hash> resetkeys resetchannels -@all +<command>… ~<pattern>…`. */
export function aclRule(user: RedisUser, hash: string): string {
  return [`user ${user.name} on #${hash} resetkeys resetchannels -@all`, ...Object.keys(user.commands).map((c) => `+${c}`), ...user.keys.map((k) => `~${k}`)].join(" ");
}

/** Where the ACL script reads and writes; the pod's paths unless a test moves them. */
export interface AclScriptDirs {
  readonly secrets?: string;
  readonly acl?: string;
  readonly exporterAuth?: string;
  readonly exporterAddress?: string;
}

/**
 * The init container's script: the ACL file from the mounted Secret files, with SHA-256 hashes
 * (`#<hex>`) instead of passwords, and redis_exporter's password file (a JSON map of address to
 * password, the only file form it reads). A password is the file's content without trailing
 * newlines, as `$(cat)` reads it; an empty one is refused. The probe's password is random per pod
 * and exists only in the ACL directory, which only the init and Redis containers mount.
 */
export function renderAclScript(dirs: AclScriptDirs = {}): string {
  const secrets = dirs.secrets ?? DATA_SECRETS_DIR;
  const acl = dirs.acl ?? ACL_DIR.path;
  const exporterAuth = dirs.exporterAuth ?? EXPORTER_AUTH_DIR.path;
  const purposes = Object.keys(REDIS_SECRET_KEYS) as RedisPurpose[];
  return [
    "set -eu",
    "umask 077",
    `fail() { echo "redis ACL: $*" >&2; exit 1; }`,
    // A password as $(cat) reads it (trailing newlines dropped); a missing or empty one is refused,
    // naming its Secret key. Assignments from $(...) carry its status, so `set -e` stops here.
    `password() { [ -r "$1" ] || fail "cannot read $1 (Secret redis-auth, key $2)"; p="$(cat "$1")"; [ -n "$p" ] || fail "$1 is empty (Secret redis-auth, key $2)"; printf '%s' "$p"; }`,
    `sha() { printf '%s' "$1" | sha256sum | cut -d ' ' -f 1; }`,
    ...purposes.map((p) => `pw_${p}="$(password ${secrets}/${REDIS_SECRET_KEYS[p]} ${REDIS_SECRET_KEYS[p]})"`),
    // redis_exporter reads JSON, where control characters need escapes: such a password is refused.
    `case "$pw_exporter" in *[[:cntrl:]]*) fail "${REDIS_SECRET_KEYS.exporter} holds a control character" ;; esac`,
    `pw_probe="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \\n')"`,
    `printf '%s' "$pw_probe" >${acl}/${PROBE_PASSWORD_FILE}`,
    "{",
    '  echo "user default off resetpass resetkeys resetchannels -@all"',
    ...[...purposes, "probe" as const].map((p) => `  echo "${aclRule(REDIS_USERS[p], `$(sha "$pw_${p}")`)}"`),
    `} >${acl}/${ACL_FILE}`,
    // Readable by the pod's group (the exporter runs as another user), in a directory only it mounts.
    "umask 027",
    `printf '{"%s":"%s"}\\n' '${dirs.exporterAddress ?? EXPORTER_ADDRESS}' "$(printf '%s' "$pw_exporter" | sed 's/[\\\\"]/\\\\&/g')" >${exporterAuth}/${EXPORTER_PASSWORD_FILE}`,
    "",
  ].join("\n");
}

/** The probe's command: PONG only when the probe user is admitted and the data is loaded. */
export function redisProbeCommand(dirs: { readonly acl?: string; readonly port?: number } = {}): string[] {
  const acl = dirs.acl ?? ACL_DIR.path;
  return ["sh", "-c", `REDISCLI_AUTH="$(cat ${acl}/${PROBE_PASSWORD_FILE})" redis-cli --user ${REDIS_USERS.probe.name} -h 127.0.0.1 -p ${dirs.port ?? REDIS_PORT} ping | grep -q PONG`];
}

/** redis_exporter's environment: its user, and its password file (no Secret in its environment). */
export function redisExporterEnv(dirs: { readonly exporterAuth?: string; readonly address?: string } = {}) {
  return [
    { name: "REDIS_ADDR", value: dirs.address ?? EXPORTER_ADDRESS },
    { name: "REDIS_USER", value: REDIS_USERS.exporter.name },
    { name: "REDIS_PASSWORD_FILE", value: `${dirs.exporterAuth ?? EXPORTER_AUTH_DIR.path}/${EXPORTER_PASSWORD_FILE}` },
  ];
}

export interface RedisProps {
  readonly namespace: NamespaceRef;
  readonly settings: RedisSettings;
  /** Each purpose's password, a key of the Secret `redis-auth`. */
  readonly passwords: Readonly<Record<RedisPurpose, SecretKeyRef>>;
  /** Pod labels of the services that use Redis; no other pod reaches it. */
  readonly clients: readonly Record<string, string>[];
  readonly monitoringNamespace: string;
}

/**
 * Redis from the official image, with persistence per environment, ACL users per purpose and a
 * redis_exporter sidecar. An init container turns the Secret's files into the ACL file (hashes
 * only) in memory; neither Redis nor the exporter mounts the Secret.
 */
export class Redis extends Construct {
  readonly server: StatefulService;
  readonly port = REDIS_PORT;

  constructor(scope: Construct, id: string, props: RedisProps) {
    super(scope, id);
    const { settings } = props;
    const purposes = Object.keys(REDIS_SECRET_KEYS) as RedisPurpose[];
    this.server = new StatefulService(this, "server", {
      namespace: props.namespace,
      name: "redis",
      component: "cache",
      image: IMAGES.redis,
      // The data directory is an argument, not in redis.conf, so the file runs anywhere (tests included).
      command: ["redis-server", "/etc/redis/redis.conf", "--dir", "/data"],
      env: [],
      port: { name: "redis", number: REDIS_PORT },
      probeCommand: redisProbeCommand(),
      resources: settings.resources,
      runAsUser: DATA_SERVICE_UID,
      configFiles: { "/etc/redis": { "redis.conf": renderRedisConf(settings) } },
      dataPath: "/data",
      storage: settings.persistence ? settings.storage : undefined,
      init: {
        name: "acl",
        command: ["sh", "-c", renderAclScript()],
        secretFiles: purposes.map((p) => ({ file: REDIS_SECRET_KEYS[p], ref: props.passwords[p] })),
        writes: [ACL_DIR, EXPORTER_AUTH_DIR],
        resources: SIZES.dataInit,
      },
      serverReads: [ACL_DIR],
      exporter: {
        image: IMAGES.redisExporter,
        port: 9121,
        env: redisExporterEnv(),
        runAsUser: EXPORTER_UID,
        healthPath: "/health",
        reads: [EXPORTER_AUTH_DIR],
      },
      clients: props.clients,
      monitoringNamespace: props.monitoringNamespace,
    });
  }
}

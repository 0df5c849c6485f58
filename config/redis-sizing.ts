/**
 * What one rate-limit counter costs Redis: a key of up to 64 bytes (`ratelimit:<service>:<tier>:
 * <client>:<window>`), an integer value and a TTL. Measured with redis-server 7.0: 174 bytes per
 * counter with 64-byte keys (test/constructs/data-servers.test.ts fails if a real server ever
 * needs more than this). The Redis floor in config/semantics.ts multiplies it out.
 */
export const REDIS_BYTES_PER_COUNTER = 192;

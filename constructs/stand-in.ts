/**
 * The stand-in a service runs when the environment says `standInImages: true` (local only): the
 * pinned nginx-unprivileged image with a configuration rendered from the catalogue, so that each
 * pod answers its own startup, liveness and readiness paths and serves a Prometheus text
 * exposition on its metrics port. Nothing else: it is a placeholder that lets a newcomer see the
 * whole platform Ready on a laptop before any real image exists.
 */
import type { ServiceConfig } from "../config/types";

/** Where the rendered nginx.conf is mounted; the image's own /etc/nginx stays as it is. */
export const STAND_IN_DIR = "/etc/platform-stand-in";

/** The stand-in's command: the rendered config, errors to stderr, in the foreground. */
export const STAND_IN_COMMAND = ["nginx", "-e", "/dev/stderr", "-c", `${STAND_IN_DIR}/nginx.conf`, "-g", "daemon off;"];

/** The migration Job's command with the stand-in image: there is no schema to migrate. */
export const STAND_IN_MIGRATION_COMMAND = ["sh", "-c", "echo 'stand-in image: no migrations to run'"];

/** An nginx single-quoted string; newlines written as \n, which nginx's parser turns back. */
const quote = (text: string) => `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n")}'`;

/**
 * nginx.conf for one service. Every path nginx writes is under /tmp (the pod's only writable
 * directory); probe paths answer 200 with a small JSON body; /metrics answers on the metrics port.
 * Accepted by Debian's nginx 1.22 (the tests run it) and the image's 1.27.
 */
export function renderStandInConf(service: Pick<ServiceConfig, "name" | "port" | "metricsPort" | "probes">): string {
  const body = (status: string) => quote(`{"service":"${service.name}","standIn":true,"status":"${status}"}\n`);
  const metrics = [
    "# HELP agent_platform_stand_in 1 while the stand-in image serves this service.",
    "# TYPE agent_platform_stand_in gauge",
    `agent_platform_stand_in{service="${service.name}"} 1`,
    "",
  ].join("\n");
  const probes = [...new Set([service.probes.startup, service.probes.liveness, service.probes.readiness])];
  return [
    "# Rendered by constructs/stand-in.ts: the local stand-in for this service. Do not edit by hand.",
    "worker_processes 1;",
    "pid /tmp/nginx.pid;",
    "error_log /dev/stderr warn;",
    "events { worker_connections 256; }",
    "http {",
    "  access_log off;",
    "  client_body_temp_path /tmp/client_temp;",
    "  proxy_temp_path /tmp/proxy_temp;",
    "  fastcgi_temp_path /tmp/fastcgi_temp;",
    "  uwsgi_temp_path /tmp/uwsgi_temp;",
    "  scgi_temp_path /tmp/scgi_temp;",
    "  default_type application/json;",
    "  server {",
    `    listen ${service.port};`,
    ...probes.map((path) => `    location = ${path} { return 200 ${body("ok")}; }`),
    `    location / { return 200 ${body("stand-in")}; }`,
    "  }",
    "  server {",
    `    listen ${service.metricsPort};`,
    `    location = /metrics { default_type "text/plain; version=0.0.4"; return 200 ${quote(metrics)}; }`,
    "    location / { return 404; }",
    "  }",
    "}",
    "",
  ].join("\n");
}

/**
 * Ingress routes the API server or the ingress controller would refuse, or that collide. The
 * schema already holds hosts to lower-case DNS names (with an optional leading `*.`) and paths to
 * absolute ones; these rules add what the consumers check beyond that.
 *
 * - The API server (k8s.io/kubernetes pkg/apis/networking/validation, `validateIngressRules` and
 *   `validateHTTPIngressPath`, v1.35): a host must be a DNS name, not an IP address
 *   (`netutils.ParseIPSloppy`); a Prefix or Exact path must not contain `//`, `/./`, `/../`,
 *   `%2f` and must not end in `/.` or `/..`.
 * - ingress-nginx's admission webhook (internal/ingress/controller/controller.go `CheckIngress`):
 *   with `strict-validate-path-type` (the default since controller v1.12.0) a Prefix or Exact path
 *   must match `(?i)^/[[:alnum:]._\-/]*$` (internal/ingress/inspector/rules.go, `.` allowed since
 *   v1.13.3); its deep inspection (on by default) refuses paths containing `_by_lua`,
 *   `/etc/(passwd|shadow|group|nginx|ingress-controller)` or `/var/run/secrets`; and `checkOverlap`
 *   refuses a host and path that another Ingress already defines.
 * - DNS (RFC 1035 §2.3.4, RFC 3696 §2): a label is at most 63 octets and a top-level label is
 *   never all digits; cert-manager's ACME issuers and every resolver refuse such names.
 */
import { type ConfigProblem, problemAt } from "./errors";
import type { PlatformConfig } from "./types";

/** A route as the controller sees it: host, Prefix path, and who asked for it. */
interface Route {
  readonly host: string;
  readonly path: string;
  /** Field that sets it: `ingress.routes.api-gateway.paths[0]` or `ingress.grafanaHost`. */
  readonly field: string;
  readonly owner: string;
}

/**
 * A Prefix path as matching treats it: `/api` and `/api/` are the same prefix (Kubernetes matches
 * element-wise, a trailing slash is ignored; ingress-nginx writes both as `location /api/`).
 */
export function prefixKey(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}

/** Why the API server or the controller refuses `host`, or undefined. */
export function hostProblem(host: string): string | undefined {
  const name = host.startsWith("*.") ? host.slice(2) : host;
  const labels = name.split(".");
  const long = labels.find((l) => l.length > 63);
  if (long !== undefined) return `has a label of ${long.length} characters ("${long.slice(0, 20)}…"): a DNS label is at most 63 (RFC 1035), so no resolver and no certificate authority accepts the name`;
  if (/^\d+$/.test(labels[labels.length - 1]!))
    return /^\d{1,3}(\.\d{1,3}){3}$/.test(name)
      ? "is an IP address: an Ingress host must be a DNS name (the API server refuses IP addresses); route a DNS name that resolves to the ingress controller"
      : "ends in an all-digit label, which no top-level domain is (RFC 3696): it is neither a DNS name nor an IP address";
  return undefined;
}

/** Why the API server or ingress-nginx refuses a Prefix `path`, or undefined. */
export function pathProblem(path: string): string | undefined {
  for (const seq of ["//", "/./", "/../"]) if (path.includes(seq)) return `contains '${seq}', which the API server refuses in a Prefix path`;
  for (const suffix of ["/..", "/."]) if (path.endsWith(suffix)) return `ends with '${suffix}', which the API server refuses in a Prefix path`;
  if (!/^\/[A-Za-z0-9._\/-]*$/.test(path))
    return "has a character ingress-nginx's strict path validation refuses in a Prefix path (letters, digits, '.', '_', '-' and '/' only; no '~', no percent-encoding)";
  if (/_by_lua|\/etc\/(passwd|shadow|group|nginx|ingress-controller)|\/var\/run\/secrets/.test(path))
    return "matches a pattern ingress-nginx's deep inspection refuses (_by_lua, /etc/passwd|shadow|group|nginx|ingress-controller, /var/run/secrets)";
  return undefined;
}

/** Every route the stack creates for an environment: one per service path, and Grafana's. */
export function environmentRoutes(config: PlatformConfig): Route[] {
  const routes: Route[] = [];
  for (const [name, r] of Object.entries(config.ingress.routes)) {
    r.paths.forEach((path, i) => routes.push({ host: r.host, path, field: `ingress.routes.${name}.paths[${i}]`, owner: `the route of ${name}` }));
  }
  if (config.ingress.grafanaHost) routes.push({ host: config.ingress.grafanaHost, path: "/", field: "ingress.grafanaHost", owner: "Grafana's route (path /)" });
  return routes;
}

export function ingressRouteProblems(config: PlatformConfig, source: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (field: string, value: unknown, rule: string) => problems.push(problemAt(source, field, value, rule));

  for (const [name, r] of Object.entries(config.ingress.routes)) {
    const host = hostProblem(r.host);
    if (host) add(`ingress.routes.${name}.host`, r.host, host);
    r.paths.forEach((path, i) => {
      const p = pathProblem(path);
      if (p) add(`ingress.routes.${name}.paths[${i}]`, path, p);
    });
  }
  if (config.ingress.grafanaHost) {
    const host = hostProblem(config.ingress.grafanaHost);
    if (host) add("ingress.grafanaHost", config.ingress.grafanaHost, host);
  }

  // Two routes for one host and prefix: ingress-nginx's admission refuses the second Ingress
  // ("host and path is already defined in ingress …"); within one Ingress the path is redundant.
  const seen = new Map<string, Route>();
  for (const route of environmentRoutes(config)) {
    const key = `${route.host}${prefixKey(route.path)}`;
    const first = seen.get(key);
    if (!first) {
      seen.set(key, route);
      continue;
    }
    const same = first.path === route.path ? "" : ` (${first.path} and ${route.path} are one Prefix route: a trailing slash does not change what a prefix matches)`;
    add(
      route.field,
      route.field === "ingress.grafanaHost" ? route.host : route.path,
      `routes ${route.host}${route.path}, which ${first.owner} already routes${same}: ingress-nginx's admission refuses a host and path that another Ingress defines; give each route its own host or path`,
    );
  }
  return problems;
}

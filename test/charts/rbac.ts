/**
 * What RBAC grants, read from the objects a stack puts in the cluster (its own and its charts'):
 * who may read Secrets where, and whether a service account may do a verb on a resource in a
 * namespace. Bindings to roles the charts do not render (Kubernetes' bootstrap roles) use those
 * roles' rules as Kubernetes defines them.
 */
import type { Json, RenderedObject } from "./helm";
import { CHART_SECRET_READERS } from "../../constructs/chart-suppressions";

export interface Rule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly resourceNames?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
  readonly verbs: readonly string[];
}

/**
 * Bootstrap roles the charts bind without rendering them, with their rules from Kubernetes'
 * bootstrap policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy). The e2e reads the same roles
 * from its kube-apiserver and compares (test/e2e/charts.ts).
 */
export const BOOTSTRAP_ROLES: Readonly<Record<string, { kind: "ClusterRole" | "Role"; namespace?: string; rules: readonly Rule[] }>> = {
  "ClusterRole/system:auth-delegator": {
    kind: "ClusterRole",
    rules: [
      { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
      { apiGroups: ["authorization.k8s.io"], resources: ["subjectaccessreviews"], verbs: ["create"] },
    ],
  },
  "Role/kube-system/extension-apiserver-authentication-reader": {
    kind: "Role",
    namespace: "kube-system",
    rules: [{ apiGroups: [""], resources: ["configmaps"], resourceNames: ["extension-apiserver-authentication"], verbs: ["get", "list", "watch"] }],
  },
};

const READ = ["get", "list", "watch", "*"];

/** A rule grants reading `resource` in API group `group`. */
function grants(rule: Rule, group: string, resource: string, verbs: readonly string[]): boolean {
  return (
    (rule.apiGroups ?? []).some((g) => g === group || g === "*") &&
    (rule.resources ?? []).some((r) => r === resource || r === "*") &&
    rule.verbs.some((v) => verbs.includes(v) || v === "*")
  );
}

interface RoleRef {
  readonly key: string;
  readonly rules: readonly Rule[];
  readonly source: string;
  /** The reason of a KS-RBAC-SECRETS suppression the stack declares on this Role. */
  readonly declared?: string;
}

/**
 * A KS-RBAC-SECRETS suppression declared on a stack's own Role (test/charts/releases.ts carries
 * them), or a chart's ClusterRole declared in CHART_SECRET_READERS.
 */
function declaredReason(o: RenderedObject): string | undefined {
  const own = ((o as { suppressions?: { rule: string; reason: string }[] }).suppressions ?? []).find((x) => x.rule === "KS-RBAC-SECRETS")?.reason;
  if (own) return own;
  if (o.kind !== "ClusterRole") return undefined;
  return CHART_SECRET_READERS.find((r) => r.clusterRole === o.metadata.name && sourceOf(o).startsWith(`${r.chart}/`))?.reason;
}

function roles(objects: readonly RenderedObject[]): Map<string, RoleRef> {
  const out = new Map<string, RoleRef>();
  for (const [key, r] of Object.entries(BOOTSTRAP_ROLES)) out.set(key, { key, rules: r.rules, source: "Kubernetes' bootstrap policy" });
  for (const o of objects) {
    const declared = declaredReason(o);
    const ref = (key: string): RoleRef => ({ key, rules: (o.rules ?? []) as Rule[], source: sourceOf(o), ...(declared ? { declared } : {}) });
    if (o.kind === "ClusterRole") out.set(`ClusterRole/${o.metadata.name}`, ref(`ClusterRole/${o.metadata.name}`));
    if (o.kind === "Role") out.set(`Role/${o.metadata.namespace}/${o.metadata.name}`, ref(`Role/${o.metadata.namespace}/${o.metadata.name}`));
  }
  return out;
}

/** Where an object comes from: a chart template or a Terraform resource. */
export function sourceOf(o: RenderedObject): string {
  return (o as { source?: string }).source ?? "";
}

/** A binding with its role resolved: what it grants, where, to whom. */
export interface Grant {
  readonly binding: string;
  readonly role: string;
  readonly rules: readonly Rule[];
  /** The namespace the grant holds in; `*` for a ClusterRoleBinding (every namespace). */
  readonly scope: string;
  readonly subjects: readonly { readonly kind: string; readonly name: string; readonly namespace?: string }[];
  readonly source: string;
  /** The reason of a KS-RBAC-SECRETS suppression the stack declares on the role. */
  readonly declared?: string;
}

/** Every binding of the objects, resolved to its role's rules. Unknown roles are errors. */
export function grantsOf(objects: readonly RenderedObject[]): { grants: Grant[]; unresolved: string[] } {
  const byKey = roles(objects);
  const out: Grant[] = [];
  const unresolved: string[] = [];
  for (const b of objects.filter((o) => o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding")) {
    const ref = b.roleRef as Json;
    const key = ref.kind === "ClusterRole" ? `ClusterRole/${ref.name}` : `Role/${b.metadata.namespace}/${ref.name}`;
    const role = byKey.get(key);
    const binding = `${b.kind} ${b.metadata.namespace ? `${b.metadata.namespace}/` : ""}${b.metadata.name}`;
    if (!role) {
      unresolved.push(`${binding} (${sourceOf(b)}) binds ${key}, which neither the stack, its charts nor Kubernetes' bootstrap policy defines`);
      continue;
    }
    out.push({ binding, role: key, rules: role.rules, scope: b.kind === "ClusterRoleBinding" ? "*" : String(b.metadata.namespace), subjects: (b.subjects ?? []) as Grant["subjects"], source: sourceOf(b), ...(role.declared ? { declared: role.declared } : {}) });
  }
  return { grants: out, unresolved };
}

/** A grant of reading Secrets outside the namespace the subject serves (its own). */
export interface SecretFinding {
  readonly binding: string;
  readonly role: string;
  readonly subject: string;
  readonly scope: string;
  readonly rule: Rule;
  readonly source: string;
  /** Declared by the stack (a KS-RBAC-SECRETS suppression on its Role), with the reason. */
  readonly declared?: string;
}

/**
 * Who may read Secrets outside the namespace they serve: a service account may read Secrets of
 * its own namespace only, and nothing else (a user or group bound here) may read any. A grant
 * through a Role of the stack that declares a KS-RBAC-SECRETS suppression is returned with its
 * reason (`declared`): the caller reports it rather than failing. ClusterRoles
 * that aggregate into Kubernetes' `admin`/`edit`/`view` roles and grant Secrets count too (they
 * widen every binding of those roles).
 */
export function secretReadersOutsideTheirNamespace(objects: readonly RenderedObject[]): SecretFinding[] {
  const out: SecretFinding[] = [];
  for (const g of grantsOf(objects).grants) {
    for (const rule of g.rules.filter((r) => grants(r, "", "secrets", READ))) {
      for (const s of g.subjects) {
        const own = s.kind === "ServiceAccount" && g.scope === s.namespace;
        if (!own) out.push({ binding: g.binding, role: g.role, subject: `${s.kind} ${s.namespace ? `${s.namespace}/` : ""}${s.name}`, scope: g.scope === "*" ? "every namespace" : g.scope, rule, source: g.source, ...(g.declared ? { declared: g.declared } : {}) });
      }
    }
  }
  for (const o of objects.filter((x) => x.kind === "ClusterRole")) {
    const aggregates = Object.keys((o.metadata.labels ?? {}) as Json).some((l) => l.startsWith("rbac.authorization.k8s.io/aggregate-to-"));
    for (const rule of ((o.rules ?? []) as Rule[]).filter((r) => aggregates && grants(r, "", "secrets", READ))) {
      out.push({ binding: "(aggregation)", role: `ClusterRole/${o.metadata.name}`, subject: "every holder of the roles it aggregates into", scope: "every namespace", rule, source: sourceOf(o) });
    }
  }
  return out;
}

/** Whether a service account may `verb` `resource` (core group) in `namespace` (`*`: cluster-wide). */
export function mayServiceAccount(objects: readonly RenderedObject[], sa: { name: string; namespace: string }, verb: string, resource: string, namespace: string): boolean {
  return grantsOf(objects).grants.some(
    (g) =>
      (g.scope === "*" || g.scope === namespace) &&
      g.subjects.some((s) => s.kind === "ServiceAccount" && s.name === sa.name && s.namespace === sa.namespace) &&
      g.rules.some((r) => grants(r, "", resource, [verb])),
  );
}

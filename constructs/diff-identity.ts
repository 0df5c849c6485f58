import { ClusterRoleBindingV1 } from "@cdktf/provider-kubernetes/lib/cluster-role-binding-v1";
import { ClusterRoleV1 } from "@cdktf/provider-kubernetes/lib/cluster-role-v1";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { RoleV1, type RoleV1Rule } from "@cdktf/provider-kubernetes/lib/role-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { DefaultTokenResolver, StringConcat, TerraformDataSource, TerraformResource, TerraformStack, Tokenization } from "cdktf";
import { Construct } from "constructs";
import { PART_OF } from "./labels";
import type { NamespaceRef } from "./platform-namespace";
import { suppress } from "./suppressions";

/** The ServiceAccount a pull request's plan runs as (docs/operations.md, "The diff identity"). */
export const DIFF_IDENTITY = "platform-diff";

/** An API resource as RBAC names it. */
interface ApiResource {
  readonly group: string;
  readonly resource: string;
  readonly clusterScoped?: boolean;
}

/**
 * What each Terraform type reads when a plan refreshes it. The kubernetes provider reads every
 * object it manages by name (`get`), nothing more (its Read functions, v2.38.0); a type not listed
 * here fails synth, so a new resource type can never make the diff identity's plan fail with 403
 * in a user's pull request.
 */
const API_RESOURCES: Readonly<Record<string, ApiResource>> = {
  kubernetes_namespace_v1: { group: "", resource: "namespaces", clusterScoped: true },
  kubernetes_config_map_v1: { group: "", resource: "configmaps" },
  kubernetes_secret_v1: { group: "", resource: "secrets" },
  kubernetes_service_v1: { group: "", resource: "services" },
  kubernetes_service_account_v1: { group: "", resource: "serviceaccounts" },
  kubernetes_persistent_volume_claim_v1: { group: "", resource: "persistentvolumeclaims" },
  kubernetes_persistent_volume_v1: { group: "", resource: "persistentvolumes", clusterScoped: true },
  kubernetes_resource_quota_v1: { group: "", resource: "resourcequotas" },
  kubernetes_limit_range_v1: { group: "", resource: "limitranges" },
  kubernetes_deployment_v1: { group: "apps", resource: "deployments" },
  kubernetes_stateful_set_v1: { group: "apps", resource: "statefulsets" },
  kubernetes_daemon_set_v1: { group: "apps", resource: "daemonsets" },
  kubernetes_job_v1: { group: "batch", resource: "jobs" },
  kubernetes_cron_job_v1: { group: "batch", resource: "cronjobs" },
  kubernetes_horizontal_pod_autoscaler_v2: { group: "autoscaling", resource: "horizontalpodautoscalers" },
  kubernetes_ingress_v1: { group: "networking.k8s.io", resource: "ingresses" },
  kubernetes_network_policy_v1: { group: "networking.k8s.io", resource: "networkpolicies" },
  kubernetes_pod_disruption_budget_v1: { group: "policy", resource: "poddisruptionbudgets" },
  kubernetes_role_v1: { group: "rbac.authorization.k8s.io", resource: "roles" },
  kubernetes_role_binding_v1: { group: "rbac.authorization.k8s.io", resource: "rolebindings" },
  kubernetes_cluster_role_v1: { group: "rbac.authorization.k8s.io", resource: "clusterroles", clusterScoped: true },
  kubernetes_cluster_role_binding_v1: { group: "rbac.authorization.k8s.io", resource: "clusterrolebindings", clusterScoped: true },
  kubernetes_priority_class_v1: { group: "scheduling.k8s.io", resource: "priorityclasses", clusterScoped: true },
  kubernetes_storage_class_v1: { group: "storage.k8s.io", resource: "storageclasses", clusterScoped: true },
};

/** One object the stack manages (or reads), as the plan will read it. */
interface Managed {
  readonly type: string;
  /** Resolved namespace (a `${…}` reference or a name); undefined when cluster-scoped. */
  readonly namespace?: string;
  /** The namespace as the resource was given it: a token referencing the namespace, usually. */
  readonly rawNamespace?: string;
  readonly name: string;
}

/** The Kubernetes API reads one namespace needs, and what the plan reads there. */
interface NamespaceReads {
  /** The namespace as a reference (its resource's name), for the Roles' metadata. */
  readonly ref: string;
  readonly types: Set<string>;
  /** Secrets managed by name (`kubernetes_secret_v1`). */
  readonly secrets: Set<string>;
  /** Helm releases installed here: Helm finds their records by listing Secrets. */
  readonly releases: Set<string>;
}

export interface DiffIdentityProps {
  /** The platform's namespace: the ServiceAccount lives there. */
  readonly namespace: NamespaceRef;
  /** The stack whose objects the identity may read; read when this construct is created, so create it last. */
  readonly stack: TerraformStack;
}

/**
 * The identity a pull request's `terraform plan` runs as (the workflow's diff job): a
 * ServiceAccount that may read exactly what a plan of this stack reads, derived from the stack
 * itself, and change nothing.
 *
 * - In every namespace the stack manages objects in, a Role `platform-diff` grants `get` on the
 *   resource types managed there, and only those.
 * - A ClusterRole grants `get` on the cluster-scoped objects the stack manages, by name
 *   (`resourceNames`): the namespaces, and this identity's own ClusterRole and binding.
 * - Secrets, in a Role `platform-diff-secrets` of their own, only where a plan must read them:
 *   `get` by name on the Secrets the stack manages (`variable` mode), and `list` where a Helm
 *   release lives, because the helm provider finds a release's records — Secrets labelled
 *   `owner=helm` — by a label selector, which RBAC cannot restrict. That Role carries the
 *   declared KS-RBAC-SECRETS suppression; the other Roles never grant Secrets.
 *
 * Discovery (`/api`, `/apis`) and `/version`, which both providers call, are open to every
 * authenticated user through Kubernetes' default `system:discovery` and `system:public-info-viewer`.
 * @see https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources
 * @see https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/#bound-service-account-tokens
 */
export class DiffIdentity extends Construct {
  readonly serviceAccount: ServiceAccountV1;
  readonly clusterRole: ClusterRoleV1;
  /** The Roles by namespace (as referenced): `platform-diff` and, where needed, `platform-diff-secrets`. */
  readonly roles: readonly RoleV1[];

  constructor(scope: Construct, id: string, props: DiffIdentityProps) {
    super(scope, id);
    const labels = { "app.kubernetes.io/name": DIFF_IDENTITY, "app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/component": "diff-identity", "app.kubernetes.io/managed-by": "cdktf" };
    this.serviceAccount = new ServiceAccountV1(this, "service-account", {
      metadata: { name: DIFF_IDENTITY, namespace: props.namespace.name, labels },
      // Nothing runs as it: its tokens are minted on request (kubectl create token), never mounted.
      automountServiceAccountToken: false,
    });
    const subject = [{ kind: "ServiceAccount", name: DIFF_IDENTITY, namespace: props.namespace.name }];

    // Everything the stack manages, this ServiceAccount included.
    const managed = managedObjects(props.stack);
    const namespaceRefs = namespaceReferences(props.stack);
    const perNamespace = new Map<string, NamespaceReads>();
    for (const m of managed.filter((x) => x.namespace !== undefined)) {
      const key = namespaceRefs.get(m.namespace!) ?? m.namespace!;
      const reads = perNamespace.get(key) ?? { ref: m.rawNamespace!, types: new Set<string>(), secrets: new Set<string>(), releases: new Set<string>() };
      if (m.type === "helm_release") reads.releases.add(m.name);
      else if (m.type === "kubernetes_secret_v1") reads.secrets.add(m.name);
      else reads.types.add(m.type);
      perNamespace.set(key, reads);
    }

    // One child per namespace, named after it (as a Microservice is after its service); the
    // resources below it have fixed ids.
    const roles: RoleV1[] = [];
    for (const [namespace, reads] of [...perNamespace].sort(([a], [b]) => byText(a, b))) {
      const scope = new Construct(this, namespace);
      // The identity's own Roles and bindings are read by the plan too.
      const types = [...reads.types, "kubernetes_role_v1", "kubernetes_role_binding_v1"];
      roles.push(grant(scope, "", DIFF_IDENTITY, reads.ref, labels, getRules(types), subject));
      if (reads.secrets.size === 0 && reads.releases.size === 0) continue;
      const rules: RoleV1Rule[] = [];
      if (reads.secrets.size > 0) rules.push({ apiGroups: [""], resources: ["secrets"], resourceNames: [...reads.secrets].sort(), verbs: ["get"] });
      if (reads.releases.size > 0) rules.push({ apiGroups: [""], resources: ["secrets"], verbs: ["list"] });
      const secrets = grant(scope, "secrets-", `${DIFF_IDENTITY}-secrets`, reads.ref, labels, rules, subject);
      suppress(secrets, "KS-RBAC-SECRETS", secretsReason(reads));
      roles.push(secrets);
    }
    this.roles = roles;

    // Cluster-scoped reads, by name: named after the platform's namespace, so that two
    // environments sharing a cluster do not share (and overwrite) one ClusterRole.
    const clusterName = `${DIFF_IDENTITY}.${props.namespace.literalName}`;
    const byType = new Map<string, Set<string>>();
    for (const m of managed.filter((x) => x.namespace === undefined)) byType.set(m.type, (byType.get(m.type) ?? new Set()).add(m.name));
    byType.set("kubernetes_cluster_role_v1", (byType.get("kubernetes_cluster_role_v1") ?? new Set()).add(clusterName));
    byType.set("kubernetes_cluster_role_binding_v1", (byType.get("kubernetes_cluster_role_binding_v1") ?? new Set()).add(clusterName));
    this.clusterRole = new ClusterRoleV1(this, "cluster-role", {
      metadata: { name: clusterName, labels },
      rule: [...byType]
        .map(([type, names]) => ({ ...apiResource(type), names: [...names].sort() }))
        .sort((a, b) => byText(`${a.group}/${a.resource}`, `${b.group}/${b.resource}`))
        .map((r) => ({ apiGroups: [r.group], resources: [r.resource], resourceNames: r.names, verbs: ["get"] })),
    });
    new ClusterRoleBindingV1(this, "cluster-role-binding", {
      metadata: { name: clusterName, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: this.clusterRole.metadata.name },
      subject,
    });
  }
}

/** A Role and the binding that gives it to the identity, in one namespace. */
function grant(scope: Construct, prefix: string, name: string, namespace: string, labels: Record<string, string>, rule: RoleV1Rule[], subject: { kind: string; name: string; namespace: string }[]): RoleV1 {
  const role = new RoleV1(scope, `${prefix}role`, { metadata: { name, namespace, labels }, rule });
  new RoleBindingV1(scope, `${prefix}binding`, {
    metadata: { name, namespace, labels },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
    subject,
  });
  return role;
}

function apiResource(type: string): ApiResource {
  const found = API_RESOURCES[type];
  if (!found) {
    throw new Error(`the diff identity (constructs/diff-identity.ts) has no read rule for ${type}: add its API group and resource to API_RESOURCES, or a pull request's plan will be refused reading it`);
  }
  return found;
}

/** `get` on every namespaced type, one rule per API group, sorted: the same order on every synth. */
function getRules(types: readonly string[]): RoleV1Rule[] {
  const groups = new Map<string, Set<string>>();
  for (const t of types) {
    const r = apiResource(t);
    if (r.clusterScoped) continue;
    groups.set(r.group, (groups.get(r.group) ?? new Set()).add(r.resource));
  }
  return [...groups]
    .sort(([a], [b]) => byText(a, b))
    .map(([group, resources]) => ({ apiGroups: [group], resources: [...resources].sort(), verbs: ["get"] }));
}

function secretsReason(reads: NamespaceReads): string {
  const parts: string[] = [];
  if (reads.secrets.size > 0) parts.push(`get by name (resourceNames) on the Secrets this stack manages here (${[...reads.secrets].sort().join(", ")}), which a plan refreshes`);
  if (reads.releases.size > 0) {
    parts.push(
      `list on Secrets, because the helm provider finds the records of ${[...reads.releases].sort().join(", ")} (Secrets labelled owner=helm) with a label selector, which RBAC cannot restrict; it therefore also reads this namespace's other Secrets`,
    );
  }
  return `the diff identity's plan reads only what it must: ${parts.join("; and ")} (docs/operations.md, "The diff identity")`;
}

/** Code-unit order: the same on every machine, whatever its locale. */
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const RESOLVER = new DefaultTokenResolver(new StringConcat());

/** Every Kubernetes object and Helm release below `stack`, with its namespace and name resolved. */
function managedObjects(stack: TerraformStack): Managed[] {
  const resolve = (value: unknown) => Tokenization.resolve(value, { scope: stack, preparing: false, resolver: RESOLVER }) as unknown;
  const out: Managed[] = [];
  for (const node of stack.node.findAll()) {
    if (!(node instanceof TerraformResource) && !(node instanceof TerraformDataSource)) continue;
    const type = node.terraformResourceType;
    if (type === "helm_release") {
      const release = node as unknown as { nameInput?: string; namespaceInput?: string };
      const raw = release.namespaceInput ?? "default";
      out.push({ type, namespace: String(resolve(raw)), rawNamespace: raw, name: String(resolve(release.nameInput)) });
      continue;
    }
    if (!type.startsWith("kubernetes_")) continue;
    const { clusterScoped } = apiResource(type);
    const input = (node as unknown as { metadataInput?: { name?: string; namespace?: string } }).metadataInput;
    const raw = input?.namespace ?? "default";
    out.push({ type, name: String(resolve(input?.name)), ...(clusterScoped ? {} : { namespace: String(resolve(raw)), rawNamespace: raw }) });
  }
  return out;
}

/** Each namespace the stack creates: its reference (`${kubernetes_namespace_v1.<id>.metadata[0].name}`) to its name. */
function namespaceReferences(stack: TerraformStack): Map<string, string> {
  const refs = new Map<string, string>();
  for (const node of stack.node.findAll()) {
    if (!(node instanceof TerraformResource) || node.terraformResourceType !== "kubernetes_namespace_v1") continue;
    const name = (node as unknown as { metadataInput?: { name?: string } }).metadataInput?.name;
    refs.set(`\${kubernetes_namespace_v1.${node.friendlyUniqueId}.metadata[0].name}`, String(name));
  }
  return refs;
}

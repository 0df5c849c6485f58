/**
 * The e2e's checks of the diff identity (constructs/diff-identity.ts), on a stack just applied:
 * a token for its ServiceAccount minted through the real API (TokenRequest, what `kubectl create
 * token` calls), a kubeconfig written with it as the users' workflow writes one, and then
 * - `terraform plan` of the deployed stack with those credentials succeeds and shows no change;
 * - an apply with them is refused: the provider's error says forbidden, the API server's audit log
 *   records the write answered 403, and the object the apply tried to replace is still there,
 *   the same object (same uid);
 * - the API server's own authorizer (SubjectAccessReview) agrees: no write anywhere, no Secret
 *   the stack does not manage.
 */
import { join } from "node:path";
import type { SpawnSyncReturns } from "node:child_process";
import type { ControlPlane } from "./control-plane";

type Json = Record<string, any>;

export interface DiffIdentityCheck {
  readonly cp: ControlPlane;
  /** `check(name, ok, detail)`: one reported line each. */
  readonly check: (name: string, ok: boolean, detail?: string) => boolean;
  /** Runs terraform in the applied stack's working directory with the run's environment plus `extraEnv`. */
  readonly terraform: (args: string[], extraEnv?: Record<string, string>) => SpawnSyncReturns<string>;
  /** The applied stack's Terraform JSON. */
  readonly stack: Json;
  /** A directory of this stack's own, for the identity's HOME and kubeconfig. */
  readonly dir: string;
  /** The last lines of a failed command's output. */
  readonly tail: (result: SpawnSyncReturns<string>) => string;
}

const resources = (stack: Json, type: string): [string, Json][] => Object.entries((stack.resource?.[type] ?? {}) as Record<string, Json>);

/** Runs every check; returns nothing, reports each. */
export async function checkDiffIdentity(c: DiffIdentityCheck): Promise<void> {
  const { cp, stack } = c;
  const namespaces = new Map(resources(stack, "kubernetes_namespace_v1").map(([id, r]) => [`\${kubernetes_namespace_v1.${id}.metadata[0].name}`, r.metadata.name as string]));
  const nameOf = (ns: string) => namespaces.get(ns) ?? ns;
  const account = resources(stack, "kubernetes_service_account_v1").find(([, r]) => r.metadata.labels?.["app.kubernetes.io/component"] === "diff-identity")?.[1];
  if (!c.check("the stack emits the diff identity's ServiceAccount", !!account)) return;
  const ns = nameOf(account!.metadata.namespace);
  const user = `system:serviceaccount:${ns}:${account!.metadata.name}`;

  // 1. A token through TokenRequest, short-lived, as `kubectl create token` mints one.
  const minted = await cp.api("POST", `/api/v1/namespaces/${ns}/serviceaccounts/${account!.metadata.name}/token`, {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: { expirationSeconds: 900 },
  });
  const token = minted.body?.status?.token as string | undefined;
  if (!c.check("a token for the diff identity, minted through the TokenRequest API", minted.status === 201 && !!token, `HTTP ${minted.status}`)) return;

  // 2. The kubeconfig the workflow's diff job writes: the stack's context, this token, nothing else.
  const home = join(c.dir, "diff-identity-home");
  const context = stack.provider.kubernetes[0].config_context as string;
  cp.writeKubeconfig(join(home, ".kube", "config"), [context], { name: "platform-diff", user: { token: token! } });
  const asIdentity = { HOME: home, TF_CLI_ARGS_plan: "-lock=false" };

  // 3. The plan the pull request's diff job runs: it reads every object, and finds nothing to change.
  const plan = c.terraform(["plan", "-input=false", "-no-color", "-detailed-exitcode"], asIdentity);
  const planDetail = plan.status === 0 ? "exit 0" : plan.status === 2 ? `changes: ${(plan.stdout.match(/^\s+# .+$/gm) ?? []).join("; ")}` : c.tail(plan);
  c.check("terraform plan with the diff identity's token succeeds and shows no changes", plan.status === 0, planDetail);

  // 4. An apply with the same credentials: replacing a ConfigMap of the platform's namespace.
  const [id, map] = resources(stack, "kubernetes_config_map_v1").find(([, r]) => nameOf(r.metadata.namespace) === ns) ?? [];
  if (!c.check("the stack has a ConfigMap in the platform's namespace to try an apply on", !!id)) return;
  const path = `/api/v1/namespaces/${ns}/configmaps/${map!.metadata.name}`;
  const before = await cp.api("GET", path);
  const auditStart = cp.auditMark();
  const apply = c.terraform(["apply", "-input=false", "-no-color", "-auto-approve", `-replace=kubernetes_config_map_v1.${id}`], asIdentity);
  const output = `${apply.stdout}${apply.stderr}`;
  const forbidden = new RegExp(`forbidden: User "${user.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}" cannot (delete|create|update|patch)`);
  c.check("an apply with the diff identity's token is refused (forbidden)", apply.status !== 0 && forbidden.test(output), apply.status === 0 ? "the apply succeeded" : (forbidden.exec(output)?.[0] ?? c.tail(apply)));
  const refusedWrites = cp.auditEvents(auditStart, user).filter((e: Json) => e.user?.username === user && ["create", "update", "patch", "delete"].includes(e.verb));
  const codes = [...new Set(refusedWrites.map((e) => e.responseStatus?.code))];
  c.check("the API server answered every write the identity attempted with 403", refusedWrites.length > 0 && codes.length === 1 && codes[0] === 403, `${refusedWrites.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name}`).join(", ") || "no write seen"}: HTTP ${codes.join(", ")}`);
  const after = await cp.api("GET", path);
  c.check("the object the refused apply tried to replace is untouched", after.status === 200 && after.body?.metadata?.uid === before.body?.metadata?.uid && after.body?.metadata?.resourceVersion === before.body?.metadata?.resourceVersion);

  // 5. The authorizer's own answers, for what the plan above could not show.
  const may = async (attributes: Json) => {
    const review = await cp.api("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: { user, groups: ["system:serviceaccounts", `system:serviceaccounts:${ns}`, "system:authenticated"], resourceAttributes: attributes },
    });
    return review.body?.status?.allowed === true;
  };
  const managedSecrets = new Set(resources(stack, "kubernetes_secret_v1").filter(([, r]) => nameOf(r.metadata.namespace) === ns).map(([, r]) => r.metadata.name as string));
  const denied: string[] = [];
  for (const verb of ["create", "update", "patch", "delete"]) {
    for (const [group, resource] of [["", "configmaps"], ["apps", "deployments"], ["", "secrets"], ["rbac.authorization.k8s.io", "roles"]]) {
      if (await may({ namespace: ns, verb, group, resource })) denied.push(`may ${verb} ${resource}`);
    }
  }
  for (const secret of ["postgres-auth", "redis-auth"]) {
    const allowed = await may({ namespace: ns, verb: "get", resource: "secrets", name: secret });
    if (allowed !== managedSecrets.has(secret)) denied.push(`${allowed ? "may" : "may not"} get Secret ${secret} (${managedSecrets.has(secret) ? "managed by the stack" : "not managed by the stack"})`);
  }
  if (await may({ namespace: ns, verb: "list", resource: "secrets" })) denied.push("may list Secrets in the platform's namespace");
  if (await may({ verb: "get", resource: "namespaces", name: "kube-system" })) denied.push("may read a namespace the stack does not manage");
  c.check("the authorizer grants no write, and no Secret or namespace the stack does not manage", denied.length === 0, denied.join("; ") || `as ${user}`);
}

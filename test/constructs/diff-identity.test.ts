/**
 * The diff identity (constructs/diff-identity.ts) against what each stack manages, read from the
 * stack's JSON here, independently of how the construct derives it: `get` on exactly the types
 * managed in each namespace, the cluster-scoped objects by name, Secrets only where a plan must
 * read them, no write verb anywhere. The e2e (test/e2e/diff-identity.ts) plans with it for real.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EndpointsV1 } from "@cdktf/provider-kubernetes/lib/endpoints-v1";
import { TerraformStack } from "cdktf";
import { DIFF_IDENTITY, DiffIdentity } from "../../constructs/diff-identity";
import { PlatformNamespace } from "../../constructs/platform-namespace";
import { describeFinding, evaluatePolicy } from "../../stacks/policy";
import { type Json, resources, testApp } from "../helpers";
import { VARIANT_MODES } from "../variants";

/** `group/resource` as RBAC names it, for each Terraform type a stack uses. */
const API: Record<string, [string, string]> = {
  kubernetes_config_map_v1: ["", "configmaps"],
  kubernetes_service_v1: ["", "services"],
  kubernetes_service_account_v1: ["", "serviceaccounts"],
  kubernetes_resource_quota_v1: ["", "resourcequotas"],
  kubernetes_limit_range_v1: ["", "limitranges"],
  kubernetes_persistent_volume_claim_v1: ["", "persistentvolumeclaims"],
  kubernetes_deployment_v1: ["apps", "deployments"],
  kubernetes_stateful_set_v1: ["apps", "statefulsets"],
  kubernetes_job_v1: ["batch", "jobs"],
  kubernetes_horizontal_pod_autoscaler_v2: ["autoscaling", "horizontalpodautoscalers"],
  kubernetes_ingress_v1: ["networking.k8s.io", "ingresses"],
  kubernetes_network_policy_v1: ["networking.k8s.io", "networkpolicies"],
  kubernetes_pod_disruption_budget_v1: ["policy", "poddisruptionbudgets"],
  kubernetes_role_v1: ["rbac.authorization.k8s.io", "roles"],
  kubernetes_role_binding_v1: ["rbac.authorization.k8s.io", "rolebindings"],
};
const CLUSTER_SCOPED = new Set(["kubernetes_namespace_v1", "kubernetes_cluster_role_v1", "kubernetes_cluster_role_binding_v1"]);

const isIdentity = (r: Json) => r.metadata?.labels?.["app.kubernetes.io/component"] === "diff-identity";

/** The rules a rule list grants, one `verb group/resource[names]` string each. */
const grants = (rules: Json[]) =>
  rules.flatMap((r: Json) => r.verbs.flatMap((verb: string) => r.api_groups.flatMap((g: string) => r.resources.map((res: string) => `${verb} ${g}/${res}${r.resource_names ? `[${[...r.resource_names].join(",")}]` : ""}`))));

describe("the diff identity", () => {
  for (const { variant, env, autoscaling, label } of VARIANT_MODES) {
    describe(`${label} (${variant.label})`, () => {
      const json = variant.stack(env, { enableAutoscaling: autoscaling });
      const namespaceName = new Map(Object.entries(resources(json, "kubernetes_namespace_v1")).map(([id, r]) => [`\${kubernetes_namespace_v1.${id}.metadata[0].name}`, r.metadata.name as string]));
      const ns = (r: Json) => namespaceName.get(r.metadata?.namespace ?? r.namespace) ?? "(not the stack's)";
      const roles = Object.values(resources(json, "kubernetes_role_v1")).filter(isIdentity);
      const role = (namespace: string, name: string) => roles.find((r) => ns(r) === namespace && r.metadata.name === name);

      it("grants get on exactly the types the stack manages in each namespace, and no more", () => {
        const needed = new Map<string, Set<string>>();
        for (const [type, byId] of Object.entries(json.resource as Record<string, Record<string, Json>>)) {
          if (CLUSTER_SCOPED.has(type) || type === "helm_release" || type === "kubernetes_secret_v1") continue;
          assert.ok(API[type], `${type}: this test does not know its API resource; add it`);
          for (const r of Object.values(byId)) {
            const set = needed.get(ns(r)) ?? new Set<string>();
            set.add(`get ${API[type]![0]}/${API[type]![1]}`);
            needed.set(ns(r), set);
          }
        }
        assert.ok(needed.size >= 2, "objects in several namespaces");
        for (const [namespace, wanted] of needed) {
          const own = role(namespace, DIFF_IDENTITY);
          assert.ok(own, `no ${DIFF_IDENTITY} Role in ${namespace}`);
          assert.deepEqual(new Set(grants(own.rule)), wanted, namespace);
        }
        assert.deepEqual(new Set(roles.filter((r) => r.metadata.name === DIFF_IDENTITY).map(ns)), new Set(needed.keys()), "a Role in each namespace with managed objects, and nowhere else");
      });

      it("reads cluster-scoped objects by name only: the stack's namespaces, ClusterRoles and bindings (its own, and the chart components' MonitoringRbac)", () => {
        const clusterRoles = Object.values(resources(json, "kubernetes_cluster_role_v1")).filter(isIdentity);
        assert.equal(clusterRoles.length, 1);
        const names = (type: string) => Object.values(resources(json, type)).map((r) => r.metadata.name as string).sort().join(",");
        assert.deepEqual(new Set(grants(clusterRoles[0]!.rule)), new Set([
          `get /namespaces[${[...namespaceName.values()].sort().join(",")}]`,
          `get rbac.authorization.k8s.io/clusterroles[${names("kubernetes_cluster_role_v1")}]`,
          `get rbac.authorization.k8s.io/clusterrolebindings[${names("kubernetes_cluster_role_binding_v1")}]`,
        ]));
        const binding = Object.values(resources(json, "kubernetes_cluster_role_binding_v1")).find(isIdentity)!;
        assert.equal(binding.role_ref.name, `\${kubernetes_cluster_role_v1.${Object.entries(resources(json, "kubernetes_cluster_role_v1")).find(([, r]) => r === clusterRoles[0])![0]}.metadata[0].name}`);
      });

      it("reads Secrets only where a plan must: the managed ones by name, Helm's records where a release lives", () => {
        for (const namespace of new Set([...namespaceName.values()])) {
          const managed = Object.values(resources(json, "kubernetes_secret_v1")).filter((r) => ns(r) === namespace).map((r) => r.metadata.name as string).sort();
          const releases = Object.values(resources(json, "helm_release")).filter((r) => ns(r) === namespace);
          const expected = [...(managed.length > 0 ? [`get /secrets[${managed.join(",")}]`] : []), ...(releases.length > 0 ? ["list /secrets"] : [])];
          const secrets = role(namespace, `${DIFF_IDENTITY}-secrets`);
          assert.deepEqual(secrets ? grants(secrets.rule) : [], expected, namespace);
          if (secrets) assert.deepEqual(secrets["//"].suppressions.map((s: Json) => s.rule), ["KS-RBAC-SECRETS"]);
        }
        for (const r of roles.filter((x) => x.metadata.name === DIFF_IDENTITY)) assert.ok(!grants(r.rule).some((g) => g.includes("/secrets")), ns(r));
      });

      it("may change nothing: get everywhere, list on Secrets alone; every Role bound to the ServiceAccount", () => {
        const account = Object.values(resources(json, "kubernetes_service_account_v1")).find(isIdentity)!;
        assert.equal(account.metadata.name, DIFF_IDENTITY);
        assert.equal(account.automount_service_account_token, false);
        const all = [...roles, ...Object.values(resources(json, "kubernetes_cluster_role_v1")).filter(isIdentity)].flatMap((r) => grants(r.rule));
        for (const g of all) assert.match(g, /^get |^list \/secrets$/);
        for (const r of roles) {
          const binding = Object.values(resources(json, "kubernetes_role_binding_v1")).find((b) => isIdentity(b) && b.metadata.name === r.metadata.name && ns(b) === ns(r));
          assert.ok(binding, `${ns(r)}/${r.metadata.name} is bound`);
          assert.deepEqual(binding.subject, [{ kind: "ServiceAccount", name: DIFF_IDENTITY, namespace: account.metadata.namespace }]);
        }
      });
    });
  }

  it("is refused by the policy gate without its declared suppression, and a Secret rule in its main Role is never excused", () => {
    const { variant, env } = VARIANT_MODES[0]!;
    const json = variant.stack(env);
    const roles = resources(json, "kubernetes_role_v1");
    const [secretsId] = Object.entries(roles).find(([, r]) => isIdentity(r) && r.metadata.name === `${DIFF_IDENTITY}-secrets`)!;
    const unsuppressed = structuredClone(json);
    delete unsuppressed.resource.kubernetes_role_v1[secretsId]["//"].suppressions;
    assert.ok(evaluatePolicy(unsuppressed, { environment: env }).violations.some((v) => v.rule === "KS-RBAC-SECRETS" && v.resource === `kubernetes_role_v1.${secretsId}`));
    const widened = structuredClone(json);
    const [mainId] = Object.entries(roles).find(([, r]) => isIdentity(r) && r.metadata.name === DIFF_IDENTITY)!;
    widened.resource.kubernetes_role_v1[mainId].rule[0].resources.push("secrets");
    const found = evaluatePolicy(widened, { environment: env }).violations.map(describeFinding);
    assert.ok(found.some((f) => f.includes("KS-RBAC-SECRETS") && f.includes(mainId)), found.join("\n"));
  });

  it("fails synth on a resource type it has no read rule for, naming the type", () => {
    const stack = new TerraformStack(testApp(), "unknown-type");
    const namespace = new PlatformNamespace(stack, "namespace", { name: "somewhere" });
    new EndpointsV1(stack, "endpoints", { metadata: { name: "e", namespace: namespace.name } });
    assert.throws(() => new DiffIdentity(stack, "diff-identity", { namespace, stack }), /no read rule for kubernetes_endpoints_v1: add its API group and resource/);
  });
});

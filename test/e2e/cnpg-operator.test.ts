import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { operatorChartValues } from "../../constructs/postgres-cluster-values";
import { loadConfig } from "../helpers";
import { selectorMatches as selects } from "../charts/wiring";
import { operatorCommand, operatorRefusals, operatorSkipReason } from "./cnpg-operator";
import { NODES } from "./control-plane";

/** The operator's Deployment as cloudnative-pg 0.29.0's template writes it, with the project's values. */
function deployment(additionalEnv: { name: string; value: string }[]) {
  return {
    metadata: { name: "cnpg-operator", namespace: "cnpg-system" },
    spec: {
      template: {
        spec: {
          serviceAccountName: "cnpg-operator",
          containers: [
            {
              args: ["controller", "--leader-elect", "--max-concurrent-reconciles=10", "--config-map-name=cnpg-controller-manager-config", "--webhook-port=9443"],
              env: [
                { name: "OPERATOR_IMAGE_NAME", value: "ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0" },
                { name: "OPERATOR_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                { name: "MONITORING_QUERIES_CONFIGMAP", value: "cnpg-default-monitoring" },
                ...additionalEnv,
              ],
            },
          ],
        },
      },
    },
  };
}

describe("the real CloudNativePG operator step (test/e2e/cnpg-operator.ts)", () => {
  it("is skipped, with the reason, unless CNPG_OPERATOR_BIN names a file", () => {
    assert.match(operatorSkipReason({})!, /CNPG_OPERATOR_BIN is not set .*built from its source, not on the Go module proxy/);
    assert.match(operatorSkipReason({ CNPG_OPERATOR_BIN: "/nonexistent/manager" })!, /does not exist/);
    assert.equal(operatorSkipReason({ CNPG_OPERATOR_BIN: process.execPath }), undefined);
  });

  it("runs the operator with its Deployment's environment (WATCH_NAMESPACE from the project's values), without leader election, on the given ports", () => {
    const values = operatorChartValues("agent-platform", "Always") as { additionalEnv: { name: string; value: string }[] };
    const command = operatorCommand(deployment(values.additionalEnv), 40001, 40002);
    assert.ok(typeof command !== "string");
    assert.equal(command.env.WATCH_NAMESPACE, "agent-platform");
    assert.equal(command.env.OPERATOR_NAMESPACE, "cnpg-system");
    assert.deepEqual(command.args, ["controller", "--max-concurrent-reconciles=10", "--config-map-name=cnpg-controller-manager-config", "--webhook-port=40001", "--metrics-bind-address=127.0.0.1:40002"]);
  });

  it("refuses an environment entry it cannot resolve out of cluster", () => {
    const d = deployment([]);
    (d.spec.template.spec.containers[0]!.env as unknown[]).push({ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } });
    assert.match(operatorCommand(d, 1, 2) as string, /POD_NAME/);
  });

  it("tells RBAC refusals from admission refusals in the operator's log", () => {
    const log = [
      '{"level":"error","msg":"Reconciler error","error":"secrets is forbidden: User \\"system:serviceaccount:cnpg-system:cnpg-operator\\" cannot create resource \\"secrets\\" in API group \\"\\" in the namespace \\"x\\""}',
      '{"level":"error","msg":"Reconciler error","error":"pods \\"p-1\\" is forbidden: exceeded quota: platform-quota, requested: requests.cpu=2"}',
      '{"level":"info","msg":"creating service"}',
    ].join("\n");
    const r = operatorRefusals(log);
    assert.equal(r.rbac.length, 1);
    assert.equal(r.admission.length, 1);
    assert.match(r.admission[0]!, /exceeded quota/);
  });

  it("reads label selectors as the API server does", () => {
    const labels = { "cnpg.io/cluster": "e2e-operator", "cnpg.io/podRole": "instance" };
    assert.ok(selects({}, labels));
    assert.ok(selects({ matchLabels: { "cnpg.io/cluster": "e2e-operator" } }, labels));
    assert.ok(!selects({ matchLabels: { "cnpg.io/cluster": "postgres" } }, labels));
    assert.ok(selects({ matchExpressions: [{ key: "cnpg.io/podRole", operator: "In", values: ["instance"] }] }, labels));
    assert.ok(!selects({ matchExpressions: [{ key: "cnpg.io/podRole", operator: "DoesNotExist" }] }, labels));
  });

  it("the e2e's nodes carry every zone a database names (its instances' required node affinity)", () => {
    const zones = NODES.map((n) => n.zone as string);
    for (const env of ["staging", "production"] as const) {
      const topology = loadConfig(env).postgres.topology;
      if (topology.kind !== "cloudnative-pg" || !topology.zones) continue;
      for (const zone of topology.zones) assert.ok(zones.includes(zone), `${env}'s database names zone ${zone}; the e2e's nodes are in ${zones.join(", ")}`);
    }
  });
});

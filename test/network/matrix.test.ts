/**
 * The traffic matrix of every stack, computed by an independent NetworkPolicy engine (cyclonus)
 * from the synthesized policies, namespaces and pods, equals the matrix derived from the
 * configuration; and each kind of policy mistake makes it fail.
 *
 * Without the engine the tests skip and say why; where CYCLONUS is set (.ci/run builds the engine
 * from the Go module proxy and exports it) or CI=true, a missing engine fails them.
 */
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { ENVIRONMENT_NAMES } from "../../config/schema";
import { validateCatalog, validateEnvironment } from "../../config/load";
import { PlatformStack } from "../../stacks/platform-stack";
import { type Json, loadConfig, rawCatalog, rawEnvironment, synthChecked, synthEnvironment, tempDir, testApp } from "../helpers";
import { CYCLONUS_VERSION, cyclonusBinary } from "./engine";
import { buildModel, type NetworkModel } from "./model";
import { computeMatrix, type MatrixRow, mismatches, renderRows } from "./matrix";

const engine = cyclonusBinary();

/** The engine, or a skip that says why (a failure in CI, where .ci/run must have built it). */
function requireEngine(t: TestContext): string | undefined {
  if (engine.path) return engine.path;
  const why = `cyclonus ${CYCLONUS_VERSION} not found (looked at ${engine.looked.join(", ")}); .ci/run builds it with go install and exports CYCLONUS`;
  // CI names the engine (or says it is CI): there the matrix must run, never skip.
  if (process.env.CYCLONUS || process.env.CI === "true") assert.fail(`the traffic matrix must run here: ${why}`);
  t.skip(why);
  return undefined;
}

async function matrixOf(binary: string, config: ReturnType<typeof loadConfig>, json: Json, mutateModel?: (m: NetworkModel) => NetworkModel, podCidr?: string): Promise<MatrixRow[]> {
  const model = buildModel(json, config, podCidr);
  return computeMatrix(binary, tempDir("traffic-matrix-"), config, mutateModel ? mutateModel(model) : model);
}

/** The NetworkPolicy named `name` in namespace `namespace` (its namespace is a reference in the JSON). */
const findPolicy = (json: Json, name: string, namespace = "agent-platform"): Json => {
  const namespaces = json.resource.kubernetes_namespace_v1 as Record<string, Json>;
  const nsOf = (ref: string) => {
    const id = /^\$\{kubernetes_namespace_v1\.([^.]+)\./.exec(ref)?.[1];
    return id ? namespaces[id]!.metadata.name : ref;
  };
  const found = Object.values((json.resource.kubernetes_network_policy_v1 ?? {}) as Record<string, Json>).filter((p) => p.metadata.name === name && nsOf(p.metadata.namespace) === namespace);
  assert.equal(found.length, 1, `one NetworkPolicy ${name} in ${namespace}`);
  return found[0]!;
};

describe("network policies: the traffic matrix, by an independent engine", () => {
  for (const env of ENVIRONMENT_NAMES) {
    for (const autoscaling of [false, true]) {
      it(`${env}/autoscaling-${autoscaling ? "on" : "off"}: every allowed connection is expected, and every expected one allowed`, async (t) => {
        const binary = requireEngine(t);
        if (!binary) return;
        const config = loadConfig(env, { enableAutoscaling: autoscaling });
        const rows = await matrixOf(binary, config, synthEnvironment(env, { enableAutoscaling: autoscaling }));
        const wrong = mismatches(rows);
        assert.equal(wrong.length, 0, `${wrong.length} of ${rows.length} connections differ from the expected matrix:\n${renderRows(wrong)}`);
        // The matrix is not vacuous: it allows what the platform needs, and covers the monitoring namespace.
        const allowed = rows.filter((r) => r.allowed);
        assert.ok(allowed.some((r) => r.from.role === "prometheus" && r.to.namespace === config.namespace), "Prometheus scrapes the platform");
        assert.ok(allowed.some((r) => r.from.role === "api-server" && r.to.namespace === config.monitoringNamespace), "the API server reaches the monitoring namespace");
        assert.ok(rows.filter((r) => !r.allowed).length > allowed.length, "most connections are denied");
      });
    }
  }

  it("shows why synth warns about the default cluster addresses: pods inside them reach what only the API server should", async (t) => {
    const binary = requireEngine(t);
    if (!binary) return;
    // Production leaves cluster.apiServer unset: every private range stands for the API server.
    // Where the pod network is in one of them and the CNI matches pod addresses against ipBlocks,
    // any pod whose own egress is open reaches the aggregated APIs.
    const config = loadConfig("production", { enableAutoscaling: true });
    const json = synthEnvironment("production", { enableAutoscaling: true });
    const wrong = mismatches(await matrixOf(binary, config, json, undefined, "10.244.0.0/16"));
    assert.ok(wrong.some((r) => r.from.role === "ingress-controller" && r.to.role === "prometheus-adapter" && r.allowed), renderRows(wrong));
    // Named addresses keep them out.
    const raw = rawEnvironment("production");
    raw.cluster.apiServer = { cidrs: ["172.20.0.10/32"], ports: [443] };
    raw.cluster.nodeCidrs = ["172.20.0.0/24"];
    const named = loadConfig("production", { enableAutoscaling: true }, raw);
    const rows = await matrixOf(binary, named, synthEnvironment("production", { enableAutoscaling: true }, raw), undefined, "10.244.0.0/16");
    assert.deepEqual(mismatches(rows), [], renderRows(mismatches(rows)));
  });

  describe("mutations: each kind of policy mistake fails the matrix", () => {
    it("fails when the stack drops a call the catalogue declares", async (t) => {
      const binary = requireEngine(t);
      if (!binary) return;
      const config = loadConfig("production");
      // The stack built from a catalogue without one of its calls (the first service that calls
      // another, its first callee), checked against the real catalogue.
      const catalog = rawCatalog();
      const [caller, entry] = Object.entries(catalog).find(([, e]) => (e.calls ?? []).length > 0)!;
      const callee = entry.calls[0] as string;
      catalog[caller].calls = entry.calls.filter((c: string) => c !== callee);
      const dropped = validateEnvironment(rawEnvironment("production"), "production", validateCatalog(catalog));
      const json = synthChecked(new PlatformStack(testApp(), { config: dropped }));
      const wrong = mismatches(await matrixOf(binary, config, json));
      assert.ok(wrong.length > 0);
      assert.ok(
        wrong.every((r) => r.from.role === `service:${caller}` && r.to.role === `service:${callee}` && r.expected && !r.allowed),
        renderRows(wrong),
      );
    });

    it("fails when a policy names a port the pod does not declare", async (t) => {
      const binary = requireEngine(t);
      if (!binary) return;
      const config = loadConfig("production");
      const json = synthEnvironment("production");
      const pgbouncer = findPolicy(json, "pgbouncer");
      pgbouncer.spec.ingress[0].ports[0].port = "pg-bouncer";
      const wrong = mismatches(await matrixOf(binary, config, json));
      assert.ok(wrong.length > 0);
      assert.ok(wrong.every((r) => r.to.role === "pgbouncer" && r.port.name === "pgbouncer" && r.expected && !r.allowed), renderRows(wrong));
    });

    it("fails when a policy admits everyone (ingress: [{}])", async (t) => {
      const binary = requireEngine(t);
      if (!binary) return;
      const config = loadConfig("production");
      const json = synthEnvironment("production");
      findPolicy(json, "postgres").spec.ingress = [{}];
      const wrong = mismatches(await matrixOf(binary, config, json));
      // Pods whose own egress policies stop them still cannot reach it; everyone else now can.
      assert.ok(wrong.some((r) => r.from.role === "internet" && r.to.role === "postgres" && ["postgres", "postgresql"].includes(r.port.name ?? "")), renderRows(wrong));
      assert.ok(wrong.some((r) => r.from.role === "ingress-controller" && r.to.role === "postgres"), renderRows(wrong));
      assert.ok(wrong.every((r) => r.to.role === "postgres" && !r.expected && r.allowed), renderRows(wrong));
    });

    it("fails when a namespace lacks the label the policies select it by", async (t) => {
      const binary = requireEngine(t);
      if (!binary) return;
      const config = loadConfig("production");
      const json = synthEnvironment("production");
      const unlabelled = (m: NetworkModel): NetworkModel => {
        const { "kubernetes.io/metadata.name": _, ...rest } = m.namespaces[config.monitoringNamespace]!;
        return { ...m, namespaces: { ...m.namespaces, [config.monitoringNamespace]: rest } };
      };
      const wrong = mismatches(await matrixOf(binary, config, json, unlabelled));
      assert.ok(wrong.some((r) => r.from.role === "prometheus" && r.to.role === "postgres" && r.port.name === "metrics"), renderRows(wrong));
      assert.ok(wrong.every((r) => r.from.role === "prometheus" && r.to.namespace === config.namespace && r.expected && !r.allowed), renderRows(wrong));
    });
  });
});

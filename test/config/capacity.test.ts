/**
 * The capacity model (config/capacity.ts) against what the stacks emit: every workload's pods,
 * containers and claims summed from the synthesized JSON must equal the model, in both
 * autoscaling modes; the summary, the quota and the connection budget all read the model.
 * Expectations come from the config, not from hard-coded counts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addResources, connectionBudget, environmentCapacity, NO_RESOURCES, namespaceQuota, peakPods, type Resources, surgeOf } from "../../config/capacity";
import { formatCpu, formatCpuQuantity, formatMemory, formatMemoryQuantity, parseCpuMillis, parseMemoryBytes } from "../../config/quantity";
import { renderSummary } from "../../stacks/summary";
import { parse } from "yaml";
import { unescapeLiteral } from "../../constructs/terraform-text-plain";
import { blueGreenService } from "../catalogue";
import { type Json, loadConfig, rawEnvironment, resources } from "../helpers";
import { VARIANT_ENVIRONMENTS, VARIANT_MODES } from "../variants";

const KINDS = { kubernetes_deployment_v1: "Deployment", kubernetes_stateful_set_v1: "StatefulSet", kubernetes_job_v1: "Job" } as const;

/** Per-pod resources the way Kubernetes counts them: sum of containers, or the largest init container. */
function podResources(pod: Json): Resources {
  const r = (c: Json): Resources => ({
    cpuRequestMillis: parseCpuMillis(c.resources.requests.cpu)!,
    memoryRequestBytes: parseMemoryBytes(c.resources.requests.memory)!,
    cpuLimitMillis: parseCpuMillis(c.resources.limits.cpu)!,
    memoryLimitBytes: parseMemoryBytes(c.resources.limits.memory)!,
  });
  const sum = (pod.container as Json[]).reduce((a: Resources, c) => addResources(a, r(c)), NO_RESOURCES);
  const init = ((pod.init_container ?? []) as Json[]).map(r);
  const max = (k: keyof Resources) => Math.max(sum[k], ...init.map((i) => i[k]));
  return { cpuRequestMillis: max("cpuRequestMillis"), memoryRequestBytes: max("memoryRequestBytes"), cpuLimitMillis: max("cpuLimitMillis"), memoryLimitBytes: max("memoryLimitBytes") };
}

/**
 * A CloudNativePG cluster's pods, from its release's values as the operator (1.30) builds them:
 * `postgres` with cluster.resources, the plugin's sidecar with the ObjectStore's sidecar resources
 * where backups are on, the `bootstrap-controller` init container with cluster.resources; one Job
 * pod (initdb, join) at a time while an instance is created.
 */
function clusterWorkloads(json: Json) {
  return Object.values(resources(json, "helm_release"))
    .filter((r) => r.chart === "cluster")
    .map((r) => {
      const values = parse(unescapeLiteral(r.values[0])) as Json;
      const c = values.cluster;
      const containers = [{ resources: c.resources }, ...(values.backups.enabled ? [{ resources: values.backups.instanceSidecarConfiguration.resources }] : [])];
      return {
        name: values.fullnameOverride as string,
        kind: "Cluster",
        perPod: podResources({ container: containers, init_container: [{ resources: c.resources }] }),
        min: c.instances as number,
        max: c.instances as number,
        surge: 1,
        storage: parseMemoryBytes(c.storage.size)! + (c.walStorage.enabled ? parseMemoryBytes(c.walStorage.size)! : 0),
      };
    });
}

/** Every workload of the stack's platform namespace, read from the JSON alone. */
function emittedWorkloads(json: Json) {
  const hpas = Object.values(resources(json, "kubernetes_horizontal_pod_autoscaler_v2"));
  return [...clusterWorkloads(json), ...Object.entries(KINDS).flatMap(([type, kind]) =>
    Object.entries(resources(json, type)).map(([id, w]) => {
      const hpa = hpas.find((h) => h.spec.scale_target_ref.name === `\${${type}.${id}.metadata[0].name}`);
      const replicas = w.spec.replicas === undefined ? undefined : Number(w.spec.replicas);
      return {
        name: kind === "Job" ? "db-migrate" : w.metadata.name,
        kind,
        perPod: podResources(w.spec.template.spec),
        min: hpa ? hpa.spec.min_replicas : (replicas ?? 1),
        max: hpa ? hpa.spec.max_replicas : (replicas ?? 1),
        surge: kind === "Deployment" ? surgeOf(hpa ? hpa.spec.max_replicas : replicas!) : 0,
        storage: ((w.spec.volume_claim_template ?? []) as Json[]).reduce((s, c) => s + parseMemoryBytes(c.spec.resources.requests.storage)!, 0),
      };
    }),
  )];
}

describe("the capacity model", () => {
  for (const { variant, env, autoscaling } of VARIANT_MODES) {
    it(`matches every workload ${env} emits with autoscaling ${autoscaling ? "on" : "off"}: pods, containers, surge, claims (${variant.label})`, () => {
      const config = variant.config(env, { enableAutoscaling: autoscaling });
      const model = environmentCapacity(config);
      const emitted = emittedWorkloads(variant.stack(env, { enableAutoscaling: autoscaling }));
      const mode = autoscaling ? "on" : "off";
      assert.deepEqual(
        emitted.map((w) => w.name).sort(),
        model.workloads.map((w) => w.name).sort(),
      );
      for (const w of model.workloads) {
        const e = emitted.find((x) => x.name === w.name)!;
        assert.equal(e.kind, w.kind, w.name);
        assert.deepEqual(e.perPod, w.perPod, `${w.name}: per-pod resources`);
        assert.deepEqual({ min: e.min, max: e.max, surge: e.surge }, { min: w.pods[mode].min, max: w.pods[mode].max, surge: w.pods[mode].surge }, w.name);
        assert.equal(e.storage, w.storageBytes, `${w.name}: claims`);
      }
    });
  }
  for (const { variant, env } of VARIANT_ENVIRONMENTS) {
    it(`prints ${env}'s totals, quota and budget as the model computes them (${variant.label})`, () => {
      const config = variant.config(env, { enableAutoscaling: true });
      const c = environmentCapacity(config);
      const text = renderSummary([config]);
      const totals = (t: typeof c.min) =>
        `${t.pods} pods, requests ${formatCpu(t.resources.cpuRequestMillis)} CPU / ${formatMemory(t.resources.memoryRequestBytes)}, limits ${formatCpu(t.resources.cpuLimitMillis)} CPU / ${formatMemory(t.resources.memoryLimitBytes)}`;
      assert.ok(text.includes(`at minimum scale: ${totals(c.min)}`), text);
      assert.ok(text.includes(`at maximum scale: ${totals(c.max)}`), text);
      assert.ok(text.includes(`either autoscaling mode): ${totals(c.peak)}`), text);
      for (const l of connectionBudget(config).layers) assert.ok(text.includes(l.arithmetic), l.arithmetic);
      for (const w of c.workloads) assert.match(text, new RegExp(`^  ${w.name} `, "m"));
      assert.match(text, /critical alerts: /);
      assert.match(text, /HPA metrics: metrics\.k8s\.io \(cpu, memory\) by (metrics-server|the cluster)/);
    });
  }

  it("claims a volume per instance of the database cluster (and one per WAL volume), and quotas them", () => {
    const config = loadConfig("production");
    const t = config.postgres.topology;
    assert.equal(t.kind, "cloudnative-pg");
    const c = environmentCapacity(config);
    const redis = config.redis?.persistence ? 1 : 0;
    assert.equal(c.claims, (t.kind === "cloudnative-pg" ? t.instances : 1) + redis);
    const raw = rawEnvironment("production");
    raw.postgres.topology.walStorage = { size: "20Gi" };
    const withWal = environmentCapacity(loadConfig("production", {}, raw));
    assert.equal(withWal.claims, c.claims + (t.kind === "cloudnative-pg" ? t.instances : 0));
    assert.equal(withWal.storageBytes - c.storageBytes, 20 * 2 ** 30 * (t.kind === "cloudnative-pg" ? t.instances : 0));
  });

  it("counts the peak in whichever mode needs more: both blue-green tracks, HPA maximum, surge", () => {
    const config = loadConfig("production");
    const service = blueGreenService(config);
    const tracks = environmentCapacity(config).workloads.filter((w) => w.name === `${service.name}-blue` || w.name === `${service.name}-green`);
    assert.equal(tracks.length, 2);
    const { autoscaling: a, replicas } = service;
    for (const w of tracks) assert.equal(peakPods(w), Math.max(a.maxReplicas + surgeOf(a.maxReplicas), replicas + surgeOf(replicas)));
  });
});

describe("the namespace quota", () => {
  for (const { variant, env } of VARIANT_ENVIRONMENTS) {
    it(`caps ${env}'s namespace at its peak plus headroom, and the emitted ResourceQuota says so (${variant.label})`, () => {
      const config = variant.config(env);
      const { need, hard } = namespaceQuota(config);
      const peak = environmentCapacity(config).peak;
      assert.equal(need.pods, peak.pods);
      assert.equal(need.requestsCpuMillis, peak.resources.cpuRequestMillis);
      for (const k of ["requestsCpuMillis", "requestsMemoryBytes", "limitsCpuMillis", "limitsMemoryBytes", "pods"] as const) {
        assert.ok(hard[k] >= need[k] * (1 + config.quota.headroomPercent / 100) - 1e-6, k);
      }
      const quota = Object.values(resources(variant.stack(env), "kubernetes_resource_quota_v1"))[0]!;
      assert.deepEqual(quota.spec.hard, {
        "requests.cpu": formatCpuQuantity(hard.requestsCpuMillis),
        "requests.memory": formatMemoryQuantity(hard.requestsMemoryBytes),
        "limits.cpu": formatCpuQuantity(hard.limitsCpuMillis),
        "limits.memory": formatMemoryQuantity(hard.limitsMemoryBytes),
        pods: String(hard.pods),
        persistentvolumeclaims: String(hard.claims),
        "requests.storage": formatMemoryQuantity(hard.storageBytes),
      });
      const limits = Object.values(resources(variant.stack(env), "kubernetes_limit_range_v1"))[0]!;
      assert.deepEqual(limits.spec.limit[0].max, { cpu: config.nodeSize.cpu, memory: config.nodeSize.memory });
    });
  }

  it("refuses a config whose peak exceeds the ceiling its namespace was granted, with the arithmetic", () => {
    const raw = rawEnvironment("production");
    const peak = environmentCapacity(loadConfig("production")).peak;
    raw.quota.ceiling = { pods: peak.pods - 1, requestsCpu: formatCpuQuantity(peak.resources.cpuRequestMillis) };
    assert.throws(
      () => loadConfig("production", {}, raw),
      new RegExp(`quota\\.ceiling\\.pods = ${peak.pods - 1}: is below what the namespace needs at its peak .*: ${peak.pods} > ${peak.pods - 1}`),
    );
    raw.quota.ceiling = { pods: peak.pods };
    const { hard } = namespaceQuota(loadConfig("production", {}, raw));
    assert.equal(hard.pods, peak.pods, "the headroom is capped at the ceiling");
  });
});

/**
 * CloudNativePG's charts render what the stacks ask of them: real helm (HELM_CHARTS_DIR, HELM)
 * renders each database release of staging and production with its own values, which helm checks
 * against the chart's values.schema.json; the Cluster the chart renders is exactly the spec the
 * restore manifest reuses (`clusterSpec`), and the ObjectStore and ScheduledBackup carry the
 * configured bucket, retention and schedule. Skipped, saying why, without the charts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { EnvironmentName } from "../../config/schema";
import { clusterInputs, clusterSecrets, clusterSpec, objectStoreName } from "../../constructs/postgres-cluster-values";
import { helmSetup, releaseValues, renderRelease } from "../cnpg-charts";
import { loadConfig, resources, synthEnvironment } from "../helpers";

const helm = helmSetup();
const skip = typeof helm === "string" ? helm : undefined;

describe("CloudNativePG's charts with the stacks' values (real helm)", () => {
  for (const env of ["staging", "production"] as const satisfies readonly EnvironmentName[]) {
    it(`${env}: helm accepts the operator's, the plugin's and the cluster's values, and renders the Cluster the restore reuses`, { skip }, () => {
      if (typeof helm === "string") return;
      const config = loadConfig(env);
      const inputs = clusterInputs(config)!;
      const { topology } = inputs;
      const stack = synthEnvironment(env);
      const releases = Object.values(resources(stack, "helm_release"));
      const release = (chart: string) => releases.find((r) => r.chart === chart)!;

      const operator = renderRelease(helm, release("cloudnative-pg"), topology.operatorNamespace);
      const deployment = operator.find((o) => o.kind === "Deployment")!;
      assert.equal(deployment.spec.replicas, 2);
      // It watches the platform's namespace only: WATCH_NAMESPACE in its environment, once (the
      // ConfigMap its args name is read after the watch cache is built, so it must not carry one).
      const watch = (deployment.spec.template.spec.containers[0].env as { name: string; value?: string }[]).filter((e) => e.name === "WATCH_NAMESPACE");
      assert.deepEqual(watch, [{ name: "WATCH_NAMESPACE", value: config.namespace }]);
      const configMap = operator.find((o) => o.kind === "ConfigMap" && deployment.spec.template.spec.containers[0].args.includes(`--config-map-name=${o.metadata.name}`));
      assert.ok(configMap, "the operator's ConfigMap");
      assert.equal(configMap.data?.WATCH_NAMESPACE, undefined);
      if (topology.backup) assert.ok(renderRelease(helm, release("plugin-barman-cloud"), topology.operatorNamespace).some((o) => o.kind === "CustomResourceDefinition" && o.metadata.name === "objectstores.barmancloud.cnpg.io"));

      const objects = renderRelease(helm, release("cluster"), config.namespace);
      const cluster = objects.find((o) => o.kind === "Cluster")!;
      assert.equal(cluster.metadata.name, topology.name);
      assert.deepEqual(cluster.spec, JSON.parse(JSON.stringify(clusterSpec(inputs))), "the chart's Cluster and the restore's spec must not drift apart");
      assert.equal(cluster.spec.instances, topology.instances);
      const sync = cluster.spec.postgresql.synchronous;
      assert.deepEqual([sync.method, sync.number, sync.dataDurability], [topology.synchronous!.method, topology.synchronous!.number, topology.synchronous!.dataDurability]);
      assert.equal(cluster.spec.enableSuperuserAccess, false);
      assert.equal(cluster.spec.bootstrap.initdb.secret.name, clusterSecrets(topology).app);
      if (topology.backup) {
        const store = objects.find((o) => o.kind === "ObjectStore")!;
        assert.equal(store.metadata.name, objectStoreName(topology));
        assert.equal(store.spec.configuration.destinationPath, `s3://${topology.backup.objectStore.bucket}${topology.backup.objectStore.path}`);
        assert.equal(store.spec.configuration.s3Credentials.accessKeyId.name, topology.backup.objectStore.credentialsSecretName);
        assert.equal(store.spec.retentionPolicy, topology.backup.retention);
        const scheduled = objects.find((o) => o.kind === "ScheduledBackup")!;
        assert.equal(scheduled.spec.schedule, topology.backup.schedule);
        assert.equal(scheduled.spec.cluster.name, topology.name);
        assert.equal(scheduled.spec.method, "plugin");
      }
    });
  }

  it("control: helm refuses values that break the cluster chart's values.schema.json", { skip }, () => {
    if (typeof helm === "string") return;
    const stack = synthEnvironment("production");
    const release = Object.values(resources(stack, "helm_release")).find((r) => r.chart === "cluster")!;
    const [first, ...rest] = releaseValues(release);
    const broken = first!.replace(/^  instances: (\d+)$/m, '  instances: "$1"');
    assert.notEqual(broken, first, "the values carry cluster.instances");
    assert.throws(() => renderRelease(helm, release, "agent-platform", [broken, ...rest]), /values don't meet the specifications of the schema|instances/);
  });
});

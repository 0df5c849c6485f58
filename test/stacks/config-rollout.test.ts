import { unescapeLiteral } from "../../constructs/terraform-text-plain";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CONFIG_CHECKSUM_ANNOTATION, configChecksum } from "../../constructs/config-checksum";
import { type Json, resources } from "../helpers";
import { VARIANT_MODES } from "../variants";

/**
 * A ConfigMap edited in place rolls nothing: only a changed pod template does. Every long-running
 * workload of every stack must therefore carry, on its pod template, the digest of exactly the
 * ConfigMaps it reads, recomputed here from the synthesized JSON. A new workload that mounts a
 * ConfigMap without the digest, or a digest that misses a file, fails; no list of workloads or
 * fields is kept here.
 *
 * Jobs are left out on purpose: a Job's template is immutable, so the provider replaces the Job
 * (re-running the migration) whenever the template changes; a migration runs per release, not
 * per setting.
 */
const WORKLOADS = ["kubernetes_deployment_v1", "kubernetes_stateful_set_v1", "kubernetes_daemon_set_v1"];
const REFERENCE = /^\$\{kubernetes_config_map_v1\.([^.]+)\.metadata\[0\]\.name\}$/;


/** Every ConfigMap name a pod spec refers to: volumes, projected sources, envFrom and env. */
function referencedConfigMaps(spec: unknown, found: Set<string> = new Set()): Set<string> {
  if (Array.isArray(spec)) for (const item of spec) referencedConfigMaps(item, found);
  else if (spec !== null && typeof spec === "object") {
    for (const [key, value] of Object.entries(spec)) {
      if (/^config_map(_ref|_key_ref)?$/.test(key)) for (const ref of [value].flat() as Json[]) found.add(String(ref.name));
      else referencedConfigMaps(value, found);
    }
  }
  return found;
}

describe("config changes roll the pods that read them", () => {
  for (const { variant, env, autoscaling, label } of VARIANT_MODES) {
    it(`${variant.label}, ${label}: every workload's digest covers exactly the ConfigMaps it reads`, () => {
      const json = variant.stack(env, { enableAutoscaling: autoscaling });
      const configMaps = resources(json, "kubernetes_config_map_v1");
      const byName = (ref: string) => {
        const id = REFERENCE.exec(ref)?.[1] ?? Object.keys(configMaps).find((k) => configMaps[k]!.metadata.name === ref);
        const map = id === undefined ? undefined : configMaps[id];
        assert.ok(map, `${ref} is not a ConfigMap of this stack`);
        return map;
      };
      let checked = 0;
      for (const type of WORKLOADS) {
        for (const [id, workload] of Object.entries(resources(json, type))) {
          const template = workload.spec.template;
          const refs = [...referencedConfigMaps(template.spec)];
          const annotation = template.metadata?.annotations?.[CONFIG_CHECKSUM_ANNOTATION];
          if (refs.length === 0) {
            assert.equal(annotation, undefined, `${type}.${id} reads no ConfigMap but carries a config digest`);
            continue;
          }
          const data = Object.fromEntries(
            refs.map((ref) => {
              const map = byName(ref);
              return [map.metadata.name, Object.fromEntries(Object.entries((map.data ?? {}) as Record<string, string>).map(([k, v]) => [k, unescapeLiteral(v)]))];
            }),
          );
          assert.equal(annotation, configChecksum(data), `${type}.${id}: ${CONFIG_CHECKSUM_ANNOTATION} is not the digest of ${Object.keys(data).join(", ")}`);
          checked++;
        }
      }
      assert.ok(checked >= 3, `only ${checked} workloads read ConfigMaps: the walk found nothing to check`);
    });
  }

  it("the digest changes with any name, key or value, and not with key order", () => {
    const base = configChecksum({ a: { "x.conf": "1", "y.conf": "2" } });
    assert.equal(configChecksum({ a: { "y.conf": "2", "x.conf": "1" } }), base);
    assert.notEqual(configChecksum({ b: { "x.conf": "1", "y.conf": "2" } }), base);
    assert.notEqual(configChecksum({ a: { "x.conf": "1", "z.conf": "2" } }), base);
    assert.notEqual(configChecksum({ a: { "x.conf": "1", "y.conf": "3" } }), base);
    assert.notEqual(configChecksum({ a: { "x.conf": "1", "y.conf": "2" }, c: {} }), base);
  });
});

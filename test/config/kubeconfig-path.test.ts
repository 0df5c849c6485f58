/**
 * cluster.kubeconfigPath: only `~/…`, the one form the kubernetes and helm providers read the
 * same way on every machine and from every output directory (config/kubeconfig-path.ts).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../config/errors";
import { ENVIRONMENT_NAMES } from "../../config/schema";
import { loadConfig, rawEnvironment } from "../helpers";

function problem(path: string): { source: string; field: string; value: string; rule: string } {
  const raw = rawEnvironment("staging");
  raw.cluster.kubeconfigPath = path;
  try {
    loadConfig("staging", {}, raw);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    const found = error.problems.find((p) => p.field === "cluster.kubeconfigPath");
    assert.ok(found, error.message);
    return found;
  }
  assert.fail(`${JSON.stringify(path)} was accepted`);
}

describe("cluster.kubeconfigPath", () => {
  for (const [path, rule] of [
    ["$HOME/.kube/config", /must not name an environment variable \(\$HOME, \$\{…\}, %…%\): the providers expand only a leading ~\/.*"~\/\.kube\/config"/],
    ["${HOME}/.kube/config", /must not name an environment variable/],
    ["~/${CLUSTER}.yaml", /must not name an environment variable/],
    ["%USERPROFILE%/.kube/config", /must not name an environment variable/],
    [".kube/config", /must start with "~\/": the providers open a relative path from the stack's folder \(cdktf\.out\/stacks\/<env>\), not from the project/],
    ["../kubeconfig", /must start with "~\/": the providers open a relative path from the stack's folder/],
    ["/home/alice/.kube/config", /must not be absolute: the synthesized JSON would differ between machines/],
    ["~alice/.kube/config", /must start with "~\/": the providers cannot expand ~user/],
    ["~", /must start with "~\/"/],
    ["~/.kube/", /must name a file, not a directory/],
    ["~/.kube/con\u001bfig", /control characters/],
  ] as const) {
    it(`refuses ${JSON.stringify(path)}, naming the file, field and value`, () => {
      const p = problem(path);
      assert.equal(p.source, "config/staging.ts");
      assert.equal(p.value.length > 0, true);
      assert.doesNotMatch(p.value, /\u001b/, "the value is escaped");
      assert.match(p.rule, rule);
    });
  }

  it("accepts ~/ paths, and the shipped configs use one", () => {
    for (const path of ["~/.kube/config", "~/clusters/agent-platform-staging.yaml", "~/a b/config"]) {
      const raw = rawEnvironment("staging");
      raw.cluster.kubeconfigPath = path;
      assert.equal(loadConfig("staging", {}, raw).cluster.kubeconfigPath, path);
    }
    for (const env of ENVIRONMENT_NAMES) assert.match(loadConfig(env).cluster.kubeconfigPath, /^~\//, env);
  });
});

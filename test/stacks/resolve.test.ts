/**
 * The synth shortcuts that replace cdktf's own steps must produce cdktf's output, byte for byte:
 * PlatformStack.toTerraform (one resolve pass, not two), resolveFast (cdktf's resolve only where a
 * token may be), and toYaml (one reused YAML document).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DefaultTokenResolver, Fn, Lazy, StringConcat, TerraformStack, TerraformVariable, Token, Tokenization } from "cdktf";
import { TokenString } from "cdktf/lib/tokens/private/encoding";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { stringify } from "yaml";
import { ENVIRONMENT_NAMES } from "../../config/schema";
import { toYaml, YAML_OPTIONS } from "../../constructs/yaml";
import { PlatformStack } from "../../stacks/platform-stack";
import { mayHoldNumberToken, resolveFast } from "../../stacks/resolve";
import { loadConfig, testApp } from "../helpers";

const cdktfToTerraform = (stack: TerraformStack) => TerraformStack.prototype.toTerraform.call(stack);

/** One stack per environment and mode, built once for every test below. */
const built = new Map<string, PlatformStack>();
function platformStack(env: (typeof ENVIRONMENT_NAMES)[number], autoscaling = true): PlatformStack {
  const key = `${env}/${autoscaling}`;
  if (!built.has(key)) built.set(key, new PlatformStack(testApp(), { config: loadConfig(env, { enableAutoscaling: autoscaling }) }));
  return built.get(key)!;
}

/** Every string in a JSON value, keys included. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => strings(v, out));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      strings(v, out);
    }
  }
  return out;
}

describe("PlatformStack.toTerraform against cdktf's own", () => {
  const cases = [...ENVIRONMENT_NAMES.map((env) => [env, true] as const), ["production", false] as const];
  for (const [env, autoscaling] of cases) {
    it(`${env}, autoscaling ${autoscaling ? "on" : "off"}: the same JSON, key order included`, () => {
      const stack = platformStack(env, autoscaling);
      const ours = JSON.stringify(stack.toTerraform(), null, 2);
      assert.equal(ours, JSON.stringify(cdktfToTerraform(stack), null, 2));
      // What was resolved holds no token marker: nothing was left for a second pass.
      assert.ok(!ours.includes("TfToken["), "a token survived the single pass");
    });
  }
});

describe("resolveFast", () => {
  const stack = new TerraformStack(testApp(), "resolve-fast");
  const variable = new TerraformVariable(stack, "track", { type: "string", default: "blue" });
  const track = variable.stringValue; // each read makes a new token: read it once
  const map = new ConfigMapV1(stack, "map", { metadata: { name: "m" }, data: { a: "b" } });
  const resolver = new DefaultTokenResolver(new StringConcat());
  const slow = (value: unknown) => Tokenization.resolve(value, { scope: stack, preparing: false, resolver });

  const samples: Record<string, unknown> = {
    "plain values, undefined dropped": { a: "x", b: 1, c: true, d: null, e: undefined, f: [1, undefined, "y", { g: undefined }], h: {} },
    "a reference inside plain objects": { spec: { selector: { track, app: "api" }, ports: [80, 443] } },
    "a reference concatenated in text": { data: { "conf.ini": `listen ${map.metadata.name}:80\nrest` } },
    "escaped template text": { text: "$${datasource} and %%{if x}" },
    "strings the number-token scan matches": ["1e5", "redis-e2e", "a-e-b", "1.5e-3 seconds", "x+e+y", "plain"],
    "a number token": { replicas: Token.asNumber(variable.stringValue), port: 8080 },
    "a list token": { hosts: Token.asList(variable.stringValue), names: ["a", Token.asString(variable.stringValue)] },
    "a map token": { labels: Token.asStringMap(variable.stringValue) },
    "a lazy value in a plain object": { a: { b: Lazy.stringValue({ produce: () => "lazy" }), c: Lazy.anyValue({ produce: () => ({ d: [1, 2] }) }) } },
    "a function call": { joined: Fn.join(",", ["a", variable.stringValue]) },
    "a token in a key": { [variable.stringValue]: "value", other: 1 },
    "a date": { when: new Date(0) },
  };
  for (const [name, value] of Object.entries(samples)) {
    it(`gives cdktf's result for ${name}`, () => {
      const expected = slow(value);
      const actual = resolveFast(value, slow);
      assert.deepStrictEqual(actual, expected);
      assert.equal(JSON.stringify(actual), JSON.stringify(expected));
    });
  }

  it("hands cdktf every value that may hold a token, and only those", () => {
    const seen: unknown[] = [];
    const recording = (v: unknown) => {
      seen.push(v);
      return slow(v);
    };
    resolveFast(samples["a reference inside plain objects"], recording);
    assert.deepEqual(seen, [track]);
    seen.length = 0;
    resolveFast(samples["plain values, undefined dropped"], recording);
    assert.deepEqual(seen, []);
  });

  it("agrees with cdktf's number-token scan on every string of every stack and on edge cases", () => {
    const all = ENVIRONMENT_NAMES.flatMap((env) => strings(platformStack(env).toTerraform()));
    all.push("", "e", "1e", "e1", "-e-", "|e|", ".e.", "+eE", "1eX", "Xe1", "1.0e+10", "a1e", "1ea", "--e--", "ee", "9e9e9");
    let matches = 0;
    for (const s of all) {
      const cdktf = TokenString.forNumbers(s).test();
      assert.equal(mayHoldNumberToken(s), cdktf, JSON.stringify(s.slice(0, 80)));
      if (cdktf) matches++;
    }
    assert.ok(all.length > 1000 && matches > 5, `${all.length} strings, ${matches} matched`);
  });
});

describe("toYaml against yaml's stringify", () => {
  it("renders every chart's values and every monitoring file as stringify does, call after call", () => {
    const values: unknown[] = [];
    for (const env of ENVIRONMENT_NAMES) values.push(...Object.values(platformStack(env).monitoring.helmValues));
    values.push(
      { quoted: ["yes", "no", "null", "~", "1.0", "0x10", "@at", "#hash", "a: b", "- dash", " lead", "trail ", "", "multi\nline\n", "tab\tx", "ünï", "${x}"] },
      { empty: { list: [], map: {} }, nested: [[1, [2]], { a: [{ b: null }] }], numbers: [0, -1, 1.5, 1e21], bools: [true, false] },
      "a plain scalar",
      [],
    );
    for (const value of [...values, ...values.reverse()]) assert.equal(toYaml(value), stringify(value, YAML_OPTIONS));
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../config/errors";
import { validateCatalog, validateEnvironment } from "../../config/load";
import { cidrContains, cidrIncludes, parseCidr } from "../../config/network";
import { type Json, loadConfig, rawCatalog, rawEnvironment } from "../helpers";

function problems(mutate: (raw: Json) => void): ConfigError["problems"] {
  const raw = rawEnvironment("production");
  mutate(raw);
  try {
    validateEnvironment(raw, "production", validateCatalog(rawCatalog()));
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("CIDRs", () => {
  it("parses IPv4 and IPv6 ranges and answers containment", () => {
    const ten = parseCidr("10.0.0.0/8");
    assert.ok(!("error" in ten));
    assert.equal(ten.text, "10.0.0.0/8");
    const pods = parseCidr("10.244.0.0/16");
    assert.ok(!("error" in pods));
    assert.ok(cidrContains(ten, pods));
    assert.ok(!cidrContains(pods, ten));
    assert.ok(cidrIncludes(ten, "10.1.2.3"));
    assert.ok(!cidrIncludes(ten, "11.0.0.1"));
    const v6 = parseCidr("fd00:10::/32");
    assert.ok(!("error" in v6) && v6.family === 6 && v6.text === "fd00:10::/32");
    assert.ok(!("error" in v6) && cidrIncludes(v6, "fd00:10::1") && !cidrIncludes(v6, "10.0.0.1"));
  });

  it("refuses what is not a canonical range", () => {
    for (const [text, rule] of [
      ["10.0.0.1/8", /host bits set: the range is 10\.0\.0\.0\/8/],
      ["10.0.0.0", /must be a CIDR/],
      ["10.0.0.256/32", /not IPv4 or IPv6/],
      ["10.0.0.0/33", /prefix longer than 32 bits/],
      ["fd00::1::/64", /not IPv4 or IPv6/],
      ["010.0.0.0/8", /not IPv4 or IPv6/],
    ] as const) {
      const parsed = parseCidr(text);
      assert.ok("error" in parsed, text);
      assert.match(parsed.error, rule, text);
    }
  });
});

describe("cluster addresses in config", () => {
  it("accepts the API server's and nodes' ranges, and leaves them unset by default outside local", () => {
    const local = loadConfig("local");
    assert.deepEqual(local.cluster.apiServer, { cidrs: ["172.16.0.0/12", "192.168.0.0/16"], ports: [6443, 8443] });
    assert.equal(loadConfig("production").cluster.apiServer, undefined);
    const raw = rawEnvironment("production");
    raw.cluster.apiServer = { cidrs: ["10.20.0.5/32", "10.20.1.5/32"], ports: [443] };
    raw.cluster.nodeCidrs = ["10.20.0.0/16"];
    const config = validateEnvironment(raw, "production", validateCatalog(rawCatalog()));
    assert.deepEqual(config.cluster.apiServer, { cidrs: ["10.20.0.5/32", "10.20.1.5/32"], ports: [443] });
  });

  for (const [name, mutate, field, rule] of [
    ["the API server is every address", (r: Json) => (r.cluster.apiServer = { cidrs: ["0.0.0.0/0"], ports: [443] }), "cluster.apiServer.cidrs[0]", /must not be every address/],
    ["a node range is every IPv6 address", (r: Json) => (r.cluster.nodeCidrs = ["::/0"]), "cluster.nodeCidrs[0]", /must not be every address/],
    ["an API server range has host bits set", (r: Json) => (r.cluster.apiServer = { cidrs: ["10.20.0.5/16"], ports: [443] }), "cluster.apiServer.cidrs[0]", /host bits set/],
    ["the API server has no port", (r: Json) => (r.cluster.apiServer = { cidrs: ["10.20.0.5/32"], ports: [] }), "cluster.apiServer.ports", /must be >= 1/],
    ["an API server port is out of range", (r: Json) => (r.cluster.apiServer = { cidrs: ["10.20.0.5/32"], ports: [70000] }), "cluster.apiServer.ports[0]", /65535/],
    ["a key is misspelt", (r: Json) => (r.cluster.apiServer = { cidr: ["10.20.0.5/32"], ports: [443] }), "cluster.apiServer.cidr", /is not a known field/],
  ] as const) {
    it(`fails when ${name}, naming the field`, () => {
      const found = problems(mutate);
      const problem = found.find((p) => p.field === field);
      assert.ok(problem, `no problem for ${field}; got ${JSON.stringify(found)}`);
      assert.equal(problem.source, "config/production.ts");
      assert.match(`${problem.rule} ${problem.value}`, rule);
    });
  }
});

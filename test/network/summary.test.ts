import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadConfig, synthEnvironment } from "../helpers";
import { buildModel } from "./model";
import { matrixMarkdown } from "./summary";

const DESIGN = join(__dirname, "..", "..", "..", "docs", "design.md");

describe("docs/design.md: the production traffic matrix", () => {
  // The table is production's matrix for the catalogue as it is: a service added is a row added
  // (README.md, "Adding a service", regenerates it). The rows it asserts below are the shipped
  // configuration's, so they live in that group.
  it("is the expected matrix of production with autoscaling on, as test/network/summary.ts prints it", () => {
    const config = loadConfig("production", { enableAutoscaling: true });
    const table = matrixMarkdown(config, buildModel(synthEnvironment("production", { enableAutoscaling: true }), config));
    const doc = readFileSync(DESIGN, "utf8");
    const found = /<!-- traffic-matrix:production -->\n([\s\S]*?)<!-- \/traffic-matrix -->/.exec(doc);
    assert.ok(found, "docs/design.md has the traffic-matrix markers");
    assert.equal(found[1], table, "regenerate with: npm run build && node dist/test/network/summary.js --write");
    assert.match(table, /\| api-server \| cnpg-operator: webhook-server 9443; metrics-server: https 10250; operator: https 10250; prometheus-adapter: https 6443 \|/);
  });
});

describe("shipped configuration (config/*.ts as committed): the production traffic matrix", () => {
  it("says what matters: the call graph, the data tier, the internet, metrics only", () => {
    const config = loadConfig("production", { enableAutoscaling: true });
    const table = matrixMarkdown(config, buildModel(synthEnvironment("production", { enableAutoscaling: true }), config));
    assert.match(table, /\| web-dashboard \| http 8080 \|/);
    assert.match(table, /\| tool-integration \|.*\| pgbouncer 6432 \|.*\| 443 \|/);
    // The database cluster replicates between its instances and reaches the object store.
    assert.match(table, /\| postgres \|.*\| postgresql 5432 \|.*\| 443 \|/);
  });
});

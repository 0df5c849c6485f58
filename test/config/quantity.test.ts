import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatCpu, formatMemory, parseCpuMillis, parseMemoryBytes, postgresMegabytes } from "../../config/quantity";
import { accepted, refused } from "./refusals";

describe("parseCpuMillis", () => {
  it("reads millicores and cores", () => {
    assert.equal(parseCpuMillis("250m"), 250);
    assert.equal(parseCpuMillis("1"), 1000);
    assert.equal(parseCpuMillis("0.5"), 500);
    assert.equal(parseCpuMillis("1.25"), 1250);
  });
  it("refuses what Kubernetes would read differently from the author's intent", () => {
    for (const bad of ["", "0", "0m", "1.5m", "2c", "1 ", "-1", "1e3", "0.0001", "250M", "one"]) assert.equal(parseCpuMillis(bad), undefined, bad);
  });
});

describe("parseMemoryBytes", () => {
  it("reads binary and decimal suffixes and plain bytes", () => {
    assert.equal(parseMemoryBytes("512Mi"), 512 * 2 ** 20);
    assert.equal(parseMemoryBytes("1Gi"), 2 ** 30);
    assert.equal(parseMemoryBytes("1.5Gi"), 1.5 * 2 ** 30);
    assert.equal(parseMemoryBytes("500M"), 500e6);
    assert.equal(parseMemoryBytes("128974848"), 128974848);
  });
  it("refuses typos such as 500mb, 500m and 1GB", () => {
    for (const bad of ["500mb", "500m", "1GB", "1gi", "0", "", "Mi", "1 Gi", "-1Gi", "0.5"]) assert.equal(parseMemoryBytes(bad), undefined, bad);
  });
});

describe("formatters", () => {
  it("render quantities for humans", () => {
    assert.equal(formatCpu(2000), "2");
    assert.equal(formatCpu(2250), "2250m");
    assert.equal(formatMemory(2 ** 30), "1Gi");
    assert.equal(formatMemory(1.5 * 2 ** 30), "1.5Gi");
    assert.equal(formatMemory(192 * 2 ** 20), "192Mi");
  });
});

describe("Postgres memory settings (sharedBuffers, workMem, effectiveCacheSize)", () => {
  it("are refused unless a whole number of MiB of at least 1Mi, naming the file, field, value and rule", () => {
    for (const [field, bad] of [
      ["sharedBuffers", "100M"],
      ["workMem", "512Ki"],
      ["effectiveCacheSize", "1500M"],
      ["workMem", "1048577"],
    ] as const) {
      const r = refused("production", (raw) => (raw.postgres[field] = bad), `postgres.${field}`);
      assert.equal(r.value, JSON.stringify(bad));
      assert.match(r.rule, /whole number of MiB, at least 1Mi/);
    }
  });
  it("reach postgresql.conf exactly (no rounding): 1.5Gi is 1536MB, 1048576 bytes is 1MB", () => {
    assert.equal(postgresMegabytes("1.5Gi"), "1536MB");
    assert.equal(postgresMegabytes("1048576"), "1MB");
    assert.equal(postgresMegabytes("2Gi"), "2048MB");
    assert.throws(() => postgresMegabytes("100M"), /not a whole number of MiB/);
    const stack = accepted("production", (raw) => (raw.postgres.workMem = "3Mi"));
    assert.match(JSON.stringify(stack), /work_mem[^,]*3MB/);
  });
});

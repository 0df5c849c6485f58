import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatCpu, formatMemory, parseCpuMillis, parseMemoryBytes } from "../../config/quantity";

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

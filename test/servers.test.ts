/** test/servers.ts finds PostgreSQL where the machine has it: Debian 12 (15), ubuntu-24.04 (16). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { tempDir } from "./helpers";
import { findPostgresBinDir, postgresBinDir } from "./servers";

/** A directory of fake installs: `<root>/<major>/bin/{initdb,pg_ctl}`. */
function fakeInstalls(...majors: string[]): string {
  const root = tempDir("pg-installs-");
  for (const major of majors) {
    mkdirSync(join(root, major, "bin"), { recursive: true });
    for (const program of ["initdb", "pg_ctl"]) writeFileSync(join(root, major, "bin", program), "");
  }
  return root;
}

describe("finding PostgreSQL's server programs", () => {
  it("takes what pg_config --bindir names on this machine", (t) => {
    const pgConfig = spawnSync("pg_config", ["--bindir"], { encoding: "utf8" });
    if (pgConfig.status !== 0) return t.skip("pg_config is not installed here; the fallbacks are tested below");
    assert.equal(postgresBinDir(), pgConfig.stdout.trim());
  });

  it("without pg_config, takes the newest installed major: 16 over 15, as on a runner with both", () => {
    const root = fakeInstalls("15", "16", "9");
    assert.equal(findPostgresBinDir({ PATH: "/nonexistent" }, root), join(root, "16", "bin"));
  });

  it("skips a major without initdb (a client-only package) and an empty machine", () => {
    const root = fakeInstalls("15");
    mkdirSync(join(root, "17", "bin"), { recursive: true });
    assert.equal(findPostgresBinDir({ PATH: "/nonexistent" }, root), join(root, "15", "bin"));
    assert.equal(findPostgresBinDir({ PATH: "/nonexistent" }, join(root, "absent")), undefined);
  });

  it("honours PG_BINDIR first", () => {
    const root = fakeInstalls("13", "16");
    assert.equal(findPostgresBinDir({ PATH: "/nonexistent", PG_BINDIR: join(root, "13", "bin") }, root), join(root, "13", "bin"));
  });
});

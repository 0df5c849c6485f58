/**
 * The local stand-in's nginx.conf (constructs/stand-in.ts) run by Debian's nginx as a non-root
 * user: every service's probe paths and its metrics, as the local walkthrough relies on.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { renderStandInConf, STAND_IN_COMMAND, STAND_IN_DIR } from "../../constructs/stand-in";
import { tool } from "../dashboards/tools";
import { loadConfig } from "../helpers";
import { freePort, isRoot, waitFor } from "../servers";

describe("the stand-in's nginx.conf on Debian's nginx, as a non-root user", () => {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  after(() => {
    children.forEach((c) => c.kill());
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });
  for (const s of loadConfig("local").services) {
    it(`${s.name}: answers its probe paths, and /metrics in Prometheus' text format`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "stand-in-"));
      dirs.push(dir);
      const port = await freePort();
      const metricsPort = await freePort();
      writeFileSync(join(dir, "nginx.conf"), renderStandInConf({ ...s, port, metricsPort }).replace(/\/tmp\//g, `${dir}/`));
      if (isRoot) chownSync(dir, 65534, 65534);
      const args = STAND_IN_COMMAND.slice(1).map((a) => a.replace(`${STAND_IN_DIR}/nginx.conf`, join(dir, "nginx.conf")));
      const child = isRoot ? spawn("runuser", ["-u", "nobody", "--", "/usr/sbin/nginx", ...args], { stdio: "ignore" }) : spawn("/usr/sbin/nginx", args, { stdio: "ignore" });
      children.push(child);
      const get = async (p: number, path: string) => {
        const res = await fetch(`http://127.0.0.1:${p}${path}`);
        return { status: res.status, body: await res.text() };
      };
      await waitFor(async () => (await get(port, s.probes.readiness).catch(() => ({ status: 0 }))).status === 200, `${s.name} stand-in`);
      for (const path of Object.values(s.probes)) assert.equal((await get(port, path)).status, 200, path);
      const metrics = await get(metricsPort, "/metrics");
      assert.equal(metrics.status, 200);
      const check = tool("promtool", ["check", "metrics"], undefined, metrics.body);
      assert.equal(check.status, 0, check.output);
      assert.match(metrics.body, new RegExp(`agent_platform_stand_in\\{service="${s.name}"\\} 1`));
      assert.equal((await get(port, "/metrics")).status, 200, "the API port answers anything (the stand-in has no API)");
      assert.equal((await get(metricsPort, "/")).status, 404);
    });
  }
});

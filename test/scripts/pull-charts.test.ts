/**
 * scripts/pull-charts.sh, run for real on a copy of the project (real tsc, the real
 * config/versions.ts) with a stand-in `helm` that records every call and leaves the archive
 * `helm pull` would: it must pull exactly the pinned charts, from their repositories, in the
 * layout the chart checks read, keep what is there, and stop on a failed pull.
 */
import assert from "node:assert/strict";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { CHARTS } from "../../config/versions";
import { tempDir } from "../helpers";
import { runAsync } from "../tools";

const PROJECT = resolve(__dirname, "..", "..", "..");

/** helm as pull-charts.sh uses it: `version`, and `pull` writing <destination>/<chart>-<version>.tgz. */
const FAKE_HELM = `#!/usr/bin/env bash
printf 'helm %s\\n' "$*" >>"$PULL_RECORD"
if [[ "$1" == version ]]; then printf 'v3.22.0'; exit 0; fi
if [[ "$1" == pull ]]; then
  ref="$2"; version=""; dest=""
  shift 2
  while (($#)); do
    case "$1" in
      --version) version="$2"; shift ;;
      --destination) dest="$2"; shift ;;
    esac
    shift
  done
  [[ -n "\${FAKE_PULL_FAIL:-}" && "$ref" == *"$FAKE_PULL_FAIL"* ]] && { echo "Error: chart not found" >&2; exit 1; }
  printf 'archive' >"$dest/\${ref##*/}-$version.tgz"
  exit 0
fi
exit 1
`;

let template: string | undefined;
/** The project as the script sees it, compiled once; each test copies it. */
function project(): string {
  if (!template) {
    template = tempDir("pull-charts-template-");
    for (const entry of ["config", "constructs", "stacks", "dashboards", "scripts", "main.ts", "tsconfig.json", "tsconfig.build.json", "package.json", "package-lock.json"]) {
      cpSync(join(PROJECT, entry), join(template, entry), { recursive: true });
    }
    symlinkSync(join(PROJECT, "node_modules"), join(template, "node_modules"));
    mkdirSync(join(template, "fake-bin"));
    writeFileSync(join(template, "fake-bin", "helm"), FAKE_HELM);
    chmodSync(join(template, "fake-bin", "helm"), 0o755);
  }
  const dir = tempDir("pull-charts-");
  cpSync(template, dir, { recursive: true, verbatimSymlinks: true });
  return dir;
}

async function run(args: string[], env: Record<string, string> = {}) {
  const dir = project();
  const record = join(dir, "record");
  writeFileSync(record, "");
  const result = await runAsync("bash", [join(dir, "scripts", "pull-charts.sh"), ...args], {
    cwd: dir,
    env: { PATH: `${join(dir, "fake-bin")}:${process.env.PATH}`, HOME: dir, PULL_RECORD: record, ...env },
  });
  return { ...result, dir, calls: readFileSync(record, "utf8").trim().split("\n").filter(Boolean) };
}

describe("scripts/pull-charts.sh", () => {
  it("pulls every chart config/versions.ts pins, from its repository, into <chart>-<version>.tgz", async () => {
    const r = await run(["charts"]);
    assert.equal(r.status, 0, r.stderr);
    const pulls = r.calls.filter((c) => c.startsWith("helm pull"));
    assert.deepEqual(
      pulls,
      Object.values(CHARTS).map((c) => `helm pull ${c.chart} --repo ${c.repository} --version ${c.version} --destination ${join(r.dir, "charts")}`),
    );
    assert.deepEqual(readdirSync(join(r.dir, "charts")).sort(), Object.values(CHARTS).map((c) => `${c.chart}-${c.version}.tgz`).sort());
    assert.match(r.stdout, /HELM_CHARTS_DIR=.*\/charts holds every pinned chart/);
  });

  it("takes the directory from HELM_CHARTS_DIR and keeps the charts already there", async () => {
    const first = Object.values(CHARTS)[0]!;
    const r = await run([], { HELM_CHARTS_DIR: "pinned" });
    assert.equal(r.status, 0, r.stderr);
    const again = await runAsync("bash", [join(r.dir, "scripts", "pull-charts.sh")], {
      cwd: r.dir,
      env: { PATH: `${join(r.dir, "fake-bin")}:${process.env.PATH}`, HOME: r.dir, PULL_RECORD: join(r.dir, "record2"), HELM_CHARTS_DIR: "pinned" },
    });
    assert.equal(again.status, 0, again.stderr);
    assert.ok(again.stdout.includes(`have   ${join(r.dir, "pinned", `${first.chart}-${first.version}.tgz`)}`), again.stdout);
    assert.ok(!readFileSync(join(r.dir, "record2"), "utf8").includes("helm pull"));
  });

  it("refuses without a directory, and stops with the chart's name when a pull fails", async () => {
    const none = await run([]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /name the directory to fill/);
    const second = Object.values(CHARTS)[1]!;
    const failed = await run(["charts"], { FAKE_PULL_FAIL: second.chart });
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, new RegExp(`helm pull ${second.chart} ${second.version} from ${second.repository.replace(/[./]/g, "\\$&")} failed`));
    assert.ok(!existsSync(join(failed.dir, "charts", `${second.chart}-${second.version}.tgz`)));
  });

  it("refuses a helm that is not v3", async () => {
    const dir = project();
    writeFileSync(join(dir, "fake-bin", "helm"), "#!/usr/bin/env bash\nprintf 'v4.0.0'\n");
    const r = await runAsync("bash", [join(dir, "scripts", "pull-charts.sh"), "charts"], { cwd: dir, env: { PATH: `${join(dir, "fake-bin")}:${process.env.PATH}`, HOME: dir } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is helm v4\.0\.0; the charts are checked with helm v3/);
  });
});

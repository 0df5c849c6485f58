/**
 * CDKTF_OUTDIR: synthesis writes only into an absent or empty directory or a previous output of
 * this program, and refuses everything else before writing anything. Every case runs against
 * temporary directories, including a temporary copy of the project for the project-root cases.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { ConfigError } from "../../config/errors";
import { checkOutputDirectory, isPreviousOutput, OUTPUT_STAMP, ScratchOutput } from "../../stacks/output-directory";
import { copyApp, readTree, tempDir } from "../helpers";

const DIST = resolve(__dirname, "..", "..");
const PROJECT = resolve(DIST, "..");
const temp = () => tempDir("outdir-");

/** A throwaway project: a copy of dist/ and a link to node_modules, so its root is a temp dir. */
function tempProject(): { root: string; main: string; home: string } {
  const root = join(temp(), "project");
  mkdirSync(root);
  copyApp(join(root, "dist"));
  symlinkSync(join(PROJECT, "node_modules"), join(root, "node_modules"));
  writeFileSync(join(root, "package.json"), "{}\n");
  const home = join(temp(), "home");
  mkdirSync(home);
  return { root, main: join(root, "dist", "main.js"), home };
}

function run(main: string, cwd: string, home: string, outdir: string | undefined) {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    PLATFORM_SUMMARY: "off",
    DEPLOYMENT_ENV: "local",
    ...(outdir === undefined ? {} : { CDKTF_OUTDIR: outdir }),
  };
  return spawnSync(process.execPath, [main], { cwd, env, encoding: "utf8" });
}

/** Names of scratch directories (`.<name>.partial-*`, `.previous-*`) left in `dir`. */
const leftovers = (dir: string) => readdirSync(dir).filter((n) => /\.(partial|previous)-/.test(n));

describe("checkOutputDirectory", () => {
  const ctx = () => {
    const base = temp();
    const projectRoot = join(base, "work", "project");
    const home = join(base, "home");
    mkdirSync(projectRoot, { recursive: true });
    mkdirSync(home);
    return { base, projectRoot, home, cwd: projectRoot };
  };
  const refused = (value: string | undefined, c: ReturnType<typeof ctx>, rule: RegExp) =>
    assert.throws(
      () => checkOutputDirectory(value, c),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.problems.length, 1);
        assert.equal(e.problems[0]!.field, "CDKTF_OUTDIR");
        assert.equal(e.problems[0]!.source, "environment variable");
        assert.match(e.problems[0]!.rule, rule);
        return true;
      },
    );

  it("defaults to cdktf.out in the working directory", () => {
    const c = ctx();
    assert.equal(checkOutputDirectory(undefined, c), join(c.cwd, "cdktf.out"));
  });
  it("refuses an empty value", () => refused("", ctx(), /must name a directory/));
  it("refuses a value with control characters", () => refused("out\u001b[2J", ctx(), /control characters/));
  it("refuses the filesystem root", () => refused("/", ctx(), /filesystem root/));
  it("refuses the home directory and its ancestors", () => {
    const c = ctx();
    refused(c.home, c, /home directory/);
    refused(dirname(c.home), c, /home directory or one of its ancestors \(it contains the home directory\)/);
  });
  it("refuses the project root, an ancestor of it, and the working directory", () => {
    const c = ctx();
    refused(c.projectRoot, c, /project root/);
    refused("..", c, /project root or one of its ancestors/);
    refused(".", { ...c, cwd: join(c.base, "elsewhere"), projectRoot: c.projectRoot }, /working directory/);
  });
  it("refuses an existing file", () => {
    const c = ctx();
    const file = join(c.base, "notes.txt");
    writeFileSync(file, "mine");
    refused(file, c, /names an existing file/);
  });
  it("refuses a directory holding anything else, and a symbolic link", () => {
    const c = ctx();
    const dir = join(c.base, "data");
    mkdirSync(dir);
    writeFileSync(join(dir, "keep.me"), "x");
    refused(dir, c, /holds files this program did not write/);
    symlinkSync(dir, join(c.base, "link"));
    refused(join(c.base, "link"), c, /symbolic link/);
    // A manifest alone (any cdktf app's output) is not ours either.
    const other = join(c.base, "other-app");
    mkdirSync(other);
    writeFileSync(join(other, "manifest.json"), "{}");
    refused(other, c, /did not write/);
  });
  it("refuses a path below a file, naming the file", () => {
    const c = ctx();
    writeFileSync(join(c.projectRoot, "README.md"), "# readme");
    refused("README.md/out", c, /cannot be created: ".*\/README\.md" is a file, not a directory/);
    refused("README.md/a/b", c, /cannot be created: ".*\/README\.md" is a file, not a directory/);
  });
  it("refuses a directory it cannot write into", (t) => {
    if (process.getuid?.() === 0) return t.skip("runs as root, for whom every directory is writable");
    const c = ctx();
    const locked = join(c.base, "locked");
    mkdirSync(locked, { mode: 0o500 });
    refused(join(locked, "out"), c, /is not writable by this user/);
  });
  it("accepts an absent directory, an empty one, and a previous output", () => {
    const c = ctx();
    assert.equal(checkOutputDirectory(join(c.base, "new", "out"), c), join(c.base, "new", "out"));
    mkdirSync(join(c.base, "empty"));
    assert.equal(checkOutputDirectory("../../empty", c), join(c.base, "empty"));
    const prev = join(c.base, "prev");
    const s = new ScratchOutput(prev);
    writeFileSync(join(s.path, "manifest.json"), "{}");
    s.commit();
    assert.ok(isPreviousOutput(prev));
    assert.equal(checkOutputDirectory(prev, c), prev);
  });
});

describe("ScratchOutput", () => {
  it("swaps in a new output, carries Terraform's working files over, and leaves no scratch", () => {
    const base = temp();
    const out = join(base, "out");
    const first = new ScratchOutput(out);
    mkdirSync(join(first.path, "stacks", "local"), { recursive: true });
    writeFileSync(join(first.path, "manifest.json"), "{}");
    writeFileSync(join(first.path, "stacks", "local", "cdk.tf.json"), "v1");
    first.commit();
    mkdirSync(join(out, "stacks", "local", ".terraform", "providers"), { recursive: true });
    writeFileSync(join(out, "stacks", "local", ".terraform.lock.hcl"), "lock");
    const second = new ScratchOutput(out);
    mkdirSync(join(second.path, "stacks", "local"), { recursive: true });
    writeFileSync(join(second.path, "manifest.json"), "{}");
    writeFileSync(join(second.path, "stacks", "local", "cdk.tf.json"), "v2");
    second.commit();
    assert.equal(readFileSync(join(out, "stacks", "local", "cdk.tf.json"), "utf8"), "v2");
    assert.equal(readFileSync(join(out, "stacks", "local", ".terraform.lock.hcl"), "utf8"), "lock");
    assert.ok(existsSync(join(out, "stacks", "local", ".terraform", "providers")));
    assert.ok(existsSync(join(out, OUTPUT_STAMP)));
    assert.deepEqual(leftovers(base), []);
  });

  it("discards itself on failure and leaves the previous output as it was", () => {
    const base = temp();
    const out = join(base, "out");
    const s = new ScratchOutput(out);
    writeFileSync(join(s.path, "manifest.json"), "{}");
    s.commit();
    const before = readTree(out);
    const failed = new ScratchOutput(out);
    writeFileSync(join(failed.path, "half-written"), "x");
    failed.discard();
    assert.deepEqual(leftovers(base), []);
    assert.deepEqual(readTree(out), before);
  });
});

describe("the app and CDKTF_OUTDIR", () => {
  it("refuses every unsafe directory before writing anything, and deletes nothing", () => {
    const { root, main, home } = tempProject();
    const outside = temp();
    writeFileSync(join(outside, "file.txt"), "precious");
    mkdirSync(join(outside, "data"));
    writeFileSync(join(outside, "data", "keep.me"), "precious");
    const cases: [string, string, RegExp][] = [
      ["", outside, /CDKTF_OUTDIR = "": must name a directory/],
      ["/", outside, /CDKTF_OUTDIR = "\/": must not be the filesystem root/],
      [home, outside, /must not be the home directory/],
      [root, outside, /must not be the project root/],
      [dirname(root), outside, /must not be the project root or one of its ancestors/],
      [".", outside, /must not be the working directory/],
      [join(outside, "file.txt"), outside, /names an existing file/],
      [join(outside, "data"), outside, /holds files this program did not write/],
    ];
    const trees = [root, home, outside].map((d) => [d, readTree(d)] as const);
    for (const [value, cwd, message] of cases) {
      const result = run(main, cwd, home, value);
      assert.equal(result.status, 1, `${JSON.stringify(value)}: ${result.stderr}`);
      assert.match(result.stderr, /environment variable: CDKTF_OUTDIR = /);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
    }
    for (const [dir, tree] of trees) assert.deepEqual(readTree(dir), tree, `${dir} changed`);
    assert.deepEqual(leftovers(outside), []);
    assert.deepEqual(leftovers(dirname(root)), []);
  });

  it("writes into an existing empty directory, as cdktf synth --output \"$(mktemp -d)\" names it", () => {
    const { main, home } = tempProject();
    const work = temp();
    const out = mkdtempSync(join(work, "tmp."));
    const result = run(main, work, home, out);
    assert.equal(result.status, 0, result.stderr);
    assert.ok(isPreviousOutput(out));
    assert.ok(existsSync(join(out, "stacks", "local", "cdk.tf.json")));
    assert.deepEqual(leftovers(work), []);
  });

  it("refuses CDKTF_OUTDIR below a file with the variable's message, and writes nothing", () => {
    const { root, main, home } = tempProject();
    writeFileSync(join(root, "README.md"), "# readme\n");
    const before = readTree(root);
    const result = run(main, root, home, "README.md/out");
    assert.equal(result.status, 1);
    assert.match(result.stderr, /environment variable: CDKTF_OUTDIR = "README\.md\/out": cannot be created: ".*\/README\.md" is a file, not a directory/);
    assert.doesNotMatch(result.stderr, /EEXIST|ENOTDIR|\n\s+at /);
    assert.deepEqual(readTree(root), before);
  });

  it("writes into an absent directory, then replaces its own output, and leaves no scratch", () => {
    const { main, home } = tempProject();
    const work = temp();
    const out = join(work, "out");
    assert.equal(run(main, work, home, out).status, 0);
    assert.ok(isPreviousOutput(out));
    assert.equal(run(main, work, home, out).status, 0);
    assert.deepEqual(readdirSync(join(out, "stacks")), ["local"]);
    assert.deepEqual(leftovers(work), []);
  });
});

/**
 * scripts/compile.cjs, which `cdktf.json`, `npm run synth` and `deploy.sh` run before the app: it
 * must start tsc whenever anything could have changed, and only then. Run on a small project in a
 * temporary directory whose `typescript/bin/tsc` logs each start and then runs the real compiler.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, it } from "node:test";

const PROJECT = resolve(__dirname, "..", "..", "..");

describe("scripts/compile.cjs", () => {
  const dir = mkdtempSync(join(tmpdir(), "compile-cjs-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, "tsc.log");
  mkdirSync(join(dir, "scripts"));
  copyFileSync(join(PROJECT, "scripts", "compile.cjs"), join(dir, "scripts", "compile.cjs"));
  mkdirSync(join(dir, "node_modules", "typescript", "bin"), { recursive: true });
  writeFileSync(
    join(dir, "node_modules", "typescript", "bin", "tsc"),
    `require("node:fs").appendFileSync(${JSON.stringify(log)}, "tsc\\n");\nimport(${JSON.stringify(join(PROJECT, "node_modules", "typescript", "lib", "tsc.js"))});\n`,
  );
  writeFileSync(
    join(dir, "tsconfig.json"),
    // No standard library (a few empty global interfaces instead): tsc then starts in 0.1 s, not 0.45.
    JSON.stringify({ compilerOptions: { target: "ES2022", module: "commonjs", strict: true, types: [], noLib: true, outDir: "dist", rootDir: "." }, include: ["src/**/*.ts"] }),
  );
  writeFileSync(join(dir, "tsconfig.build.json"), JSON.stringify({ extends: "./tsconfig.json", compilerOptions: { incremental: true, tsBuildInfoFile: ".cache/build.tsbuildinfo" } }));
  writeFileSync(join(dir, "package-lock.json"), "{}\n");
  mkdirSync(join(dir, "src"));
  writeFileSync(join(dir, "src", "globals.d.ts"), ["Array<T>", "Boolean", "CallableFunction", "Function", "IArguments", "NewableFunction", "Number", "Object", "RegExp", "String"].map((t) => `interface ${t} {}\n`).join(""));
  writeFileSync(join(dir, "src", "a.ts"), "export const a: number = 1;\n");

  const starts = () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).length : 0);
  /** Runs compile.cjs; returns its exit status and how many times it started tsc. */
  const compile = () => {
    const before = starts();
    const r = spawnSync(process.execPath, [join(dir, "scripts", "compile.cjs"), "tsconfig.build.json", "dist/src/a.js"], { cwd: dir, encoding: "utf8" });
    return { status: r.status, tscStarts: starts() - before, output: r.stdout + r.stderr };
  };
  /** Sets a path's mtime to now, after the last compile started, as `touch` would. */
  const later = (path: string) => {
    const t = new Date();
    utimesSync(path, t, t);
  };

  it("compiles the first time, and starts no tsc when nothing changed", () => {
    assert.deepEqual({ ...compile(), output: "" }, { status: 0, tscStarts: 1, output: "" });
    assert.ok(existsSync(join(dir, "dist", "src", "a.js")));
    assert.equal(compile().tscStarts, 0);
    assert.equal(compile().tscStarts, 0);
  });

  it("compiles an edited source, and then is quiet again", () => {
    writeFileSync(join(dir, "src", "a.ts"), "export const a: number = 2;\n");
    later(join(dir, "src", "a.ts"));
    assert.equal(compile().tscStarts, 1);
    assert.match(readFileSync(join(dir, "dist", "src", "a.js"), "utf8"), /a = 2/);
    assert.equal(compile().tscStarts, 0);
  });

  it("starts tsc for a source that is only touched, once (tsc keeps its build info; compile.cjs dates it)", () => {
    later(join(dir, "src", "a.ts"));
    assert.equal(compile().tscStarts, 1);
    assert.equal(compile().tscStarts, 0);
  });

  it("compiles a file added to a source directory", () => {
    writeFileSync(join(dir, "src", "b.ts"), "export const b = 'b';\n");
    later(join(dir, "src"));
    assert.equal(compile().tscStarts, 1);
    assert.ok(existsSync(join(dir, "dist", "src", "b.js")));
  });

  it("starts tsc after a tsconfig or package-lock.json change", () => {
    later(join(dir, "tsconfig.json"));
    assert.equal(compile().tscStarts, 1);
    later(join(dir, "package-lock.json"));
    assert.equal(compile().tscStarts, 1);
    assert.equal(compile().tscStarts, 0);
  });

  it("never skips while the last compile had errors: every run reports them and fails", () => {
    writeFileSync(join(dir, "src", "a.ts"), "export const a: number = 'not a number';\n");
    later(join(dir, "src", "a.ts"));
    const first = compile();
    assert.notEqual(first.status, 0);
    assert.match(first.output, /TS2322/);
    const second = compile();
    assert.deepEqual([second.status !== 0, second.tscStarts], [true, 1]);
    writeFileSync(join(dir, "src", "a.ts"), "export const a: number = 3;\n");
    later(join(dir, "src", "a.ts"));
    assert.equal(compile().status, 0);
    assert.equal(compile().tscStarts, 0);
  });

  it("re-emits a named output that was deleted (tsc alone would believe it exists)", () => {
    rmSync(join(dir, "dist"), { recursive: true });
    assert.equal(compile().tscStarts, 1);
    assert.match(readFileSync(join(dir, "dist", "src", "a.js"), "utf8"), /a = 3/);
  });
});

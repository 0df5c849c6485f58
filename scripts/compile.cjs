#!/usr/bin/env node
// Compiles the project with tsc, incrementally: `node scripts/compile.cjs <tsconfig> <output> ...`.
//
// The build info lives outside dist/ (the tsconfig names it), so an incremental compile stays
// valid across `rm -rf dist`; but tsc then believes its outputs exist and emits nothing. So this
// drops the build info first whenever one of the named outputs is missing. Plain JavaScript: it
// must run before anything is compiled.
//
// When nothing changed since the last clean compile, it does not start tsc at all (as make would):
// the build info records no diagnostics and no pending emit, and no input it lists (sources,
// declaration files), no directory holding a source (a file added or removed changes it), no
// tsconfig and not package-lock.json is newer than it. Anything else runs tsc, which decides.
"use strict";
const { existsSync, readFileSync, rmSync, statSync, utimesSync } = require("node:fs");
const { spawnSync } = require("node:child_process");
const { dirname, join, resolve } = require("node:path");

const [config, ...outputs] = process.argv.slice(2);
if (!config) {
  process.stderr.write("usage: node scripts/compile.cjs <tsconfig.json> [expected output ...]\n");
  process.exit(2);
}
const root = resolve(__dirname, "..");
const tsconfig = JSON.parse(readFileSync(join(root, config), "utf8"));
const buildInfo = tsconfig.compilerOptions && tsconfig.compilerOptions.tsBuildInfoFile;
const infoPath = buildInfo && join(dirname(join(root, config)), buildInfo);
if (infoPath && outputs.some((o) => !existsSync(join(root, o)))) rmSync(infoPath, { force: true });
else if (infoPath && upToDate(infoPath)) process.exit(0);
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const started = new Date();
const result = spawnSync(process.execPath, [tsc, "-p", join(root, config)], { stdio: "inherit" });
// tsc leaves the build info alone when no content changed; date it to when this compile started,
// so an input changed during the compile is still newer than it.
if (result.status === 0 && infoPath && existsSync(infoPath)) utimesSync(infoPath, started, started);
process.exit(result.status === null ? 1 : result.status);

/** Keys of a build info that records a clean, fully emitted compile (no diagnostics, nothing pending). */
function upToDate(path) {
  const CLEAN = new Set(["version", "root", "packageJsons", "missingPackageJsons", "fileNames", "fileInfos", "fileIdsList", "options", "referencedMap"]);
  let stamp;
  let info;
  try {
    stamp = statSync(path).mtimeMs;
    info = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return false;
  }
  if (!Array.isArray(info.fileNames) || Object.keys(info).some((k) => !CLEAN.has(k))) return false;
  const base = dirname(path);
  const inputs = new Set([join(root, config), join(root, "tsconfig.json")]);
  if (existsSync(join(root, "package-lock.json"))) inputs.add(join(root, "package-lock.json"));
  for (const name of info.fileNames) {
    if (!name.includes("/")) continue; // the compiler's own lib files: package-lock.json pins them
    const file = resolve(base, name);
    inputs.add(file);
    if (file.includes(`${"/"}node_modules${"/"}`)) continue;
    for (let d = dirname(file); d.startsWith(`${root}/`); d = dirname(d)) inputs.add(d);
  }
  try {
    for (const input of inputs) if (statSync(input).mtimeMs > stamp) return false;
  } catch {
    return false; // an input is gone
  }
  return true;
}

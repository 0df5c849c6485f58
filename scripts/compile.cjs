#!/usr/bin/env node
// Compiles the project with tsc, incrementally: `node scripts/compile.cjs <tsconfig> <output> ...`.
//
// The build info lives outside dist/ (the tsconfig names it), so an incremental compile stays
// valid across `rm -rf dist`; but tsc then believes its outputs exist and emits nothing. So this
// drops the build info first whenever one of the named outputs is missing. Plain JavaScript: it
// must run before anything is compiled.
"use strict";
const { existsSync, readFileSync, rmSync } = require("node:fs");
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
if (buildInfo && outputs.some((o) => !existsSync(join(root, o)))) rmSync(join(dirname(join(root, config)), buildInfo), { force: true });
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const result = spawnSync(process.execPath, [tsc, "-p", join(root, config)], { stdio: "inherit" });
process.exit(result.status === null ? 1 : result.status);

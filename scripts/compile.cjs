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
//
// Config files are data typed for the editor (`satisfies EnvironmentInput`), so tsc refuses a
// misspelt field or a wrong type in them before the app could say which field of which file is
// wrong. When every error tsc reports is in such a file, this runs the app's own validation on
// what tsc emitted (it emits despite type errors) and prints its problems in the documented shape,
// `<file>: <field path> = <value>: <rule>`; where the validation finds nothing wrong with a file
// tsc refused, it prints tsc's diagnostics for it as `<file>:<line>:<column>`. Either way it exits
// 1, and the app never runs on a config that does not type-check.
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
// From the project root, so tsc names files as the messages do: config/production.ts.
const result = spawnSync(process.execPath, [tsc, "-p", join(root, config), "--pretty", "false"], { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
// tsc leaves the build info alone when no content changed; date it to when this compile started,
// so an input changed during the compile is still newer than it.
if (result.status === 0 && infoPath && existsSync(infoPath)) utimesSync(infoPath, started, started);
if (result.status === 0 || result.status === null) {
  process.stdout.write(result.stdout || "");
  process.stderr.write(result.stderr || "");
  process.exit(result.status === null ? 1 : 0);
}
process.exit(reportErrors(`${result.stdout || ""}${result.stderr || ""}`));

/**
 * tsc's errors, for the reader: configuration problems in the documented shape when every error is
 * in a config data file, else tsc's own output. Returns the exit status (1).
 */
function reportErrors(output) {
  const diagnostics = [];
  for (const line of output.split("\n")) {
    const m = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line);
    if (m) diagnostics.push({ file: m[1], line: m[2], column: m[3], code: m[4], text: m[5] });
    else if (diagnostics.length > 0 && /^\s+\S/.test(line)) diagnostics[diagnostics.length - 1].text += ` ${line.trim()}`;
  }
  const files = [...new Set(diagnostics.map((d) => d.file))];
  if (diagnostics.length === 0 || !files.every(isConfigData)) {
    process.stdout.write(output);
    return 1;
  }
  const shown = (d) => `  ${d.file}:${d.line}:${d.column}: ${safe(d.text)} (${d.code})`;
  let problems = [];
  let message = "";
  try {
    const { loadEnvironments } = require(join(root, "dist", "config", "load.js"));
    const { ENVIRONMENT_NAMES } = require(join(root, "dist", "config", "schema.js"));
    loadEnvironments(ENVIRONMENT_NAMES);
  } catch (error) {
    if (!error || !Array.isArray(error.problems)) {
      // The emitted file does not even load (a name that does not exist, a syntax error): tsc's
      // diagnostics are all there is to say.
      process.stderr.write(`The TypeScript compiler refuses ${files.join(", ")} (nothing was synthesized):\n${diagnostics.map(shown).join("\n")}\n`);
      return 1;
    }
    problems = error.problems;
    message = error.message;
  }
  if (message) process.stderr.write(`${message}\n`);
  // Files tsc refused in which the validation found nothing: tsc's own words, with the line.
  const unexplained = diagnostics.filter((d) => !problems.some((p) => p.source === d.file));
  if (unexplained.length > 0) {
    const which = [...new Set(unexplained.map((d) => d.file))].join(", ");
    // TS1xxx are syntax errors: tsc still emits what it could parse, which may validate, but the
    // file is not what its author wrote, so "its values pass" would mislead.
    const syntax = unexplained.some((d) => /^TS1\d{3}$/.test(d.code));
    const why = syntax ? "which does not parse" : "though its values pass validation";
    process.stderr.write(`The TypeScript compiler refuses ${which}, ${why} (nothing was synthesized):\n${unexplained.map(shown).join("\n")}\n`);
  }
  return 1;
}

/** A config data file: under config/, its default export checked against the schema's input type. */
function isConfigData(file) {
  if (!/^config\/[^/]+\.ts$/.test(file)) return false;
  try {
    return /\}\s*satisfies\s+(EnvironmentInput|CatalogInput)\s*;?\s*$/.test(readFileSync(join(root, file), "utf8"));
  } catch {
    return false;
  }
}

/** tsc quotes source text: control and bidirectional characters are shown as \\uXXXX, never sent to the terminal. */
function safe(text) {
  return text.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

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

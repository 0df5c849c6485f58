/**
 * Config mistakes through the paths users run: `npm run synth` and the cdktf CLI (whose app command
 * in cdktf.json is the same `compile.cjs && main.js`). Config files are typed for the editor, so
 * the TypeScript compiler sees a misspelt field or a wrong type first; the user must still get the
 * documented `<file>: <field path> = <value>: <rule>`, exit 1 and nothing written, and where only
 * the compiler objects, its diagnostic with file, line and column. The placeholder warnings appear
 * once each under the CLI, never labelled as errors.
 */
import assert from "node:assert/strict";
import { cpSync, existsSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { renameKey, replaceValue } from "../../scripts/config-source";
import { escapeRegExp } from "../catalogue";
import { loadConfig, tempDir } from "../helpers";
import { runAsync } from "../tools";

const PROJECT = resolve(__dirname, "..", "..", "..");
const SERVICE = loadConfig("production").services[0]!;
const FIELD = ["services", SERVICE.name, "replicas"];

/** The project's sources (no dist/, no build info) with node_modules linked, in a fresh directory. */
function projectCopy(): string {
  const dir = tempDir("config-errors-");
  for (const entry of ["main.ts", "config", "constructs", "stacks", "dashboards", "scripts", "tsconfig.json", "tsconfig.build.json", "tsconfig.deploy.json", "package.json", "cdktf.json"]) {
    cpSync(join(PROJECT, entry), join(dir, entry), { recursive: true });
  }
  symlinkSync(join(PROJECT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

/** config/production.ts of a copy, edited. */
function editProduction(dir: string, edit: (source: string) => string): { source: string } {
  const file = join(dir, "config", "production.ts");
  const source = edit(readFileSync(file, "utf8"));
  writeFileSync(file, source);
  return { source };
}

/** 1-based line and column of an offset, as tsc counts them. */
function position(text: string, offset: number): string {
  const before = text.slice(0, offset).split("\n");
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

const cleanEnv = () => {
  const env: NodeJS.ProcessEnv = { ...process.env, PLATFORM_SUMMARY: "off", CHECKPOINT_DISABLE: "1", DISABLE_VERSION_CHECK: "1" };
  for (const k of ["DEPLOYMENT_ENV", "ENABLE_AUTOSCALING", "CDKTF_OUTDIR", "CDKTF_CONTEXT_JSON", "PLATFORM_DEBUG", "TF_CLI_CONFIG_FILE"]) delete env[k];
  return env;
};
const npmSynth = (dir: string) => runAsync("npm", ["run", "--silent", "synth"], { cwd: dir, env: cleanEnv() });
const cdktfSynth = (dir: string) => runAsync(process.execPath, [join(dir, "node_modules", "cdktf-cli", "bundle", "bin", "cdktf"), "synth"], { cwd: dir, env: cleanEnv() });

describe("a config file that does not type-check", () => {
  it("a misspelt field: the documented message from npm run synth, no compiler error, exit 1, nothing written", async () => {
    const dir = projectCopy();
    editProduction(dir, (s) => renameKey(s, FIELD, "replica"));
    const run = await npmSynth(dir);
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stderr, new RegExp(`config/production\\.ts: services\\.${escapeRegExp(SERVICE.name)}\\.replica = ${SERVICE.replicas}: is not a known field`));
    assert.match(run.stderr, new RegExp(`config/production\\.ts: services\\.${escapeRegExp(SERVICE.name)}\\.replicas = \\(missing\\): is required`));
    assert.doesNotMatch(run.stdout + run.stderr, /error TS\d+/);
    assert.equal(existsSync(join(dir, "cdktf.out")), false);
  });

  it("a misspelt field through npm run summary (the README's way to look at a change): the same message, exit 1", async () => {
    const dir = projectCopy();
    editProduction(dir, (s) => renameKey(s, FIELD, "replica"));
    const run = await runAsync("npm", ["run", "--silent", "summary"], { cwd: dir, env: cleanEnv() });
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stderr, new RegExp(`config/production\\.ts: services\\.${escapeRegExp(SERVICE.name)}\\.replica = ${SERVICE.replicas}: is not a known field`));
    assert.doesNotMatch(run.stdout + run.stderr, /error TS\d+/);
  });

  it("a syntax error: tsc's diagnostic with its line, said to be one, exit 1, nothing written", async () => {
    const dir = projectCopy();
    const { source } = editProduction(dir, (s) => s.replace(/(replicas: \d+),/, "$1"));
    const run = await npmSynth(dir);
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stderr, /The TypeScript compiler refuses config\/production\.ts, which does not parse/);
    assert.match(run.stderr, /config\/production\.ts:\d+:\d+: ',' expected\. \(TS1005\)/);
    assert.ok(source.length > 0);
    assert.equal(existsSync(join(dir, "cdktf.out")), false);
  });

  it("a wrong type: the documented message, exit 1", async () => {
    const dir = projectCopy();
    editProduction(dir, (s) => replaceValue(s, FIELD, '"3"'));
    const run = await npmSynth(dir);
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stderr, new RegExp(`config/production\\.ts: services\\.${escapeRegExp(SERVICE.name)}\\.replicas = "3": must be of type number`));
    assert.doesNotMatch(run.stdout + run.stderr, /error TS\d+/);
  });

  it("what only the compiler refuses: its diagnostic with file, line and column, exit 1, nothing written", async () => {
    const dir = projectCopy();
    // The value is a valid number at run time; only its declared type is wrong.
    const { source } = editProduction(dir, (s) => replaceValue(s, FIELD, "3 as unknown as string"));
    const run = await npmSynth(dir);
    assert.equal(run.status, 1, run.stdout + run.stderr);
    const at = position(source, source.indexOf("3 as unknown as string") - "replicas: ".length);
    assert.match(run.stderr, /The TypeScript compiler refuses config\/production\.ts, though its values pass validation/);
    assert.ok(run.stderr.includes(`config/production.ts:${at}: Type 'string' is not assignable to type 'number'. (TS2322)`), run.stderr);
    assert.equal(existsSync(join(dir, "cdktf.out")), false);
  });

  it("a name that does not exist (the emitted file cannot even load): the compiler's diagnostic, exit 1", async () => {
    const dir = projectCopy();
    const { source } = editProduction(dir, (s) => replaceValue(s, ["services", SERVICE.name, "resources"], "smallResources"));
    const run = await npmSynth(dir);
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.ok(run.stderr.includes(`config/production.ts:${position(source, source.indexOf("smallResources"))}: Cannot find name 'smallResources'. (TS2304)`), run.stderr);
  });

  it("a type error in the program itself is the compiler's to report, as before", async () => {
    const dir = projectCopy();
    writeFileSync(join(dir, "stacks", "broken.ts"), "export const broken: number = 'not a number';\n");
    const run = await npmSynth(dir);
    assert.notEqual(run.status, 0);
    assert.match(run.stdout + run.stderr, /stacks\/broken\.ts\(1,14\): error TS2322/);
  });

  it("through the cdktf CLI too: the documented message; and each placeholder warning once, never as an error", async () => {
    const broken = projectCopy();
    editProduction(broken, (s) => replaceValue(s, FIELD, '"3"'));
    const refused = await cdktfSynth(broken);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stdout + refused.stderr, new RegExp(`config/production\\.ts: services\\.${escapeRegExp(SERVICE.name)}\\.replicas = "3": must be of type number`));

    // The warnings the app raises, as npm run synth prints them (once each, labelled Warning:) …
    const dir = projectCopy();
    const plain = await npmSynth(dir);
    assert.equal(plain.status, 0, plain.stderr);
    const warnings = plain.stderr.split("\n").filter((l) => l.startsWith("Warning: ")).map((l) => l.slice("Warning: ".length));
    assert.ok(warnings.length > 0, "the shipped configs warn (the state-backend placeholders); without a warning this test checks nothing");
    // … and as the CLI prints them: once each, as WARN, never on an [ERROR] line.
    const cli = await cdktfSynth(dir);
    assert.equal(cli.status, 0, cli.stdout + cli.stderr);
    const lines = (cli.stdout + cli.stderr).replace(/\u001b\[[0-9;]*[A-Za-z]/g, "").split("\n");
    for (const warning of warnings) {
      const shown = lines.filter((l) => l.includes(warning));
      assert.equal(shown.length, 1, `${warning}:\n${shown.join("\n")}`);
      assert.doesNotMatch(shown[0]!, /\[ERROR\]/);
      assert.match(shown[0]!, /WARN/);
    }
  });
});

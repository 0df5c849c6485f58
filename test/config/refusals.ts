import assert from "node:assert/strict";
import { ConfigError } from "../../config/errors";
import { validateCatalog, validateEnvironment } from "../../config/load";
import type { EnvironmentName } from "../../config/schema";
import { type Json, rawCatalog, rawEnvironment, synthEnvironment } from "../helpers";

/**
 * The one problem a mutated environment file fails with at `field`: it names the file, the field,
 * the value and the rule, on one line of the message.
 */
export function refused(env: EnvironmentName, mutate: (raw: Json, catalog: Json) => void, field: string, file = `config/${env}.ts`): { value: string; rule: string; message: string } {
  const raw = rawEnvironment(env);
  const catalog = rawCatalog();
  mutate(raw, catalog);
  try {
    validateEnvironment(raw, env, validateCatalog(catalog));
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    const found = error.problems.filter((p) => p.field === field);
    assert.equal(found.length, 1, `one problem at ${field}:\n${error.message}`);
    assert.equal(found[0]!.source, file);
    assert.ok(error.message.includes(`${file}: ${field} = ${found[0]!.value}: ${found[0]!.rule}`), error.message);
    return { ...found[0]!, message: error.message };
  }
  return assert.fail(`${file} was accepted`);
}

/** The stack of a mutated environment file, through synth's checks. */
export function accepted(env: EnvironmentName, mutate: (raw: Json) => void, overrides = {}): Json {
  const raw = rawEnvironment(env);
  mutate(raw);
  return synthEnvironment(env, overrides, raw);
}

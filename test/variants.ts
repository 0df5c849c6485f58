/**
 * The configurations the suite's invariants run against:
 * - the shipped one (config/*.ts as committed);
 * - the same with a sixth service added as README.md's "Adding a service" says (a catalogue entry,
 *   a caller's `calls`, settings in every environment file), named `zz-fixture-sixth-service` so
 *   that no service a user adds can collide with it.
 *
 * The fixture is derived from the catalogue, not written for today's five services: it copies an
 * existing internal database user's catalogue facts and, per environment, its settings; the first
 * service that calls another calls it too, and it calls that copied service. So the invariants
 * (policy gate, capacity model equals what is emitted, NetworkPolicies follow the calls, quota,
 * connection budget, summary) are held against a catalogue the tests never saw, and the fixture
 * stays valid whatever the shipped services become.
 */
import { type PlatformConfig, type LoadOverrides, validateCatalog, validateEnvironment } from "../config/load";
import { ENVIRONMENT_NAMES, type EnvironmentName } from "../config/schema";
import { type Json, rawCatalog, rawEnvironment, synthChecked, synthEnvironment, testApp } from "./helpers";

export const SIXTH_SERVICE = "zz-fixture-sixth-service";

export interface ConfigVariant {
  /** For test names: `shipped`, `with zz-fixture-sixth-service`. */
  readonly label: string;
  /** The catalogue's raw data (a fresh copy, safe to break). */
  rawCatalog(): Json;
  /** An environment file's raw data (a fresh copy, safe to break). */
  rawEnvironment(env: EnvironmentName): Json;
  /** The validated config, as the app would load it. */
  config(env: EnvironmentName, overrides?: LoadOverrides): PlatformConfig;
  /** The stack's Terraform JSON, through synth's checks (policy gate, interpolation guard); a fresh copy. */
  stack(env: EnvironmentName, overrides?: LoadOverrides): Json;
}

export const SHIPPED: ConfigVariant = {
  label: "shipped",
  rawCatalog,
  rawEnvironment,
  config: (env, overrides = {}) => validateEnvironment(rawEnvironment(env), env, validateCatalog(rawCatalog()), overrides),
  stack: (env, overrides = {}) => synthEnvironment(env, overrides),
};

/**
 * The service the fixture copies: the last internal database user released rolling in every
 * environment, in catalogue order (a public copy would need a route; a blue-green one, tracks).
 */
function template(): string {
  const catalog = rawCatalog();
  const envs = ENVIRONMENT_NAMES.map(rawEnvironment);
  const names = Object.keys(catalog).filter(
    (n) => catalog[n].exposure === "internal" && catalog[n].usesDatabase && envs.every((e) => (e.services[n]?.release?.strategy ?? "rolling") === "rolling"),
  );
  if (names.length === 0) throw new Error("the sixth-service fixture copies an internal database user released rolling, and the catalogue has none");
  return names[names.length - 1]!;
}

function extendedCatalog(): Json {
  const catalog = rawCatalog();
  const copied = template();
  const { displayName: _display, imageRepository: _repository, calls: _calls, ...facts } = catalog[copied];
  catalog[SIXTH_SERVICE] = {
    ...structuredClone(facts),
    displayName: "Fixture Sixth Service",
    imageRepository: `ghcr.io/example/${SIXTH_SERVICE}`,
    exposure: "internal",
    usesDatabase: true,
    calls: [copied],
  };
  const callerName = Object.keys(catalog).find((n) => n !== SIXTH_SERVICE && (catalog[n].calls ?? []).length > 0);
  if (!callerName) throw new Error("the sixth-service fixture is called by a service that calls others, and the catalogue has none");
  catalog[callerName].calls.push(SIXTH_SERVICE);
  return catalog;
}

function extendedEnvironment(env: EnvironmentName): Json {
  const raw = rawEnvironment(env);
  raw.services[SIXTH_SERVICE] = structuredClone(raw.services[template()]);
  return raw;
}

const stacks = new Map<string, Json>();

export const WITH_SIXTH_SERVICE: ConfigVariant = {
  label: `with ${SIXTH_SERVICE}`,
  rawCatalog: extendedCatalog,
  rawEnvironment: extendedEnvironment,
  config: (env, overrides = {}) => validateEnvironment(extendedEnvironment(env), env, validateCatalog(extendedCatalog()), overrides),
  stack(env, overrides = {}) {
    // Shared by every test file of the process (they run in one, test/in-process.ts).
    const key = `${env} ${JSON.stringify(overrides)}`;
    let json = stacks.get(key);
    if (!json) {
      const { PlatformStack } = require("../stacks/platform-stack") as typeof import("../stacks/platform-stack");
      json = synthChecked(new PlatformStack(testApp(), { config: this.config(env, overrides) }));
      stacks.set(key, json);
    }
    return structuredClone(json);
  },
};

/** Every variant: invariant tests run once per variant. */
export const VARIANTS: readonly ConfigVariant[] = [SHIPPED, WITH_SIXTH_SERVICE];

/** Every environment in both autoscaling modes. */
export const MODES: readonly { env: EnvironmentName; autoscaling: boolean; label: string }[] = ENVIRONMENT_NAMES.flatMap((env) =>
  [false, true].map((autoscaling) => ({ env, autoscaling, label: `${env}, autoscaling ${autoscaling ? "on" : "off"}` })),
);

/** Every variant with every environment. */
export const VARIANT_ENVIRONMENTS: readonly { variant: ConfigVariant; env: EnvironmentName }[] = VARIANTS.flatMap((variant) => ENVIRONMENT_NAMES.map((env) => ({ variant, env })));

/** Every variant with every environment in both autoscaling modes. */
export const VARIANT_MODES: readonly { variant: ConfigVariant; env: EnvironmentName; autoscaling: boolean; label: string }[] = VARIANTS.flatMap((variant) =>
  MODES.map((mode) => ({ variant, ...mode })),
);

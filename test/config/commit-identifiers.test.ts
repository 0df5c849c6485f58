import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../config/errors";
import { validateCatalog, validateEnvironment } from "../../config/load";
import { type Json, loadConfig, rawCatalog, rawEnvironment, synthEnvironment } from "../helpers";
import { blueGreenService } from "../catalogue";

/**
 * Commit SHAs are the most common build metadata there is (an image tagged with the commit, a
 * `GIT_COMMIT` setting), and they have the shape of a random key. They must pass every layer that
 * judges shapes — the configuration walk and the synthesized stack's policy gate — while the same
 * value under a name that says secret, or under no name that says commit, is still refused.
 */
const SHA1 = "7f3a9c2e4b1d8f6a0c5e3b9d2f7a1c4e8b6d0f3a";
const SHA256 = "9c4e8a2f5b7d1e3c6a8f0b2d4e6a8c0e3f2a9c8d7e6b5a4f3e2d1c0b9a8f7e6d";

const synthFails = (raw: Json): string => {
  try {
    synthEnvironment("production", {}, raw);
  } catch (error) {
    if (error instanceof ConfigError || (error instanceof Error && error.name === "SynthesisError")) return error.message;
    throw error;
  }
  return assert.fail("synthesized");
};

describe("commit identifiers pass, secrets shaped like them do not", () => {
  const service = blueGreenService(loadConfig("production")).name;

  it("synthesizes a stack whose images are tagged with the commit, both blue-green tracks", () => {
    const raw = rawEnvironment("production");
    raw.services[service].image = { tag: SHA1 };
    raw.services[service].release.previous = { tag: SHA256.slice(0, 40) };
    const json = synthEnvironment("production", {}, raw);
    const images = JSON.stringify(json.resource.kubernetes_deployment_v1);
    assert.ok(images.includes(`:${SHA1}`), "the current tag reaches the Deployment");
    assert.ok(images.includes(`:${SHA256.slice(0, 40)}`), "the previous tag reaches the other track");
  });

  for (const [name, value] of [["GIT_COMMIT", SHA1], ["BUILD_SHA", SHA256], ["SOURCE_REVISION", SHA1]] as const) {
    it(`synthesizes a service setting ${name} holding a commit id`, () => {
      const raw = rawEnvironment("production");
      raw.services[service].env = { ...raw.services[service].env, [name]: value };
      const json = synthEnvironment("production", {}, raw);
      assert.ok(JSON.stringify(json.resource.kubernetes_config_map_v1).includes(value));
    });
  }

  for (const [name, value, why] of [
    ["GIT_TOKEN", SHA1, "its name says secret"],
    ["UPSTREAM_KEY_ID", SHA1, "its name says nothing of a commit"],
    ["GIT_COMMIT", `${SHA1.slice(0, 20).toUpperCase()}${SHA1.slice(20)}`, "mixed case is no git object id"],
    ["GIT_COMMIT", `${SHA1}0`, "41 digits is no git object id"],
    ["GIT_COMMIT", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "a provider's API key"],
  ] as const) {
    it(`refuses ${name}=… (${why}), without printing it`, () => {
      const raw = rawEnvironment("production");
      raw.services[service].env = { ...raw.services[service].env, [name]: value };
      assert.throws(
        () => validateEnvironment(raw, "production", validateCatalog(rawCatalog())),
        (e: unknown) => e instanceof ConfigError && e.message.includes(`env.${name}`) && !e.message.includes(value),
      );
      assert.ok(!synthFails(raw).includes(value));
    });
  }
});

describe("written text that looks random to a detector of keys", () => {
  for (const base of ["https://runbooks.example.com/agent%20platform", "https://runbooks.example.com/team runbooks"]) {
    it(`synthesizes production with runbookBaseUrl ${JSON.stringify(base)} (the alert names appended to it are words)`, () => {
      const raw = rawEnvironment("production");
      raw.monitoring.runbookBaseUrl = base;
      const json = synthEnvironment("production", {}, raw);
      assert.ok(JSON.stringify(json.resource.helm_release).includes("AgentPlatformHighLatencyP95"));
    });
  }
});

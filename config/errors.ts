/**
 * Configuration errors that say where, what and why: the file (or environment variable), the
 * field path, the offending value and the rule it broke. Thrown before anything is synthesized.
 */
import type { z } from "zod";
import { looksLikeKey, redacted, redactText, secretShape } from "./secrets";
import { renderValue } from "./text";

export { renderValue };

export interface ConfigProblem {
  /** `config/production.ts`, or `environment variable` for DEPLOYMENT_ENV and friends. */
  readonly source: string;
  /** Dotted field path, e.g. `services.api-gateway.resources.requests.memory`. */
  readonly field: string;
  /** The offending value, rendered as JSON (control characters escaped, long values cut). */
  readonly value: string;
  /** The rule the value broke. */
  readonly rule: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(formatProblems(problems));
    this.name = "ConfigError";
  }
}

/** How many problems a message lists before it says how many more there are. */
export const MAX_PROBLEMS_SHOWN = 50;

/** `… and 19,950 more problems`, after the first `max` lines: a message stays readable whatever the input. */
export function boundedLines(lines: readonly string[], max = MAX_PROBLEMS_SHOWN, indent = "  "): string[] {
  if (lines.length <= max) return [...lines];
  const more = lines.length - max;
  return [...lines.slice(0, max), `${indent}… and ${more.toLocaleString("en-US")} more ${more === 1 ? "problem" : "problems"}`];
}

export function formatProblems(problems: readonly ConfigProblem[]): string {
  // redactText: the last line of defence, whatever assembled a value or a rule.
  const lines = problems.map((p) => `  ${p.source}: ${p.field} = ${redactText(p.value)}: ${redactText(p.rule)}`);
  const noun = problems.length === 1 ? "problem" : "problems";
  return `Invalid configuration (${problems.length.toLocaleString("en-US")} ${noun}); nothing was synthesized:\n${boundedLines(lines).join("\n")}`;
}

/** Fields named like secrets that hold names (of an S3 object, of a Secret's key), not secrets. */
const NAME_FIELDS = [/^backend\.key$/, /\.routingKeySecret\.(name|key)$/];

/**
 * The value to show for a field: redacted when its name or its shape says it is a secret
 * (config/secrets.ts, the one rule set): an error message must not leak what it refuses.
 */
export function shownValue(path: readonly PropertyKey[], value: unknown): string {
  const field = path.map(String).join(".");
  const last = String(path[path.length - 1] ?? "");
  if (NAME_FIELDS.some((f) => f.test(field))) return renderValue(value);
  return redacted(last, value, renderValue);
}

/** Dotted path; keys that are not plain identifiers or DNS names are quoted. */
export function renderPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(top level)";
  return path
    .map((key, i) => {
      if (typeof key === "number") return `[${key}]`;
      // A key that is a credential (pasted as a field name) is never printed.
      const text = String(key);
      if (secretShape(text) !== undefined || looksLikeKey(text)) return i === 0 ? "(redacted key)" : ".(redacted key)";
      const plain = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(text);
      const rendered = plain ? text : renderValue(text);
      return i === 0 ? rendered : `.${rendered}`;
    })
    .join("")
    .replace(/\.\[/g, "[");
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key as string];
  }
  return current;
}

/** Turns zod's issues into problems, reading each offending value from the raw input. */
export function problemsFromZod(
  source: string,
  error: z.ZodError,
  raw: unknown,
  prefix: readonly PropertyKey[] = [],
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        problems.push({
          source,
          field: renderPath([...prefix, ...issue.path, key]),
          value: shownValue([...issue.path, key], valueAt(raw, [...issue.path, key])),
          rule: "is not a known field (check the spelling; unknown fields are refused, not ignored)",
        });
      }
      continue;
    }
    if (issue.code === "invalid_key") {
      const inner = (issue as { issues?: { message: string }[] }).issues?.[0]?.message ?? issue.message;
      problems.push({
        source,
        field: renderPath([...prefix, ...issue.path]),
        value: redacted("", issue.path[issue.path.length - 1], renderValue),
        rule: `the key ${lowerFirst(inner)}`,
      });
      continue;
    }
    const value = valueAt(raw, issue.path);
    problems.push({ source, field: renderPath([...prefix, ...issue.path]), value: shownValue(issue.path, value), rule: ruleOf(issue, value) });
  }
  return problems;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** zod's default texts are terse ("Too small: expected number to be >=1"); make them read as rules. */
function ruleOf(issue: z.core.$ZodIssue, value: unknown): string {
  switch (issue.code) {
    case "invalid_type":
      return value === undefined ? `is required (${issue.expected})` : `must be of type ${issue.expected}`;
    case "too_small":
      return issue.message.startsWith("Too small") ? `must be ${issue.inclusive ? ">=" : ">"} ${String(issue.minimum)}` : issue.message;
    case "too_big":
      return issue.message.startsWith("Too big") ? `must be ${issue.inclusive ? "<=" : "<"} ${String(issue.maximum)}` : issue.message;
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_union": {
      const options = (issue as { options?: unknown[] }).options;
      return options ? `must be one of ${options.map((o) => JSON.stringify(o)).join(", ")}` : "does not match any allowed form (see config/schema.ts)";
    }
    default:
      return issue.message;
  }
}

/** A problem at `field`, its value rendered for a message (and redacted where it looks secret). */
export function problemAt(source: string, field: string, value: unknown, rule: string): ConfigProblem {
  return { source, field, value: shownValue(field.split("."), value), rule };
}

/**
 * One rule set for what looks like a secret, used everywhere a value could leak: the schema
 * (refuses secrets in plain settings), error messages (redact what they show), the synth-time
 * policy gate (no secret-looking literal in an env value or a settings ConfigMap) and
 * scripts/check.ts (the same, on a written stack). A value is secret-looking by its name or by
 * its shape, whichever says so first.
 */

/**
 * Words that mark a name as a secret's, matched on whole words of UPPER_SNAKE, kebab-case or
 * camelCase names: `DB_PASS`, `REDIS_AUTH`, `OPENAI_KEY`, `clientKey`, `integrationKey`.
 */
const SECRET_WORDS = new Set([
  "password", "passwd", "pass", "pwd", "secret", "secrets", "token", "tokens", "credential", "credentials", "auth", "key", "apikey",
  "privatekey", "connstr", "dsn", "passphrase",
]);

/**
 * Names that contain such a word but hold no secret: where a secret file is, a key's identifier or
 * prefix, a public key, a URL (checked by its shape instead).
 */
const NOT_SECRET_SUFFIXES = ["file", "path", "dir", "prefix", "url", "uri", "endpoint", "header", "version", "class", "ttl", "name", "id"];
const NOT_SECRET_NAMES = new Set(["public key", "key version", "routing key secret"]);

/** The words of a name: `OPENAI_API_KEY` → openai api key; `clientKey` → client key. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

/** Whether a name (env var, config field, ConfigMap key) says its value is a secret. */
export function looksSecretName(name: string): boolean {
  const words = nameWords(name);
  if (words.length === 0) return false;
  const phrase = words.join(" ");
  if ([...NOT_SECRET_NAMES].some((n) => phrase.includes(n))) return false;
  if (NOT_SECRET_SUFFIXES.includes(words[words.length - 1]!) && words.length > 1) return false;
  return words.some((w) => SECRET_WORDS.has(w)) || words.join("").includes("apikey") || words.join("").includes("privatekey");
}

/** Shannon entropy of a string, in bits per character. */
function entropy(text: string): number {
  const counts = new Map<string, number>();
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** Shapes of secret values, each with what it is called in a message. */
const SHAPES: { readonly what: string; readonly test: (v: string) => boolean }[] = [
  { what: "a URL with a password in it", test: (v) => /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i.test(v) },
  { what: "a PEM private key", test: (v) => /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(v) },
  { what: "a JSON Web Token", test: (v) => /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/.test(v) },
  { what: "a provider's API key", test: (v) => /\b(sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abpr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35})\b/.test(v) },
  {
    what: "a long random string",
    test: (v) =>
      v
        .split(/[\s,;"'=]+/)
        .some((t) => t.length >= 32 && /^[A-Za-z0-9+/_-]+=*$/.test(t) && /\d/.test(t) && /[A-Za-z]/.test(t) && entropy(t) >= (/^[0-9a-f]+$/i.test(t) ? 3.5 : 4.2)),
  },
];

/** What a value looks like, when it looks like a secret; undefined otherwise. */
export function secretShape(value: string): string | undefined {
  return SHAPES.find((s) => s.test(value))?.what;
}

/** Why a name/value pair is secret-looking, or undefined. */
export function secretReason(name: string, value: unknown): string | undefined {
  if (looksSecretName(name)) return `its name (${name}) says it is a secret`;
  if (typeof value === "string") {
    const shape = secretShape(value);
    if (shape) return `its value looks like ${shape}`;
  }
  return undefined;
}

/** A value as a message may show it: "(redacted)" when its name or shape says secret. */
export function redacted(name: string, value: unknown, render: (v: unknown) => string): string {
  if (value === undefined) return render(value);
  if (looksSecretName(name)) return "(redacted)";
  const texts: string[] = [];
  const collect = (v: unknown) => {
    if (typeof v === "string") texts.push(v);
    else if (Array.isArray(v)) v.forEach(collect);
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (looksSecretName(k)) texts.push("__secret__");
        else collect(x);
      }
    }
  };
  collect(value);
  return texts.some((t) => t === "__secret__" || secretShape(t)) ? "(redacted)" : render(value);
}

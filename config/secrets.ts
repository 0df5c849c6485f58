/**
 * One rule set for what looks like a secret, used everywhere a value could leak: the walk over
 * every string of a raw configuration file (config/secret-fields.ts), error messages and the
 * summary (they redact what they show), the synth-time policy gate and scripts/check.ts (the walk
 * over every string of a synthesized stack, stacks/secret-scan.ts). A value is secret-looking by
 * its name or by its shape, whichever says so first.
 *
 * Every shape below is in the shared table of secret and harmless values
 * (test/secret-values.ts) that each consumer is tested against.
 */

/**
 * Words that mark a name as a secret's, matched on whole words of UPPER_SNAKE, kebab-case or
 * camelCase names: `DB_PASS`, `REDIS_AUTH`, `OPENAI_KEY`, `clientKey`, `integrationKey`.
 */
const SECRET_WORDS = new Set([
  "password", "passwd", "pass", "pwd", "secret", "secrets", "token", "tokens", "credential", "credentials", "auth", "key", "apikey",
  "privatekey", "connstr", "dsn", "passphrase", "pgpassword",
]);

/**
 * Last words of names that contain such a word but hold no secret: where a secret file is, a
 * key's identifier or prefix, a URL (checked by its shape instead), or a setting *about* the
 * secret — its type, algorithm, length, lifetime, who it is for or where it is checked
 * (`password_encryption`, `auth_type`, `auth_user`, `TOKEN_TTL`, initdb's `--auth-local`).
 */
const NOT_SECRET_SUFFIXES = [
  "file", "path", "dir", "prefix", "url", "uri", "endpoint", "header", "version", "class", "ttl", "name", "id",
  "type", "mode", "method", "algorithm", "encryption", "policy", "length", "size", "timeout", "expiry", "age", "enabled",
  "required", "user", "username", "issuer", "audience", "scope", "scopes", "query", "format", "kind", "count",
  "host", "hostname", "local", "server", "port", "realm", "provider",
];
const NOT_SECRET_NAMES = new Set(["public key", "key version", "routing key secret"]);

/** The words of a name: `OPENAI_API_KEY` → openai api key; `clientKey` → client key. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

/** Whether a name (env var, config field, ConfigMap key, query parameter) says its value is a secret. */
export function looksSecretName(name: string): boolean {
  const words = nameWords(name);
  if (words.length === 0) return false;
  const phrase = words.join(" ");
  if ([...NOT_SECRET_NAMES].some((n) => phrase.includes(n))) return false;
  if (NOT_SECRET_SUFFIXES.includes(words[words.length - 1]!) && words.length > 1) return false;
  const joined = words.join("");
  return words.some((w) => SECRET_WORDS.has(w)) || ["apikey", "privatekey", "connstr", "accesstoken", "clientsecret"].some((w) => joined.includes(w));
}

/** Query parameters that carry a credential although their name is no secret word (signed URLs). */
const SECRET_QUERY_PARAMETERS = new Set(["sig", "signature", "x-amz-signature", "x-goog-signature", "x-amz-security-token", "code", "hmac"]);

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

/** How often a run of letters turns into a run of digits or back: random keys switch often, words rarely. */
function classSwitches(text: string): number {
  let switches = 0;
  for (let i = 1; i < text.length; i++) {
    const a = /\d/.test(text[i - 1]!);
    const b = /\d/.test(text[i]!);
    if (a !== b) switches++;
  }
  return switches;
}

/** The share of a token's characters in words: `Hpa`, `Replicas`, `platform` (not `At`, not `ab`). */
function wordedFraction(t: string): number {
  let worded = 0;
  for (const m of t.matchAll(/[A-Z][a-z]{2,}|[a-z]{3,}/g)) worded += m[0].length;
  return worded / t.length;
}

/**
 * A token that is random rather than written: long, mixed letters and digits, high entropy. One
 * that mixes `/` with `-` or `_` is no base64 (whose alphabets have `+/` or `-_`) but a path such
 * as `agent-platform/AgentPlatformHighLatencyP95`: its segments are judged one by one.
 */
function randomToken(t: string): boolean {
  if (t.includes("/") && /[-_]/.test(t)) return t.split("/").some(randomToken);
  // Mostly words (`20platform/AgentPlatformHpaAtMaxReplicas`: a percent-encoded space before a
  // path of alert names): at least 80% of it in words, a capital and two or more lower-case
  // letters, or three or more lower-case letters. Random base64 gets there in about 15 of 100,000
  // draws at 32 characters, 4 at 40, and never in 300,000 at 64.
  if (wordedFraction(t) >= 0.8) return false;
  // Words joined by `_` or `-` with a short id (`postgres_server_stateful-set_41B50D02`, a
  // construct's id) are written, not random: random base64url rarely yields lower-case words.
  const parts = t.split(/[-_]/).filter(Boolean);
  if (parts.length >= 3 && parts.filter((p) => /^[a-z]{2,}$/.test(p)).length * 2 >= parts.length) return false;
  return t.length >= 32 && /^[A-Za-z0-9+/_-]+=*$/.test(t) && /\d/.test(t) && /[A-Za-z]/.test(t) && entropy(t) >= (/^[0-9a-f]+$/i.test(t) ? 3.5 : 4.2);
}

/**
 * A value that is a literal, not a reference to one: `$(cat /run/secrets/pw)`, `${VAR}`, `$VAR`,
 * a path to a file, an `<placeholder>` and an empty value say where the secret is, not what it is.
 */
function literalSecretValue(value: string): boolean {
  const v = value.replace(/^["']|["']$/g, "");
  return v.length > 0 && !/^(\$|<.*>$|\/|~\/|\(redacted\)$|\*+$)/.test(v);
}

/** Whether `Basic <x>`'s credential is base64 of `user:password`, as RFC 7617 defines it. */
function basicCredential(encoded: string): boolean {
  if (encoded.length % 4 === 1) return false;
  const decoded = Buffer.from(encoded, "base64").toString("utf8");
  return /^[\x20-\x7e]+:[\x20-\x7e]+$/.test(decoded);
}

interface Shape {
  /** What it is called in a message: "its value looks like <what>". */
  readonly what: string;
  /** Global pattern; a match is a secret when `accept` says so (or there is no `accept`). */
  readonly pattern: RegExp;
  readonly accept?: (match: RegExpExecArray) => boolean;
  /** The capture group that holds the secret itself (redaction keeps what introduces it); 0: all of it. */
  readonly secret?: number;
  /** Text every match contains: a cheap test that skips the pattern for most strings. */
  readonly hint: string | RegExp;
  /** Length every match has at least. @default 8 */
  readonly min?: number;
}

/** Shapes of secret values, each with what it is called in a message. */
const SHAPES: readonly Shape[] = [
  // scheme://user:password@host, also with an empty user (redis://:pw@host, as redis-cli accepts).
  { what: "a URL with a password in it", pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@/gi, hint: "@" },
  // The whole block, to its END line or the end of the text (a cut or one-line key too).
  { what: "a PEM private key", pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|$)/g, hint: "-----BEGIN" },
  { what: "a JSON Web Token", pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, hint: "eyJ" },
  {
    what: "a provider's API key",
    pattern:
      /\b(sk-[A-Za-z0-9_-]{20,}|sk_(live|test)_[A-Za-z0-9]{16,}|rk_live_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}|glpat-[A-Za-z0-9_-]{20,}|xox[abeprs]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,}|(AKIA|ASIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}|npm_[A-Za-z0-9]{36}|hvs\.[A-Za-z0-9_-]{20,})/g,
    hint: /sk[-_]|rk_|gh[pousr]_|github_pat_|glpat-|xox|xapp-|AKIA|ASIA|AIza|SG\.|npm_|hvs\./,
    min: 16,
  },
  // Incoming-webhook URLs carry their credential in the path: whoever has the URL can post.
  {
    what: "a webhook URL with its token",
    pattern:
      /\bhttps?:\/\/(hooks\.slack\.com\/(services|workflows|triggers)\/[A-Za-z0-9/_-]+|(ptb\.|canary\.)?discord(app)?\.com\/api\/webhooks\/\d+\/[A-Za-z0-9_-]+|[A-Za-z0-9.-]*\.webhook\.office\.com\/webhookb2\/\S+|outlook\.office(365)?\.com\/webhook\/\S+|api\.telegram\.org\/bot\d+:[A-Za-z0-9_-]+)/gi,
    hint: "://",
  },
  // ?token=…, &sig=…, ?api_key=…: a credential in a query string (Teams workflows, SAS URLs, generic hooks).
  {
    what: "a URL with a credential in its query string",
    pattern: /[?&;]([A-Za-z0-9_.-]+)=([^&#\s"']+)/g,
    accept: (m) => (looksSecretName(m[1]!) || SECRET_QUERY_PARAMETERS.has(m[1]!.toLowerCase())) && literalSecretValue(m[2]!),
    secret: 2,
    hint: "=",
  },
  // PGPASSWORD=…, password=… and password = … (libpq key/value strings), --token=…, ?password=….
  {
    what: "a secret assigned to a name that says so",
    pattern: /(?:^|[\s,;{(&?"'`]|--?)(["']?)([A-Za-z_][A-Za-z0-9_.-]*)\1[ \t]*=[ \t]*("[^"]*"|'[^']*'|[^\s,;}"'&`]+)/g,
    accept: (m) => looksSecretName(m[2]!) && literalSecretValue(m[3]!),
    secret: 3,
    hint: "=",
  },
  // {"password": "…"}: JSON with a field named like a secret.
  {
    what: "JSON with a secret field",
    pattern: /"([A-Za-z_][A-Za-z0-9_.-]*)"\s*:\s*"((?:[^"\\]|\\.)*)"/g,
    accept: (m) => looksSecretName(m[1]!) && literalSecretValue(m[2]!),
    secret: 2,
    hint: '"',
  },
  { what: "an HTTP Basic credential", pattern: /\bBasic\s+([A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])/g, accept: (m) => basicCredential(m[1]!), secret: 1, hint: "Basic" },
  { what: "an HTTP Bearer token", pattern: /\bBearer\s+([A-Za-z0-9._~+/-]{16,}=*)/g, accept: (m) => /[\d._~+/-]/.test(m[1]!) || /[a-z]/.test(m[1]!) === /[A-Z]/.test(m[1]!), secret: 1, hint: "Bearer" },
  { what: "a long random string", pattern: /[A-Za-z0-9+/_-]{32,}=*/g, accept: (m) => randomToken(m[0]), hint: "", min: 32 },
];

/** Each shape's pattern with `d` (match indices, so redaction cuts out exactly the secret group). */
const COMPILED = new Map(SHAPES.map((shape) => [shape, new RegExp(shape.pattern.source, `${shape.pattern.flags}d`)]));

/** Shortest text any shape can match (`token=ab`): shorter strings are skipped at once. */
const SHORTEST = 8;

function matches(shape: Shape, value: string): RegExpExecArray[] {
  const found: RegExpExecArray[] = [];
  if (value.length < (shape.min ?? SHORTEST) || !(typeof shape.hint === "string" ? value.includes(shape.hint) : shape.hint.test(value))) return found;
  const re = COMPILED.get(shape)!;
  re.lastIndex = 0;
  for (let m = re.exec(value); m !== null; m = re.exec(value)) {
    if (!shape.accept || shape.accept(m)) found.push(m);
    if (m[0].length === 0) re.lastIndex++;
  }
  return found;
}

/** What a value looks like, when it looks like a secret; undefined otherwise. */
export function secretShape(value: string): string | undefined {
  return SHAPES.find((s) => matches(s, value).length > 0)?.what;
}

/**
 * Whether a value meant as a name (of a Secret, a key, a table) is a credential pasted in the
 * wrong field: a secret shape, or one unbroken run of 20+ letters and digits that switches between
 * the two as random keys do (a PagerDuty routing key is 32 such characters; a name has words).
 */
export function looksLikeKey(value: string): boolean {
  return secretShape(value) !== undefined || (/^[A-Za-z0-9]{20,}$/.test(value) && classSwitches(value) >= 6);
}

/**
 * A setting that names itself a commit and holds exactly a git object id (40 lower-case hex
 * digits, or 64 for a SHA-256 repository): `GIT_COMMIT`, `BUILD_SHA`, `SOURCE_REVISION`. It has the
 * shape of a random key, but the name says what it is and the commit is published with the code;
 * refusing it would refuse the most common build metadata there is. A name that also says secret
 * (`GIT_TOKEN`) is never one.
 */
export function commitIdentifier(name: string, value: unknown): boolean {
  const words = nameWords(name);
  return (
    typeof value === "string" &&
    /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(value) &&
    words.some((w) => ["commit", "sha", "revision", "rev", "git"].includes(w)) &&
    !looksSecretName(name)
  );
}

/** Why a name/value pair is secret-looking, or undefined. */
export function secretReason(name: string, value: unknown): string | undefined {
  if (looksSecretName(name)) return `its name (${name}) says it is a secret`;
  if (commitIdentifier(name, value)) return undefined;
  if (typeof value === "string") {
    const shape = secretShape(value);
    if (shape) return `its value looks like ${shape}`;
  }
  return undefined;
}

/**
 * `text` with every secret-shaped span replaced by `(redacted)`: the last line of defence for
 * text that reaches a terminal (messages, warnings, the summary), whatever assembled it.
 */
export function redactText(text: string): string {
  let out = text;
  for (const shape of SHAPES) {
    for (const m of matches(shape, out).reverse()) {
      // Keep what introduces the secret (`password=`, `Bearer `), redact the secret itself.
      const [start, end] = m.indices![shape.secret ?? 0]!;
      out = `${out.slice(0, start)}(redacted)${out.slice(end)}`;
    }
  }
  return out;
}

/** A value as a message may show it: "(redacted)" when its name or shape says secret. */
export function redacted(name: string, value: unknown, render: (v: unknown) => string): string {
  if (value === undefined) return render(value);
  if (looksSecretName(name)) return "(redacted)";
  let secret = false;
  const collect = (v: unknown, key: string) => {
    if (secret) return;
    if (typeof v === "string") secret = secretShape(v) !== undefined || looksLikeKey(v);
    else if (Array.isArray(v)) {
      v.forEach((x) => collect(x, key));
      if (!secret && v.every((x) => typeof x === "string")) secret = secretShape(v.join(" ")) !== undefined;
    } else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (looksSecretName(k) || secretShape(k) !== undefined || looksLikeKey(k)) secret = true;
        else collect(x, k);
      }
    }
  };
  collect(value, name);
  return secret ? "(redacted)" : render(value);
}

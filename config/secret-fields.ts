/**
 * The walk over every string of a raw configuration file, whatever its field — known, unknown,
 * a record's key or a list's element — against the one rule set (config/secrets.ts). A free-text
 * field reaches Terraform JSON (commands, URLs, annotations, env values, chart values), a
 * ConfigMap, a Helm value, the summary or a message; so no field is trusted by its place in the
 * schema. The exceptions are explicit and reasoned below.
 */
import type { ConfigProblem } from "./errors";
import { renderPath } from "./errors";
import { commitIdentifier, looksLikeKey, looksSecretName, secretReason, secretShape } from "./secrets";

/** Where a secret goes instead, for every message of this walk. */
export const SECRET_ADVICE =
  "secrets come from Kubernetes Secrets (docs/operations.md, \"Secrets\"), never from the configuration, which is committed and written into cdk.tf.json";

type Path = readonly (string | number)[];

/**
 * Fields whose value is public by construction and legitimately random-looking: image tags are
 * often commit SHAs and digests are content hashes, both published by the registry. They are
 * still held to their own strict formats by the schema, which no secret shape passes.
 */
const PUBLIC_RANDOM = [/^services\.[^.]+\.(image|release\.previous)\.(tag|digest)$/];

/**
 * Fields that hold a *name* (some with a secret word in theirs): an S3 bucket and object key, the
 * Secret and key a PagerDuty routing key or a webhook URL is read from, a TLS Secret, an issuer, a
 * class. A credential pasted there is refused with a message that says so.
 */
const NAME_FIELDS = [
  /^backend\.(key|bucket|dynamodbTable|schemaName)$/,
  /\.(routingKeySecret|webhookSecret)\.(name|key)$/,
  /^ingress\.(className|tls\.secretName|tls\.clusterIssuer)$/,
  /\.storageClass$/,
];

/**
 * Where a name decides as well as a shape: the services' plain settings, whose keys are the
 * variable names (`DB_PASS: "x"` is refused whatever "x" looks like). Elsewhere a field's name is
 * the schema's, not the user's, and a field the schema does not know is refused anyway (with its
 * value redacted by name in the message: config/errors.ts).
 */
const NAMED_VALUES = [/^services\.[^.]+\.env\.[^.]+$/];

const dotted = (path: Path) => path.map(String).join(".");

/** Every secret-looking string (or key) of `raw`, as problems at their field; values never shown. */
export function secretFieldProblems(raw: unknown, source: string, prefix: Path = []): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: Path, what: string) =>
    problems.push({ source, field: renderPath([...prefix, ...path]), value: "(redacted)", rule: `looks like a secret (${what}): ${SECRET_ADVICE}` });

  const checkString = (path: Path, value: string) => {
    const field = dotted(path);
    if (PUBLIC_RANDOM.some((r) => r.test(field))) return;
    const name = String(path[path.length - 1] ?? "");
    if (NAME_FIELDS.some((r) => r.test(field))) {
      if (looksLikeKey(value))
        problems.push({
          source,
          field: renderPath([...prefix, ...path]),
          value: "(redacted)",
          rule: `is not a plausible name: it has the shape of a credential (${secretShape(value) ?? "a run of random letters and digits"}), pasted where the *name* belongs. Put the credential in a Secret and name the Secret (and its key) here; ${SECRET_ADVICE}`,
        });
      return;
    }
    const shape = secretShape(value);
    const reason = NAMED_VALUES.some((r) => r.test(field)) ? secretReason(name, value) : shape ? `its value looks like ${shape}` : undefined;
    if (reason) add(path, reason);
    else if (looksLikeKey(value) && !(NAMED_VALUES.some((r) => r.test(field)) && commitIdentifier(name, value)))
      add(path, "its value is a run of random letters and digits, the shape of a key");
  };

  const visit = (node: unknown, path: Path) => {
    if (typeof node === "string") checkString(path, node);
    else if (Array.isArray(node)) {
      node.forEach((v, i) => visit(v, [...path, i]));
      // A command and its arguments read together: ["psql", "--password", "hunter2"] and
      // ["sh", "-c", "PGPASSWORD=… psql"] are secrets although no element alone need be.
      const strings = node.every((v) => typeof v === "string") ? (node as string[]) : [];
      strings.forEach((arg, i) => {
        const next = strings[i + 1];
        const flag = /^--?([A-Za-z][A-Za-z0-9_-]*)$/.exec(arg);
        if (flag && next !== undefined && looksSecretName(flag[1]!) && !/^(-|\$|\/|~\/)/.test(next) && !problems.some((p) => p.field === renderPath([...prefix, ...path, i + 1])))
          add([...path, i + 1], `it follows ${arg}, a flag that takes a secret`);
      });
    } else if (node !== null && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        // A key is printed in every message about its field: it must not be a secret either.
        if (secretShape(key) !== undefined || looksLikeKey(key)) add([...path, key], "the key itself has the shape of a credential");
        else visit(value, [...path, key]);
      }
    }
  };
  visit(raw, []);
  return problems;
}

/**
 * The synth-time guard for literal text in Terraform JSON.
 *
 * Terraform reads every string of a JSON configuration as a template. A `${…}` that cdktf did not
 * produce is either an invalid reference (the plan fails: "Invalid reference") or, worse, a valid
 * expression that substitutes something; a `%{…}` is a template directive. cdktf writes exactly
 * four kinds of interpolation: references to a resource, a data source, a variable or a local of
 * the same stack, optionally inside Terraform function calls. This guard walks every string of a
 * synthesized stack, scans it the way HCL's template scanner does (`$${` and `%%{` are escapes),
 * and reports every interpolation that is anything else, and every directive.
 *
 * Literal text is escaped where it enters a stack (constructs/terraform-text.ts); this guard is
 * what proves that nothing slipped through, whatever its path.
 */
import { renderValue } from "../config/errors";

type Json = Record<string, any>;

export interface TemplateFinding {
  /** The construct path (`production/monitoring/dashboard-x`), from the resource's `//` block. */
  readonly path: string;
  /** The Terraform address (`kubernetes_config_map_v1.monitoring_dashboard_…`) or block. */
  readonly address: string;
  /** Attribute path inside the block (`data["overview.json"]`). */
  readonly attribute: string;
  /** The offending sequence, escaped and bounded for a terminal. */
  readonly excerpt: string;
  readonly reason: string;
}

/** One `${…}` or `%{…}` in a string, as HCL's template scanner finds it. */
export interface TemplateSequence {
  readonly kind: "interpolation" | "directive";
  /** The expression between the braces (strip markers removed). */
  readonly expression: string;
  readonly start: number;
  readonly end: number;
  readonly terminated: boolean;
}

/**
 * Every template sequence in `text`: `$${` and `%%{` are escapes for a literal `${` and `%{`
 * (the scanner matches them first, left to right); `${` and `%{` open a sequence that ends at the
 * matching `}`, skipping quoted strings inside the expression.
 */
export function templateSequences(text: string): TemplateSequence[] {
  const found: TemplateSequence[] = [];
  if (!text.includes("${") && !text.includes("%{")) return found; // nothing the scan below could find
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if ((c === "$" || c === "%") && text[i + 1] === c && text[i + 2] === "{") {
      i += 3;
      continue;
    }
    if ((c === "$" || c === "%") && text[i + 1] === "{") {
      let depth = 1;
      let j = i + 2;
      let quoted = false;
      while (j < text.length && depth > 0) {
        const d = text[j];
        if (quoted) {
          if (d === "\\") j++;
          else if (d === '"') quoted = false;
        } else if (d === '"') quoted = true;
        else if (d === "{") depth++;
        else if (d === "}") depth--;
        j++;
      }
      const terminated = depth === 0;
      const inner = text.slice(i + 2, terminated ? j - 1 : j);
      found.push({
        kind: c === "$" ? "interpolation" : "directive",
        expression: inner.replace(/^~/, "").replace(/~$/, "").trim(),
        start: i,
        end: j,
        terminated,
      });
      i = j;
      continue;
    }
    i++;
  }
  return found;
}

/** What a stack declares, which interpolations may name. */
interface Declared {
  readonly resources: ReadonlySet<string>;
  readonly dataSources: ReadonlySet<string>;
  readonly variables: ReadonlySet<string>;
  readonly locals: ReadonlySet<string>;
}

/**
 * Terraform functions an expression may call, and only in a variable's validation condition (the
 * one place this program writes an expression of its own). Anywhere else a call is refused: a
 * `${file("/etc/passwd")}` or `${env(…)}` in literal text would be evaluated, not shown.
 */
const VALIDATION_FUNCTIONS = new Set(["alltrue", "anytrue", "can", "contains", "length", "regex", "startswith", "endswith"]);
const NO_FUNCTIONS: ReadonlySet<string> = new Set();
const KEYWORDS = new Set(["true", "false", "null"]);

/**
 * Why an interpolation's expression is not one cdktf would write, or undefined when it is: every
 * name in it must be a keyword, a traversal rooted at something the stack declares
 * (`<type>.<name>`, `data.<type>.<name>`, `var.<name>`, `local.<name>`), or a call of one of
 * `functions`.
 */
function refuseExpression(expression: string, declared: Declared, functions: ReadonlySet<string>): string | undefined {
  if (expression === "") return "is empty";
  // Quoted strings inside the expression are values, not names.
  const unquoted = expression.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  if (/[${}%]/.test(unquoted.replace(/\[[^\]]*\]/g, ""))) return "nests a template sequence";
  const names = unquoted.matchAll(/(?<![\w.\-])([A-Za-z_][\w-]*)((?:\.[A-Za-z_][\w-]*|\[[^\]]*\])*)(\s*\()?/g);
  let sawName = false;
  for (const [, root, rest = "", call] of names) {
    sawName = true;
    if (call) {
      if (!functions.has(root!)) return `calls ${root}(), which this program never writes there`;
      continue;
    }
    if (KEYWORDS.has(root!)) continue;
    const parts = rest.split(".").filter((p) => p !== "").map((p) => p.replace(/\[.*$/, ""));
    if (root === "var" || root === "local") {
      const set = root === "var" ? declared.variables : declared.locals;
      if (!parts[0] || !set.has(parts[0])) return `names ${root}.${parts[0] ?? ""}, which this stack does not declare`;
    } else if (root === "data") {
      if (!parts[1] || !declared.dataSources.has(`${parts[0]}.${parts[1]}`)) return `names data.${parts.slice(0, 2).join(".")}, which this stack does not declare`;
    } else if (!parts[0] || !declared.resources.has(`${root}.${parts[0]}`)) {
      return `names ${[root, ...parts.slice(0, 1)].join(".")}, which is no resource, data source, variable or local of this stack`;
    }
  }
  return sawName ? undefined : "references nothing this stack declares";
}

function declaredIn(stack: Json): Declared {
  const addresses = (blocks: Json | undefined) =>
    new Set(Object.entries(blocks ?? {}).flatMap(([type, byName]) => Object.keys(byName ?? {}).map((name) => `${type}.${name}`)));
  return {
    resources: addresses(stack.resource),
    dataSources: addresses(stack.data),
    variables: new Set(Object.keys(stack.variable ?? {})),
    locals: new Set(Object.keys(stack.locals ?? {})),
  };
}

/** `a.b[0]["c.d"]`: the attribute path as a reader finds it in the JSON. */
function attributePath(keys: readonly (string | number)[]): string {
  return keys
    .map((k, i) => (typeof k === "number" ? `[${k}]` : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? (i === 0 ? k : `.${k}`) : `[${JSON.stringify(k)}]`))
    .join("");
}

/**
 * Every unescaped template sequence in a synthesized stack that cdktf did not produce.
 * `//` blocks are skipped: Terraform ignores them (they carry comments and suppressions).
 */
export function findTemplateInjections(stack: Json): TemplateFinding[] {
  const declared = declaredIn(stack);
  const findings: TemplateFinding[] = [];
  const visit = (node: unknown, keys: (string | number)[], address: string, path: string) => {
    if (typeof node === "string") {
      const functions = address.startsWith("variable.") && keys.includes("validation") && keys[keys.length - 1] === "condition" ? VALIDATION_FUNCTIONS : NO_FUNCTIONS;
      for (const seq of templateSequences(node)) {
        const reason =
          seq.kind === "directive"
            ? "is a template directive (%{…}); cdktf never writes one"
            : !seq.terminated
              ? "opens an interpolation that never closes"
              : refuseExpression(seq.expression, declared, functions);
        if (reason) {
          findings.push({ path, address, attribute: attributePath(keys) || "(value)", excerpt: renderValue(node.slice(seq.start, seq.end)), reason });
        }
      }
    } else if (Array.isArray(node)) {
      node.forEach((item, i) => visit(item, [...keys, i], address, path));
    } else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (key === "//") continue;
        visit(value, [...keys, key], address, path);
      }
    }
  };
  for (const section of ["resource", "data"] as const) {
    for (const [type, byName] of Object.entries((stack[section] ?? {}) as Json)) {
      for (const [name, body] of Object.entries((byName ?? {}) as Json)) {
        const address = `${section === "data" ? "data." : ""}${type}.${name}`;
        visit(body, [], address, (body as Json)?.["//"]?.metadata?.path ?? address);
      }
    }
  }
  for (const [name, body] of Object.entries((stack.provider ?? {}) as Json)) visit(body, [], `provider.${name}`, `provider.${name}`);
  for (const [name, body] of Object.entries((stack.variable ?? {}) as Json)) visit(body, [], `variable.${name}`, `variable.${name}`);
  for (const [name, body] of Object.entries((stack.output ?? {}) as Json)) visit(body, [], `output.${name}`, `output.${name}`);
  visit(stack.locals, [], "locals", "locals");
  visit(stack.terraform, [], "terraform", "terraform");
  return findings;
}

/** The message synth fails with: where, what, and how to fix it. */
export function describeTemplateFinding(f: TemplateFinding): string {
  return (
    `${f.path} (${f.address}): ${f.attribute} holds ${f.excerpt}, which Terraform reads as a template: it ${f.reason}. ` +
    "Fix: pass literal text through literal() (constructs/terraform-text.ts), which writes ${ as $${ and %{ as %%{"
  );
}

/**
 * Literal text in Terraform JSON.
 *
 * Every string value of a Terraform JSON configuration is a template: `${…}` is an interpolation
 * and `%{…}` a directive, even inside a ConfigMap's data or a Helm chart's values. Text that comes
 * from anywhere but cdktf itself — config files, rendered `redis.conf`, dashboards (Grafana's
 * `${datasource}`), alert annotations, shell scripts — must have both escaped, as `$${` and `%%{`,
 * or Terraform rejects the stack ("Invalid reference") or, worse, substitutes a value.
 *
 * Why not `Fn.rawString`: in cdktf 0.21 it escapes `${` only (not `%{`), and it also rewrites
 * every newline to the two characters `\n` and every `"` to `\"`, which is right inside an HCL
 * expression but corrupts a multi-line file delivered as a JSON string value (Terraform's JSON
 * syntax decodes no backslash escapes of its own). So the constructs use {@link literal}, which
 * changes exactly `${` and `%{` and nothing else; `stacks/interpolation-guard.ts` proves at synth
 * that no unescaped template sequence is left anywhere in a stack.
 * @see https://developer.hashicorp.com/terraform/language/syntax/json#expression-mapping
 * @see https://developer.hashicorp.com/terraform/language/expressions/strings#escape-sequences
 */
import { Token } from "cdktf";

/**
 * `text` as Terraform reads it literally: `${` → `$${`, `%{` → `%%{`. A text that already holds
 * `$${` stays literal too (`$${x}` → `$$${x}`, which Terraform reads back as `$${x}`).
 * @throws when `text` holds a cdktf token: a reference must reach Terraform unescaped.
 */
export function literal(text: string): string {
  if (Token.isUnresolved(text)) {
    throw new Error(`literal(): ${JSON.stringify(text.slice(0, 60))} holds a Terraform reference; only plain text may be escaped`);
  }
  return text.replace(/([$%])\{/g, (_, sigil: string) => `${sigil}${sigil}{`);
}

/** Every value of a string map through {@link literal} (ConfigMap data, labels, annotations). */
export function literalMap(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [literal(key), literal(value)]));
}

/** A list of strings through {@link literal} (commands, arguments). */
export function literalList(values: readonly string[]): string[] {
  return values.map(literal);
}

export { unescapeLiteral } from "./terraform-text-plain";

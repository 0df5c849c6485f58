/**
 * The cdktf-free half of constructs/terraform-text.ts, for code that reads synthesized JSON
 * without loading cdktf (scripts/check.ts, the policy gate).
 */

/**
 * The inverse of {@link literal}: what Terraform hands the provider for an escaped literal.
 * Used by tests and by the end-to-end check to compare what a cluster holds with what config said.
 */
export function unescapeLiteral(text: string): string {
  return text.replace(/([$%])\1\{/g, (_, sigil: string) => `${sigil}{`);
}

/**
 * The API server's rules for values that become names and labels, and label-safe derivations for
 * values that cannot be labels as they are (an image digest, a tag longer than 63 characters).
 * @see https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
 * @see https://kubernetes.io/docs/concepts/overview/working-with-objects/names/
 */

/** A label value: at most 63 characters, alphanumeric at both ends, `-_.` inside; or empty. */
export const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function isLabelValue(value: string): boolean {
  return value.length <= 63 && LABEL_VALUE.test(value);
}

/** A DNS-1123 label (a Service, Deployment, Job or Namespace name): at most 63, `[a-z0-9-]`, alphanumeric ends. */
export function isDnsLabel(value: string): boolean {
  return value.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value);
}

/**
 * `value` as a label value: itself when valid; otherwise characters outside `[A-Za-z0-9_.-]`
 * become `-`, then it is cut to 63 and trimmed to alphanumeric ends. Never empty for a non-empty
 * input with at least one alphanumeric character.
 */
export function labelSafe(value: string): string {
  if (isLabelValue(value)) return value;
  return value
    .replace(/[^A-Za-z0-9_.-]+/g, "-")
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+/, "")
    .replace(/[^A-Za-z0-9]+$/, "");
}

/**
 * The version an image is labelled with (`app.kubernetes.io/version`): the tag, or for an image
 * pinned by digest only, the digest's first 12 hex digits — always a valid label value.
 */
export function versionLabel(image: { readonly tag?: string; readonly digest?: string }): string {
  if (image.tag !== undefined) return labelSafe(image.tag);
  return image.digest!.slice("sha256:".length, "sha256:".length + 12);
}

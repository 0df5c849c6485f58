/**
 * Text that reaches a terminal. Every value the program prints — in an error message, a warning or
 * the summary — goes through {@link renderValue} or {@link terminalSafe}: control characters
 * (ESC included), DEL, C1 controls, bidirectional overrides and isolates, zero-width and line or
 * paragraph separators are shown as `\uXXXX`, and a long value is cut, saying how long it was. A
 * configuration value can then neither move the cursor, recolour the terminal, reorder what the
 * reader sees (Trojan Source), forge a line, nor flood the screen.
 */

/** How many characters of one value a message shows. */
export const MAX_SHOWN = 80;

/** Characters a terminal (or a bidi-aware viewer) would act on instead of showing. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

const escapeChar = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** `text` with every unsafe character escaped and at most `max` characters shown. */
export function terminalSafe(text: string, max = MAX_SHOWN): string {
  const length = [...text].length;
  const cut = length > max ? [...text].slice(0, max).join("") : text;
  const escaped = cut.replace(UNSAFE, escapeChar);
  return length > max ? `${escaped}… (${length} characters)` : escaped;
}

/**
 * A value for a message: JSON (so quotes and backslashes are unambiguous), with unsafe
 * characters escaped and long values cut to {@link MAX_SHOWN} characters.
 */
export function renderValue(value: unknown): string {
  if (value === undefined) return "(missing)";
  let text: string;
  try {
    text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return terminalSafe(text);
}

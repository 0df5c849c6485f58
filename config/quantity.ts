/**
 * Kubernetes resource quantities, parsed strictly.
 *
 * Kubernetes itself accepts a few odd spellings (`500m` of memory is half a byte); the platform
 * refuses those, because every one we have seen in a config file was a typo for something else.
 *
 * @see https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
 */

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

const CPU_PATTERN = /^(\d+(?:\.\d{1,3})?|\d+m)$/;
const MEMORY_PATTERN = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;

export const CPU_RULE = "must be a CPU quantity: whole millicores such as 250m, or cores such as 1 or 0.5";
export const MEMORY_RULE =
  "must be a memory quantity: a number with a binary suffix (Ki, Mi, Gi, Ti) or a decimal one (k, M, G, T), such as 512Mi";

/** Millicores for a CPU quantity, or undefined when the text is not one. */
export function parseCpuMillis(text: string): number | undefined {
  if (!CPU_PATTERN.test(text)) return undefined;
  const millis = text.endsWith("m") ? Number(text.slice(0, -1)) : Math.round(Number(text) * 1000);
  return Number.isSafeInteger(millis) && millis > 0 ? millis : undefined;
}

/** Bytes for a memory quantity, or undefined when the text is not one. */
export function parseMemoryBytes(text: string): number | undefined {
  const match = MEMORY_PATTERN.exec(text);
  if (!match) return undefined;
  const [, number, suffix] = match;
  const bytes = Number(number) * (suffix ? (BINARY[suffix] ?? DECIMAL[suffix]!) : 1);
  return Number.isFinite(bytes) && bytes >= 1 && Number.isInteger(bytes) ? bytes : undefined;
}

/** `1500` → `1500m`, `2000` → `2` (for human summaries). */
export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? `${millis / 1000}` : `${millis}m`;
}

/** Bytes as the largest binary unit that keeps one decimal (for human summaries). */
export function formatMemory(bytes: number): string {
  for (const [suffix, size] of [["Ti", 2 ** 40], ["Gi", 2 ** 30], ["Mi", 2 ** 20], ["Ki", 2 ** 10]] as const) {
    if (bytes >= size) {
      const value = bytes / size;
      return `${Number.isInteger(value) ? value : value.toFixed(1)}${suffix}`;
    }
  }
  return `${bytes}`;
}

/** Millicores as a Kubernetes quantity the API server keeps as written: `1500m`, `2`. */
export function formatCpuQuantity(millis: number): string {
  return millis % 1000 === 0 ? `${millis / 1000}` : `${millis}m`;
}

/** Bytes as a Kubernetes quantity the API server keeps as written: `Gi` or `Mi` when whole, else bytes. */
export function formatMemoryQuantity(bytes: number): string {
  if (bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30}Gi`;
  if (bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20}Mi`;
  return String(bytes);
}

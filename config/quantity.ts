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
  // Plain bytes ending in 000 the API server would rewrite (1500000000 → 1500M).
  return canonicalQuantity(String(bytes));
}

const DECIMAL_EXPONENTS: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_EXPONENTS: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A quantity as the API server stores it (k8s.io/apimachinery's `ParseQuantity`, then its JSON):
 * what it keeps as written (`500m`, `1Gi`, `123.456`) and what it rewrites to canonical form
 * (`8000m` → `8`, `28672Mi` → `28Gi`, `0.5` → `500m`, `2000` → `2k`). Fields the kubernetes
 * provider compares as text (a LimitRange's max, an HPA's averageValue) must be emitted in the
 * stored form, or every plan shows a change. Text that is no quantity is returned unchanged.
 * Checked against apimachinery's own output (test/config/quantity-canonical.test.ts).
 */
export function canonicalQuantity(text: string): string {
  const match = /^([0-9]*)(?:\.([0-9]*))?(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/.exec(text);
  if (!match || (match[1] === "" && (match[2] ?? "") === "")) return text;
  // Leading zeros before another digit are dropped (`007` reads as 7; `0.5` keeps its 0).
  const num = match[1]!.replace(/^0+(?=\d)/, "");
  const denom = match[2] ?? "";
  const suffix = match[3] ?? "";
  const binary = suffix in BINARY_EXPONENTS;
  const shifted = num + denom;

  // apimachinery's fast path caches the original string when it is already canonical.
  if (binary) {
    const exponent = BINARY_EXPONENTS[suffix]!;
    const precision = 15 - num.length - Math.trunc((exponent * 3) / 10) - 1;
    if (denom === "" && precision >= 0 && num !== "") {
      const value = BigInt(num);
      if (value * 2n ** BigInt(exponent) <= INT64_MAX && (value & 7n) !== 0n) return text;
    }
  } else {
    const scale = DECIMAL_EXPONENTS[suffix]! - denom.length;
    if (18 - shifted.length >= 0 && scale >= -9 && shifted !== "" && BigInt(shifted) <= INT64_MAX) {
      if (scale % 3 === 0 && !shifted.endsWith("000") && shifted[0] !== "0") return text;
    }
  }

  // Otherwise its canonical form: the value as mantissa x 10^scale.
  let mantissa = BigInt(shifted === "" ? "0" : shifted);
  let scale = -denom.length;
  if (binary) mantissa *= 2n ** BigInt(BINARY_EXPONENTS[suffix]!);
  else scale += DECIMAL_EXPONENTS[suffix]!;
  if (mantissa === 0n) return "0";
  // apimachinery caps a binary quantity at the largest int64 (decimal ones it keeps exact).
  if (binary && mantissa > INT64_MAX * 10n ** BigInt(Math.max(0, -scale)) / 10n ** BigInt(Math.max(0, scale))) return `${INT64_MAX}`;
  if (binary && scale <= 0) {
    const divisor = 10n ** BigInt(-scale);
    const bytes = mantissa / divisor;
    // Whole bytes of 1024 or more stay binary, with the largest suffix that divides them.
    if (mantissa % divisor === 0n && bytes >= 1024n) {
      let value = bytes;
      let exponent = 0;
      while (value >= 1024n && value % 1024n === 0n && exponent < 60) {
        value /= 1024n;
        exponent += 10;
      }
      return `${value}${Object.keys(BINARY_EXPONENTS).find((k) => BINARY_EXPONENTS[k] === exponent) ?? ""}`;
    }
  }
  // Decimal: below a nanounit rounds up; trailing zeros move into the exponent, which is then
  // lowered to a multiple of three.
  if (scale < -9) {
    const divisor = 10n ** BigInt(-9 - scale);
    mantissa = (mantissa + divisor - 1n) / divisor;
    scale = -9;
  }
  while (mantissa >= 10n && mantissa % 10n === 0n) {
    mantissa /= 10n;
    scale += 1;
  }
  const remainder = scale % 3;
  if (remainder === 1 || remainder === -2) {
    mantissa *= 10n;
    scale -= 1;
  } else if (remainder === 2 || remainder === -1) {
    mantissa *= 100n;
    scale -= 2;
  }
  const decimalSuffix = Object.keys(DECIMAL_EXPONENTS).find((k) => DECIMAL_EXPONENTS[k] === scale);
  return decimalSuffix === undefined ? `${mantissa}e${scale}` : `${mantissa}${decimalSuffix}`;
}

/** A memory quantity as a whole number of MiB, at least 1; undefined for anything else. */
export function wholeMebibytes(quantity: string): number | undefined {
  const bytes = parseMemoryBytes(quantity);
  return bytes !== undefined && bytes >= 2 ** 20 && bytes % 2 ** 20 === 0 ? bytes / 2 ** 20 : undefined;
}

/**
 * A memory quantity in Postgres' `MB` unit (1024 kB). The config schema admits only whole MiB of
 * at least 1Mi (config/schema.ts, postgresMemory); anything else is a programming error here.
 */
export function postgresMegabytes(quantity: string): string {
  const mib = wholeMebibytes(quantity);
  if (mib === undefined) throw new Error(`postgresMegabytes: ${quantity} is not a whole number of MiB`);
  return `${mib}MB`;
}

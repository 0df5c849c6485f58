/**
 * State backends `terraform init` would refuse, checked at synth so a deploy never starts with
 * one. The schema holds the bucket to S3's character set and length; these are the rest of the
 * rules.
 */
import { S3_BACKEND_REGIONS } from "./aws-regions";
import { type ConfigProblem, problemAt } from "./errors";
import type { PlatformConfig } from "./types";

/**
 * Why S3 refuses a general purpose bucket name, or undefined. The schema has checked length (3 to
 * 63), characters (a-z, 0-9, '.', '-') and alphanumeric ends.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
 */
export function bucketProblem(bucket: string): string | undefined {
  if (bucket.includes("..")) return "has two adjacent periods, which S3 bucket names must not contain";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(bucket)) return "is formatted as an IP address, which S3 bucket names must not be";
  for (const prefix of ["xn--", "sthree-", "amzn-s3-demo-"]) if (bucket.startsWith(prefix)) return `starts with ${prefix}, a prefix S3 reserves`;
  for (const suffix of ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"])
    if (bucket.endsWith(suffix)) return `ends with ${suffix}, a suffix S3 reserves (access point, Object Lambda, Multi-Region Access Point, directory and table bucket names)`;
  return undefined;
}

/**
 * Longest state key: an S3 object key is at most 1024 bytes, and with S3-native locking
 * Terraform writes `<key>.tflock` beside the state.
 */
export const MAX_STATE_KEY_BYTES = 1024 - ".tflock".length;

/**
 * Why Terraform's S3 backend refuses a state key, or undefined: its validators
 * (internal/backend/remote-state/s3/backend.go `PrepareConfig`: `validateStringNotEmpty`,
 * `validateStringS3Path` "must not start or end with /", `validateStringDoesNotContain("//")`).
 */
export function stateKeyProblem(key: string): string | undefined {
  if (key.startsWith("/") || key.endsWith("/")) return 'starts or ends with "/", which Terraform\'s S3 backend refuses ("The value must not start or end with /")';
  if (key.includes("//")) return 'contains "//", which Terraform\'s S3 backend refuses';
  if (Buffer.byteLength(key) > MAX_STATE_KEY_BYTES) return `is ${Buffer.byteLength(key)} bytes: S3 keys are at most 1024, and the lock file is <key>.tflock (${MAX_STATE_KEY_BYTES} bytes at most)`;
  return undefined;
}

/** The S3 state key an environment uses (the default when the config sets none). */
export function stateKey(config: Pick<PlatformConfig, "backend" | "environment">): string | undefined {
  return config.backend.type === "s3" ? (config.backend.key ?? `agent-platform/${config.environment}.tfstate`) : undefined;
}

export function backendProblems(config: PlatformConfig, source: string): ConfigProblem[] {
  const b = config.backend;
  if (b.type !== "s3") return [];
  const problems: ConfigProblem[] = [];
  const bucket = bucketProblem(b.bucket);
  if (bucket) problems.push(problemAt(source, "backend.bucket", b.bucket, `${bucket}: terraform init would fail`));
  if (b.key !== undefined) {
    const key = stateKeyProblem(b.key);
    if (key) problems.push(problemAt(source, "backend.key", b.key, key));
  }
  if (!Object.hasOwn(S3_BACKEND_REGIONS, b.region)) {
    const near = Object.keys(S3_BACKEND_REGIONS).filter((r) => editDistance(r, b.region) <= 2);
    problems.push(
      problemAt(
        source,
        "backend.region",
        b.region,
        `is not an AWS region Terraform's S3 backend knows (terraform init: "Invalid region value"; the list is config/aws-regions.ts)${near.length > 0 ? `: did you mean ${near.join(" or ")}?` : ""}`,
      ),
    );
  }
  return problems;
}

/** Levenshtein distance, for "did you mean" (regions are short: the quadratic table is tiny). */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/**
 * CloudNativePG's charts, rendered by real helm with the values a stack gives its releases: for
 * the chart test (test/constructs/postgres-cluster-chart.test.ts) and the e2e
 * (test/e2e/cloudnative-pg.ts). The charts come from HELM_CHARTS_DIR, as `helm pull` leaves them
 * (`<chart>-<version>.tgz`); helm from HELM, else PATH. Without them the callers skip and say why.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import { unescapeLiteral } from "../constructs/terraform-text-plain";

type Json = Record<string, any>;

/** The Kubernetes release the charts are rendered for: the e2e's control plane. */
export const KUBERNETES_VERSION = process.env.KUBERNETES_VERSION ?? "v1.35.4";

/** helm and the charts directory. */
export interface Helm {
  readonly binary: string;
  readonly charts: string;
}

/** helm, when HELM_CHARTS_DIR is set; else why the chart checks skip. A set HELM_CHARTS_DIR without a working helm is an error. */
export function helmSetup(): Helm | string {
  const charts = process.env.HELM_CHARTS_DIR;
  if (!charts) return "HELM_CHARTS_DIR is unset: CloudNativePG's charts cannot be downloaded here (docs/validation.md says how to fill it)";
  const binary = process.env.HELM ?? "helm";
  const probe = spawnSync(binary, ["version", "--template", "{{.Version}}"], { encoding: "utf8" });
  if (probe.status !== 0 || !/^v3\./.test(probe.stdout.trim())) throw new Error(`HELM_CHARTS_DIR is set but ${binary} is not a working helm v3; set HELM or put helm on PATH`);
  return { binary, charts: resolve(charts) };
}

/** A release's values, as the YAML documents the stack passes to helm (Terraform's escaping undone). */
export const releaseValues = (release: Json): string[] => (release.values as string[]).map(unescapeLiteral);

/**
 * `helm template` of a release (`chart`, `version`, `name`, `values` as in the stack's JSON),
 * `values` overriding the release's documents when given. Returns every object the helm provider
 * would install (hooks included, tests not), or throws with helm's message.
 */
export function renderRelease(helm: Helm, release: Json, namespace: string, values: readonly string[] = releaseValues(release)): Json[] {
  const archive = join(helm.charts, `${release.chart}-${release.version}.tgz`);
  if (!existsSync(archive)) throw new Error(`${archive} is missing: HELM_CHARTS_DIR must hold ${release.chart} ${release.version} as helm pull leaves it`);
  const dir = mkdtempSync(join(tmpdir(), "cnpg-chart-values-"));
  try {
    const files = values.map((v, i) => {
      const file = join(dir, `values-${i}.yaml`);
      writeFileSync(file, v, { mode: 0o600 });
      return file;
    });
    const args = ["template", release.name, archive, "--namespace", namespace, "--kube-version", KUBERNETES_VERSION, "--include-crds", "--skip-tests", ...files.flatMap((f) => ["--values", f])];
    const out = spawnSync(helm.binary, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (out.status !== 0) throw new Error(`helm template ${release.chart} ${release.version}: ${out.stderr.trim().slice(0, 800)}`);
    return parseAllDocuments(out.stdout)
      .map((d) => d.toJSON() as Json | null)
      // Hooks are installed too (the cluster chart's ObjectStore is a pre-install hook); tests are not.
      .filter((o): o is Json => !!o && typeof o.kind === "string" && !/\btest\b/.test(String(o.metadata?.annotations?.["helm.sh/hook"] ?? "")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

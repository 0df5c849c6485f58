/**
 * Terraform providers for the checks that need their schemas (terraform validate, the end-to-end
 * run), from a filesystem mirror named by TF_PROVIDERS_DIR: Terraform's own layout,
 * `registry.terraform.io/hashicorp/<name>/<version>/<os>_<arch>/terraform-provider-<name>_v<version>`
 * (unpacked) or the `terraform-provider-<name>_<version>_<os>_<arch>.zip` packed form. Without
 * TF_PROVIDERS_DIR, `terraform init` asks the registry, which is what users with internet access get.
 * @see https://developer.hashicorp.com/terraform/cli/config/config-file#filesystem_mirror
 */
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export interface RequiredProvider {
  readonly name: string;
  readonly version: string;
}

/** The providers a synthesized stack pins (`terraform.required_providers`). */
export function requiredProviders(stack: Record<string, any>): RequiredProvider[] {
  return Object.entries((stack.terraform?.required_providers ?? {}) as Record<string, { version: string }>)
    .map(([name, p]) => ({ name, version: p.version }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

const platform = (): string => `${process.platform}_${process.arch === "x64" ? "amd64" : process.arch}`;

/** Providers missing from `mirror`, as `hashicorp/<name> <version>`; empty when all are there. */
export function missingFromMirror(mirror: string, providers: readonly RequiredProvider[]): string[] {
  return providers
    .filter(({ name, version }) => {
      const base = join(mirror, "registry.terraform.io", "hashicorp", name);
      const unpacked = join(base, version, platform(), `terraform-provider-${name}_v${version}`);
      const packed = join(base, `terraform-provider-${name}_${version}_${platform()}.zip`);
      return !existsSync(unpacked) && !existsSync(packed);
    })
    .map(({ name, version }) => `hashicorp/${name} ${version}`);
}

/**
 * Writes a Terraform CLI config to `path`: installation from `mirror` only when given (so nothing
 * is downloaded), else Terraform's default (the registry).
 */
export function writeCliConfig(path: string, mirror: string | undefined): void {
  writeFileSync(
    path,
    mirror
      ? `provider_installation {\n  filesystem_mirror {\n    path    = ${JSON.stringify(resolve(mirror))}\n    include = ["registry.terraform.io/hashicorp/*"]\n  }\n}\n`
      : "",
  );
}

/** TF_PROVIDERS_DIR, resolved, or undefined when unset or empty. */
export function providersDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env.TF_PROVIDERS_DIR;
  return dir && dir.trim() !== "" ? resolve(dir) : undefined;
}

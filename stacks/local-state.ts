/**
 * Where a `local` backend keeps Terraform state: `.state/<env>/terraform.tfstate` in the project,
 * whatever the output directory and the working directory are, in directories only the owner can
 * enter (0700), in files only the owner can read (0600). The state holds every resource's
 * attributes, the local Secrets' passwords among them.
 *
 * The path in `cdk.tf.json` is the same for every output directory, machine and clone
 * (`state/terraform.tfstate`, relative to the stack's folder, where Terraform runs); synth makes
 * `state` in the stack's folder a relative symbolic link to the project's `.state/<env>`. So:
 * - the JSON never changes with where it is written (no absolute path, no `../` that depends on
 *   the output directory's place), and
 * - every output directory (`cdktf.out`, `CDKTF_OUTDIR`, `cdktf synth --output`) reaches the same
 *   state: synthesizing elsewhere and planning again shows no changes.
 * Removing or replacing an output removes the link, never what it points to.
 *
 * Terraform creates a missing state file with mode 0666 minus the umask (0644 under the usual
 * 022) and writes an existing one in place, keeping its mode: synth therefore creates the state
 * and its backup empty with mode 0600 (Terraform reads an empty state file as "no state yet"), so
 * `npx cdktf deploy` writes them private whatever the caller's umask, and tightens any that a
 * previous run left readable by others.
 *
 * State at the old location (`terraform.<env>.tfstate` in the project root, before this layout) is
 * never left behind silently: synth refuses until it is moved, and says how.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, realpathSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { renderValue } from "../config/text";

/** The project's state directory, one subdirectory per environment. */
export const STATE_DIR = ".state";
/** The link in each stack's folder through which Terraform reaches the state. */
export const STATE_LINK = "state";
/** The local backend's settings, relative to the stack's folder: identical everywhere. */
export const LOCAL_BACKEND = { path: `${STATE_LINK}/terraform.tfstate`, workspaceDir: `${STATE_LINK}/workspaces` } as const;
/** The files synth creates empty and private, so Terraform writes into them without widening the mode. */
const STATE_FILES = ["terraform.tfstate", "terraform.tfstate.backup"];

/** `<project>/.state/<env>`. */
export function stateDirectory(projectRoot: string, environment: string): string {
  return join(projectRoot, STATE_DIR, environment);
}

/** The link's target: from the stack's final folder to the environment's state directory, relative. */
export function stateLinkTarget(stackDir: string, projectRoot: string, environment: string): string {
  return relative(stackDir, stateDirectory(projectRoot, environment));
}

/** Raised when state sits at the old location: synth stops before writing anything. */
export class LegacyStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LegacyStateError";
  }
}

/**
 * Refuses when `terraform.<env>.tfstate` (the layout before `.state/`) is in the project root for
 * an environment with a local backend: Terraform would otherwise start from an empty state and
 * plan to create every resource again. The message gives the commands that move it.
 * @throws LegacyStateError naming the file, where it belongs and how to move it
 */
export function checkLegacyState(projectRoot: string, environments: readonly string[]): void {
  const problems: string[] = [];
  for (const env of environments) {
    const old = `terraform.${env}.tfstate`;
    if (!existsSync(join(projectRoot, old))) continue;
    const dir = `${STATE_DIR}/${env}`;
    const current = join(stateDirectory(projectRoot, env), "terraform.tfstate");
    const backup = existsSync(join(projectRoot, `${old}.backup`)) ? ` && mv ${old}.backup ${dir}/terraform.tfstate.backup` : "";
    if (existsSync(current) && statSync(current).size > 0) {
      problems.push(
        `${old} (the old location) and ${dir}/terraform.tfstate both hold ${env}'s state. Keep the one that matches the cluster ` +
          `(terraform state list in each), delete or archive the other outside the project, then synthesize again.`,
      );
    } else {
      problems.push(
        `${old} holds ${env}'s state at the old location; state now lives in ${dir}/ (docs/operations.md, "State backends"). ` +
          `Move it, from the project root: (umask 077 && mkdir -p ${dir}) && mv ${old} ${dir}/terraform.tfstate${backup}`,
      );
    }
  }
  if (problems.length > 0) {
    throw new LegacyStateError(
      `Local Terraform state at the old location in the project root ${renderValue(projectRoot)}; nothing was synthesized:\n${problems.map((p) => `  ${p}`).join("\n")}`,
    );
  }
}

/**
 * Creates (or tightens) `<project>/.state` and `<project>/.state/<env>` to 0700 and the state
 * files to 0600, creating them empty when absent. Symbolic links the user made (`.state` on an
 * encrypted volume, say) are followed, not replaced.
 */
export function prepareStateDirectory(projectRoot: string, environment: string): string {
  const root = join(projectRoot, STATE_DIR);
  const dir = stateDirectory(projectRoot, environment);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const d of [root, dir]) {
    if (!statSync(d).isDirectory()) throw new Error(`${renderValue(d)} must be a directory: it holds local Terraform state`);
    chmodSync(d, 0o700);
  }
  for (const name of STATE_FILES) {
    const file = join(dir, name);
    // "wx": never truncate a state another synth or Terraform wrote meanwhile.
    try {
      writeFileSync(file, "", { mode: 0o600, flag: "wx" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  // Whatever Terraform or a user left there (state, backups, workspaces' states) becomes private.
  tighten(dir);
  return dir;
}

function tighten(dir: string): void {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    const stats = lstatSync(path);
    if (stats.isSymbolicLink()) continue;
    if (stats.isDirectory()) {
      chmodSync(path, 0o700);
      tighten(path);
    } else if ((stats.mode & 0o077) !== 0) {
      chmodSync(path, stats.mode & 0o700);
    }
  }
}

/**
 * Makes `<stackDir>/state` a relative link to the environment's state directory, as seen from
 * `finalStackDir` (where the stack's folder ends up after the output is swapped in: the scratch
 * output sits beside it, so relative links stay right).
 */
export function linkStateDirectory(stackDir: string, finalStackDir: string, projectRoot: string, environment: string): void {
  // The output directory arrives with symbolic links resolved (checkOutputDirectory): resolve the
  // project's too, or a link in its path would lengthen the relative target for nothing.
  symlinkSync(stateLinkTarget(finalStackDir, realpathSync(projectRoot), environment), join(stackDir, STATE_LINK), "dir");
}

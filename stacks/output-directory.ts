/**
 * Where synthesis may write, and how it replaces a previous output without losing anything.
 *
 * `CDKTF_OUTDIR` (set by the cdktf CLI's `--output`, or by hand) names a directory this program
 * replaces as a whole. It is accepted only when it is absent, an empty directory, or a previous
 * output of this program, recognised by cdktf's `manifest.json` together with this program's own
 * stamp file. Anything else is refused before anything is written: the filesystem root, the home
 * directory, the project or the working directory or any ancestor of them, an existing file, a
 * directory holding anything else, an empty value, a path below a file or in a directory this
 * user cannot write.
 *
 * Writing is all or nothing: the stacks are synthesized into a scratch directory beside the
 * output and swapped in only when every check passed. Terraform's working files in a previous
 * output (`stacks/<env>/.terraform/`, `.terraform.lock.hcl`) move over to the new one, so a swap
 * never costs a `terraform init`. No scratch directory outlives the run, on success or failure.
 */
import { accessSync, constants, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, parse, relative, resolve, sep } from "node:path";
import { ConfigError } from "../config/errors";
import { renderValue } from "../config/text";

/** The stamp this program writes into every output it produces. */
export const OUTPUT_STAMP = ".agent-platform-output";
const STAMP_CONTENT = "agent-platform-infra: synthesized stacks; this whole directory is replaced on every synth\n";
/** cdktf's own manifest, written into every output. */
const MANIFEST = "manifest.json";
/** Terraform's working files inside a stack directory, carried over from one output to the next. */
const TERRAFORM_WORKING_FILES = [".terraform", ".terraform.lock.hcl"];

export interface OutputDirectoryContext {
  /** The project's root directory (where package.json is). */
  readonly projectRoot: string;
  /** The current working directory. */
  readonly cwd: string;
  /** The user's home directory. */
  readonly home: string;
}

/** The default when CDKTF_OUTDIR is unset, relative to the working directory, as cdktf's. */
export const DEFAULT_OUTDIR = "cdktf.out";

function refuse(value: string, rule: string): never {
  throw new ConfigError([{ source: "environment variable", field: "CDKTF_OUTDIR", value: renderValue(value), rule }]);
}

/** The real path of `path`, resolving symlinks in whatever part of it exists. */
function realPath(path: string): string {
  let existing = path;
  const rest: string[] = [];
  while (!existsSync(existing) && dirname(existing) !== existing) {
    rest.unshift(basename(existing));
    existing = dirname(existing);
  }
  let real: string;
  try {
    real = realpathSync(existing);
  } catch {
    real = existing;
  }
  return join(real, ...rest);
}

/** Whether `a` is `b` or an ancestor of `b`. */
function isSameOrAncestor(a: string, b: string): boolean {
  const rel = relative(a, b);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep) && parse(rel).root === "");
}

/** Whether `dir` is an output this program wrote: cdktf's manifest plus our stamp. */
export function isPreviousOutput(dir: string): boolean {
  try {
    return readFileSync(join(dir, OUTPUT_STAMP), "utf8") === STAMP_CONTENT && lstatSync(join(dir, MANIFEST)).isFile();
  } catch {
    return false;
  }
}

/**
 * Checks CDKTF_OUTDIR against the rules above and returns the absolute directory to write.
 * @throws ConfigError naming CDKTF_OUTDIR, its value and the rule; nothing has been written.
 */
export function checkOutputDirectory(value: string | undefined, ctx: OutputDirectoryContext): string {
  const raw = value === undefined ? DEFAULT_OUTDIR : value;
  if (raw.trim() === "") refuse(raw, "must name a directory (unset it to use cdktf.out)");
  if (/[\u0000-\u001f\u007f]/.test(raw)) refuse(raw, "must not contain control characters");
  const named = resolve(ctx.cwd, raw);
  try {
    if (lstatSync(named).isSymbolicLink()) refuse(raw, "must not be a symbolic link: name the directory itself");
  } catch (error) {
    if (error instanceof ConfigError) throw error;
  }
  const target = realPath(named);
  if (parse(target).root === target) refuse(raw, "must not be the filesystem root: synth replaces the whole directory");
  checkParent(raw, target);
  for (const [name, dir] of [
    ["the home directory", ctx.home],
    ["the project root", ctx.projectRoot],
    ["the working directory", ctx.cwd],
  ] as const) {
    if (isSameOrAncestor(target, realPath(dir))) {
      refuse(raw, `must not be ${name} or one of its ancestors (${target === realPath(dir) ? "it is" : "it contains"} ${name}): synth replaces the whole directory`);
    }
  }
  let stats;
  try {
    stats = lstatSync(target);
  } catch {
    return target; // absent: created at the swap
  }
  if (!stats.isDirectory()) refuse(raw, "names an existing file: it must be a directory this program writes (absent, empty, or a previous output)");
  if (readdirSync(target).length > 0 && !isPreviousOutput(target)) {
    refuse(raw, `holds files this program did not write (no ${OUTPUT_STAMP} stamp with a ${MANIFEST}): name an absent or empty directory, or a previous output`);
  }
  return target;
}

/**
 * The nearest part of `target`'s path that exists must be a directory this process may write
 * into: synth creates the missing rest and its scratch directory there. Refused otherwise, before
 * mkdir would fail with a bare EEXIST/ENOTDIR/EACCES that names no variable.
 */
function checkParent(raw: string, target: string): void {
  let existing = dirname(target);
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  let stats;
  try {
    stats = statSync(existing);
  } catch {
    refuse(raw, `cannot be created: ${renderValue(existing)} cannot be read`);
  }
  if (!stats.isDirectory()) refuse(raw, `cannot be created: ${renderValue(existing)} is a file, not a directory`);
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch {
    refuse(raw, `cannot be created: ${renderValue(existing)} is not writable by this user`);
  }
}

/**
 * A scratch directory beside `outdir` (same filesystem, so the swap is a rename), removed by
 * `discard` unless `commit` moved it into place. Created only after the checks passed.
 */
export class ScratchOutput {
  readonly path: string;
  private done = false;
  private readonly onExit = () => this.discard();

  constructor(readonly outdir: string) {
    mkdirSync(dirname(outdir), { recursive: true });
    this.path = mkdtempSync(join(dirname(outdir), `.${basename(outdir)}.partial-`));
    process.once("exit", this.onExit);
  }

  /** Stamps the scratch output and swaps it in place of `outdir`, keeping Terraform's working files. */
  commit(): void {
    writeFileSync(join(this.path, OUTPUT_STAMP), STAMP_CONTENT);
    let previous: string | undefined;
    if (existsSync(this.outdir) && readdirSync(this.outdir).length > 0) {
      if (!isPreviousOutput(this.outdir)) throw new Error(`${this.outdir} changed during synthesis and is no longer a previous output; nothing was replaced`);
      carryOverWorkingFiles(this.outdir, this.path);
      previous = mkdtempSync(join(dirname(this.outdir), `.${basename(this.outdir)}.previous-`));
      renameSync(this.outdir, join(previous, "output"));
    }
    // An absent outdir, or an empty one (`cdktf synth --output "$(mktemp -d)"`), is taken by the
    // rename itself: rename(2) replaces an empty directory atomically, and fails if something
    // appeared in it meanwhile.
    renameSync(this.path, this.outdir);
    this.done = true;
    process.removeListener("exit", this.onExit);
    if (previous) rmSync(previous, { recursive: true, force: true });
  }

  /** Removes the scratch directory (idempotent). */
  discard(): void {
    if (this.done) return;
    this.done = true;
    process.removeListener("exit", this.onExit);
    rmSync(this.path, { recursive: true, force: true });
  }
}

/** Moves `.terraform/` and `.terraform.lock.hcl` of every stack that exists in both outputs. */
function carryOverWorkingFiles(from: string, to: string): void {
  const stacks = join(from, "stacks");
  if (!existsSync(stacks)) return;
  for (const stack of readdirSync(stacks)) {
    const target = join(to, "stacks", stack);
    if (!existsSync(target)) continue;
    for (const file of TERRAFORM_WORKING_FILES) {
      const source = join(stacks, stack, file);
      if (existsSync(source) && !existsSync(join(target, file))) renameSync(source, join(target, file));
    }
  }
}

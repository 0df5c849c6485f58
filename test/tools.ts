/** External tools the tests run for real, found once. */
import { spawn, spawnSync } from "node:child_process";

let terraform: string | null | undefined;

/** Terraform: TERRAFORM, else `terraform` on PATH; undefined when neither runs. */
export function terraformBinary(): string | undefined {
  if (terraform === undefined) {
    const candidate = process.env.TERRAFORM ?? "terraform";
    const probe = spawnSync(candidate, ["version", "-json"], { encoding: "utf8" });
    terraform = probe.status === 0 ? candidate : null;
  }
  return terraform ?? undefined;
}

/** A finished child process: its exit status (null when a signal ended it) and its output. */
export interface Finished {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command without blocking the test process (so tests can run it concurrently). */
export function runAsync(command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Finished> {
  return new Promise((resolvePromise, reject) => {
    // stdin is /dev/null: a prompt sees no terminal and reads end-of-file, never waits.
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolvePromise({ status, stdout, stderr }));
  });
}

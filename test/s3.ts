/**
 * An S3-compatible server for the tests: Versity's S3 gateway (versitygw v1.8.0, built from the Go
 * module proxy by .ci/run) serving a directory on loopback. Found through VERSITYGW, else .ci/run's
 * cache, else PATH.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./servers";
import { runAsync } from "./tools";

export const VERSITYGW_VERSION = "v1.8.0";

/** The gateway's binary, or undefined with the places looked at. */
export function versitygwBinary(): { path?: string; looked: string[] } {
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "agent-platform", "bin", `versitygw-${VERSITYGW_VERSION}`);
  const candidates = [process.env.VERSITYGW, cache].filter((c): c is string => !!c);
  for (const c of candidates) if (existsSync(c)) return { path: c, looked: candidates };
  const onPath = spawnSync("sh", ["-c", "command -v versitygw"], { encoding: "utf8" }).stdout.trim();
  return onPath ? { path: onPath, looked: candidates } : { looked: [...candidates, "versitygw on PATH"] };
}

export interface S3Server {
  readonly endpoint: string;
  /** The credentials, as the plugin hands them to barman-cloud (from the Secret's two keys). */
  readonly env: Record<string, string>;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the gateway on a fresh port over `dir`, with a throwaway root key pair. */
export async function startS3(binary: string, dir: string): Promise<S3Server> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const access = "drillaccesskey";
  const secret = "drill-secret-key-not-a-real-one";
  const child: ChildProcess = spawn(binary, ["--port", `127.0.0.1:${port}`, "--quiet", "posix", dir], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ROOT_ACCESS_KEY_ID: access, ROOT_SECRET_ACCESS_KEY: secret },
  });
  let log = "";
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`versitygw exited: ${log}`);
    return (await fetch(endpoint).then((r) => r.status, () => 0)) > 0;
  }, "versitygw", 30);
  // boto3 reads these (barman-cloud's S3 client); no metadata service on loopback.
  const env = { AWS_ACCESS_KEY_ID: access, AWS_SECRET_ACCESS_KEY: secret, AWS_EC2_METADATA_DISABLED: "true" };
  return {
    endpoint,
    env,
    async createBucket(name: string) {
      // boto3 comes with barman-cli-cloud: the same client barman-cloud uses.
      const script = "import boto3,sys; boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1').create_bucket(Bucket=sys.argv[2])";
      const done = await runAsync("python3", ["-c", script, endpoint, name], { cwd: dir, env: { ...process.env, ...env } });
      if (done.status !== 0) throw new Error(`creating bucket ${name} failed: ${done.stderr}`);
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

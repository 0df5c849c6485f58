/**
 * Backup and restore drill, for real: production's primary (test/cnpg.ts) archiving its WAL with
 * the archive command the Barman Cloud plugin runs (Debian's barman-cloud-wal-archive, with the
 * options barman-cloud builds from the ObjectStore this program's values render) to an
 * S3-compatible server on loopback (versitygw); a base backup (barman-cloud-backup); then a restore
 * into a new data directory, to a point in time, as the plugin's recovery Job does
 * (barman-cloud-restore, then barman-cloud-wal-restore as restore_command): it holds exactly the
 * rows committed before that time.
 *
 * The object store's endpoint is the one substitution: production's values name AWS's; the drill
 * names the loopback server. The restore's duration and the database's size are printed as
 * diagnostics; docs/operations.md quotes a run.
 */
import assert from "node:assert/strict";
import { chownSync, existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  asServerUserAsync,
  backupArgs,
  clusterReleaseValues,
  Instance,
  initdb,
  instanceConf,
  instanceHba,
  makeCertificates,
  objectStoreConfiguration,
  type ObjectStoreConfiguration,
  postgresTime,
  postgresIds,
  removeTree,
  restoreArgs,
  serverDir,
  shellCommand,
  walArchiveArgs,
  walRestoreArgs,
  waitFor,
  writeServerFile,
} from "../cnpg";
import { synthEnvironment, tempDir } from "../helpers";
import { type S3Server, startS3, versitygwBinary } from "../s3";
import { freePort, isRoot } from "../servers";

const BARMAN = "/usr/bin";
/** Rows (of about 300 bytes) before the base backup, up to the target time, and after it. */
const ROWS_BEFORE_BACKUP = 20_000;
const ROWS_BEFORE_TARGET = 25_000;
const ROWS_AFTER_TARGET = 5_000;

describe("backup and restore drill: production's WAL archiving and base backups to an S3-compatible server, restored to a point in time", () => {
  const values = clusterReleaseValues(synthEnvironment("production"));
  const server = values.fullnameOverride as string;
  const database = values.cluster.initdb.database as string;
  const gateway = versitygwBinary();
  let root: string;
  let s3: S3Server | undefined;
  let store: ObjectStoreConfiguration;
  let primary: Instance;
  let restored: Instance | undefined;

  /** A barman-cloud tool as the plugin's sidecar runs it: as postgres, with the Secret's credentials. */
  const barman = async (tool: string, args: string[], env: Record<string, string> = {}) => {
    const done = await asServerUserAsync(join(BARMAN, tool), args, { ...s3!.env, ...env });
    return done;
  };

  before(async () => {
    if (!gateway.path) return;
    for (const tool of ["barman-cloud-wal-archive", "barman-cloud-backup", "barman-cloud-restore", "barman-cloud-wal-restore", "barman-cloud-backup-list", "barman-cloud-check-wal-archive"]) {
      assert.ok(existsSync(join(BARMAN, tool)), `${tool} is not installed (Debian package barman-cli-cloud; .ci/run installs it)`);
    }
    root = tempDir("cnpg-backup-");
    if (isRoot) chownSync(root, postgresIds().uid, postgresIds().gid);
    s3 = await startS3(gateway.path, join(root, "s3"));
    store = objectStoreConfiguration(values, s3.endpoint);
    const bucket = new URL(store.destinationPath).hostname;
    await s3.createBucket(bucket);
    const certs = makeCertificates(join(root, "certs"));
    const dir = serverDir(join(root, `${server}-1`));
    primary = new Instance(`${server}-1`, { data: join(dir, "data"), socket: serverDir(join(dir, "run")), log: join(dir, "postgres.log"), certs });
    primary.port = await freePort();
    initdb(primary);
    const archiveCommand = shellCommand(join(BARMAN, "barman-cloud-wal-archive"), walArchiveArgs(store, server), "%p");
    await primary.start(instanceConf(values, { port: primary.port, paths: primary.paths, synchronousStandbyNames: "", archiveCommand }), instanceHba(values), s3.env);
    // FILE_COPY: the template's files are copied, not written through WAL (PostgreSQL 15's default
    // strategy logs every page), so the archive holds the drill's rows, not a copy of template1.
    await primary.query(`CREATE DATABASE ${database} STRATEGY FILE_COPY`);
  });

  after(async () => {
    restored?.stop();
    primary?.stop();
    await s3?.stop();
    if (root) removeTree(root);
  });

  /** Forces the current WAL segment out and waits until the archiver has shipped it. */
  async function archiveNow(): Promise<void> {
    const [{ wal }] = await primary.query<{ wal: string }>("SELECT pg_walfile_name(pg_switch_wal()) AS wal");
    await waitFor(async () => {
      const [row] = await primary.query<{ last: string | null; failed: string | null }>("SELECT last_archived_wal AS last, last_failed_wal AS failed FROM pg_stat_archiver");
      return !!row!.last && row!.last >= wal!;
    }, `WAL segment ${wal} archived`, 120);
  }

  it("archives WAL, backs up, and restores to a point in time exactly the rows committed before it", async (t) => {
    if (!gateway.path) return t.skip(`no S3-compatible server: versitygw ${gateway.looked.join(", ")} not found (.ci/run builds it from the Go module proxy)`);
    const insert = (from: number, to: number) =>
      primary.query(`INSERT INTO drill (id, payload) SELECT g, repeat(md5(g::text), 8) FROM generate_series($1::int, $2::int) AS g`, [from, to], database);
    await primary.query("CREATE TABLE drill (id int PRIMARY KEY, payload text NOT NULL)", [], database);
    // Before the base backup.
    await insert(1, ROWS_BEFORE_BACKUP);
    await archiveNow();
    const [{ size }] = await primary.query<{ size: string }>("SELECT pg_database_size($1)::bigint AS size", [database]);
    // The plugin asks for no immediate checkpoint (the chart renders no data.immediateCheckpoint),
    // so the backup starts with a spread one, paced over checkpoint_timeout: minutes. Checkpoint
    // now, and the backup's finds nothing left to write.
    await primary.query("CHECKPOINT");
    const backupName = `backup-${Date.now()}`;
    const backupStarted = performance.now();
    await barman("barman-cloud-backup", backupArgs(store, backupName, server), { PGHOST: primary.paths.socket, PGPORT: String(primary.port) });
    const backupSeconds = (performance.now() - backupStarted) / 1000;
    // After the backup, before the target time.
    await insert(ROWS_BEFORE_BACKUP + 1, ROWS_BEFORE_TARGET);
    const [{ target }] = await primary.query<{ target: string }>("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS target");
    await new Promise((r) => setTimeout(r, 50));
    // After the target time: must not come back.
    await insert(ROWS_BEFORE_TARGET + 1, ROWS_BEFORE_TARGET + ROWS_AFTER_TARGET);
    await archiveNow();

    // The recovery Job: the latest completed backup that ended before the target.
    const list = JSON.parse(await barman("barman-cloud-backup-list", ["--format", "json", ...walRestoreArgs(store, server)])) as { backups_list: { backup_id: string; status: string; end_time: string; backup_name?: string }[] };
    const candidates = list.backups_list.filter((b) => b.status === "DONE" && new Date(b.end_time).getTime() <= new Date(target!).getTime());
    assert.equal(candidates.length, 1, JSON.stringify(list));
    assert.equal(candidates[0]!.backup_name, backupName);

    const started = performance.now();
    const dir = serverDir(join(root, "restored"));
    restored = new Instance(`${server}-restored-1`, { data: join(dir, "data"), socket: serverDir(join(dir, "run")), log: join(dir, "postgres.log"), certs: primary.paths.certs });
    restored.port = await freePort();
    await barman("barman-cloud-restore", restoreArgs(store, server, candidates[0]!.backup_id, restored.paths.data));
    // What the plugin's restore hands the instance: WAL from the archive, promotion at the target.
    const restoreCommand = shellCommand(join(BARMAN, "barman-cloud-wal-restore"), walRestoreArgs(store, server), "%f %p");
    writeServerFile(join(restored.paths.data, "recovery.signal"), "");
    writeServerFile(
      join(restored.paths.data, "override.conf"),
      [`restore_command = '${restoreCommand.replace(/'/g, "''")}'`, `recovery_target_time = '${postgresTime(target!)}'`, "recovery_target_action = 'promote'", ""].join("\n"),
    );
    // A new cluster archives under a name of its own: the original's archive is not empty.
    await assert.rejects(barman("barman-cloud-check-wal-archive", walRestoreArgs(store, server)), /failed/);
    await restored.start(instanceConf(values, { port: restored.port, paths: restored.paths, synchronousStandbyNames: "", archiveCommand: "/bin/true" }), instanceHba(values), s3!.env);
    await waitFor(async () => (await restored!.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r"))[0]!.r === false, "the restored instance to promote", 120);
    const restoreSeconds = (performance.now() - started) / 1000;

    const [counts] = await restored.query<{ n: string; lo: number; hi: number }>("SELECT count(*) AS n, min(id) AS lo, max(id) AS hi FROM drill", [], database);
    t.diagnostic(
      `database ${(Number(size) / 2 ** 20).toFixed(1)} MiB: base backup ${backupSeconds.toFixed(1)} s; restore to ${target} (backup + WAL replay, promoted) ${restoreSeconds.toFixed(1)} s`,
    );
    assert.deepEqual({ n: Number(counts!.n), lo: counts!.lo, hi: counts!.hi }, { n: ROWS_BEFORE_TARGET, lo: 1, hi: ROWS_BEFORE_TARGET });
  });
});

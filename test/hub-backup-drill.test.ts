import { strict as assert } from "node:assert";
import { ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
    BACKUP_FILES,
    BACKUP_SET_FILES,
    BACKUP_SET_PREFIX,
    ENCRYPTED_SUFFIX,
    RESTORE_RECORD,
} from "../components/hub/backup-render";
import {
    ACCOUNT_ID,
    Drill,
    OTHER_ACCOUNT_ID,
    OTHER_FINGERPRINT,
    lastSuccess,
    manifest,
    plainCopies,
    setsIn,
    sh,
    sleep,
    sql,
} from "./hub-backup-drill-fixture";
import { GpgHome } from "./keys";

/**
 * The restore drill: the same scripts the backup container and `npm run restore` run, against a real etcd on a
 * loopback port and a real SQLite database that a writer keeps writing during the backup; the set taken here is the
 * one the later drills check, refuse and restore. The drills on a small database are in
 * hub-backup-drill-small.test.ts, which mocha's workers run beside this one.
 */

describe("hub backup: restore drill on a real etcd and SQLite", function () {
    const d = new Drill();
    const { backupScript, restoreScript, expect, decrypt } = d;
    let writer: ChildProcess | undefined;
    /** Ends the writer's connection once its last commit is in. */
    let stopWriter: () => Promise<void> = async () => {};
    const timings: Record<string, number> = {};
    let setDir: string;

    before(async function () {
        // Omni's SQLite settings (WAL, synchronous NORMAL: omni v1.10.4 schema.json sqlite experimentalBaseParams):
        // a database of about 40 MB (made while the signing key is), and one open connection committing every 20 ms
        // for the whole drill, each commit a machine log line and an audit entry (so a copy from between the two would show).
        // The rows are log text, repetitive as machine logs are: gpg compresses before it encrypts, and random bytes
        // would make every encryption and decryption of the copy cost seconds of CPU instead of a fraction.
        await d.setUp(this, () =>
            sql(
                path.join(d.data, "omni.db"),
                "PRAGMA journal_mode=WAL; CREATE TABLE machine_logs(id INTEGER PRIMARY KEY, line TEXT NOT NULL); " +
                    "CREATE TABLE audit_log(id INTEGER PRIMARY KEY, entry TEXT NOT NULL); " +
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) " +
                    "INSERT INTO machine_logs(line) SELECT substr(replace(hex(zeroblob(60)), '00', " +
                    "printf('machine-%02d [talos] service[kubelet](Running): Health check successful (%d) ', i % 25, i)), 1, 4000) FROM n; " +
                    "INSERT INTO audit_log(entry) SELECT 'seed ' || id FROM machine_logs;",
            ),
        );
        const db = path.join(d.data, "omni.db");
        assert.ok(fs.statSync(db).size > 30e6, "tens of MB");
        // sqlite3 reads its transactions from this process: a timer instead of a shell loop that forks a sleep per commit.
        writer = spawn("sqlite3", ["-cmd", "PRAGMA synchronous=NORMAL", db], { stdio: ["pipe", "ignore", "ignore"] });
        let commit = 0;
        const ticks = setInterval(() => {
            commit++;
            writer!.stdin!.write(
                `BEGIN; INSERT INTO machine_logs(line) VALUES('line ${commit}'); INSERT INTO audit_log(entry) VALUES('entry ${commit}'); COMMIT;\n`,
            );
        }, 20);
        stopWriter = async () => {
            clearInterval(ticks);
            const w = writer;
            writer = undefined;
            if (!w || w.exitCode !== null) return;
            const exited = new Promise((r) => w.on("exit", r));
            w.stdin!.end();
            await exited;
        };
        await sleep(500);
    });

    after(async () => {
        await stopWriter();
        await d.tearDown();
        if (Object.keys(timings).length) process.stdout.write(`      drill timings (ms): ${JSON.stringify(timings)}\n`);
    });

    it("takes a set while SQLite commits every 20 ms: verified snapshot, consistent SQLite copy, manifest with account id and sequence, checksums", async () => {
        const rowsBefore = Number(sql(path.join(d.data, "omni.db"), "SELECT count(*) FROM machine_logs;"));
        const revision = d.etcd.revision();
        const run = await sh(backupScript(), ["once"], { asUser: true });
        timings.backup = run.ms;
        assert.equal(run.code, 0, run.stderr);
        assert.match(
            run.stdout,
            new RegExp(
                `^omni-hub-backup: ok set=${BACKUP_SET_PREFIX}\\d{8}T\\d{6}Z etcdRevision=${revision} .*keyFingerprint=${d.fingerprint}$`,
                "m",
            ),
        );

        const sets = fs.readdirSync(d.target).filter((n) => n.startsWith(BACKUP_SET_PREFIX));
        assert.equal(sets.length, 1);
        setDir = path.join(d.target, sets[0]);
        assert.deepEqual(fs.readdirSync(setDir).sort(), [...BACKUP_SET_FILES].sort());
        const m = manifest(setDir);
        assert.equal(Number(m.etcdRevision), revision);
        assert.equal(m.keyFingerprint, d.fingerprint);
        assert.equal(m.accountId, ACCOUNT_ID);
        assert.equal(m.sequence, "1");
        execFileSync("sha256sum", ["-c", BACKUP_FILES.sums], { cwd: setDir, stdio: "ignore" });

        // A transactionally consistent copy: rows 1..n without gaps, both tables of every commit, taken while rows kept arriving.
        const copy = path.join(d.tmp, "copy.db");
        decrypt(path.join(setDir, BACKUP_FILES.sqlite + ENCRYPTED_SUFFIX), copy);
        assert.equal(Number(m.sqliteBytes), fs.statSync(copy).size);
        assert.equal(sql(copy, "PRAGMA integrity_check;"), "ok");
        assert.equal(sql(copy, "PRAGMA journal_mode;"), "delete");
        const [count, max, audit] = sql(
            copy,
            "SELECT count(*), max(id), (SELECT count(*) FROM audit_log) FROM machine_logs;",
        )
            .split("|")
            .map(Number);
        assert.equal(count, max);
        assert.equal(audit, count, "every commit's two rows are in the copy, or neither");
        assert.ok(count >= rowsBefore, `copy has ${count} rows, the database had ${rowsBefore} before the backup`);

        assert.equal(m.signedBy, d.signingFingerprint);
        const last = fs.readFileSync(lastSuccess(d.target), "utf8");
        assert.match(last, new RegExp(`^set=${sets[0]}$`, "m"));
        assert.match(last, /^s3=off$/m);
    });

    it("encrypts what leaves the host: no plain SQLite or etcd data in the set, only the etcd key's secret part opens it", () => {
        for (const f of [BACKUP_FILES.sqlite, BACKUP_FILES.etcd]) {
            const file = path.join(setDir, f + ENCRYPTED_SUFFIX);
            const bytes = fs.readFileSync(file);
            assert.ok(!bytes.includes("SQLite format 3") && !bytes.includes("/omni/resources/"), `${f} is not plain`);
            // gpg says to which key it is encrypted: the etcd key's encryption subkey.
            // Without the secret key gpg cannot decrypt, but still prints the packets (exit 2).
            const listed = spawnSync("gpg", ["--batch", "--list-packets", file], {
                encoding: "utf8",
                env: { ...process.env, GNUPGHOME: path.join(d.tmp, "empty-gnupg") },
            });
            const packets = listed.stdout + listed.stderr;
            const subkey = /^sub:[^:]*:\d+:\d+:([0-9A-F]{16}):/m.exec(
                d.gpg.run(["--with-colons", "--list-keys", d.fingerprint]),
            )![1];
            assert.match(packets, new RegExp(`:pubkey enc packet: .*keyid ${subkey}`));
        }
        const snapshot = path.join(d.tmp, "plain.snapshot");
        decrypt(path.join(setDir, BACKUP_FILES.etcd + ENCRYPTED_SUFFIX), snapshot);
        assert.ok(fs.readFileSync(snapshot).includes("/omni/resources/machine-07"));
        // The plain staging copies are gone.
        assert.ok(!fs.readdirSync(d.target).some((n) => n.startsWith(".partial-")));
    });

    it("health passes after a success and fails once the last success is older than twice the interval", async () => {
        assert.equal((await sh(backupScript(), ["health"])).code, 0);
        const file = lastSuccess(d.target);
        const saved = fs.readFileSync(file, "utf8");
        try {
            const old = Math.floor(Date.now() / 1000) - 2 * 3600 - 5;
            fs.writeFileSync(file, saved.replace(/^epoch=\d+$/m, `epoch=${old}`));
            const stale = await sh(backupScript(), ["health"]);
            assert.equal(stale.code, 1);
            assert.match(stale.stdout, /more than twice the interval \(3600s\)/);
            fs.rmSync(file);
            assert.match((await sh(backupScript(), ["health"])).stdout, /no backup has succeeded yet/);
            // Another Omni sharing the target has its own status.
            assert.match(
                (await sh(backupScript({ accountId: OTHER_ACCOUNT_ID }), ["health"])).stdout,
                /no backup has succeeded yet/,
            );
        } finally {
            fs.writeFileSync(file, saved);
        }
    });

    it("records a failure (log line, last-failure), leaves no partial set and keeps the last good one", async () => {
        const missing = path.join(d.data, "missing.db");
        const run = await sh(backupScript({ sqlitePath: missing }), ["once"], { asUser: true });
        assert.equal(run.code, 1);
        assert.match(run.stderr, new RegExp(`omni-hub-backup: FAILED at SQLite copy \\(VACUUM INTO\\) of ${missing}`));
        assert.match(fs.readFileSync(path.join(d.target, `last-failure-${ACCOUNT_ID}`), "utf8"), /^step=SQLite copy/m);
        assert.ok(fs.existsSync(setDir), "the good set is kept");
        assert.deepEqual(setsIn(d.target), [path.basename(setDir)], "no partial set is left behind");
        assert.deepEqual(plainCopies(d.local), [], "no plain copy is left behind");
    });

    it("refuses a planted set (own snapshot, copied account id and fingerprint, high sequence) in check and restore of latest, signed or not", async () => {
        const planted = path.join(d.tmp, "target-planted");
        const genuine = path.basename(setDir);
        fs.cpSync(setDir, path.join(planted, genuine), { recursive: true });
        // The attacker's set: an etcd snapshot and a database of their own, encrypted to our (public) etcd key.
        const attacker = new GpgHome();
        try {
            const fake = `${BACKUP_SET_PREFIX}20991231T235959Z`;
            const dir = path.join(planted, fake);
            fs.mkdirSync(dir);
            const own = path.join(d.tmp, "attacker.snapshot");
            d.etcd.ctl("snapshot", "save", own);
            const ownDb = path.join(d.tmp, "attacker.db");
            sql(ownDb, "CREATE TABLE machine_logs(line); INSERT INTO machine_logs VALUES('planted');");
            attacker.run(["--import", d.publicKeyFile]);
            for (const [from, to] of [
                [own, BACKUP_FILES.etcd],
                [ownDb, BACKUP_FILES.sqlite],
            ])
                attacker.run([
                    "--trust-model",
                    "always",
                    "--recipient",
                    d.fingerprint,
                    "--output",
                    path.join(dir, to + ENCRYPTED_SUFFIX),
                    "--encrypt",
                    from,
                ]);
            const copied = fs
                .readFileSync(path.join(setDir, BACKUP_FILES.manifest), "utf8")
                .replace(/^set=.*$/m, `set=${fake}`)
                .replace(/^sequence=.*$/m, "sequence=999999");
            fs.writeFileSync(path.join(dir, BACKUP_FILES.manifest), copied);
            const sums = execFileSync(
                "sha256sum",
                [
                    `${BACKUP_FILES.etcd}${ENCRYPTED_SUFFIX}`,
                    `${BACKUP_FILES.sqlite}${ENCRYPTED_SUFFIX}`,
                    BACKUP_FILES.manifest,
                ],
                { cwd: dir, encoding: "utf8" },
            );
            fs.writeFileSync(path.join(dir, BACKUP_FILES.sums), sums);
            const before = fs.readdirSync(d.data).sort();
            const attempt = async (pattern: RegExp) => {
                for (const mode of ["check", "restore"]) {
                    const r = await sh(restoreScript(planted), [mode, "latest", ...expect()], { stdin: d.restoreKeys });
                    assert.equal(r.code, 3, `${mode}: ${r.stderr}`);
                    assert.match(r.stderr, pattern);
                }
                assert.deepEqual(fs.readdirSync(d.data).sort(), before, "nothing changed");
            };
            await attempt(new RegExp(`refusing: set ${fake} is not signed .*nothing shows it comes from this hub`));
            // Our signature, copied from a genuine set, does not cover these checksums.
            fs.copyFileSync(path.join(setDir, BACKUP_FILES.signature), path.join(dir, BACKUP_FILES.signature));
            await attempt(
                new RegExp(
                    `set ${fake} is not signed by this hub's backup signing key ${d.signingFingerprint} \\(no valid signature\\)`,
                ),
            );
            // Signed by a key of the attacker's own, whose public part is among the keys given.
            attacker.run(["--quick-generate-key", "Attacker <a@example.invalid>", "ed25519", "sign", "never"]);
            const theirs = /^fpr:+([0-9A-F]{40}):/m.exec(
                attacker.run(["--with-colons", "--list-secret-keys", "Attacker"]),
            )![1];
            fs.rmSync(path.join(dir, BACKUP_FILES.signature));
            attacker.run([
                "--local-user",
                theirs,
                "--output",
                path.join(dir, BACKUP_FILES.signature),
                "--detach-sign",
                path.join(dir, BACKUP_FILES.sums),
            ]);
            for (const mode of ["check", "restore"]) {
                const r = await sh(restoreScript(planted), [mode, "latest", ...expect()], {
                    stdin: d.restoreKeys + attacker.exportPublic(theirs),
                });
                assert.equal(r.code, 3, r.stderr);
                assert.match(
                    r.stderr,
                    new RegExp(
                        `not signed by this hub's backup signing key ${d.signingFingerprint} \\(signed by ${theirs}\\)`,
                    ),
                );
            }
            assert.deepEqual(fs.readdirSync(d.data).sort(), before, "nothing changed");
            // A genuine set copied under another name keeps its signature, but not its place in the order.
            const renamed = `${BACKUP_SET_PREFIX}20991230T000000Z`;
            fs.cpSync(setDir, path.join(planted, renamed), { recursive: true });
            const copy = await sh(restoreScript(planted), ["check", renamed, ...expect()], { stdin: d.restoreKeys });
            assert.equal(copy.code, 3);
            assert.match(
                copy.stderr,
                new RegExp(`the manifest of ${renamed} names the set ${genuine}: it was copied or renamed`),
            );
            // The genuine set, named, passes.
            const named = await sh(restoreScript(planted), ["check", genuine, ...expect()], { stdin: d.restoreKeys });
            assert.equal(named.code, 0, named.stderr);
        } finally {
            attacker.remove();
        }
    });

    it("restore refuses a set taken with another etcd key, or from an Omni with another account id, and changes nothing", async () => {
        const before = fs.readdirSync(d.data).sort();
        const run = await sh(
            restoreScript(),
            ["restore", "latest", OTHER_FINGERPRINT, ACCOUNT_ID, d.signingFingerprint],
            { stdin: d.restoreKeys },
        );
        assert.equal(run.code, 3);
        assert.match(
            run.stderr,
            new RegExp(
                `refusing: set ${path.basename(setDir)} was taken with etcd key ${d.fingerprint}, but the configured key is ${OTHER_FINGERPRINT}`,
            ),
        );
        const other = await sh(
            restoreScript(),
            ["restore", path.basename(setDir), d.fingerprint, OTHER_ACCOUNT_ID, d.signingFingerprint],
            { stdin: d.restoreKeys },
        );
        assert.equal(other.code, 3);
        assert.match(
            other.stderr,
            new RegExp(
                `refusing: set ${path.basename(setDir)} was taken from the Omni with account id ${ACCOUNT_ID}, but the Omni to restore runs with --account-id ${OTHER_ACCOUNT_ID}`,
            ),
        );
        const noKey = await sh(restoreScript(), ["check", "latest", ...expect()], { stdin: d.signingPublicKey });
        assert.equal(noKey.code, 4);
        assert.match(noKey.stderr, /could not read the etcd secret key/);
        assert.deepEqual(fs.readdirSync(d.data).sort(), before);
    });

    it("restores after the data directory is destroyed: decrypts the set, etcd and SQLite read back as of the backup, old data kept aside", async () => {
        const m = manifest(setDir);
        // Written after the backup: must not come back.
        d.etcd.ctl("put", "/omni/resources/after-backup", "too late");
        await stopWriter();
        await d.etcd.stop();
        const liveRows = Number(sql(path.join(d.data, "omni.db"), "SELECT count(*) FROM machine_logs;"));
        fs.rmSync(path.join(d.data, "etcd"), { recursive: true, force: true });

        // The fingerprint as gpg prints it (spaced groups) matches too.
        const spaced = d.fingerprint.replace(/(.{4})/g, "$1 ").trim();
        const run = await sh(
            restoreScript(),
            ["restore", path.basename(setDir), spaced, ACCOUNT_ID, d.signingFingerprint],
            { stdin: d.restoreKeys },
        );
        timings.restore = run.ms;
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, new RegExp(`restored ${path.basename(setDir)} \\(etcd revision ${m.etcdRevision}\\)`));

        const aside = fs.readdirSync(d.data).filter((n) => n.startsWith("pre-restore-"));
        assert.equal(aside.length, 1);
        assert.ok(fs.existsSync(path.join(d.data, aside[0], "omni.db")), "the replaced SQLite database is kept aside");
        assert.equal(
            Number(sql(path.join(d.data, aside[0], "omni.db"), "SELECT count(*) FROM machine_logs;")),
            liveRows,
        );

        const started = Date.now();
        await d.etcd.start();
        timings.etcdStartOnRestoredDir = Date.now() - started;
        assert.equal(d.etcd.revision(), Number(m.etcdRevision));
        const restored = d.etcd.ctl("get", "/omni/resources/", "--prefix", "--keys-only").split("\n").filter(Boolean);
        assert.deepEqual(restored, d.keys);
        assert.equal(d.etcd.ctl("get", d.keys[7], "--print-value-only").trim(), `spec of ${d.keys[7]}`);

        const db = path.join(d.data, "omni.db");
        const copyRows = sql(path.join(d.tmp, "copy.db"), "SELECT count(*) FROM machine_logs;");
        assert.equal(sql(db, "SELECT count(*) FROM machine_logs;"), copyRows);
        assert.ok(Number(copyRows) < liveRows, "the restored database is the backup, not the later live one");
        assert.equal(sql(db, "PRAGMA integrity_check;"), "ok");
        // What the backup reads to know the drops before this set are recovered from.
        assert.match(
            fs.readFileSync(path.join(d.data, RESTORE_RECORD), "utf8"),
            new RegExp(`^sequence=${m.sequence}$`, "m"),
        );
    });
});

import { strict as assert } from "node:assert";
import { ChildProcess, execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import {
    BACKUP_FILES,
    BACKUP_SET_FILES,
    BACKUP_SET_PREFIX,
    RESTORE_RECORD,
    SET_MARKERS,
    hubBackupScript,
    hubRestoreScript,
    s3CurlConfig,
} from "../components/hub/backup-render";
import {
    ACCOUNT_ID,
    Drill,
    Etcd,
    OTHER_ACCOUNT_ID,
    Run,
    lastSuccess,
    manifest,
    plainCopies,
    setsIn,
    sh,
    sql,
    until,
} from "./hub-backup-drill-fixture";
import { freePort } from "./tools";

/**
 * The restore drill's runs on a small database, where only the set's handling matters (every step ends at once):
 * retention, S3 uploads, signals, the lock and two hubs sharing a target. Apart from hub-backup-drill.test.ts (the
 * set taken while a 40 MB database is written, and its restore) so that mocha's workers run the two side by side.
 *
 * The drills that mostly wait (a step limit running out, a new set name's next second, a second etcd starting, upload
 * retries a second apart) start in `before`, each with a target and local directory of its own, as hubs of their own
 * would run; their `it` awaits them, so their waits pass while the drills before them run.
 */

describe("hub backup: restore drill on a real etcd and SQLite", function () {
    const d = new Drill();
    const { backupScript, restoreScript, expect, localDir } = d;
    const started: Promise<unknown>[] = [];
    /** Starts a drill now; its `it` awaits what it returns (and fails with what it throws). */
    const early = <T>(drill: () => Promise<T>): Promise<T> => {
        const p = drill();
        // Awaited by its `it`; until then a failure must not count as unhandled.
        p.catch(() => undefined);
        started.push(p);
        return p;
    };
    let stuck: Promise<{ run: Run; target: string }>;
    let rebuild: Promise<void>;
    let twoHubs: Promise<{ target: string }>;
    let outage: Promise<void>;

    before(async function () {
        await d.setUp(this);
        stuck = early(stuckS3);
        rebuild = early(rebuiltHub);
        twoHubs = early(hubsSharingATarget);
        outage = early(s3Down);
    });

    after(async () => {
        await Promise.allSettled(started);
        await d.tearDown();
    });

    it("without a public key (a library caller that gives none) writes a plain set, which restore takes only with allow-plain", async () => {
        const plainTarget = path.join(d.tmp, "target-plain");
        const run = await sh(backupScript({ targetDir: plainTarget, publicKeyFile: undefined, sqlitePath: d.small }), [
            "once",
        ]);
        assert.equal(run.code, 0, run.stderr);
        const set = setsIn(plainTarget)[0];
        assert.deepEqual(fs.readdirSync(path.join(plainTarget, set)).sort(), Object.values(BACKUP_FILES).sort());
        assert.ok(!/^encryptedTo=/m.test(fs.readFileSync(path.join(plainTarget, set, BACKUP_FILES.manifest), "utf8")));
        const refused = await sh(restoreScript(plainTarget), ["check", "latest", ...expect()], {
            stdin: d.restoreKeys,
        });
        assert.equal(refused.code, 3);
        assert.match(refused.stderr, /refusing: set \S+ is not encrypted .*\n.*add --allow-plain/);
        const check = await sh(restoreScript(plainTarget), ["check", "latest", ...expect(["allow-plain"])], {
            stdin: d.signingPublicKey,
        });
        assert.equal(check.code, 0, check.stderr);
        assert.match(check.stderr, /warning \(allow-plain\): set \S+ is not encrypted/);
    });

    it("uploads each set to S3 with SigV4, credentials from the curl config file only", async () => {
        const puts: { url: string; auth: string; headers: string; bytes: number }[] = [];
        const server = http.createServer((req, res) => {
            let bytes = 0;
            req.on("data", (d: Buffer) => (bytes += d.length));
            req.on("end", () => {
                puts.push({
                    url: req.url!,
                    auth: String(req.headers.authorization),
                    headers: JSON.stringify(req.headers),
                    bytes,
                });
                res.writeHead(req.method === "PUT" ? 200 : 405).end();
            });
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const s3Target = path.join(d.tmp, "target-s3");
        const credentials = path.join(d.tmp, "s3.curlrc");
        fs.writeFileSync(credentials, s3CurlConfig("AKIAOFFLINEEXAMPLE", "offline/example+secret"), { mode: 0o400 });
        try {
            const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/omni-backups/hub/quantum`;
            const run = await sh(
                backupScript({
                    targetDir: s3Target,
                    sqlitePath: d.small,
                    s3: { url, region: "eu-central-1", credentialsFile: credentials },
                }),
                ["once"],
            );
            assert.equal(run.code, 0, run.stderr);
            assert.match(run.stdout, / s3=uploaded /);
            const set = fs.readdirSync(s3Target).find((n) => n.startsWith(BACKUP_SET_PREFIX))!;
            assert.deepEqual(
                puts.map((p) => p.url).sort(),
                BACKUP_SET_FILES.map((f) => `/omni-backups/hub/quantum/${set}/${f}`).sort(),
            );
            for (const put of puts) {
                assert.match(
                    put.auth,
                    /^AWS4-HMAC-SHA256 Credential=AKIAOFFLINEEXAMPLE\/\d{8}\/eu-central-1\/s3\/aws4_request, SignedHeaders=\S*x-amz-content-sha256\S*, Signature=[0-9a-f]{64}$/,
                );
                assert.ok(!put.headers.includes("offline/example+secret"), "the secret key never travels");
                assert.equal(put.bytes, fs.statSync(path.join(s3Target, set, put.url.split("/").pop()!)).size);
            }
        } finally {
            server.close();
        }
    });

    /** A run whose S3 endpoint accepts TCP connections and never answers, like a stuck proxy or a black-holed endpoint. */
    async function stuckS3() {
        const silent = net.createServer(() => undefined);
        await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
        const target = path.join(d.tmp, "target-stuck");
        try {
            const url = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/omni-backups`;
            const run = await sh(
                backupScript({
                    targetDir: target,
                    localDir: localDir("local-stuck"),
                    sqlitePath: d.small,
                    stepTimeoutSeconds: 3,
                    s3: { url, region: "us-east-1", credentialsFile: "/dev/null" },
                }),
                ["once"],
            );
            return { run, target };
        } finally {
            silent.close();
        }
    }

    it("bounds each step: an S3 endpoint that accepts and never answers fails the run at the step limit", async () => {
        const { run, target: stuckTarget } = await stuck;
        // The set is taken (and counts); its upload waits for the next try.
        assert.equal(run.code, 3, run.stderr);
        assert.match(
            run.stderr,
            /S3 upload of omni-hub-\S+\/\S+ to .* failed \(no answer within 3s\); the set is kept in /,
        );
        const [set] = setsIn(stuckTarget);
        assert.match(
            fs.readFileSync(path.join(stuckTarget, set, SET_MARKERS.uploadPending), "utf8"),
            /^error=S3 upload of omni-hub-\S+: no answer within 3s$/m,
        );
        assert.match(fs.readFileSync(lastSuccess(stuckTarget), "utf8"), /^s3=pending$/m);
    });

    it("orders this Omni's sets by their manifests, not their names: a clock that was ahead neither keeps a stale set nor prunes the newest", async () => {
        const ordered = path.join(d.tmp, "target-ordered");
        const fake = (name: string, lines: string) => {
            fs.mkdirSync(path.join(ordered, name), { recursive: true });
            fs.writeFileSync(path.join(ordered, name, BACKUP_FILES.manifest), `set=${name}\n${lines}\n`);
        };
        const account = `accountId=${ACCOUNT_ID}`;
        // Taken before sequences were recorded: the name sorts one way, the epochs the other.
        fake(`${BACKUP_SET_PREFIX}20260101T000000Z`, `${account}\nepoch=1767400000`);
        fake(`${BACKUP_SET_PREFIX}20260102T000000Z`, `${account}\nepoch=1767300000`);
        // Taken while the clock was years ahead, with the latest sequence so far.
        fake(`${BACKUP_SET_PREFIX}20990101T000000Z`, `${account}\nsequence=7\nepoch=4070908800`);
        // Taken before account ids were recorded: no Omni's to prune.
        fake(`${BACKUP_SET_PREFIX}20250101T000000Z`, "sequence=3\nepoch=1735689600");
        const run = await sh(backupScript({ targetDir: ordered, keep: 2, sqlitePath: d.small }), ["once"]);
        assert.equal(run.code, 0, run.stderr);
        const newest = /set=(\S+)/.exec(run.stdout)![1];
        assert.equal(manifest(path.join(ordered, newest)).sequence, "8");
        // The two oldest by sequence, then epoch, are pruned; the set of the clock that was ahead stays as older.
        assert.deepEqual(
            setsIn(ordered).sort(),
            [`${BACKUP_SET_PREFIX}20250101T000000Z`, `${BACKUP_SET_PREFIX}20990101T000000Z`, newest].sort(),
        );
        // `latest` is the newest by sequence, although its name sorts first.
        const check = await sh(restoreScript(ordered), ["check", "latest", ...expect()], { stdin: d.restoreKeys });
        assert.equal(check.code, 0, check.stderr);
        assert.match(check.stdout, new RegExp(`set ${newest} is complete .*signed by ${d.signingFingerprint}`));
        // Among sets without sequences, the later epoch is the later set whatever the names say.
        fs.rmSync(path.join(ordered, newest), { recursive: true });
        fs.rmSync(path.join(ordered, `${BACKUP_SET_PREFIX}20990101T000000Z`), { recursive: true });
        fake(`${BACKUP_SET_PREFIX}20260101T000000Z`, `${account}\nepoch=1767400000`);
        fake(`${BACKUP_SET_PREFIX}20260102T000000Z`, `${account}\nepoch=1767300000`);
        const old = await sh(restoreScript(ordered), ["check", "latest", ...expect()]);
        assert.equal(old.code, 2);
        assert.match(old.stderr, new RegExp(`${BACKUP_SET_PREFIX}20260101T000000Z/SHA256SUMS is missing`));
    });

    it("survives manifests whose sequence is not a number: the next set follows the numbers there are, nothing crashes", async () => {
        const odd = path.join(d.tmp, "target-odd");
        const fake = (name: string, sequence: string) => {
            fs.mkdirSync(path.join(odd, name), { recursive: true });
            fs.writeFileSync(
                path.join(odd, name, BACKUP_FILES.manifest),
                `set=${name}\nsequence=${sequence}\naccountId=${ACCOUNT_ID}\nepoch=1767300000\n`,
            );
        };
        // What crashed `$(( last + 1 ))`: letters, a number with letters, an exponent; 010 is ten, not octal eight.
        fake(`${BACKUP_SET_PREFIX}20260101T000000Z`, "abc");
        fake(`${BACKUP_SET_PREFIX}20260102T000000Z`, "12abc");
        fake(`${BACKUP_SET_PREFIX}20260103T000000Z`, "1e3");
        fake(`${BACKUP_SET_PREFIX}20260104T000000Z`, "010");
        fake(`${BACKUP_SET_PREFIX}20260105T000000Z`, "2 3");
        const run = await sh(backupScript({ targetDir: odd, keep: 10, sqlitePath: d.small }), ["once"]);
        assert.equal(run.code, 0, run.stderr);
        const newest = /set=(\S+)/.exec(run.stdout)![1];
        assert.equal(manifest(path.join(odd, newest)).sequence, "11");
        assert.ok(!fs.existsSync(path.join(odd, `last-failure-${ACCOUNT_ID}`)));
        assert.equal((await sh(backupScript({ targetDir: odd, keep: 10 }), ["health"])).code, 0);
    });

    /** A hub rebuilt empty (its own target, local directory and second etcd); see its `it`. */
    async function rebuiltHub() {
        const rebuilt = path.join(d.tmp, "target-rebuild");
        const emptyData = path.join(d.tmp, "data-rebuilt");
        fs.mkdirSync(emptyData);
        const local = localDir("local-rebuild");
        const script = (o: Partial<Parameters<typeof hubBackupScript>[0]> = {}) =>
            backupScript({
                targetDir: rebuilt,
                keep: 1,
                localDir: local,
                restoreRecord: path.join(emptyData, RESTORE_RECORD),
                ...o,
            });
        const first = await sh(script({ sqlitePath: d.small }), ["once"]);
        assert.equal(first.code, 0, first.stderr);
        const good = /set=(\S+)/.exec(first.stdout)![1];
        // The rebuilt hub: an empty etcd and database, the same account id and target (what `up` before a restore gives).
        const empty = new Etcd(
            path.join(emptyData, "etcd"),
            await freePort(),
            await freePort(),
            path.join(d.tmp, "etcd-rebuilt.log"),
        );
        await empty.start();
        try {
            const emptyDb = path.join(emptyData, "omni.db");
            sql(emptyDb, "CREATE TABLE t(x);");
            const onEmpty = script({ etcdEndpoint: empty.endpoint, sqlitePath: emptyDb });
            // Two runs: the second prunes the first set after the drop, and the drop is still seen (against the second).
            for (let i = 0; i < 2; i++) {
                const r = await sh(onEmpty, ["once"]);
                assert.equal(r.code, 0, r.stderr);
            }
            // keep: 1, and yet the set from before the loss is still there, beside the newest.
            const sets = setsIn(rebuilt);
            assert.equal(sets.length, 2);
            assert.ok(sets.includes(good));
            const health = await sh(onEmpty, ["health"]);
            assert.equal(health.code, 1);
            assert.match(
                health.stdout,
                new RegExp(
                    `set ${good} is kept whatever keep says: the next set, \\S+, fell from etcd revision \\d+ to \\d+ .*Restore ${good}`,
                ),
            );
            const newest = sets.find((n) => n !== good)!;
            assert.equal((await sh(onEmpty, ["release", newest])).code, 2, "only a set kept for a drop is released");
            const check = await sh(restoreScript(rebuilt), ["check", "latest", ...expect()], { stdin: d.restoreKeys });
            assert.equal(check.code, 0, check.stderr);
            assert.match(
                check.stderr,
                new RegExp(
                    `warning: latest set ${newest} .* is smaller than the older set ${good} .*--set ${good}`,
                    "s",
                ),
            );

            // The restore of that set (Omni stopped) records it; the next run lets retention prune it.
            await empty.stop();
            const restored = await sh(
                hubRestoreScript({
                    dataDir: emptyData,
                    etcdDir: path.join(emptyData, "etcd"),
                    sqlitePath: emptyDb,
                    setsDir: rebuilt,
                }),
                ["restore", good, ...expect()],
                { stdin: d.restoreKeys },
            );
            assert.equal(restored.code, 0, restored.stderr);
            await empty.start();
            const after = await sh(onEmpty, ["once"]);
            assert.equal(after.code, 0, after.stderr);
            assert.deepEqual(setsIn(rebuilt), [/set=(\S+)/.exec(after.stdout)![1]]);
            assert.equal((await sh(onEmpty, ["health"])).code, 0);
        } finally {
            await empty.stop();
        }
    }

    it("keeps the last set taken before Omni ran empty (a rebuild), says why in health, warns a restore of latest, and lets it go once restored", () =>
        rebuild);

    it("lets the operator release a set kept for a drop that was expected", async () => {
        const released = path.join(d.tmp, "target-release");
        const fake = (name: string, sequence: number, revision: number) => {
            fs.mkdirSync(path.join(released, name), { recursive: true });
            fs.writeFileSync(
                path.join(released, name, BACKUP_FILES.manifest),
                `set=${name}\nsequence=${sequence}\naccountId=${ACCOUNT_ID}\netcdRevision=${revision}\netcdBytes=100\nsqliteBytes=100\n`,
            );
        };
        fake(`${BACKUP_SET_PREFIX}20260101T000000Z`, 1, 900);
        fake(`${BACKUP_SET_PREFIX}20260102T000000Z`, 2, 12);
        fs.writeFileSync(lastSuccess(released), `epoch=${Math.floor(Date.now() / 1000)}\n`);
        const script = backupScript({ targetDir: released });
        const health = await sh(script, ["health"]);
        assert.equal(health.code, 1);
        assert.match(health.stdout, /fell from etcd revision 900 to 12/);
        const release = await sh(script, ["release", `${BACKUP_SET_PREFIX}20260101T000000Z`]);
        assert.equal(release.code, 0, release.stderr);
        assert.ok(fs.existsSync(path.join(released, `${BACKUP_SET_PREFIX}20260101T000000Z`, SET_MARKERS.dropReleased)));
        assert.equal((await sh(script, ["health"])).code, 0);
    });

    /** A hub whose S3 refuses connections, then is back (its own target and local directory); see its `it`. */
    async function s3Down() {
        const down = path.join(d.tmp, "target-s3-down");
        // Nothing listens here until S3 is "back".
        const port = await freePort();
        const credentials = path.join(d.tmp, "s3-down.curlrc");
        fs.writeFileSync(credentials, s3CurlConfig("AKIAOFFLINEEXAMPLE", "offline/example+secret"), { mode: 0o400 });
        const script = backupScript({
            targetDir: down,
            keep: 2,
            sqlitePath: d.small,
            localDir: localDir("local-s3-down"),
            retrySeconds: 1,
            s3: { url: `http://127.0.0.1:${port}/omni-backups`, region: "us-east-1", credentialsFile: credentials },
        });
        // Three runs: the third prunes, as every later one would.
        for (let i = 0; i < 3; i++) {
            const r = await sh(script, ["once"]);
            assert.equal(r.code, 3, r.stderr);
            assert.match(r.stderr, /S3 upload of \S+ to \S+ failed \(curl: \(7\) Failed to connect/);
        }
        const sets = setsIn(down);
        assert.equal(sets.length, 2, "three runs, keep 2: two sets");
        for (const set of sets) assert.ok(fs.existsSync(path.join(down, set, SET_MARKERS.uploadPending)));
        const health = await sh(script, ["health"]);
        assert.equal(health.code, 0, "a recent pending upload is shown, not yet unhealthy");
        assert.match(
            health.stdout,
            /set \S+ waits for its S3 upload since \d+s ago: S3 upload of \S+: curl: \(7\) Failed to connect/,
        );
        const marker = path.join(down, sets[0], SET_MARKERS.uploadPending);
        const saved = fs.readFileSync(marker, "utf8");
        fs.writeFileSync(marker, saved.replace(/^since=\d+$/m, `since=${Math.floor(Date.now() / 1000) - 3 * 3600}`));
        assert.equal((await sh(script, ["health"])).code, 1, "an upload pending for more than twice the interval");
        fs.writeFileSync(marker, saved);

        // The loop: one set, then only the uploads are retried (every second here): after the set's failed upload, and
        // after a failed retry.
        let loop: ChildProcess | undefined;
        let log = "";
        const running = sh(script, ["run"], {
            started: (c) => {
                loop = c;
                c.stderr!.on("data", (d) => (log += d));
            },
        });
        await until(() => (log.match(/failed \(curl/g) ?? []).length >= 3);
        loop!.kill("SIGTERM");
        const stopped = await running;
        assert.equal(stopped.code, 0, stopped.stderr);
        assert.equal((stopped.stdout.match(/ ok set=/g) ?? []).length, 1, "one set for three upload attempts");
        assert.equal(setsIn(down).length, 2);

        // S3 is back: `upload` sends the waiting sets and takes none.
        const puts: string[] = [];
        const server = http.createServer((req, res) => {
            req.resume();
            req.on("end", () => {
                puts.push(req.url!);
                res.writeHead(200).end();
            });
        });
        await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
        try {
            const up = await sh(script, ["upload"]);
            assert.equal(up.code, 0, up.stderr);
            const waiting = setsIn(down);
            assert.equal(waiting.length, 2);
            assert.equal(puts.length, 2 * BACKUP_SET_FILES.length);
            for (const set of waiting) assert.ok(!fs.existsSync(path.join(down, set, SET_MARKERS.uploadPending)));
            assert.match(up.stdout, /uploaded \S+ to /);
        } finally {
            server.close();
        }
    }

    it("while S3 refuses connections, local sets count toward keep, uploads wait (shown by health) and are retried without new sets", () =>
        outage);

    describe("signals and concurrent runs", () => {
        let wrappers: string;
        let hold: string;
        const held = () => ({ PATH: `${wrappers}:${process.env.PATH}`, HOLD: hold });
        before(() => {
            // etcdctl whose snapshot, once saved (the plain copy in place), waits until the test lets it go; it notes its
            // parent (the step's timeout) in the .taken file.
            wrappers = path.join(d.tmp, "wrappers");
            fs.mkdirSync(wrappers);
            const real = execFileSync("sh", ["-c", "command -v etcdctl"], { encoding: "utf8" }).trim();
            fs.writeFileSync(
                path.join(wrappers, "etcdctl"),
                `#!/bin/sh
case " $* " in
  *" snapshot save "*) ${real} "$@" || exit $?; echo "$PPID" > "$HOLD.taken"; while [ ! -e "$HOLD.go" ]; do sleep 0.1; done ;;
  *) exec ${real} "$@" ;;
esac
`,
                { mode: 0o755 },
            );
        });
        beforeEach(() => {
            hold = path.join(d.tmp, `hold-${Math.random().toString(36).slice(2)}`);
        });

        it("SIGTERM mid-snapshot (docker stop) leaves no plain etcd.snapshot and no partial set; what SIGKILL leaves goes at the next run", async () => {
            const signals = path.join(d.tmp, "target-signals");
            const loc = localDir("local-signals");
            const script = backupScript({ targetDir: signals, localDir: loc, sqlitePath: d.small });
            let child: ChildProcess | undefined;
            const run = sh(script, ["run"], { env: held(), started: (c) => (child = c) });
            await until(() => fs.existsSync(`${hold}.taken`));
            assert.ok(
                plainCopies(loc).some((n) => n.endsWith(`/${BACKUP_FILES.etcd}`)),
                "mid-snapshot: the plain copy",
            );
            child!.kill("SIGTERM");
            const stopped = await run;
            assert.equal(stopped.code, 0, stopped.stderr);
            assert.match(stopped.stderr, /stopped by a signal; the plain copies of this run are removed/);
            assert.deepEqual(plainCopies(loc), []);
            assert.deepEqual(setsIn(signals), []);

            // SIGKILL (docker kill, the OOM killer) ends every process of the container at once: no trap runs.
            fs.rmSync(`${hold}.taken`);
            const killed = sh(script, ["once"], { env: held(), detached: true, started: (c) => (child = c) });
            await until(() => fs.existsSync(`${hold}.taken`));
            const exited = new Promise((r) => child!.on("exit", r));
            process.kill(-child!.pid!, "SIGKILL");
            await exited;
            void killed;
            // timeout runs its step in a process group of its own, which a container's end kills too: let it end.
            fs.writeFileSync(`${hold}.go`, "");
            assert.notDeepEqual(plainCopies(loc), [], "SIGKILL leaves the plain copy");
            // And the gpg-agent of its keyring (a daemon, in a session of its own), which the container's end would kill.
            for (const run of fs.readdirSync(loc).filter((n) => n.startsWith("run.")))
                spawnSync("gpgconf", ["--kill", "gpg-agent"], {
                    env: { ...process.env, GNUPGHOME: path.join(loc, run, "gnupg") },
                });
            const next = await sh(script, ["once"]);
            assert.equal(next.code, 0, next.stderr);
            assert.deepEqual(plainCopies(loc), []);
            assert.equal(setsIn(signals).length, 1);
        });

        it("a run killed outright in the loop (the OOM killer took its shell) is recorded as failed, and the loop goes on: a set at the retry", async () => {
            const crashed = path.join(d.tmp, "target-crashed");
            const loc = localDir("local-crashed");
            const script = backupScript({ targetDir: crashed, localDir: loc, sqlitePath: d.small, retrySeconds: 1 });
            let child: ChildProcess | undefined;
            let log = "";
            const run = sh(script, ["run"], {
                env: held(),
                started: (c) => {
                    child = c;
                    c.stdout!.on("data", (b) => (log += b));
                },
            });
            await until(
                () => fs.existsSync(`${hold}.taken`) && fs.readFileSync(`${hold}.taken`, "utf8").endsWith("\n"),
            );
            // The step's timeout runs in the shell of the run (attempt's subshell): that shell is the one killed.
            const timeoutPid = fs.readFileSync(`${hold}.taken`, "utf8").trim();
            const runShell = Number(fs.readFileSync(`/proc/${timeoutPid}/stat`, "utf8").split(") ")[1].split(" ")[1]);
            assert.notEqual(runShell, child!.pid, "not the loop's own shell");
            process.kill(runShell, "SIGKILL");
            fs.writeFileSync(`${hold}.go`, "");
            await until(() => / ok set=/.test(log) || child!.exitCode !== null);
            child!.kill("SIGTERM");
            const stopped = await run;
            assert.equal(stopped.code, 0, stopped.stderr);
            assert.match(
                stopped.stderr,
                /FAILED at an unexpected error in backup_once \(exit 137; see the lines above\)/,
            );
            assert.match(stopped.stdout, / ok set=/);
            assert.equal(setsIn(crashed).length, 1);
            assert.ok(!fs.existsSync(path.join(crashed, `last-failure-${ACCOUNT_ID}`)), "the set clears the failure");
        });

        it("runs one at a time: a second run stops at the lock and leaves the first run's files alone", async () => {
            const busy = path.join(d.tmp, "target-busy");
            const loc = localDir("local-busy");
            const script = backupScript({ targetDir: busy, localDir: loc, sqlitePath: d.small });
            const first = sh(script, ["once"], { env: held() });
            await until(() => fs.existsSync(`${hold}.taken`));
            const second = await sh(script, ["once"]);
            assert.equal(second.code, 75);
            assert.match(second.stderr, /another run holds \S+\/lock; this one does not start/);
            assert.ok(plainCopies(loc).length > 0, "the first run's copies are still there");
            fs.writeFileSync(`${hold}.go`, "");
            const done = await first;
            assert.equal(done.code, 0, done.stderr);
            assert.equal(setsIn(busy).length, 1);
        });
    });

    /** Two hubs taking two sets each, at the same time, into one target; see its `it`. */
    async function hubsSharingATarget() {
        const shared = path.join(d.tmp, "target-shared");
        const hubA = backupScript({ targetDir: shared, keep: 1, sqlitePath: d.small, localDir: localDir("local-a") });
        const hubB = backupScript({
            targetDir: shared,
            keep: 1,
            sqlitePath: d.small,
            accountId: OTHER_ACCOUNT_ID,
            localDir: localDir("local-b"),
        });
        for (let round = 0; round < 2; round++) {
            // At the same time: both may want the same set name in the same second.
            const [a, b] = await Promise.all([sh(hubA, ["once"]), sh(hubB, ["once"])]);
            assert.equal(a.code, 0, a.stderr);
            assert.equal(b.code, 0, b.stderr);
        }
        return { target: shared };
    }

    it("two hubs sharing a target each keep their own sets: retention, status and latest are per account id", async () => {
        const { target: shared } = await twoHubs;
        const owners = setsIn(shared).map((n) => manifest(path.join(shared, n)).accountId);
        assert.deepEqual(owners.sort(), [ACCOUNT_ID, OTHER_ACCOUNT_ID].sort());
        assert.ok(fs.existsSync(lastSuccess(shared)) && fs.existsSync(lastSuccess(shared, OTHER_ACCOUNT_ID)));
        const checkB = await sh(
            restoreScript(shared),
            ["check", "latest", d.fingerprint, OTHER_ACCOUNT_ID, d.signingFingerprint],
            { stdin: d.restoreKeys },
        );
        assert.equal(checkB.code, 0, checkB.stderr);
        assert.match(checkB.stdout, new RegExp(`account ${OTHER_ACCOUNT_ID}`));
    });
});

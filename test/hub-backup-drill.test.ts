import { strict as assert } from "node:assert";
import { ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import {
    BACKUP_FILES,
    BACKUP_SET_FILES,
    BACKUP_SET_PREFIX,
    ENCRYPTED_SUFFIX,
    RESTORE_RECORD,
    SET_MARKERS,
    hubBackupScript,
    hubRestoreScript,
    s3CurlConfig,
} from "../components/hub/backup-render";
import { etcdKeyProvider } from "../components/hub/etcd-key";
import { GpgHome } from "./keys";
import { requireTools } from "./tools";

/**
 * The restore drill: the same scripts the backup container and `npm run restore` run, against a real etcd on a
 * loopback port and a real SQLite database that a writer keeps writing during the backup. The etcd is started the
 * way Omni starts its embedded one (siderolabs/omni v1.10.4 internal/backend/runtime/omni/state_etcd.go:
 * embed.NewConfig defaults, so member "default" advertising http://localhost:2380, listening for clients on the
 * --etcd-endpoints URL), here on free loopback ports.
 */

const OTHER_FINGERPRINT = "FEDCBA9876543210FEDCBA9876543210FEDCBA98";
const ACCOUNT_ID = "6f1c2b9e-7d3a-4c5b-9e8f-0a1b2c3d4e5f";
const OTHER_ACCOUNT_ID = "0d2f4b6a-8c1e-4f3a-a5b7-c9d1e3f5a7b9";

interface Run {
    code: number;
    stdout: string;
    stderr: string;
    ms: number;
}

/** Runs a script with sh, asynchronously (the SQLite writer keeps writing meanwhile); `stdin` is what it reads. */
function sh(
    script: string,
    args: string[],
    opts: {
        asUser?: boolean;
        stdin?: string;
        env?: Record<string, string>;
        /** Its own process group, which a test can kill at once (as SIGKILL of a container does). */
        detached?: boolean;
        started?: (child: ChildProcess) => void;
    } = {},
): Promise<Run> {
    const started = Date.now();
    // As root, run like the container does against a read-only mount: as a user who cannot write Omni's files.
    const argv =
        opts.asUser && process.getuid?.() === 0
            ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", script, "sh", ...args]
            : ["sh", "-c", script, "sh", ...args];
    return new Promise((resolve, reject) => {
        const child = spawn(argv[0], argv.slice(1), {
            stdio: ["pipe", "pipe", "pipe"],
            env: { ...process.env, ...opts.env },
            detached: opts.detached,
        });
        opts.started?.(child);
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
        // A script that fails early never reads its stdin: that is not the test's error.
        child.stdin.on("error", () => undefined);
        child.stdin.end(opts.stdin ?? "");
    });
}

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for a condition (mocha's timeout bounds the wait). */
async function until(condition: () => boolean): Promise<void> {
    while (!condition()) await sleep(50);
}

class Etcd {
    private proc?: ChildProcess;
    constructor(
        readonly dataDir: string,
        readonly clientPort: number,
        readonly peerPort: number,
        readonly logFile: string,
    ) {}
    get endpoint() {
        return `http://127.0.0.1:${this.clientPort}`;
    }
    async start(): Promise<void> {
        const log = fs.openSync(this.logFile, "a");
        this.proc = spawn(
            "etcd",
            [
                "--data-dir",
                this.dataDir,
                "--listen-client-urls",
                this.endpoint,
                "--advertise-client-urls",
                this.endpoint,
                "--listen-peer-urls",
                `http://127.0.0.1:${this.peerPort}`,
            ],
            { stdio: ["ignore", log, log] },
        );
        fs.closeSync(log);
        for (let i = 0; i < 100; i++) {
            try {
                execFileSync("etcdctl", ["--endpoints", this.endpoint, "--dial-timeout", "1s", "endpoint", "health"], {
                    stdio: "ignore",
                });
                return;
            } catch {
                if (this.proc.exitCode !== null) break;
                await sleep(100);
            }
        }
        throw new Error(`etcd did not start; its log:\n${fs.readFileSync(this.logFile, "utf8").slice(-3000)}`);
    }
    ctl(...args: string[]): string {
        return execFileSync("etcdctl", ["--endpoints", this.endpoint, ...args], { encoding: "utf8" });
    }
    revision(): number {
        return JSON.parse(this.ctl("endpoint", "status", "--write-out", "json"))[0].Status.header.revision;
    }
    async stop(): Promise<void> {
        const proc = this.proc;
        if (!proc || proc.exitCode !== null) return;
        await new Promise<void>((resolve) => {
            proc.on("exit", () => resolve());
            proc.kill("SIGTERM");
        });
    }
}

function manifest(dir: string): Record<string, string> {
    return Object.fromEntries(
        fs
            .readFileSync(path.join(dir, BACKUP_FILES.manifest), "utf8")
            .trim()
            .split("\n")
            .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    );
}

function sql(db: string, query: string): string {
    return execFileSync("sqlite3", [db, query], { encoding: "utf8" }).trim();
}

describe("hub backup: restore drill on a real etcd and SQLite", function () {
    let tmp: string;
    let data: string;
    let target: string;
    let etcd: Etcd;
    let writer: ChildProcess | undefined;
    /** Ends the writer's connection once its last commit is in. */
    let stopWriter: () => Promise<void> = async () => {};
    let gpg: GpgHome;
    let FINGERPRINT: string;
    let secretKey: string;
    let publicKeyFile: string;
    /** The backup's signing key, made as `pulumi up` makes it (OmniEtcdKey's provider: OpenPGP.js, RSA-4096). */
    let SIGNING_FINGERPRINT: string;
    let signingKeyFile: string;
    let signingPublicKey: string;
    /** What the restore reads on stdin: the etcd secret key (from Omni) and the signing key's public part (from the backup). */
    let restoreKeys: string;
    let local: string;
    let small: string;
    const timings: Record<string, number> = {};
    let setDir: string;
    const keys = Array.from({ length: 25 }, (_, i) => `/omni/resources/machine-${String(i).padStart(2, "0")}`);

    const backupScript = (overrides: Partial<Parameters<typeof hubBackupScript>[0]> = {}) =>
        hubBackupScript({
            etcdEndpoint: etcd.endpoint,
            sqlitePath: path.join(data, "omni.db"),
            targetDir: target,
            intervalSeconds: 3600,
            keep: 2,
            keyFingerprint: FINGERPRINT,
            publicKeyFile,
            accountId: ACCOUNT_ID,
            signingKeyFile,
            signingFingerprint: SIGNING_FINGERPRINT,
            localDir: local,
            restoreRecord: path.join(data, RESTORE_RECORD),
            // Generous: a copy that restarts on every commit (the old `.backup`) never finishes and fails here.
            stepTimeoutSeconds: 60,
            ...overrides,
        });
    const restoreScript = (setsDir = target) =>
        hubRestoreScript({
            dataDir: data,
            etcdDir: `${path.join(data, "etcd")}/`,
            sqlitePath: path.join(data, "omni.db"),
            setsDir,
        });
    /** The restore's arguments after the set: the etcd key, Omni's account id, the signing key (what the host script passes). */
    const expect = (extra: string[] = []) => [FINGERPRINT, ACCOUNT_ID, SIGNING_FINGERPRINT, ...extra];
    /** A container-local directory (lock, plain copies) the unprivileged backup user owns. */
    const localDir = (name: string) => {
        const dir = path.join(tmp, name);
        fs.mkdirSync(dir);
        if (process.getuid?.() === 0) fs.chownSync(dir, 65534, 65534);
        return dir;
    };
    const lastSuccess = (dir: string, account = ACCOUNT_ID) => path.join(dir, `last-success-${account}`);
    /** What runs left in a container-local directory: their temporary directories, or an etcd snapshot anywhere. */
    const plainCopies = (dir: string) =>
        (fs.readdirSync(dir, { recursive: true }) as string[]).filter(
            (n) => n.startsWith("run.") || n.includes(BACKUP_FILES.etcd),
        );
    const setsIn = (dir: string) => fs.readdirSync(dir).filter((n) => n.startsWith(BACKUP_SET_PREFIX));
    /** Decrypts a set's file with the etcd secret key, as the restore does (real gpg). */
    const decrypt = (file: string, out: string) =>
        gpg.run(["--trust-model", "always", "--output", out, "--decrypt", file]);

    before(async function () {
        // The signing key is RSA-4096, generated in JavaScript as at `pulumi up`: seconds on a loaded machine.
        this.timeout(180000);
        requireTools(this, ["etcd", "etcdctl", "sqlite3", "curl", "gpg", "timeout"], "the hub backup restore drill");
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hub-backup-drill-"));
        // Traversable by the unprivileged user the backup runs as; Omni's data stays root's and read-only to it.
        fs.chmodSync(tmp, 0o755);
        data = path.join(tmp, "data");
        target = path.join(tmp, "target");
        fs.mkdirSync(data);
        fs.mkdirSync(target);
        if (process.getuid?.() === 0) fs.chownSync(target, 65534, 65534);
        // The etcd key as Omni's docs make it with gpg: a certify-only primary key and an encryption subkey.
        gpg = new GpgHome();
        FINGERPRINT = gpg.certifyOnlyKey("Omni drill <omni@example.invalid>");
        gpg.addEncryptionSubkey(FINGERPRINT);
        secretKey = gpg.exportSecret(FINGERPRINT);
        publicKeyFile = path.join(tmp, "etcd-public.asc");
        fs.writeFileSync(publicKeyFile, gpg.exportPublic(FINGERPRINT), { mode: 0o644 });
        const signing = (await etcdKeyProvider.create({ name: "omni-scale hub backup" })).outs;
        SIGNING_FINGERPRINT = signing.fingerprint;
        signingKeyFile = path.join(tmp, "signing-key.asc");
        // Readable by the unprivileged user the drill runs the backup as (in the container: root, 0400).
        fs.writeFileSync(signingKeyFile, signing.armoredPrivateKey, { mode: 0o644 });
        signingPublicKey = signing.armoredPublicKey;
        restoreKeys = secretKey + signingPublicKey;
        local = localDir("local");

        etcd = new Etcd(path.join(data, "etcd"), await freePort(), await freePort(), path.join(tmp, "etcd.log"));
        await etcd.start();
        for (const key of keys) etcd.ctl("put", key, `spec of ${key}`);

        // Omni's SQLite settings (WAL, synchronous NORMAL: omni v1.10.4 schema.json sqlite experimentalBaseParams):
        // a database of about 40 MB, and one open connection committing every 20 ms for the whole drill, each
        // commit a machine log line and an audit entry (so a copy from between the two would show).
        const db = path.join(data, "omni.db");
        sql(
            db,
            "PRAGMA journal_mode=WAL; CREATE TABLE machine_logs(id INTEGER PRIMARY KEY, line TEXT NOT NULL); " +
                "CREATE TABLE audit_log(id INTEGER PRIMARY KEY, entry TEXT NOT NULL); " +
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) " +
                "INSERT INTO machine_logs(line) SELECT hex(randomblob(2000)) FROM n; " +
                "INSERT INTO audit_log(entry) SELECT 'seed ' || id FROM machine_logs;",
        );
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
        // A small database, for the drills where only the set's handling matters: every step ends at once.
        small = path.join(tmp, "small.db");
        sql(small, "CREATE TABLE t(x); INSERT INTO t VALUES(1);");
    });

    after(async () => {
        await stopWriter();
        await etcd?.stop();
        gpg?.remove();
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
        if (Object.keys(timings).length) process.stdout.write(`      drill timings (ms): ${JSON.stringify(timings)}\n`);
    });

    it("takes a set while SQLite commits every 20 ms: verified snapshot, consistent SQLite copy, manifest with account id and sequence, checksums", async () => {
        const rowsBefore = Number(sql(path.join(data, "omni.db"), "SELECT count(*) FROM machine_logs;"));
        const revision = etcd.revision();
        const run = await sh(backupScript(), ["once"], { asUser: true });
        timings.backup = run.ms;
        assert.equal(run.code, 0, run.stderr);
        assert.match(
            run.stdout,
            new RegExp(
                `^omni-hub-backup: ok set=${BACKUP_SET_PREFIX}\\d{8}T\\d{6}Z etcdRevision=${revision} .*keyFingerprint=${FINGERPRINT}$`,
                "m",
            ),
        );

        const sets = fs.readdirSync(target).filter((n) => n.startsWith(BACKUP_SET_PREFIX));
        assert.equal(sets.length, 1);
        setDir = path.join(target, sets[0]);
        assert.deepEqual(fs.readdirSync(setDir).sort(), [...BACKUP_SET_FILES].sort());
        const m = manifest(setDir);
        assert.equal(Number(m.etcdRevision), revision);
        assert.equal(m.keyFingerprint, FINGERPRINT);
        assert.equal(m.accountId, ACCOUNT_ID);
        assert.equal(m.sequence, "1");
        execFileSync("sha256sum", ["-c", BACKUP_FILES.sums], { cwd: setDir, stdio: "ignore" });

        // A transactionally consistent copy: rows 1..n without gaps, both tables of every commit, taken while rows kept arriving.
        const copy = path.join(tmp, "copy.db");
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

        assert.equal(m.signedBy, SIGNING_FINGERPRINT);
        const last = fs.readFileSync(lastSuccess(target), "utf8");
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
                env: { ...process.env, GNUPGHOME: path.join(tmp, "empty-gnupg") },
            });
            const packets = listed.stdout + listed.stderr;
            const subkey = /^sub:[^:]*:\d+:\d+:([0-9A-F]{16}):/m.exec(
                gpg.run(["--with-colons", "--list-keys", FINGERPRINT]),
            )![1];
            assert.match(packets, new RegExp(`:pubkey enc packet: .*keyid ${subkey}`));
        }
        const snapshot = path.join(tmp, "plain.snapshot");
        decrypt(path.join(setDir, BACKUP_FILES.etcd + ENCRYPTED_SUFFIX), snapshot);
        assert.ok(fs.readFileSync(snapshot).includes("/omni/resources/machine-07"));
        // The plain staging copies are gone.
        assert.ok(!fs.readdirSync(target).some((n) => n.startsWith(".partial-")));
    });

    it("without a public key (a library caller that gives none) writes a plain set, which restore takes only with allow-plain", async () => {
        const plainTarget = path.join(tmp, "target-plain");
        const run = await sh(backupScript({ targetDir: plainTarget, publicKeyFile: undefined, sqlitePath: small }), [
            "once",
        ]);
        assert.equal(run.code, 0, run.stderr);
        const set = setsIn(plainTarget)[0];
        assert.deepEqual(fs.readdirSync(path.join(plainTarget, set)).sort(), Object.values(BACKUP_FILES).sort());
        assert.ok(!/^encryptedTo=/m.test(fs.readFileSync(path.join(plainTarget, set, BACKUP_FILES.manifest), "utf8")));
        const refused = await sh(restoreScript(plainTarget), ["check", "latest", ...expect()], { stdin: restoreKeys });
        assert.equal(refused.code, 3);
        assert.match(refused.stderr, /refusing: set \S+ is not encrypted .*\n.*add --allow-plain/);
        const check = await sh(restoreScript(plainTarget), ["check", "latest", ...expect(["allow-plain"])], {
            stdin: signingPublicKey,
        });
        assert.equal(check.code, 0, check.stderr);
        assert.match(check.stderr, /warning \(allow-plain\): set \S+ is not encrypted/);
    });

    it("health passes after a success and fails once the last success is older than twice the interval", async () => {
        assert.equal((await sh(backupScript(), ["health"])).code, 0);
        const file = lastSuccess(target);
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
        const missing = path.join(data, "missing.db");
        const run = await sh(backupScript({ sqlitePath: missing }), ["once"], { asUser: true });
        assert.equal(run.code, 1);
        assert.match(run.stderr, new RegExp(`omni-hub-backup: FAILED at SQLite copy \\(VACUUM INTO\\) of ${missing}`));
        assert.match(fs.readFileSync(path.join(target, `last-failure-${ACCOUNT_ID}`), "utf8"), /^step=SQLite copy/m);
        assert.ok(fs.existsSync(setDir), "the good set is kept");
        assert.deepEqual(setsIn(target), [path.basename(setDir)], "no partial set is left behind");
        assert.deepEqual(plainCopies(local), [], "no plain copy is left behind");
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
        const s3Target = path.join(tmp, "target-s3");
        const credentials = path.join(tmp, "s3.curlrc");
        fs.writeFileSync(credentials, s3CurlConfig("AKIAOFFLINEEXAMPLE", "offline/example+secret"), { mode: 0o400 });
        try {
            const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/omni-backups/hub/quantum`;
            const run = await sh(
                backupScript({
                    targetDir: s3Target,
                    sqlitePath: small,
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

    it("bounds each step: an S3 endpoint that accepts and never answers fails the run at the step limit", async () => {
        // Accepts TCP connections and never answers, like a stuck proxy or a black-holed endpoint.
        const silent = net.createServer(() => undefined);
        await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
        const stuckTarget = path.join(tmp, "target-stuck");
        try {
            const url = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/omni-backups`;
            const run = await sh(
                backupScript({
                    targetDir: stuckTarget,
                    sqlitePath: small,
                    stepTimeoutSeconds: 3,
                    s3: { url, region: "us-east-1", credentialsFile: "/dev/null" },
                }),
                ["once"],
            );
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
        } finally {
            silent.close();
        }
    });

    it("orders this Omni's sets by their manifests, not their names: a clock that was ahead neither keeps a stale set nor prunes the newest", async () => {
        const ordered = path.join(tmp, "target-ordered");
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
        const run = await sh(backupScript({ targetDir: ordered, keep: 2, sqlitePath: small }), ["once"]);
        assert.equal(run.code, 0, run.stderr);
        const newest = /set=(\S+)/.exec(run.stdout)![1];
        assert.equal(manifest(path.join(ordered, newest)).sequence, "8");
        // The two oldest by sequence, then epoch, are pruned; the set of the clock that was ahead stays as older.
        assert.deepEqual(
            setsIn(ordered).sort(),
            [`${BACKUP_SET_PREFIX}20250101T000000Z`, `${BACKUP_SET_PREFIX}20990101T000000Z`, newest].sort(),
        );
        // `latest` is the newest by sequence, although its name sorts first.
        const check = await sh(restoreScript(ordered), ["check", "latest", ...expect()], { stdin: restoreKeys });
        assert.equal(check.code, 0, check.stderr);
        assert.match(check.stdout, new RegExp(`set ${newest} is complete .*signed by ${SIGNING_FINGERPRINT}`));
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
        const odd = path.join(tmp, "target-odd");
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
        const run = await sh(backupScript({ targetDir: odd, keep: 10, sqlitePath: small }), ["once"]);
        assert.equal(run.code, 0, run.stderr);
        const newest = /set=(\S+)/.exec(run.stdout)![1];
        assert.equal(manifest(path.join(odd, newest)).sequence, "11");
        assert.ok(!fs.existsSync(path.join(odd, `last-failure-${ACCOUNT_ID}`)));
        assert.equal((await sh(backupScript({ targetDir: odd, keep: 10 }), ["health"])).code, 0);
    });

    it("keeps the last set taken before Omni ran empty (a rebuild), says why in health, warns a restore of latest, and lets it go once restored", async () => {
        const rebuilt = path.join(tmp, "target-rebuild");
        const emptyData = path.join(tmp, "data-rebuilt");
        fs.mkdirSync(emptyData);
        const script = (o: Partial<Parameters<typeof hubBackupScript>[0]> = {}) =>
            backupScript({ targetDir: rebuilt, keep: 1, restoreRecord: path.join(emptyData, RESTORE_RECORD), ...o });
        const first = await sh(script({ sqlitePath: small }), ["once"]);
        assert.equal(first.code, 0, first.stderr);
        const good = /set=(\S+)/.exec(first.stdout)![1];
        // The rebuilt hub: an empty etcd and database, the same account id and target (what `up` before a restore gives).
        const empty = new Etcd(
            path.join(emptyData, "etcd"),
            await freePort(),
            await freePort(),
            path.join(tmp, "etcd-rebuilt.log"),
        );
        await empty.start();
        try {
            const emptyDb = path.join(emptyData, "omni.db");
            sql(emptyDb, "CREATE TABLE t(x);");
            const onEmpty = script({ etcdEndpoint: empty.endpoint, sqlitePath: emptyDb });
            for (let i = 0; i < 3; i++) {
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
            const check = await sh(restoreScript(rebuilt), ["check", "latest", ...expect()], { stdin: restoreKeys });
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
                { stdin: restoreKeys },
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
    });

    it("lets the operator release a set kept for a drop that was expected", async () => {
        const released = path.join(tmp, "target-release");
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

    it("while S3 refuses connections, local sets count toward keep, uploads wait (shown by health) and are retried without new sets", async () => {
        const down = path.join(tmp, "target-s3-down");
        // Nothing listens here until S3 is "back".
        const port = await freePort();
        const credentials = path.join(tmp, "s3-down.curlrc");
        fs.writeFileSync(credentials, s3CurlConfig("AKIAOFFLINEEXAMPLE", "offline/example+secret"), { mode: 0o400 });
        const script = backupScript({
            targetDir: down,
            keep: 2,
            sqlitePath: small,
            retrySeconds: 1,
            s3: { url: `http://127.0.0.1:${port}/omni-backups`, region: "us-east-1", credentialsFile: credentials },
        });
        for (let i = 0; i < 4; i++) {
            const r = await sh(script, ["once"]);
            assert.equal(r.code, 3, r.stderr);
            assert.match(r.stderr, /S3 upload of \S+ to \S+ failed \(curl: \(7\) Failed to connect/);
        }
        const sets = setsIn(down);
        assert.equal(sets.length, 2, "four runs, keep 2: two sets");
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

        // The loop: one set, then only the uploads are retried (every second here).
        let loop: ChildProcess | undefined;
        let log = "";
        const running = sh(script, ["run"], {
            started: (c) => {
                loop = c;
                c.stderr!.on("data", (d) => (log += d));
            },
        });
        await until(() => (log.match(/failed \(curl/g) ?? []).length >= 4);
        loop!.kill("SIGTERM");
        const stopped = await running;
        assert.equal(stopped.code, 0, stopped.stderr);
        assert.equal((stopped.stdout.match(/ ok set=/g) ?? []).length, 1, "one set for four upload attempts");
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
    });

    it("refuses a planted set (own snapshot, copied account id and fingerprint, high sequence) in check and restore of latest, signed or not", async () => {
        const planted = path.join(tmp, "target-planted");
        const genuine = path.basename(setDir);
        fs.cpSync(setDir, path.join(planted, genuine), { recursive: true });
        // The attacker's set: an etcd snapshot and a database of their own, encrypted to our (public) etcd key.
        const attacker = new GpgHome();
        try {
            const fake = `${BACKUP_SET_PREFIX}20991231T235959Z`;
            const dir = path.join(planted, fake);
            fs.mkdirSync(dir);
            const own = path.join(tmp, "attacker.snapshot");
            etcd.ctl("snapshot", "save", own);
            const ownDb = path.join(tmp, "attacker.db");
            sql(ownDb, "CREATE TABLE machine_logs(line); INSERT INTO machine_logs VALUES('planted');");
            attacker.run(["--import", publicKeyFile]);
            for (const [from, to] of [
                [own, BACKUP_FILES.etcd],
                [ownDb, BACKUP_FILES.sqlite],
            ])
                attacker.run([
                    "--trust-model",
                    "always",
                    "--recipient",
                    FINGERPRINT,
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
            const before = fs.readdirSync(data).sort();
            const attempt = async (pattern: RegExp) => {
                for (const mode of ["check", "restore"]) {
                    const r = await sh(restoreScript(planted), [mode, "latest", ...expect()], { stdin: restoreKeys });
                    assert.equal(r.code, 3, `${mode}: ${r.stderr}`);
                    assert.match(r.stderr, pattern);
                }
                assert.deepEqual(fs.readdirSync(data).sort(), before, "nothing changed");
            };
            await attempt(new RegExp(`refusing: set ${fake} is not signed .*nothing shows it comes from this hub`));
            // Our signature, copied from a genuine set, does not cover these checksums.
            fs.copyFileSync(path.join(setDir, BACKUP_FILES.signature), path.join(dir, BACKUP_FILES.signature));
            await attempt(
                new RegExp(
                    `set ${fake} is not signed by this hub's backup signing key ${SIGNING_FINGERPRINT} \\(no valid signature\\)`,
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
                    stdin: restoreKeys + attacker.exportPublic(theirs),
                });
                assert.equal(r.code, 3, r.stderr);
                assert.match(
                    r.stderr,
                    new RegExp(
                        `not signed by this hub's backup signing key ${SIGNING_FINGERPRINT} \\(signed by ${theirs}\\)`,
                    ),
                );
            }
            assert.deepEqual(fs.readdirSync(data).sort(), before, "nothing changed");
            // A genuine set copied under another name keeps its signature, but not its place in the order.
            const renamed = `${BACKUP_SET_PREFIX}20991230T000000Z`;
            fs.cpSync(setDir, path.join(planted, renamed), { recursive: true });
            const copy = await sh(restoreScript(planted), ["check", renamed, ...expect()], { stdin: restoreKeys });
            assert.equal(copy.code, 3);
            assert.match(
                copy.stderr,
                new RegExp(`the manifest of ${renamed} names the set ${genuine}: it was copied or renamed`),
            );
            // The genuine set, named, passes.
            const named = await sh(restoreScript(planted), ["check", genuine, ...expect()], { stdin: restoreKeys });
            assert.equal(named.code, 0, named.stderr);
        } finally {
            attacker.remove();
        }
    });

    describe("signals and concurrent runs", () => {
        let wrappers: string;
        let hold: string;
        const held = () => ({ PATH: `${wrappers}:${process.env.PATH}`, HOLD: hold });
        before(() => {
            // etcdctl whose snapshot, once saved (the plain copy in place), waits until the test lets it go.
            wrappers = path.join(tmp, "wrappers");
            fs.mkdirSync(wrappers);
            const real = execFileSync("sh", ["-c", "command -v etcdctl"], { encoding: "utf8" }).trim();
            fs.writeFileSync(
                path.join(wrappers, "etcdctl"),
                `#!/bin/sh
case " $* " in
  *" snapshot save "*) ${real} "$@" || exit $?; touch "$HOLD.taken"; while [ ! -e "$HOLD.go" ]; do sleep 0.1; done ;;
  *) exec ${real} "$@" ;;
esac
`,
                { mode: 0o755 },
            );
        });
        beforeEach(() => {
            hold = path.join(tmp, `hold-${Math.random().toString(36).slice(2)}`);
        });

        it("SIGTERM mid-snapshot (docker stop) leaves no plain etcd.snapshot and no partial set; what SIGKILL leaves goes at the next run", async () => {
            const signals = path.join(tmp, "target-signals");
            const loc = localDir("local-signals");
            const script = backupScript({ targetDir: signals, localDir: loc, sqlitePath: small });
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

        it("runs one at a time: a second run stops at the lock and leaves the first run's files alone", async () => {
            const busy = path.join(tmp, "target-busy");
            const loc = localDir("local-busy");
            const script = backupScript({ targetDir: busy, localDir: loc, sqlitePath: small });
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

    it("two hubs sharing a target each keep their own sets: retention, status and latest are per account id", async () => {
        const shared = path.join(tmp, "target-shared");
        const hubA = backupScript({ targetDir: shared, keep: 1, sqlitePath: small, localDir: localDir("local-a") });
        const hubB = backupScript({
            targetDir: shared,
            keep: 1,
            sqlitePath: small,
            accountId: OTHER_ACCOUNT_ID,
            localDir: localDir("local-b"),
        });
        for (let round = 0; round < 2; round++) {
            // At the same time: both may want the same set name in the same second.
            const [a, b] = await Promise.all([sh(hubA, ["once"]), sh(hubB, ["once"])]);
            assert.equal(a.code, 0, a.stderr);
            assert.equal(b.code, 0, b.stderr);
        }
        const owners = setsIn(shared).map((n) => manifest(path.join(shared, n)).accountId);
        assert.deepEqual(owners.sort(), [ACCOUNT_ID, OTHER_ACCOUNT_ID].sort());
        assert.ok(fs.existsSync(lastSuccess(shared)) && fs.existsSync(lastSuccess(shared, OTHER_ACCOUNT_ID)));
        const checkB = await sh(
            restoreScript(shared),
            ["check", "latest", FINGERPRINT, OTHER_ACCOUNT_ID, SIGNING_FINGERPRINT],
            { stdin: restoreKeys },
        );
        assert.equal(checkB.code, 0, checkB.stderr);
        assert.match(checkB.stdout, new RegExp(`account ${OTHER_ACCOUNT_ID}`));
    });

    it("restore refuses a set taken with another etcd key, or from an Omni with another account id, and changes nothing", async () => {
        const before = fs.readdirSync(data).sort();
        const run = await sh(
            restoreScript(),
            ["restore", "latest", OTHER_FINGERPRINT, ACCOUNT_ID, SIGNING_FINGERPRINT],
            { stdin: restoreKeys },
        );
        assert.equal(run.code, 3);
        assert.match(
            run.stderr,
            new RegExp(
                `refusing: set ${path.basename(setDir)} was taken with etcd key ${FINGERPRINT}, but the configured key is ${OTHER_FINGERPRINT}`,
            ),
        );
        const other = await sh(
            restoreScript(),
            ["restore", path.basename(setDir), FINGERPRINT, OTHER_ACCOUNT_ID, SIGNING_FINGERPRINT],
            { stdin: restoreKeys },
        );
        assert.equal(other.code, 3);
        assert.match(
            other.stderr,
            new RegExp(
                `refusing: set ${path.basename(setDir)} was taken from the Omni with account id ${ACCOUNT_ID}, but the Omni to restore runs with --account-id ${OTHER_ACCOUNT_ID}`,
            ),
        );
        const noKey = await sh(restoreScript(), ["check", "latest", ...expect()], { stdin: signingPublicKey });
        assert.equal(noKey.code, 4);
        assert.match(noKey.stderr, /could not read the etcd secret key/);
        assert.deepEqual(fs.readdirSync(data).sort(), before);
    });

    it("restores after the data directory is destroyed: decrypts the set, etcd and SQLite read back as of the backup, old data kept aside", async () => {
        const m = manifest(setDir);
        // Written after the backup: must not come back.
        etcd.ctl("put", "/omni/resources/after-backup", "too late");
        await stopWriter();
        await etcd.stop();
        const liveRows = Number(sql(path.join(data, "omni.db"), "SELECT count(*) FROM machine_logs;"));
        fs.rmSync(path.join(data, "etcd"), { recursive: true, force: true });

        // The fingerprint as gpg prints it (spaced groups) matches too.
        const spaced = FINGERPRINT.replace(/(.{4})/g, "$1 ").trim();
        const run = await sh(
            restoreScript(),
            ["restore", path.basename(setDir), spaced, ACCOUNT_ID, SIGNING_FINGERPRINT],
            { stdin: restoreKeys },
        );
        timings.restore = run.ms;
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, new RegExp(`restored ${path.basename(setDir)} \\(etcd revision ${m.etcdRevision}\\)`));

        const aside = fs.readdirSync(data).filter((n) => n.startsWith("pre-restore-"));
        assert.equal(aside.length, 1);
        assert.ok(fs.existsSync(path.join(data, aside[0], "omni.db")), "the replaced SQLite database is kept aside");
        assert.equal(Number(sql(path.join(data, aside[0], "omni.db"), "SELECT count(*) FROM machine_logs;")), liveRows);

        const started = Date.now();
        await etcd.start();
        timings.etcdStartOnRestoredDir = Date.now() - started;
        assert.equal(etcd.revision(), Number(m.etcdRevision));
        const restored = etcd.ctl("get", "/omni/resources/", "--prefix", "--keys-only").split("\n").filter(Boolean);
        assert.deepEqual(restored, keys);
        assert.equal(etcd.ctl("get", keys[7], "--print-value-only").trim(), `spec of ${keys[7]}`);

        const db = path.join(data, "omni.db");
        const copyRows = sql(path.join(tmp, "copy.db"), "SELECT count(*) FROM machine_logs;");
        assert.equal(sql(db, "SELECT count(*) FROM machine_logs;"), copyRows);
        assert.ok(Number(copyRows) < liveRows, "the restored database is the backup, not the later live one");
        assert.equal(sql(db, "PRAGMA integrity_check;"), "ok");
        // What the backup reads to know the drops before this set are recovered from.
        assert.match(
            fs.readFileSync(path.join(data, RESTORE_RECORD), "utf8"),
            new RegExp(`^sequence=${m.sequence}$`, "m"),
        );
    });
});

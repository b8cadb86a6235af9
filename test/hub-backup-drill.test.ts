import { strict as assert } from "node:assert";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import {
    BACKUP_FILES,
    BACKUP_SET_PREFIX,
    hubBackupScript,
    hubRestoreScript,
    s3CurlConfig,
} from "../components/hub/backup-render";
import { requireTools } from "./tools";

/**
 * The restore drill: the same scripts the backup container and `npm run restore` run, against a real etcd on a
 * loopback port and a real SQLite database that a writer keeps writing during the backup. The etcd is started the
 * way Omni starts its embedded one (siderolabs/omni v1.10.4 internal/backend/runtime/omni/state_etcd.go:
 * embed.NewConfig defaults, so member "default" advertising http://localhost:2380, listening for clients on the
 * --etcd-endpoints URL), here on free loopback ports.
 */

const FINGERPRINT = "0123456789ABCDEF0123456789ABCDEF01234567";
const OTHER_FINGERPRINT = "FEDCBA9876543210FEDCBA9876543210FEDCBA98";

interface Run {
    code: number;
    stdout: string;
    stderr: string;
    ms: number;
}

/** Runs a script with sh, asynchronously (the SQLite writer keeps writing meanwhile). */
function sh(script: string, args: string[], opts: { asUser?: boolean } = {}): Promise<Run> {
    const started = Date.now();
    // As root, run like the container does against a read-only mount: as a user who cannot write Omni's files.
    const argv =
        opts.asUser && process.getuid?.() === 0
            ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-s", "--", ...args]
            : ["sh", "-s", "--", ...args];
    return new Promise((resolve, reject) => {
        const child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
        child.stdin.end(script);
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
            ...overrides,
        });
    const restoreScript = () =>
        hubRestoreScript({
            dataDir: data,
            etcdDir: `${path.join(data, "etcd")}/`,
            sqlitePath: path.join(data, "omni.db"),
            setsDir: target,
        });

    before(async function () {
        requireTools(this, ["etcd", "etcdctl", "sqlite3", "curl"], "the hub backup restore drill");
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hub-backup-drill-"));
        // Traversable by the unprivileged user the backup runs as; Omni's data stays root's and read-only to it.
        fs.chmodSync(tmp, 0o755);
        data = path.join(tmp, "data");
        target = path.join(tmp, "target");
        fs.mkdirSync(data);
        fs.mkdirSync(target);
        if (process.getuid?.() === 0) fs.chownSync(target, 65534, 65534);
        etcd = new Etcd(path.join(data, "etcd"), await freePort(), await freePort(), path.join(tmp, "etcd.log"));
        await etcd.start();
        for (const key of keys) etcd.ctl("put", key, `spec of ${key}`);

        // Omni's SQLite settings (WAL, synchronous NORMAL: omni v1.10.4 schema.json sqlite experimentalBaseParams), one open
        // connection inserting about 100 rows a second for the whole backup.
        const db = path.join(data, "omni.db");
        sql(db, "PRAGMA journal_mode=WAL; CREATE TABLE machine_logs(id INTEGER PRIMARY KEY, line TEXT NOT NULL);");
        writer = spawn(
            "sh",
            [
                "-c",
                `(i=0; while :; do i=$((i+1)); echo "INSERT INTO machine_logs(line) VALUES('line $i');"; sleep 0.01; done) | sqlite3 '${db}'`,
            ],
            { stdio: "ignore", detached: true },
        );
        await sleep(500);
    });

    after(async () => {
        if (writer?.pid) process.kill(-writer.pid, "SIGTERM");
        await etcd?.stop();
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
        if (Object.keys(timings).length) process.stdout.write(`      drill timings (ms): ${JSON.stringify(timings)}\n`);
    });

    it("takes a set while SQLite is being written: verified snapshot, consistent SQLite copy, manifest, checksums", async () => {
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
        assert.deepEqual(fs.readdirSync(setDir).sort(), Object.values(BACKUP_FILES).sort());
        const m = manifest(setDir);
        assert.equal(Number(m.etcdRevision), revision);
        assert.equal(m.keyFingerprint, FINGERPRINT);
        assert.equal(Number(m.sqliteBytes), fs.statSync(path.join(setDir, BACKUP_FILES.sqlite)).size);
        execFileSync("sha256sum", ["-c", BACKUP_FILES.sums], { cwd: setDir, stdio: "ignore" });

        // A transactionally consistent copy: rows 1..n without gaps, taken while rows kept arriving.
        const copy = path.join(setDir, BACKUP_FILES.sqlite);
        assert.equal(sql(copy, "PRAGMA integrity_check;"), "ok");
        assert.equal(sql(copy, "PRAGMA journal_mode;"), "delete");
        const [count, max] = sql(copy, "SELECT count(*), max(id) FROM machine_logs;").split("|").map(Number);
        assert.equal(count, max);
        assert.ok(count >= rowsBefore, `copy has ${count} rows, the database had ${rowsBefore} before the backup`);
        assert.ok(!fs.existsSync(`${copy}-wal`));

        const last = fs.readFileSync(path.join(target, "last-success"), "utf8");
        assert.match(last, new RegExp(`^set=${sets[0]}$`, "m"));
        assert.match(last, /^s3=off$/m);
    });

    it("health passes after a success and fails once the last success is older than twice the interval", async () => {
        assert.equal((await sh(backupScript(), ["health"])).code, 0);
        const lastSuccess = path.join(target, "last-success");
        const saved = fs.readFileSync(lastSuccess, "utf8");
        try {
            const old = Math.floor(Date.now() / 1000) - 2 * 3600 - 5;
            fs.writeFileSync(lastSuccess, saved.replace(/^epoch=\d+$/m, `epoch=${old}`));
            const stale = await sh(backupScript(), ["health"]);
            assert.equal(stale.code, 1);
            assert.match(stale.stdout, /more than twice the interval \(3600s\)/);
            fs.rmSync(lastSuccess);
            assert.match((await sh(backupScript(), ["health"])).stdout, /no backup has succeeded yet/);
        } finally {
            fs.writeFileSync(lastSuccess, saved);
        }
    });

    it("records a failure (log line, last-failure), leaves no partial set and keeps the last good one", async () => {
        const missing = path.join(data, "missing.db");
        const run = await sh(backupScript({ sqlitePath: missing }), ["once"], { asUser: true });
        assert.equal(run.code, 1);
        assert.match(run.stderr, new RegExp(`omni-hub-backup: FAILED at SQLite online backup of ${missing}`));
        assert.match(fs.readFileSync(path.join(target, "last-failure"), "utf8"), /^step=SQLite online backup/m);
        assert.ok(fs.existsSync(setDir), "the good set is kept");
        assert.ok(!fs.readdirSync(target).some((n) => n.startsWith(".partial-")), "no partial set is left behind");
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
                    s3: { url, region: "eu-central-1", credentialsFile: credentials },
                }),
                ["once"],
            );
            assert.equal(run.code, 0, run.stderr);
            assert.match(run.stdout, / s3=uploaded /);
            const set = fs.readdirSync(s3Target).find((n) => n.startsWith(BACKUP_SET_PREFIX))!;
            assert.deepEqual(
                puts.map((p) => p.url).sort(),
                Object.values(BACKUP_FILES)
                    .map((f) => `/omni-backups/hub/quantum/${set}/${f}`)
                    .sort(),
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

    it("restore refuses a set taken with another etcd key and changes nothing", async () => {
        const before = fs.readdirSync(data).sort();
        const run = await sh(restoreScript(), ["restore", "latest", OTHER_FINGERPRINT]);
        assert.equal(run.code, 3);
        assert.match(
            run.stderr,
            new RegExp(
                `refusing: set ${path.basename(setDir)} was taken with etcd key ${FINGERPRINT}, but the configured key is ${OTHER_FINGERPRINT}`,
            ),
        );
        assert.deepEqual(fs.readdirSync(data).sort(), before);
    });

    it("restores after the data directory is destroyed: etcd and SQLite read back as of the backup, old data kept aside", async () => {
        const m = manifest(setDir);
        // Written after the backup: must not come back.
        etcd.ctl("put", "/omni/resources/after-backup", "too late");
        if (writer?.pid) process.kill(-writer.pid, "SIGTERM");
        writer = undefined;
        await etcd.stop();
        const liveRows = Number(sql(path.join(data, "omni.db"), "SELECT count(*) FROM machine_logs;"));
        fs.rmSync(path.join(data, "etcd"), { recursive: true, force: true });

        // The fingerprint as gpg prints it (spaced groups) matches too.
        const spaced = FINGERPRINT.replace(/(.{4})/g, "$1 ").trim();
        const run = await sh(restoreScript(), ["restore", path.basename(setDir), spaced]);
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
        const copyRows = sql(path.join(setDir, BACKUP_FILES.sqlite), "SELECT count(*) FROM machine_logs;");
        assert.equal(sql(db, "SELECT count(*) FROM machine_logs;"), copyRows);
        assert.ok(Number(copyRows) < liveRows, "the restored database is the backup, not the later live one");
        assert.equal(sql(db, "PRAGMA integrity_check;"), "ok");
    });
});

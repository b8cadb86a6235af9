import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
    BACKUP_FILES,
    BACKUP_SET_PREFIX,
    RESTORE_RECORD,
    hubBackupScript,
    hubRestoreScript,
} from "../components/hub/backup-render";
import { GpgHome, providerMadeKey } from "./keys";
import { freePort, requireTools } from "./tools";

/**
 * What the restore drill's two files share (hub-backup-drill.test.ts: the set taken while a 40 MB database is
 * written, and its restore; hub-backup-drill-small.test.ts: retention, S3, signals and two hubs on a small database,
 * run beside it by mocha's workers): the same scripts the backup container and `npm run restore` run, against a real
 * etcd on a loopback port. The etcd is started the way Omni starts its embedded one (siderolabs/omni v1.10.4
 * internal/backend/runtime/omni/state_etcd.go: embed.NewConfig defaults, so member "default" advertising
 * http://localhost:2380, listening for clients on the --etcd-endpoints URL), here on free loopback ports.
 */

export const OTHER_FINGERPRINT = "FEDCBA9876543210FEDCBA9876543210FEDCBA98";
export const ACCOUNT_ID = "6f1c2b9e-7d3a-4c5b-9e8f-0a1b2c3d4e5f";
export const OTHER_ACCOUNT_ID = "0d2f4b6a-8c1e-4f3a-a5b7-c9d1e3f5a7b9";

export interface Run {
    code: number;
    stdout: string;
    stderr: string;
    ms: number;
}

/** Runs a script with sh, asynchronously (the SQLite writer keeps writing meanwhile); `stdin` is what it reads. */
export function sh(
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

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for a condition (mocha's timeout bounds the wait). */
export async function until(condition: () => boolean): Promise<void> {
    while (!condition()) await sleep(50);
}

export class Etcd {
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

export function manifest(dir: string): Record<string, string> {
    return Object.fromEntries(
        fs
            .readFileSync(path.join(dir, BACKUP_FILES.manifest), "utf8")
            .trim()
            .split("\n")
            .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    );
}

export function sql(db: string, query: string): string {
    return execFileSync("sqlite3", [db, query], { encoding: "utf8" }).trim();
}

/** What runs left in a container-local directory: their temporary directories, or an etcd snapshot anywhere. */
export const plainCopies = (dir: string) =>
    (fs.readdirSync(dir, { recursive: true }) as string[]).filter(
        (n) => n.startsWith("run.") || n.includes(BACKUP_FILES.etcd),
    );
export const setsIn = (dir: string) => fs.readdirSync(dir).filter((n) => n.startsWith(BACKUP_SET_PREFIX));
export const lastSuccess = (dir: string, account = ACCOUNT_ID) => path.join(dir, `last-success-${account}`);

/**
 * One drill's hub: its keys, a running etcd holding 25 resources (written in one transaction), a target directory, and a small database for
 * the drills where only the set's handling matters (every step ends at once). Call setUp in a `before`, tearDown in
 * an `after`.
 */
export class Drill {
    tmp!: string;
    /** Omni's data directory: etcd's data and, where a file makes one, omni.db. */
    data!: string;
    target!: string;
    etcd!: Etcd;
    gpg!: GpgHome;
    /** The etcd key as Omni's docs make it with gpg: a certify-only primary key and an encryption subkey. */
    fingerprint!: string;
    publicKeyFile!: string;
    /** The backup's signing key, made as `pulumi up` makes it (OmniEtcdKey's provider: OpenPGP.js, RSA-4096; keys.ts). */
    signingFingerprint!: string;
    signingKeyFile!: string;
    signingPublicKey!: string;
    /** What the restore reads on stdin: the etcd secret key (from Omni) and the signing key's public part (from the backup). */
    restoreKeys!: string;
    local!: string;
    small!: string;
    readonly keys = Array.from({ length: 25 }, (_, i) => `/omni/resources/machine-${String(i).padStart(2, "0")}`);

    /** `meanwhile` runs once the directories and etcd are there, while the signing key is still being made. */
    async setUp(ctx: Mocha.Context, meanwhile: () => void = () => undefined): Promise<void> {
        // The signing key is RSA-4096, generated in JavaScript as at `pulumi up` (when none is kept): seconds on a
        // loaded machine. Node makes it on its thread pool, so gpg, etcd and `meanwhile` run in the meantime.
        ctx.timeout(180000);
        requireTools(ctx, ["etcd", "etcdctl", "sqlite3", "curl", "gpg", "timeout"], "the hub backup restore drill");
        const signingKey = providerMadeKey({ name: "omni-scale hub backup" }).then((k) => k.outs);
        // Awaited below; until then a rejection must not count as unhandled.
        signingKey.catch(() => undefined);
        this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hub-backup-drill-"));
        // Traversable by the unprivileged user the backup runs as; Omni's data stays root's and read-only to it.
        fs.chmodSync(this.tmp, 0o755);
        this.data = path.join(this.tmp, "data");
        this.target = path.join(this.tmp, "target");
        fs.mkdirSync(this.data);
        fs.mkdirSync(this.target);
        if (process.getuid?.() === 0) fs.chownSync(this.target, 65534, 65534);
        this.gpg = new GpgHome();
        this.fingerprint = this.gpg.certifyOnlyKey("Omni drill <omni@example.invalid>");
        this.gpg.addEncryptionSubkey(this.fingerprint);
        const secretKey = this.gpg.exportSecret(this.fingerprint);
        this.publicKeyFile = path.join(this.tmp, "etcd-public.asc");
        fs.writeFileSync(this.publicKeyFile, this.gpg.exportPublic(this.fingerprint), { mode: 0o644 });
        this.local = this.localDir("local");

        this.etcd = new Etcd(
            path.join(this.data, "etcd"),
            await freePort(),
            await freePort(),
            path.join(this.tmp, "etcd.log"),
        );
        await this.etcd.start();
        // One etcdctl for all 25 (a transaction of puts) instead of a process per key.
        execFileSync("etcdctl", ["--endpoints", this.etcd.endpoint, "txn"], {
            input: `\n${this.keys.map((key) => `put ${key} "spec of ${key}"\n`).join("")}\n\n`,
            stdio: ["pipe", "ignore", "inherit"],
        });

        this.small = path.join(this.tmp, "small.db");
        sql(this.small, "CREATE TABLE t(x); INSERT INTO t VALUES(1);");
        meanwhile();

        const signing = await signingKey;
        this.signingFingerprint = signing.fingerprint;
        this.signingKeyFile = path.join(this.tmp, "signing-key.asc");
        // Readable by the unprivileged user the drill runs the backup as (in the container: root, 0400).
        fs.writeFileSync(this.signingKeyFile, signing.armoredPrivateKey, { mode: 0o644 });
        this.signingPublicKey = signing.armoredPublicKey;
        this.restoreKeys = secretKey + this.signingPublicKey;
    }

    async tearDown(): Promise<void> {
        await this.etcd?.stop();
        this.gpg?.remove();
        if (this.tmp) fs.rmSync(this.tmp, { recursive: true, force: true });
    }

    backupScript = (overrides: Partial<Parameters<typeof hubBackupScript>[0]> = {}) =>
        hubBackupScript({
            etcdEndpoint: this.etcd.endpoint,
            sqlitePath: path.join(this.data, "omni.db"),
            targetDir: this.target,
            intervalSeconds: 3600,
            keep: 2,
            keyFingerprint: this.fingerprint,
            publicKeyFile: this.publicKeyFile,
            accountId: ACCOUNT_ID,
            signingKeyFile: this.signingKeyFile,
            signingFingerprint: this.signingFingerprint,
            localDir: this.local,
            restoreRecord: path.join(this.data, RESTORE_RECORD),
            // Generous: a copy that restarts on every commit (the old `.backup`) never finishes and fails here.
            stepTimeoutSeconds: 60,
            ...overrides,
        });

    restoreScript = (setsDir = this.target) =>
        hubRestoreScript({
            dataDir: this.data,
            etcdDir: `${path.join(this.data, "etcd")}/`,
            sqlitePath: path.join(this.data, "omni.db"),
            setsDir,
        });

    /** The restore's arguments after the set: the etcd key, Omni's account id, the signing key (what the host script passes). */
    expect = (extra: string[] = []) => [this.fingerprint, ACCOUNT_ID, this.signingFingerprint, ...extra];

    /** A container-local directory (lock, plain copies) the unprivileged backup user owns. */
    localDir = (name: string) => {
        const dir = path.join(this.tmp, name);
        fs.mkdirSync(dir);
        if (process.getuid?.() === 0) fs.chownSync(dir, 65534, 65534);
        return dir;
    };

    /** Decrypts a set's file with the etcd secret key, as the restore does (real gpg). */
    decrypt = (file: string, out: string) =>
        this.gpg.run(["--trust-model", "always", "--output", out, "--decrypt", file]);
}

import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
    BACKUP_FILES,
    BACKUP_SET_PREFIX,
    EMBEDDED_ETCD,
    HUB_BACKUP_IMAGES,
    HubBackupSettingsSchema,
    OMNI_ETCD_ENDPOINT,
    etcdToolsProblem,
    hubBackupBuildScript,
    hubBackupDockerfile,
    hubBackupHealthcheck,
    hubBackupImageTag,
    hubBackupWarnings,
    hubRestoreHostScript,
    HubRestoreHostParams,
    hubRestoreScript,
    hubBackupScript,
    STEP_KILL_AFTER,
    s3BaseUrl,
    s3CurlConfig,
} from "../components/hub/backup-render";
import { backupTargetProblem, hubBackupPaths } from "../components/hub/backup-rules";
import { parseImageRef } from "../components/core/images";
import { OmniHubSettingsSchema } from "../components/hub/settings";
import { omniContainerPaths } from "../components/hub/omni-flags";
import { ConfigError, parseOrThrow } from "../components/core/validation";
import { hubSettings } from "./fixtures/settings";
import { requireTools } from "./tools";

const facts = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/hub-backup/upstream-facts.json"), "utf8"));
const omniSchema = fs.readFileSync(path.join(__dirname, "fixtures/upstream/omni-config.schema.v1.10.4.json"), "utf8");

const parse = (backup: unknown) => parseOrThrow(HubBackupSettingsSchema, backup, "omni-scale:hub.backup");
function issuesOf(backup: unknown): string {
    try {
        parse(backup);
    } catch (e) {
        if (e instanceof ConfigError) return e.message;
        throw e;
    }
    assert.fail("expected a ConfigError");
}

describe("hub backup render: upstream facts (test/fixtures/hub-backup/upstream-facts.json)", () => {
    it("targets the embedded etcd's client endpoint: Omni's --etcd-endpoints default (siderolabs/omni v1.10.4 schema.json, state_etcd.go)", () => {
        assert.equal(facts.omni.etcdEndpoints.flag, "etcd-endpoints");
        assert.equal(OMNI_ETCD_ENDPOINT, facts.omni.etcdEndpoints.default[0]);
        // The flags this relies on exist in the vendored config schema of the same tag.
        for (const flag of [
            facts.omni.etcdEndpoints.flag,
            facts.omni.flags.etcdEmbeddedDbPath.flag,
            facts.omni.flags.sqliteStoragePath.flag,
        ]) {
            assert.ok(
                omniSchema.includes(`"x-cli-flag": "${flag}"`),
                `--${flag} is not in omni-config.schema.v1.10.4.json`,
            );
        }
        assert.ok(omniContainerPaths.etcd.endsWith(facts.omni.flags.etcdEmbeddedDbPath.default));
    });

    it("uses etcd tools of the embedded etcd's version (siderolabs/omni v1.10.4 go.mod) from its published image", () => {
        assert.equal(facts.omni.embeddedEtcd.module, "go.etcd.io/etcd/server/v3");
        assert.equal(EMBEDDED_ETCD[facts.omni.tag], facts.omni.embeddedEtcd.version);
        const ref = parseImageRef(HUB_BACKUP_IMAGES.etcd);
        assert.equal(ref.tag, facts.etcd.tag);
        assert.ok(facts.etcd.publishedImages.repositories.includes(ref.repository));
        assert.equal(etcdToolsProblem(facts.omni.tag, HUB_BACKUP_IMAGES.etcd), undefined);
    });

    it("builds on another base because the etcd image has no shell (etcd-io/etcd v3.7.1 Dockerfile), copying its tools", () => {
        assert.equal(facts.etcd.image.shell, false);
        const dockerfile = hubBackupDockerfile({
            etcdImage: HUB_BACKUP_IMAGES.etcd,
            baseImage: HUB_BACKUP_IMAGES.base,
        });
        assert.match(dockerfile, new RegExp(`^FROM ${HUB_BACKUP_IMAGES.etcd} AS etcd$`, "m"));
        assert.match(dockerfile, new RegExp(`^FROM ${HUB_BACKUP_IMAGES.base}$`, "m"));
        for (const tool of ["etcdctl", "etcdutl"]) {
            const binary = facts.etcd.image.binaries.find((b: string) => b.endsWith(`/${tool}`));
            assert.ok(binary && dockerfile.includes(binary), `${tool} is not copied from ${binary}`);
        }
        assert.match(dockerfile, /apk add --no-cache sqlite curl/);
    });

    it("restores a member named and advertised as Omni's embedded etcd is (embed.NewConfig defaults, etcd v3.7.1)", () => {
        const script = hubRestoreScript({
            dataDir: "/_out",
            etcdDir: "/_out/etcd/",
            sqlitePath: "/_out/omni.db",
            setsDir: "/backup",
        });
        const d = facts.etcd.embedDefaults;
        assert.match(script, new RegExp(`--name ${d.name} `));
        assert.ok(
            script.includes(
                `--initial-cluster ${d.initialCluster} --initial-advertise-peer-urls ${d.initialAdvertisePeerUrls}`,
            ),
        );
        assert.match(script, /^ETCD_DIR='\/_out\/etcd'$/m);
    });

    it("bounds each step with busybox's timeout -k and locks with flock -n (mirror/busybox 1_36_1 coreutils/timeout.c, util-linux/flock.c)", () => {
        const script = hubBackupScript({
            etcdEndpoint: OMNI_ETCD_ENDPOINT,
            sqlitePath: "/_out/omni.db",
            targetDir: "/backup",
            intervalSeconds: 3600,
            keep: 2,
            keyFingerprint: "ABCD",
        });
        assert.equal(facts.busybox.timeout.usage, "[-s SIG] [-k KILL_SECS] SECS PROG ARGS");
        // TERM at the limit, KILL STEP_KILL_AFTER seconds later if the step ignored it.
        assert.match(script, /^ {2}timeout -k "\$KILL_AFTER" "\$STEP_TIMEOUT" "\$@" 9>&- &$/m);
        assert.match(script, new RegExp(`^KILL_AFTER=${STEP_KILL_AFTER}$`, "m"));
        assert.match(facts.busybox.flock.usage, /\[-sxun\] FD/);
        assert.match(script, /^ {2}if ! flock -n 9; then$/m);
    });

    it("takes the signer from VALIDSIG's last field, the primary key's fingerprint (GnuPG 2.2.40 doc/DETAILS)", () => {
        assert.equal(facts.gnupg.validsig.at(-1), "primary-key-fpr");
        const script = hubRestoreScript({
            dataDir: "/_out",
            etcdDir: "/_out/etcd/",
            sqlitePath: "/_out/omni.db",
            setsDir: "/backup",
        });
        assert.ok(script.includes(`awk '$2 == "VALIDSIG" { print $NF }'`));
    });
});

describe("hub backup render: settings", () => {
    it("fills defaults: every 6h, 28 sets, pinned tools", () => {
        const s = parse({ targetDir: "/mnt/nas/omni-hub-backups" });
        assert.deepEqual(s, {
            interval: "6h",
            keep: 28,
            paused: false,
            targetDir: "/mnt/nas/omni-hub-backups",
            etcdImage: HUB_BACKUP_IMAGES.etcd,
            baseImage: HUB_BACKUP_IMAGES.base,
        });
    });

    it("is the optional hub.backup section, distinct from etcdBackup (the managed clusters' backups)", () => {
        const hub = parseOrThrow(
            OmniHubSettingsSchema,
            { ...hubSettings, backup: { targetDir: "/srv/omni-hub" }, etcdBackup: { localPath: "/srv/omni-etcd" } },
            "omni-scale:hub",
        );
        assert.equal(hub.backup?.targetDir, "/srv/omni-hub");
        assert.equal(hub.etcdBackup?.localPath, "/srv/omni-etcd");
        assert.equal(parseOrThrow(OmniHubSettingsSchema, hubSettings, "omni-scale:hub").backup, undefined);
    });

    it("refuses a target inside Docker's data root, naming the key, the value and the fix", () => {
        const message = issuesOf({ targetDir: "/var/lib/docker/volumes/omni-data/_data/backups" });
        assert.match(
            message,
            /omni-scale:hub\.backup\.targetDir \(got "\/var\/lib\/docker\/volumes\/omni-data\/_data\/backups"\)/,
        );
        assert.match(message, /lost with it; use another disk or a NAS mount/);
    });

    it("refuses intervals under a minute, unpinned images, keep 0, plain-http or pathful S3 endpoints and slashes around the prefix", () => {
        assert.match(issuesOf({ targetDir: "/srv/b", interval: "30s" }), /hub\.backup\.interval.*at least 1m/);
        assert.match(issuesOf({ targetDir: "/srv/b", keep: 0 }), /hub\.backup\.keep/);
        assert.match(
            issuesOf({ targetDir: "/srv/b", etcdImage: "gcr.io/etcd-development/etcd:latest" }),
            /hub\.backup\.etcdImage.*"latest"/,
        );
        assert.match(
            issuesOf({ targetDir: "/srv/b", s3: { bucket: "b-1", endpoint: "http://minio.lan:9000" } }),
            /hub\.backup\.s3\.endpoint.*https/,
        );
        assert.match(
            issuesOf({ targetDir: "/srv/b", s3: { bucket: "b-1", endpoint: "https://minio.lan:9000/b-1" } }),
            /no path/,
        );
        assert.match(
            issuesOf({
                targetDir: "/srv/b",
                s3: { bucket: "b-1", endpoint: "https://minio.lan:9000", prefix: "/hub/" },
            }),
            /hub\.backup\.s3\.prefix/,
        );
        assert.match(
            issuesOf({ targetDir: "/srv/b", s3: { bucket: "B", endpoint: "https://minio.lan:9000" } }),
            /hub\.backup\.s3\.bucket/,
        );
        assert.match(issuesOf({ targetDir: "/srv/b", accessKey: "x" }), /hub\.backup\.accessKey.*unknown key/);
    });

    it("builds path-style S3 URLs", () => {
        const s = parse({
            targetDir: "/srv/b",
            s3: { bucket: "omni-backups", prefix: "hub/quantum", endpoint: "https://s3.eu-central-1.amazonaws.com" },
        });
        assert.equal(s3BaseUrl(s.s3!), "https://s3.eu-central-1.amazonaws.com/omni-backups/hub/quantum");
        assert.equal(s.s3!.region, "us-east-1");
    });
});

describe("hub backup render: rules", () => {
    it("backupTargetProblem names the Omni data volume when the target is inside it, after normalizing the path", () => {
        assert.match(
            backupTargetProblem("/var/lib/docker/volumes/omni-data/_data/", "omni-data")!,
            /inside the Omni data volume omni-data/,
        );
        assert.match(backupTargetProblem("/var/lib/docker/../docker/volumes/other/_data")!, /Docker's data root/);
        assert.match(backupTargetProblem("/")!, /root directory/);
        assert.equal(backupTargetProblem("/mnt/nas/omni-hub-backups", "omni-data"), undefined);
        assert.equal(backupTargetProblem("/var/lib/dockerish"), undefined);
    });

    it("etcdToolsProblem wants the embedded etcd's minor version and stays silent for an Omni it does not know", () => {
        assert.equal(etcdToolsProblem("v1.10.4", "quay.io/coreos/etcd:v3.7.3"), undefined);
        assert.match(
            etcdToolsProblem("v1.10.4", "gcr.io/etcd-development/etcd:v3.6.5")!,
            /embeds etcd v3\.7\.1, but the image has etcd v3\.6\.5/,
        );
        assert.equal(etcdToolsProblem("v1.99.0", "gcr.io/etcd-development/etcd:v3.6.5"), undefined);
    });

    it("tags the image by its Dockerfile, so a new pin builds a new image", () => {
        const a = hubBackupDockerfile({ etcdImage: HUB_BACKUP_IMAGES.etcd, baseImage: "alpine:3.23.0" });
        const b = hubBackupDockerfile({ etcdImage: HUB_BACKUP_IMAGES.etcd, baseImage: "alpine:3.23.2" });
        assert.match(
            hubBackupImageTag(a, HUB_BACKUP_IMAGES.etcd),
            /^omni-scale\/hub-backup:etcd-v3\.7\.1-[0-9a-f]{12}$/,
        );
        assert.notEqual(hubBackupImageTag(a, HUB_BACKUP_IMAGES.etcd), hubBackupImageTag(b, HUB_BACKUP_IMAGES.etcd));
        assert.match(
            hubBackupBuildScript(a, "omni-scale/hub-backup:x"),
            /^docker build --tag 'omni-scale\/hub-backup:x' - <<'OMNI_HUB_BACKUP_DOCKERFILE'\nFROM /,
        );
    });

    it("keeps S3 credentials in a curl config (quoted), never on a command line", () => {
        assert.equal(s3CurlConfig("AKIAOFFLINE", 'se"cr\\et'), 'user = "AKIAOFFLINE:se\\"cr\\\\et"\n');
        assert.throws(() => s3CurlConfig("AKIA:X", "s"), /no colon/);
    });

    it("checks health with the script itself, after a start period for the first set", () => {
        const hc = hubBackupHealthcheck(21600);
        assert.deepEqual(hc.tests, ["CMD", hubBackupPaths.script, "health"]);
        assert.equal(hc.startPeriod, "1800s");
    });

    it("warns when backups are on but the etcd key exists only in the state, or the Omni version's etcd is unknown", () => {
        const backup = parse({ targetDir: "/srv/b" });
        assert.match(
            hubBackupWarnings({ omniVersion: "v1.10.4", backup }, false).join("\n"),
            /exists only in its state and on the hub: export it now/,
        );
        assert.deepEqual(hubBackupWarnings({ omniVersion: "v1.10.4", backup }, true), []);
        assert.deepEqual(hubBackupWarnings({ omniVersion: "v1.10.4" }, false), []);
        assert.match(
            hubBackupWarnings({ omniVersion: "v1.11.0", backup }, true).join("\n"),
            /not recorded .*EMBEDDED_ETCD/,
        );
    });
});

describe("hub backup render: the restore command's host script (docker stubbed)", () => {
    let tmp: string;
    const params = {
        omniContainer: "omni",
        backupContainer: "omni-backup",
        targetDir: "/mnt/nas/omni-hub-backups",
        omniPaths: omniContainerPaths,
    };

    before(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hub-restore-host-"));
        // Records each call on one line; `run` saves what it is given on stdin (the keys) and exits with RUN_EXIT_<mode>;
        // `cp` answers with a tar of the key file, as docker cp does; `volume inspect` fails for MISSING_VOLUME; the
        // call named by HANG never answers (a hung daemon).
        fs.writeFileSync(
            path.join(tmp, "docker"),
            `#!/bin/sh
line=$(printf '%s' "$*" | tr '\\n' ' '); printf "%s\\n" "$line" >> "$STUB_LOG"
[ "$1" != "\${HANG:-}" ] || exec sleep 600
case "$1" in
  inspect) case "$3" in *signing-key*) echo SIGNER-DEPLOYED ;; *Labels*) echo FPR-DEPLOYED ;; *) echo omni-scale/hub-backup:etcd-v3.7.1-abc ;; esac ;;
  volume) [ "$3" != "\${MISSING_VOLUME:-}" ] || { echo "Error response from daemon: get $3: no such volume" >&2; exit 1; } ;;
  cp) d=$(mktemp -d); case "$2" in omni:*) echo "ARMORED SECRET KEY" ;; *) echo "SIGNING PUBLIC KEY" ;; esac > "$d/key.asc"; tar -C "$d" -cf - key.asc; rm -rf "$d" ;;
  run) mode=$(eval echo \\\${$(($# - 5))}); cat > "$STUB_LOG.$mode"; eval "exit \\\${RUN_EXIT_$mode:-0}" ;;
esac
`,
            { mode: 0o755 },
        );
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    const hostRun = (args: string[], env: Record<string, string>, limits?: HubRestoreHostParams["limits"]) => {
        const log = path.join(tmp, `log-${Math.random().toString(36).slice(2)}`);
        const argv = ["-c", hubRestoreHostScript({ ...params, limits }), "omni-hub-restore", ...args];
        const options = { env: { ...process.env, PATH: `${tmp}:${process.env.PATH}`, STUB_LOG: log, ...env } };
        // One call a line; a call's last argument may be empty (a trailing space).
        const calls = () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").replace(/\n$/, "").split("\n") : []);
        return { argv, options, calls, log };
    };
    function host(args: string[], env: Record<string, string> = {}, limits?: HubRestoreHostParams["limits"]) {
        const { argv, options, calls, log } = hostRun(args, env, limits);
        const r = spawnSync("sh", argv, { ...options, encoding: "utf8" });
        return { ...r, calls: calls(), log };
    }
    /** `host`, not blocking: runs that wait for a bound run side by side. */
    function hostAsync(args: string[], env: Record<string, string> = {}, limits?: HubRestoreHostParams["limits"]) {
        const { argv, options, calls } = hostRun(args, env, limits);
        const child = spawn("sh", argv, options);
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        child.stdout.resume();
        return new Promise<{ status: number | null; stderr: string; calls: string[] }>((resolve) =>
            child.on("close", (status) => resolve({ status, stderr, calls: calls() })),
        );
    }
    const ACCOUNT = "6f1c2b9e-7d3a-4c5b-9e8f-0a1b2c3d4e5f";

    it("check: verifies the set in a one-off container of the backup image on Omni's volume, with the deployed key and Omni's account id, and stops nothing", () => {
        const r = host(["check", "latest", "", "omni-data-adopted", ACCOUNT]);
        assert.equal(r.status, 0, r.stderr);
        const steps = (calls: string[]) => calls.map((c) => c.split(" ").slice(0, 2).join(" "));
        assert.deepEqual(steps(r.calls).sort(), [
            "cp omni-backup:/etc/omni-hub-backup/signing-public.asc",
            "cp omni:/omni.asc",
            "inspect --format",
            "inspect --format",
            "inspect --format",
            "run --rm",
            "volume inspect",
        ]);
        const run = r.calls.find((c) => c.startsWith("run "))!;
        assert.match(
            run,
            new RegExp(
                `^run --rm -i --network none --volume omni-data-adopted:/_out --volume /mnt/nas/omni-hub-backups:/backup:ro omni-scale/hub-backup:etcd-v3\\.7\\.1-abc sh -c .* omni-hub-restore check latest FPR-DEPLOYED ${ACCOUNT} SIGNER-DEPLOYED $`,
                "s",
            ),
        );
        // The restore script reads the etcd key (from Omni) and the signing key (from the backup), from docker cp's tars, on stdin.
        assert.equal(fs.readFileSync(`${r.log}.check`, "utf8"), "ARMORED SECRET KEY\nSIGNING PUBLIC KEY\n");
        assert.ok(
            run.includes(
                hubRestoreScript({
                    dataDir: "/_out",
                    etcdDir: "/_out/etcd/",
                    sqlitePath: "/_out/omni.db",
                    setsDir: "/backup",
                }).split("\n")[1],
            ),
        );
        assert.ok(!r.calls.some((c) => c.startsWith("stop")));
    });

    it("refuses when Omni's data volume does not exist, before touching anything", () => {
        const r = host(["restore", "latest", "", "omni-data", ACCOUNT], { MISSING_VOLUME: "omni-data" });
        assert.equal(r.status, 2);
        assert.match(
            r.stderr,
            /refusing: Docker volume omni-data, which omni mounts at \/_out, does not exist on this host/,
        );
        assert.deepEqual(r.calls, ["volume inspect omni-data"]);
    });

    it("restore: checks, stops the backup and Omni, restores, starts Omni then the backup", () => {
        const r = host(["restore", "omni-hub-20261202T000000Z", "FPR-GIVEN", "omni-data", ACCOUNT]);
        assert.equal(r.status, 0, r.stderr);
        const calls = r.calls.filter((c) => !c.startsWith("cp "));
        assert.equal(r.calls.length - calls.length, 4, "the keys are read for the check and for the restore");
        assert.deepEqual(
            calls.map((c) => c.split(" ").slice(0, 2).join(" ")),
            [
                "volume inspect",
                "inspect --format",
                "inspect --format",
                "inspect --format",
                "run --rm",
                "stop --time",
                "run --rm",
                "start omni",
                "start omni-backup",
            ],
        );
        assert.match(calls[4], new RegExp(` check omni-hub-20261202T000000Z FPR-GIVEN ${ACCOUNT} SIGNER-DEPLOYED $`));
        assert.match(calls[6], new RegExp(` restore omni-hub-20261202T000000Z FPR-GIVEN ${ACCOUNT} SIGNER-DEPLOYED $`));
        assert.equal(calls[5], "stop --time 60 omni-backup omni");
    });

    it("leaves Omni stopped and says how to start it when the restore fails; stops nothing when the check fails", () => {
        const failed = host(["restore", "latest", "", "omni-data", ACCOUNT], { RUN_EXIT_restore: "5" });
        assert.equal(failed.status, 1);
        assert.match(failed.stderr, /the restore failed; omni stays stopped .* docker start omni omni-backup/);
        assert.ok(!failed.calls.some((c) => c.startsWith("start")));
        const refused = host(["restore", "latest", "", "omni-data", ACCOUNT], { RUN_EXIT_check: "3" });
        assert.equal(refused.status, 3);
        assert.ok(!refused.calls.some((c) => c.startsWith("stop")));
    });

    it("passes --allow-plain on to the restore script", () => {
        const r = host(["check", "latest", "", "omni-data", ACCOUNT, "allow-plain"]);
        assert.equal(r.status, 0, r.stderr);
        assert.match(
            r.calls.find((c) => c.startsWith("run "))!,
            / SIGNER-DEPLOYED allow-plain$/,
        );
    });

    it("bounds every docker call: a daemon that never answers ends the restore with a message, before anything is stopped", async () => {
        const hangs = ["volume", "inspect", "cp", "run", "stop"];
        // Each run waits out its 1 s bound: side by side.
        const runs = await Promise.all(
            hangs.map((hang) =>
                hostAsync(
                    ["restore", "latest", "", "omni-data", ACCOUNT],
                    { HANG: hang },
                    { call: 1, stop: 1, run: 1 },
                ),
            ),
        );
        for (const [i, hang] of hangs.slice(0, -1).entries()) {
            const r = runs[i];
            assert.notEqual(r.status, 0, hang);
            assert.match(
                r.stderr,
                new RegExp(`docker ${hang} did not finish within 1s: is the Docker daemon at this host answering\\?`),
            );
            assert.ok(!r.calls.some((c) => c.startsWith("stop")), hang);
        }
        const stop = runs[hangs.length - 1];
        assert.notEqual(stop.status, 0);
        assert.match(stop.stderr, /docker stop did not finish within 1s/);
        assert.ok(
            !stop.calls.some((c) => / omni-hub-restore restore latest /.test(c)),
            "no restore after a stop that hung",
        );
    });
});

describe("hub backup render: reading manifests, under dash and under BusyBox sh and awk (the backup image's)", () => {
    let tmp: string;
    let busyboxBin: string;
    const ACCOUNT = "6f1c2b9e-7d3a-4c5b-9e8f-0a1b2c3d4e5f";
    before(function () {
        requireTools(this, ["busybox"], "the backup scripts as the backup image runs them");
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hub-backup-manifests-"));
        // The image's tools are BusyBox applets (Alpine); here they come first on PATH.
        busyboxBin = path.join(tmp, "busybox-bin");
        fs.mkdirSync(busyboxBin);
        const busybox = spawnSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).stdout.trim();
        for (const applet of ["awk", "sed", "sort", "cut", "head", "tail", "tr", "grep", "date", "mktemp", "cat", "rm"])
            fs.symlinkSync(busybox, path.join(busyboxBin, applet));
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    const shells = [
        { name: "dash", run: (argv: string[]) => ["sh", argv, process.env.PATH] as const },
        {
            name: "busybox",
            run: (argv: string[]) => ["busybox", ["sh", ...argv], `${busyboxBin}:${process.env.PATH}`] as const,
        },
    ];
    function run(shell: (typeof shells)[number], script: string, args: string[]) {
        const [cmd, argv, PATH] = shell.run(["-c", script, "omni-hub-script", ...args]);
        return spawnSync(cmd, argv, { input: "", encoding: "utf8", env: { ...process.env, PATH } });
    }
    /** A target holding only manifests (name: manifest text). */
    function target(sets: Record<string, string>): string {
        const dir = fs.mkdtempSync(path.join(tmp, "target-"));
        for (const [name, manifest] of Object.entries(sets)) {
            fs.mkdirSync(path.join(dir, name));
            fs.writeFileSync(path.join(dir, name, BACKUP_FILES.manifest), manifest);
        }
        return dir;
    }
    /** The sets of an account, newest first, as the restore's `latest` picks them (each removed once named). */
    function newestFirst(shell: (typeof shells)[number], dir: string, account: string): string[] {
        const script = hubRestoreScript({
            dataDir: tmp,
            etcdDir: `${tmp}/etcd`,
            sqlitePath: `${tmp}/omni.db`,
            setsDir: dir,
        });
        const picked: string[] = [];
        for (;;) {
            const r = run(shell, script, ["check", "latest", "FPR", account]);
            assert.equal(r.status, 2, r.stderr);
            const named = new RegExp(`^omni-hub-restore: ${dir}/(.*)/${BACKUP_FILES.sums} is missing`).exec(r.stderr);
            if (!named) {
                assert.match(r.stderr, /no backup set of account/);
                return picked;
            }
            picked.push(named[1]);
            fs.rmSync(path.join(dir, named[1]), { recursive: true });
        }
    }
    const P = BACKUP_SET_PREFIX;

    for (const shell of shells) {
        it(`${shell.name}: orders by the first sequence line as a number (the documented rule), then epoch; other accounts never`, () => {
            const sets = {
                [`${P}space`]: `accountId=${ACCOUNT}\nsequence= 12\nepoch=3\n`,
                [`${P}none`]: `accountId=${ACCOUNT}\nepoch=4`,
                [`${P}letters`]: `accountId=${ACCOUNT}\nsequence=1e3\nepoch=5\n`,
                [`${P}cr`]: `accountId=${ACCOUNT}\nsequence=11\r\nepoch=6\n`,
                [`${P}cr-account`]: `accountId=${ACCOUNT}\r\nsequence=11\nepoch=6\n`,
                [`${P}twice`]: `sequence=7\naccountId=${ACCOUNT}\nsequence=99\n`,
                [`${P}zeros`]: `accountId=${ACCOUNT}\nsequence=0000000000000000000000008\n`,
                [`${P}nine`]: `accountId=${ACCOUNT}\nsequence=9\nepoch=1\n`,
                [`${P}a\\d c`]: `accountId=${ACCOUNT}\nsequence=9\nepoch=2\n`,
                [`${P}ten`]: `accountId=${ACCOUNT}\nsequence=010\n`,
                [`${P}huge`]: `accountId=${ACCOUNT}\nsequence=1234567890123456\nepoch=2\n`,
                [`${P}huger`]: `accountId=${ACCOUNT}\nsequence=99999999999999999999\nepoch=1\n`,
                [`${P}other`]: `accountId=someone-else\nsequence=1000\n`,
                [`${P}other-first`]: `accountId=someone-else\naccountId=${ACCOUNT}\nsequence=1000\n`,
            };
            // cr and cr-account: "11\r" is no number (0); an account id with a CR is another account.
            assert.deepEqual(newestFirst(shell, target(sets), ACCOUNT).reverse(), [
                `${P}space`,
                `${P}none`,
                `${P}letters`,
                `${P}cr`,
                `${P}twice`,
                `${P}zeros`,
                `${P}nine`,
                `${P}a\\d c`,
                `${P}ten`,
                `${P}huger`,
                `${P}huge`,
            ]);
        });

        it(`${shell.name}: compares account ids as text, backslashes and all`, () => {
            const numeric = target({
                [`${P}one`]: "accountId=1\nsequence=1\n",
                [`${P}one-point-zero`]: "accountId=1.0\nsequence=9\n",
                [`${P}zero-one`]: "accountId=01\nsequence=8\n",
            });
            assert.deepEqual(newestFirst(shell, numeric, "1"), [`${P}one`]);
            const escaped = target({
                [`${P}backslash`]: "accountId=a\\tb\nsequence=1\n",
                [`${P}tab`]: "accountId=a\tb\nsequence=2\n",
            });
            assert.deepEqual(newestFirst(shell, escaped, "a\\tb"), [`${P}backslash`]);
        });

        it(`${shell.name}: reads revisions and sizes by the same rule: first line, missing 0, sums past 15 digits exact`, () => {
            const dir = target({
                [`${P}a`]: `accountId=${ACCOUNT}\nsequence=1\netcdRevision=200\netcdRevision=1\netcdBytes=000100\n`,
                [`${P}b`]: `accountId=${ACCOUNT}\nsequence=2\netcdRevision=150\netcdBytes=999999999999999\nsqliteBytes=99999999999999999999\n`,
                [`${P}c`]: `accountId=${ACCOUNT}\nsequence=3\netcdRevision=7x\netcdBytes=10\nsqliteBytes=5`,
            });
            const script = hubBackupScript({
                etcdEndpoint: "http://127.0.0.1:9",
                sqlitePath: path.join(tmp, "omni.db"),
                targetDir: dir,
                intervalSeconds: 3600,
                keep: 1,
                keyFingerprint: "FPR",
                accountId: ACCOUNT,
                localDir: path.join(tmp, "local"),
            });
            const health = run(shell, script, ["health"]);
            assert.equal(health.status, 1, health.stderr);
            const drops = health.stdout.split("\n").filter((l) => l.startsWith("set "));
            assert.deepEqual(
                drops.map((l) => l.replace(/ Omni may .*/, "")),
                [
                    `set ${P}a is kept whatever keep says: the next set, ${P}b, fell from etcd revision 200 to 150 and from 100 to 1999999999999998 bytes.`,
                    `set ${P}b is kept whatever keep says: the next set, ${P}c, fell from etcd revision 150 to 0 and from 1999999999999998 to 15 bytes.`,
                ],
            );
        });
    }
});

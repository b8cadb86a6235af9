import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { hubRestoreHostScript } from "../components/hub/backup-render";
import { OmniHubSettingsSchema } from "../components/hub/settings";
import { ConfigError, parseOrThrow } from "../components/core/validation";
import { hubSettingsOf, main, restoreInvocation } from "../src/hub-restore";
import { hubSettings } from "./fixtures/settings";

const REPO = path.join(__dirname, "..");
const settings = (over: object = {}) =>
    parseOrThrow(
        OmniHubSettingsSchema,
        { ...hubSettings, tls: { mode: "config" }, backup: { targetDir: "/mnt/nas/b" }, ...over },
        "hub",
    );

function captureStdout(fn: () => number): { code: number; out: string } {
    const write = process.stdout.write.bind(process.stdout);
    let out = "";
    process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
    try {
        return { code: fn(), out };
    } finally {
        process.stdout.write = write;
    }
}

describe("hub restore command (npm run restore)", () => {
    it("runs the host script over SSH as one quoted remote command, with the Docker host's port and SSH options", () => {
        const run = restoreInvocation(
            settings({
                dockerHost: "ssh://ansible@192.168.10.20:2222",
                dockerSshOpts: ["-o", "StrictHostKeyChecking=yes"],
            }),
            {
                set: "latest",
                yes: false,
            },
        );
        assert.equal(run.command, "ssh");
        assert.deepEqual(run.args.slice(0, -1), [
            "-o",
            "StrictHostKeyChecking=yes",
            "-p",
            "2222",
            "ansible@192.168.10.20",
        ]);
        // What the remote shell receives runs the same script with the same parameters.
        const words = spawnSync("sh", ["-c", `for w in ${run.args.at(-1)}; do printf '%s\\0' "$w"; done`], {
            encoding: "utf8",
        })
            .stdout.split("\0")
            .slice(0, -1);
        assert.deepEqual(words, ["sh", "-c", run.script, "omni-hub-restore", "check", "latest", ""]);
        assert.equal(
            run.script,
            hubRestoreHostScript({
                omniContainer: "omni",
                backupContainer: "omni-backup",
                dataVolume: "omni-data",
                targetDir: "/mnt/nas/b",
                omniPaths: { data: "/_out", etcd: "/_out/etcd/", sqlite: "/_out/omni.db" },
            }),
        );
    });

    it("restores only with --yes, and passes an explicit fingerprint", () => {
        const run = restoreInvocation(settings({ dockerHost: "unix:///var/run/docker.sock" }), {
            set: "omni-hub-20261202T000000Z",
            yes: true,
            expectFingerprint: "ABCD",
        });
        assert.equal(run.command, "sh");
        assert.deepEqual(run.args.slice(-4), ["omni-hub-restore", "restore", "omni-hub-20261202T000000Z", "ABCD"]);
        assert.deepEqual(run.env, { DOCKER_HOST: "unix:///var/run/docker.sock" });
    });

    it("refuses a hub without backups, and a workload stack file", () => {
        assert.throws(
            () => restoreInvocation(settings({ backup: undefined }), { set: "latest", yes: false }),
            (e: unknown) => e instanceof ConfigError && /hub\.backup.*is not set/.test(e.message),
        );
        assert.throws(() => hubSettingsOf(path.join(REPO, "Pulumi.matrix.yaml")), /has no hub settings/);
    });

    it("reads only plain hub settings, so encrypted secrets in a real stack file do not stop it", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hub-restore-"));
        try {
            const file = path.join(dir, "Pulumi.real.yaml");
            fs.writeFileSync(
                file,
                `${fs.readFileSync(path.join(REPO, "Pulumi.quantum.yaml"), "utf8")}  omni-scale:etcdGpgKey:\n    secure: v1:offlineExample==\n`,
            );
            assert.equal(hubSettingsOf(file).backup?.targetDir, "/mnt/nas/omni-hub-backups");
            const { code, out } = captureStdout(() => main(["--config", file, "--print"]));
            assert.equal(code, 0);
            assert.match(
                out,
                /^# on ssh:\/\/ansible@192\.168\.10\.20: sh -c "<this script>" omni-hub-restore 'check' 'latest' ''\n/,
            );
            assert.match(out, /docker stop --time 60 "\$BACKUP" "\$OMNI"/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("exits 2 with usage on bad arguments", () => {
        const err = process.stderr.write.bind(process.stderr);
        process.stderr.write = (() => true) as typeof process.stderr.write;
        try {
            assert.equal(main([]), 2);
            assert.equal(main(["--stack", "quantum", "--bogus"]), 2);
        } finally {
            process.stderr.write = err;
        }
    });
});

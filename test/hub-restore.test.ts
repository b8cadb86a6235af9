import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { hubRestoreHostScript, omniContainerFacts } from "../components/hub/backup-render";
import { OmniHubSettingsSchema } from "../components/hub/settings";
import { omniContainerPaths } from "../components/hub/omni-flags";
import { ConfigError, parseOrThrow } from "../components/core/validation";
import { hubSettingsOf, main, restoreInvocation } from "../src/hub-restore";
import { hubSettings } from "./fixtures/settings";
import inspectFixture from "./fixtures/hub-backup/docker-inspect-omni.json";
import { requireTools } from "./tools";

const REPO = path.join(__dirname, "..");
const ACCOUNT = "6f1c2b9e-7d3a-4c5b-9e8f-0a1b2c3d4e5f";
const settings = (over: object = {}) =>
    parseOrThrow(
        OmniHubSettingsSchema,
        { ...hubSettings, tls: { mode: "config" }, backup: { targetDir: "/mnt/nas/b" }, ...over },
        "hub",
    );
/** `docker inspect omni` as Docker prints it, for an Omni on `volume` with `account`. */
const inspectJson = (volume: string, account = ACCOUNT) =>
    JSON.stringify(inspectFixture.inspect)
        .replace(/__VOLUME__/g, volume)
        .replace(/__ACCOUNT__/g, account);

function capture(stream: NodeJS.WriteStream, fn: () => number): { code: number; out: string } {
    const write = stream.write.bind(stream);
    let out = "";
    stream.write = ((chunk: string) => ((out += chunk), true)) as typeof stream.write;
    try {
        return { code: fn(), out };
    } finally {
        stream.write = write;
    }
}

/** A stack file holding these hub settings. */
function stackFile(dir: string, hub: object): string {
    const file = path.join(dir, "Pulumi.test.yaml");
    fs.writeFileSync(file, JSON.stringify({ config: { "omni-scale:hub": hub } }));
    return file;
}

describe("hub restore command (npm run restore)", () => {
    it("runs the host script over SSH as one quoted remote command, bounded, after the Docker host's port and SSH options", () => {
        const plan = restoreInvocation(
            settings({
                dockerHost: "ssh://ansible@192.168.10.20:2222",
                dockerSshOpts: ["-o", "StrictHostKeyChecking=yes"],
            }),
            { set: "latest", yes: false },
        );
        const run = plan.restore({ dataVolume: "omni-data", accountId: ACCOUNT });
        assert.equal(run.command, "ssh");
        assert.deepEqual(run.args.slice(0, -1), [
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "ServerAliveInterval=15",
            "-o",
            "ServerAliveCountMax=4",
            "-p",
            "2222",
            "--",
            "ansible@192.168.10.20",
        ]);
        assert.deepEqual(plan.inspect.args.slice(0, -1), run.args.slice(0, -1), "the inspect is bounded the same way");
        // What the remote shell receives runs the same script with the same parameters.
        const words = spawnSync("sh", ["-c", `for w in ${run.args.at(-1)}; do printf '%s\\0' "$w"; done`], {
            encoding: "utf8",
        })
            .stdout.split("\0")
            .slice(0, -1);
        assert.deepEqual(words, [
            "sh",
            "-c",
            plan.script,
            "omni-hub-restore",
            "check",
            "latest",
            "",
            "omni-data",
            ACCOUNT,
        ]);
        assert.equal(
            plan.script,
            hubRestoreHostScript({
                omniContainer: "omni",
                backupContainer: "omni-backup",
                targetDir: "/mnt/nas/b",
                omniPaths: omniContainerPaths,
            }),
        );
    });

    it("restores only with --yes, and passes an explicit fingerprint", () => {
        const plan = restoreInvocation(settings({ dockerHost: "unix:///var/run/docker.sock" }), {
            set: "omni-hub-20261202T000000Z",
            yes: true,
            expectFingerprint: "ABCD",
        });
        const run = plan.restore({ dataVolume: "omni-data", accountId: ACCOUNT });
        assert.equal(run.command, "sh");
        assert.deepEqual(run.args.slice(-6), [
            "omni-hub-restore",
            "restore",
            "omni-hub-20261202T000000Z",
            "ABCD",
            "omni-data",
            ACCOUNT,
        ]);
        assert.deepEqual(run.env, { DOCKER_HOST: "unix:///var/run/docker.sock" });
    });

    it("passes --allow-plain on only when given", () => {
        const s = settings({ dockerHost: "unix:///var/run/docker.sock" });
        const facts = { dataVolume: "omni-data", accountId: ACCOUNT };
        assert.equal(
            restoreInvocation(s, { set: "latest", yes: false, allowPlain: true }).restore(facts).args.at(-1),
            "allow-plain",
        );
        assert.equal(restoreInvocation(s, { set: "latest", yes: false }).restore(facts).args.at(-1), ACCOUNT);
    });

    it("refuses a Docker host user or host beginning with '-', which ssh would take as an option", () => {
        for (const dockerHost of [
            "ssh://-oProxyCommand=touch%20pwned@192.168.10.20",
            "ssh://ansible@-oProxyCommand=x",
        ]) {
            assert.throws(
                () => restoreInvocation(settings({ dockerHost }), { set: "latest", yes: false }),
                (e: unknown) =>
                    e instanceof ConfigError &&
                    /must not start with '-' \(ssh would read them as options\)/.test(e.message),
                dockerHost,
            );
        }
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
            const { code, out } = capture(process.stdout, () => main(["--config", file, "--print"]));
            assert.equal(code, 0);
            assert.match(
                out,
                /^# on ssh:\/\/ansible@192\.168\.10\.20, with the data volume and account id of `docker inspect omni`: sh -c "<this script>" omni-hub-restore 'check' 'latest' '' '<data volume>' '<account id>'\n/,
            );
            assert.match(out, /dk \d+ stop --time 60 "\$BACKUP" "\$OMNI"/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("reads Omni's data volume and account id from docker inspect (Docker's Mounts and Args), and refuses another volume than the configured one", () => {
        const want = { container: "omni", dataPath: "/_out", dataVolume: "omni-seed-data" };
        assert.deepEqual(omniContainerFacts(inspectJson("omni-seed-data"), want), {
            dataVolume: "omni-seed-data",
            accountId: ACCOUNT,
        });
        // `--account-id X` as two words, as a hand-made container may have it.
        const spaced = JSON.parse(inspectJson("omni-seed-data"));
        spaced[0].Args = ["--name=omni", "--account-id", ACCOUNT];
        assert.equal(omniContainerFacts(JSON.stringify(spaced), want).accountId, ACCOUNT);
        assert.throws(
            () => omniContainerFacts(inspectJson("omni-data"), want),
            /keeps its data in volume omni-data, but the stack configures omni-seed-data: set hub\.adopt\.omniDataVolume to omni-data/,
        );
        const bind = JSON.parse(inspectJson("omni-seed-data"));
        bind[0].Mounts[1] = { Type: "bind", Source: "/srv/omni", Destination: "/_out", Mode: "", RW: true };
        assert.throws(
            () => omniContainerFacts(JSON.stringify(bind), want),
            /mounts no Docker volume at \/_out \(a bind mount\)/,
        );
        const noAccount = JSON.parse(inspectJson("omni-seed-data"));
        noAccount[0].Args = ["--name=omni"];
        assert.throws(() => omniContainerFacts(JSON.stringify(noAccount), want), /runs without --account-id/);
        assert.throws(() => omniContainerFacts("[]", want), /printed no container description/);
    });

    describe("against a stand-in docker CLI", () => {
        let dir: string;
        before(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "hub-restore-docker-"));
            fs.writeFileSync(path.join(dir, "inspect.json"), inspectJson("omni-seed-data"));
            // Answers like docker: the Omni container's inspect JSON, the backup container's image and label, volumes
            // that exist (EXISTING_VOLUMES), docker cp's tar; records every call on one line.
            fs.writeFileSync(
                path.join(dir, "docker"),
                `#!/bin/sh
line=$(printf '%s' "$*" | tr '\\n' ' '); printf '%s\\n' "$line" >> "$STUB_LOG"
case "$1" in
  inspect) case "$2" in --format) case "$3" in *signing-key*) echo SIGNER-DEPLOYED ;; *Labels*) echo FPR-DEPLOYED ;; *) echo omni-scale/hub-backup:test ;; esac ;; *) cat "$INSPECT_JSON" ;; esac ;;
  volume) case " $EXISTING_VOLUMES " in *" $3 "*) echo "[{\\"Name\\": \\"$3\\"}]" ;; *) echo "Error response from daemon: get $3: no such volume" >&2; exit 1 ;; esac ;;
  cp) d=$(mktemp -d); echo KEY > "$d/omni.asc"; tar -C "$d" -cf - omni.asc; rm -rf "$d" ;;
  run) cat > /dev/null; echo "omni-hub-restore: set omni-hub-x is complete" ;;
esac
`,
                { mode: 0o755 },
            );
        });
        after(() => fs.rmSync(dir, { recursive: true, force: true }));

        function restore(hub: object, args: string[], env: Record<string, string>) {
            const log = path.join(dir, `log-${Math.random().toString(36).slice(2)}`);
            const saved = { ...process.env };
            Object.assign(process.env, {
                PATH: `${dir}:${process.env.PATH}`,
                STUB_LOG: log,
                INSPECT_JSON: path.join(dir, "inspect.json"),
                ...env,
            });
            try {
                const file = stackFile(dir, hub);
                const err = capture(
                    process.stderr,
                    () => capture(process.stdout, () => main(["--config", file, ...args])).code,
                );
                const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
                return { code: err.code, stderr: err.out, calls };
            } finally {
                process.env = saved;
            }
        }
        const adopted = {
            ...hubSettings,
            tls: { mode: "config" },
            dockerHost: "unix:///var/run/docker.sock",
            accountId: ACCOUNT,
            adopt: { omniDataVolume: "omni-seed-data" },
            backup: { targetDir: "/mnt/nas/b" },
        };

        it("restores into the adopted volume Omni mounts, with its account id", () => {
            const r = restore(adopted, ["--yes"], { EXISTING_VOLUMES: "omni-seed-data omni-data" });
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stderr, /connecting to unix:\/\/\/var\/run\/docker\.sock/);
            assert.equal(r.calls[0], "inspect omni");
            const runs = r.calls.filter((c) => c.startsWith("run "));
            assert.equal(runs.length, 2);
            for (const run of runs) {
                assert.match(run, /--volume omni-seed-data:\/_out /);
                assert.match(
                    run,
                    new RegExp(`omni-hub-restore (check|restore) latest FPR-DEPLOYED ${ACCOUNT} SIGNER-DEPLOYED $`),
                );
            }
        });

        it("refuses when the volume Omni mounts does not exist, and when it is not the configured one", () => {
            const missing = restore(adopted, ["--yes"], { EXISTING_VOLUMES: "omni-data" });
            assert.equal(missing.code, 2);
            assert.ok(!missing.calls.some((c) => /^(run|stop) /.test(c)), "nothing runs or stops");
            const other = restore({ ...adopted, adopt: { omniDataVolume: "omni-other" } }, ["--yes"], {
                EXISTING_VOLUMES: "omni-seed-data omni-other",
            });
            assert.equal(other.code, 2);
            assert.match(other.stderr, /keeps its data in volume omni-seed-data, but the stack configures omni-other/);
            assert.deepEqual(other.calls, ["inspect omni"]);
        });
    });

    describe("against a Docker host that never answers (real ssh)", () => {
        it("prints the target first and gives up after the connect timeout, naming the host and the fix", async function () {
            requireTools(this, ["ssh"], "the unreachable-host restore test");
            // Accepts TCP and never says a word: a host whose sshd hangs, or a firewall that swallows the session.
            const silent = net.createServer(() => undefined);
            await new Promise<void>((r) => silent.listen(0, "127.0.0.9", r));
            const port = (silent.address() as net.AddressInfo).port;
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hub-restore-ssh-"));
            try {
                const file = stackFile(dir, {
                    ...hubSettings,
                    tls: { mode: "config" },
                    dockerHost: `ssh://nobody@127.0.0.9:${port}`,
                    // The machine's own ssh config stays out of the test.
                    dockerSshOpts: ["-F", "/dev/null"],
                    backup: { targetDir: "/mnt/nas/b" },
                });
                // Run as its own process: main blocks on ssh, and this process must keep accepting.
                const r = spawnSync(
                    process.execPath,
                    [
                        "-r",
                        require.resolve("../src/plan/register"),
                        require.resolve("../src/hub-restore"),
                        "--config",
                        file,
                        "--connect-timeout",
                        "2",
                    ],
                    { encoding: "utf8", timeout: 30_000 },
                );
                assert.equal(r.signal, null, "it ends by itself");
                assert.equal(r.status, 2);
                assert.match(
                    r.stderr,
                    new RegExp(
                        `^omni-hub-restore: connecting to nobody@127\\.0\\.0\\.9 port ${port} over SSH \\(giving up after 2s`,
                    ),
                );
                assert.match(r.stderr, /[Cc]onnection timed out|banner exchange/, "ssh's own reason");
                assert.match(
                    r.stderr,
                    new RegExp(
                        `could not reach the Docker host nobody@127\\.0\\.0\\.9 port ${port} .*ssh -p ${port} nobody@127\\.0\\.0\\.9 docker version`,
                    ),
                );
            } finally {
                silent.close();
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });

    it("puts -- before the login, so a user beginning with '-' never reaches real ssh as an option", function () {
        requireTools(this, ["ssh"], "the ssh option-injection test");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hub-restore-dash-"));
        try {
            const pwned = path.join(dir, "pwned");
            const run = restoreInvocation(
                settings({ dockerHost: "ssh://nobody@127.0.0.9:1", dockerSshOpts: ["-F", "/dev/null"] }),
                {
                    set: "latest",
                    yes: false,
                    connectTimeoutSeconds: 1,
                },
            ).restore({ dataVolume: "omni-data", accountId: ACCOUNT });
            // The login a hostile (unvalidated) dockerHost would give, where ours stands.
            const args = run.args.map((a) =>
                a === "nobody@127.0.0.9" ? `-oProxyCommand=touch ${pwned}@127.0.0.9` : a,
            );
            const r = spawnSync("ssh", args, { encoding: "utf8", timeout: 30_000 });
            assert.notEqual(r.status, 0);
            assert.ok(!fs.existsSync(pwned), "ssh ran the ProxyCommand");
            // ssh took it as the login, and refused it as a user name (OpenSSH checks the characters of a remote user).
            assert.match(r.stderr, /remote username contains invalid characters/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("exits 2 with usage on bad arguments", () => {
        const { code } = capture(process.stderr, () => main([]));
        assert.equal(code, 2);
        assert.equal(capture(process.stderr, () => main(["--stack", "quantum", "--bogus"])).code, 2);
        assert.equal(capture(process.stderr, () => main(["--stack", "quantum", "--connect-timeout", "0"])).code, 2);
    });

    it("takes --connect-timeout in whole seconds only, as ssh does (else ssh fails and reads as an unreachable host)", function () {
        requireTools(this, ["ssh"], "the connect-timeout test");
        // ssh -G parses the options and prints the configuration without connecting.
        const ssh = (timeout: string) =>
            spawnSync("ssh", ["-G", "-o", `ConnectTimeout=${timeout}`, "omni-host.invalid"], { encoding: "utf8" });
        assert.equal(ssh("1.5").status, 255);
        assert.match(ssh("1.5").stderr, /invalid time value/);
        assert.equal(ssh("2").status, 0);
        const refused = capture(process.stderr, () => main(["--stack", "quantum", "--connect-timeout", "1.5"]));
        assert.equal(refused.code, 2);
        assert.match(refused.out, /--connect-timeout must be a whole number of seconds, at least 1 \(not 1\.5\)/);
    });
});

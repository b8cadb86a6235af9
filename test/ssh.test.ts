import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { sshHostKeyProblem } from "../components/core/ssh";
import { keptFixture, requireTools } from "./tools";

/**
 * Host keys as sshd has them: made by the real ssh-keygen (kept in .build/test-keys for that executable), read back as the
 * .pub line and as ssh-keyscan prints it.
 */
describe("SSH host keys (core/ssh.ts, as pulumi-command v1.2.1 parses them: ssh.ParseAuthorizedKey)", function () {
    let dir: string;
    const keys: Record<string, string> = {};

    before(function () {
        requireTools(this, ["ssh-keygen"], "the SSH host key checks");
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-ssh-"));
        const made = [
            ["ed25519", ""],
            ["ecdsa", "256"],
            ["ecdsa", "521"],
            ["rsa", "3072"],
        ];
        // The RSA key costs up to seconds of CPU: the lines are kept per ssh-keygen (the hash of its executable).
        const keygen = execFileSync("sh", ["-c", "command -v ssh-keygen"], { encoding: "utf8" }).trim();
        const id = createHash("sha256")
            .update(fs.readFileSync(keygen))
            .update(JSON.stringify(made))
            .digest("hex")
            .slice(0, 16);
        const { kept, keep } = keptFixture(`ssh-host-keys-${id}`, (k: Record<string, string>) =>
            made.every(([type, bits]) => typeof k[`${type}${bits}`] === "string") ? k : undefined,
        );
        if (kept) return void Object.assign(keys, kept);
        for (const [type, bits] of made) {
            const file = path.join(dir, `ssh_host_${type}${bits}_key`);
            execFileSync("ssh-keygen", [
                "-q",
                "-t",
                type,
                ...(bits ? ["-b", bits] : []),
                "-N",
                "",
                "-C",
                "root@pve1",
                "-f",
                file,
            ]);
            keys[`${type}${bits}`] = fs.readFileSync(`${file}.pub`, "utf8").trim();
        }
        keep(keys);
    });
    after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

    it("accepts every host key type sshd makes, with or without its comment", () => {
        for (const line of Object.values(keys)) {
            assert.equal(sshHostKeyProblem(line), undefined, line);
            assert.equal(sshHostKeyProblem(line.split(" ").slice(0, 2).join(" ")), undefined, line);
            // ssh-keygen agrees it is a key.
            const file = path.join(dir, "check.pub");
            fs.writeFileSync(file, `${line}\n`);
            execFileSync("ssh-keygen", ["-l", "-f", file]);
        }
    });

    it("refuses a known_hosts / ssh-keyscan line, naming the part to keep", () => {
        assert.equal(
            sshHostKeyProblem(`192.168.3.5 ${keys.ed25519}`),
            `starts with "192.168.3.5" before the key type; drop it and keep "${keys.ed25519}"`,
        );
    });

    it("refuses a cut, edited or mismatched key, an unknown type and two lines", () => {
        const [type, blob] = keys.ed25519.split(" ");
        const cut = `${type} ${blob.slice(0, -8)}`;
        const edited = `${type} ${blob.slice(0, 30)}!${blob.slice(31)}`;
        const mismatched = `ecdsa-sha2-nistp256 ${blob}`;
        for (const bad of [cut, edited, mismatched, `${type}`]) {
            assert.match(
                sshHostKeyProblem(bad) ?? "",
                /is not a complete .* key \(cut or mistyped\?\); use one line of the node's \/etc\/ssh\/ssh_host_ed25519_key\.pub/,
                bad,
            );
            const file = path.join(dir, "bad.pub");
            fs.writeFileSync(file, `${bad}\n`);
            assert.throws(() => execFileSync("ssh-keygen", ["-l", "-f", file], { stdio: "pipe" }), bad);
        }
        assert.match(
            sshHostKeyProblem("ssh-dss AAAAB3NzaC1kc3M=") ?? "",
            /^"ssh-dss" is not an SSH host key type \(ssh-ed25519, /,
        );
        assert.match(sshHostKeyProblem(`${keys.ed25519}\n${keys.rsa3072}`) ?? "", /^is more than one line/);
    });
});

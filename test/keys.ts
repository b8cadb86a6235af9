import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as openpgp from "openpgp";

/** A certificate (or chain) and its private key, PEM. */
export interface Pair {
    cert: string;
    key: string;
}

/** A self-signed P-256 certificate made by openssl in `dir`; `san` empty means a CN-only certificate. */
export function selfSigned(dir: string, name: string, cn: string, san: string, days = 30): Pair {
    const keyFile = path.join(dir, `${name}.key`);
    const certFile = path.join(dir, `${name}.crt`);
    const args = [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        keyFile,
        "-out",
        certFile,
        "-days",
        String(days),
        "-subj",
        `/CN=${cn}`,
    ];
    if (san) args.push("-addext", `subjectAltName=${san}`);
    execFileSync("openssl", args, { stdio: "ignore" });
    return { cert: fs.readFileSync(certFile, "utf8"), key: fs.readFileSync(keyFile, "utf8") };
}

/** A throwaway GnuPG home: keys made with gpg as an operator makes them (batch mode, passphrase on the command line). */
export class GpgHome {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-gpg-"));

    constructor() {
        // The fewest S2K iterations gpg accepts: a locked key is as locked, and protecting one takes milliseconds
        // instead of the default's second per export (gpg.conf and gpg-agent.conf, s2k-count).
        fs.writeFileSync(path.join(this.dir, "gpg.conf"), "s2k-count 65536\n");
        fs.writeFileSync(path.join(this.dir, "gpg-agent.conf"), "s2k-count 65536\n");
    }

    /** Runs gpg in this home; `passphrase` locks a key it generates or unlocks one it exports ("" = none). */
    run(args: string[], passphrase = ""): string {
        return execFileSync(
            "gpg",
            ["--homedir", this.dir, "--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase, ...args],
            {
                encoding: "utf8",
                stdio: ["ignore", "pipe", "ignore"],
            },
        );
    }

    /** A new primary key that can only certify (`gpg --quick-generate-key … cert`); returns its fingerprint. */
    certifyOnlyKey(userId: string, passphrase = ""): string {
        this.run(["--quick-generate-key", userId, "ed25519", "cert", "never"], passphrase);
        return /^fpr:+([0-9A-F]{40}):/m.exec(this.run(["--with-colons", "--list-secret-keys", userId]))![1];
    }

    /** `gpg --quick-add-key <fpr> cv25519 encr never`: the subkey Omni encrypts etcd data with. */
    addEncryptionSubkey(fingerprint: string, passphrase = ""): void {
        this.run(["--quick-add-key", fingerprint, "cv25519", "encr", "never"], passphrase);
    }

    exportSecret(fingerprint: string, passphrase = ""): string {
        return this.run(["--armor", "--export-secret-key", fingerprint], passphrase);
    }

    exportPublic(fingerprint: string): string {
        return this.run(["--armor", "--export", fingerprint]);
    }

    /** Stops this home's gpg-agent and deletes the home. */
    remove(): void {
        try {
            execFileSync("gpgconf", ["--homedir", this.dir, "--kill", "gpg-agent"], { stdio: "ignore" });
        } finally {
            fs.rmSync(this.dir, { recursive: true, force: true });
        }
    }
}

/** Fast ECC keys for the cases where the algorithm does not matter. */
export async function eccKey(opts: { passphrase?: string; noSubkey?: boolean } = {}): Promise<string> {
    const { privateKey } = await openpgp.generateKey({
        type: "ecc",
        userIDs: [{ name: "test", email: "test@example.com" }],
        passphrase: opts.passphrase,
        subkeys: opts.noSubkey ? [] : undefined,
        format: "armored",
    });
    return privateKey;
}

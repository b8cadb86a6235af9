import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as openpgp from "openpgp";
import type * as etcdKey from "../components/hub/etcd-key";
import type * as closureCache from "../src/plan/closure-cache";
import { keptFixture } from "./tools";

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

/** What OmniEtcdKey's provider's create returns: the key's fingerprint as id, and the key. */
export interface ProviderMadeKey {
    id: string;
    outs: { fingerprint: string; armoredPrivateKey: string; armoredPublicKey: string; [input: string]: unknown };
}

/**
 * An RSA-4096 key made by OmniEtcdKey's provider's create, as `pulumi up` makes it, and kept in .build/test-keys for
 * later runs: making one is 1 to 4 s of CPU. Kept under the provider's code (its module and what it imports),
 * OpenPGP.js's version and the inputs, so create runs again on a fresh checkout (CI) and after any change to them; a
 * warm run checks the key the current code made.
 */
export async function providerMadeKey(inputs: { name: string; email?: string }): Promise<ProviderMadeKey> {
    // Loaded here, not by every test file that makes keys: the provider brings the SDK.
    const { etcdKeyProvider } = require("../components/hub/etcd-key") as typeof etcdKey;
    const { importedCodeKey } = require("../src/plan/closure-cache") as typeof closureCache;
    const { codeKeyOf } = require("../src/plan/register") as { codeKeyOf(files: string[]): string };
    const root = path.join(__dirname, "..");
    const provider = path.join(root, "components", "hub", "etcd-key.ts");
    const openpgpVersion = path.join(root, "node_modules", "openpgp", "package.json");
    const code = importedCodeKey((files) => codeKeyOf([...files, openpgpVersion]))(provider);
    if (code === undefined) return (await etcdKeyProvider.create(inputs)) as ProviderMadeKey;
    const id = createHash("sha256")
        .update(JSON.stringify([code, inputs]))
        .digest("hex")
        .slice(0, 16);
    const { kept, keep } = keptFixture(`etcd-key-${id}`, (k: ProviderMadeKey) =>
        k.id && k.outs?.armoredPrivateKey && k.outs.armoredPublicKey ? k : undefined,
    );
    if (kept) return kept;
    const { id: fingerprint, outs } = await etcdKeyProvider.create(inputs);
    const made = { id: fingerprint, outs } as ProviderMadeKey;
    keep(made);
    return made;
}

import type * as OpenPGP from "openpgp";

/** Loaded when a key is read or made (about 60 ms): a plan whose keys are generated at \`up\` does neither. */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const openpgp = (): typeof OpenPGP => require("openpgp");

/**
 * The OpenPGP key Omni encrypts its embedded etcd with (`--private-key-source=file:///omni.asc`).
 * Omni cannot prompt for a passphrase and needs an encryption-capable (sub)key (Omni's on-prem docs; docs/TROUBLESHOOTING.md "Omni crash-loops at start: it cannot use the etcd key").
 * Without this key the data on the Omni volume cannot be decrypted: back it up.
 */

/** Why an armored key cannot be Omni's etcd key (empty when it can). Parses the key for real. */
export async function etcdKeyProblems(armored: string): Promise<string[]> {
    let key: OpenPGP.Key;
    try {
        key = await openpgp().readKey({ armoredKey: armored });
    } catch (e) {
        return [
            `is not an ASCII-armored OpenPGP key (${(e as Error).message}); export it with gpg --export-secret-key --armor <fingerprint>`,
        ];
    }
    const fingerprint = key.getFingerprint().toUpperCase();
    if (!key.isPrivate()) {
        return [
            `key ${fingerprint} is a public key; Omni needs the secret key: gpg --export-secret-key --armor ${fingerprint}`,
        ];
    }
    const problems: string[] = [];
    // Every secret part must be usable without a prompt; gpg can lock the primary and subkeys separately.
    const locked = [key, ...key.getSubkeys()].filter((k) => !k.keyPacket.isDecrypted());
    if (locked.length) {
        problems.push(
            `key ${fingerprint} is locked with a passphrase (or its secret part is missing), and Omni cannot unlock it at startup; ` +
                `remove the passphrase (gpg --edit-key ${fingerprint}, then passwd with an empty one) or let the hub generate a key`,
        );
    }
    try {
        await key.getEncryptionKey();
    } catch {
        problems.push(
            `key ${fingerprint} has no usable encryption subkey; add one: gpg --quick-add-key ${fingerprint} rsa4096 encr never`,
        );
    }
    return problems;
}

export interface GenerateEtcdKeyOptions {
    name?: string;
    email?: string;
}

export interface EtcdKey {
    armoredPrivateKey: string;
    fingerprint: string;
}

/** The key's fingerprint, upper-case hex (as gpg prints it). */
export async function keyFingerprint(armored: string): Promise<string> {
    return (await openpgp().readKey({ armoredKey: armored })).getFingerprint().toUpperCase();
}

/** The public part of an armored key (what hub backups are encrypted to; nothing secret). */
export async function publicKeyOf(armored: string): Promise<string> {
    return (await openpgp().readKey({ armoredKey: armored })).toPublic().armor();
}

/** An RSA-4096 key with an encryption subkey and no passphrase, as Omni's docs make with gpg. */
export async function generateEtcdKey(opts: GenerateEtcdKeyOptions = {}): Promise<EtcdKey> {
    const { privateKey } = await openpgp().generateKey({
        type: "rsa",
        rsaBits: 4096,
        userIDs: [{ name: opts.name ?? "Omni (Used for etcd data encryption)", email: opts.email }],
        format: "armored",
    });
    return { armoredPrivateKey: privateKey, fingerprint: await keyFingerprint(privateKey) };
}

import * as pulumi from "@pulumi/pulumi";
import * as openpgp from "openpgp";
import { ConfigError } from "./validation";

/**
 * The OpenPGP key Omni encrypts its embedded etcd with (`--private-key-source=file:///omni.asc`).
 * Omni cannot prompt for a passphrase and needs an encryption-capable (sub)key (domain.md §4.5, gotcha 3).
 * Without this key the data on the Omni volume cannot be decrypted: back it up.
 */

/** Why an armored key cannot be Omni's etcd key (empty when it can). Parses the key for real. */
export async function etcdKeyProblems(armored: string): Promise<string[]> {
    let key: openpgp.Key;
    try {
        key = await openpgp.readKey({ armoredKey: armored });
    } catch (e) {
        return [`is not an ASCII-armored OpenPGP key (${(e as Error).message}); export it with gpg --export-secret-key --armor <fingerprint>`];
    }
    const fingerprint = key.getFingerprint().toUpperCase();
    if (!key.isPrivate()) {
        return [`key ${fingerprint} is a public key; Omni needs the secret key: gpg --export-secret-key --armor ${fingerprint}`];
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
        problems.push(`key ${fingerprint} has no usable encryption subkey; add one: gpg --quick-add-key ${fingerprint} rsa4096 encr never`);
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

/** An RSA-4096 key with an encryption subkey and no passphrase, as Omni's docs make with gpg. */
export async function generateEtcdKey(opts: GenerateEtcdKeyOptions = {}): Promise<EtcdKey> {
    const { privateKey } = await openpgp.generateKey({
        type: "rsa",
        rsaBits: 4096,
        userIDs: [{ name: opts.name ?? "Omni (Used for etcd data encryption)", email: opts.email }],
        format: "armored",
    });
    const key = await openpgp.readPrivateKey({ armoredKey: privateKey });
    return { armoredPrivateKey: privateKey, fingerprint: key.getFingerprint().toUpperCase() };
}

/**
 * Generates the key once, at create. `diff` never reports changes, so nothing short of deleting the
 * (protected) resource replaces the key.
 */
export const etcdKeyProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: { name?: string; email?: string }) {
        const key = await generateEtcdKey(inputs);
        return { id: key.fingerprint, outs: { ...inputs, ...key } };
    },
    async diff() {
        return { changes: false };
    },
};

interface GeneratedEtcdKeyInputs {
    name?: pulumi.Input<string>;
    email?: pulumi.Input<string>;
}

class GeneratedEtcdKey extends pulumi.dynamic.Resource {
    // `declare`: a class field would overwrite the outputs the base constructor sets.
    declare readonly armoredPrivateKey: pulumi.Output<string>;
    declare readonly fingerprint: pulumi.Output<string>;

    constructor(name: string, args: GeneratedEtcdKeyInputs, opts?: pulumi.CustomResourceOptions) {
        // `kind` tells the offline plan's mocks what this dynamic resource is.
        super(etcdKeyProvider, name, { ...args, kind: "omni-etcd-key", armoredPrivateKey: undefined, fingerprint: undefined }, opts);
    }
}

export interface OmniEtcdKeyArgs {
    /** An armored secret key from secret config; checked at program time. Generated when absent. */
    armoredPrivateKey?: pulumi.Input<string>;
    /** User id of a generated key. */
    name?: pulumi.Input<string>;
    email?: pulumi.Input<string>;
}

/** Omni's etcd encryption key: a supplied one, checked, or one generated once and kept in state as a secret. */
export class OmniEtcdKey extends pulumi.ComponentResource {
    /** The armored secret key (secret). Back it up: without it the Omni data is lost. */
    public readonly armoredPrivateKey: pulumi.Output<string>;
    public readonly fingerprint: pulumi.Output<string>;

    constructor(name: string, args: OmniEtcdKeyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("omni-scale:omni:OmniEtcdKey", name, {}, opts);
        if (args.armoredPrivateKey !== undefined) {
            // The value may be unknown until deployment, so it is checked in an apply; a bad key rejects the
            // output, which fails every resource that uses it (the Omni container) with this ConfigError.
            const checked = pulumi.output(args.armoredPrivateKey).apply(async (armored) => {
                const problems = await etcdKeyProblems(armored);
                if (problems.length) throw new ConfigError(problems.map((message) => ({ key: "etcdKey", message })));
                return { armored, fingerprint: (await openpgp.readKey({ armoredKey: armored })).getFingerprint().toUpperCase() };
            });
            this.armoredPrivateKey = pulumi.secret(checked.armored);
            this.fingerprint = pulumi.unsecret(checked.fingerprint);
        } else {
            const key = new GeneratedEtcdKey(
                `${name}-generated`,
                { name: args.name, email: args.email },
                // Losing the key loses the data: never delete it, not even with the stack.
                { parent: this, protect: true, retainOnDelete: true, additionalSecretOutputs: ["armoredPrivateKey"] },
            );
            this.armoredPrivateKey = pulumi.secret(key.armoredPrivateKey);
            this.fingerprint = key.fingerprint;
        }
        this.registerOutputs({ armoredPrivateKey: this.armoredPrivateKey, fingerprint: this.fingerprint });
    }
}

import * as pulumi from "@pulumi/pulumi";
import { etcdKeyProblems, generateEtcdKey, keyFingerprint, publicKeyOf } from "./etcd-key-rules";
import { packagedProvider } from "../core/packaged-provider";
import { ConfigError } from "../core/validation";

/**
 * Generates the key once, at create. `diff` never reports changes, so nothing short of deleting the
 * (protected) resource replaces the key.
 */
export const etcdKeyProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: { name?: string; email?: string }) {
        const key = await generateEtcdKey(inputs);
        return {
            id: key.fingerprint,
            outs: { ...inputs, ...key, armoredPublicKey: await publicKeyOf(key.armoredPrivateKey) },
        };
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
    /** Absent from keys created before it was an output: then derived from the secret key. */
    declare readonly armoredPublicKey: pulumi.Output<string | undefined>;

    constructor(name: string, args: GeneratedEtcdKeyInputs, opts?: pulumi.CustomResourceOptions) {
        // `kind` tells the offline plan's mocks what this dynamic resource is.
        super(
            packagedProvider(etcdKeyProvider, "omni-scale/providers/etcd-key", "etcdKeyProvider", __filename),
            name,
            {
                ...args,
                kind: "omni-etcd-key",
                armoredPrivateKey: undefined,
                fingerprint: undefined,
                armoredPublicKey: undefined,
            },
            opts,
        );
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
    /** The public part (armored; not secret): what the hub backup encrypts each set to. */
    public readonly armoredPublicKey: pulumi.Output<string>;

    constructor(name: string, args: OmniEtcdKeyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("omni-scale:omni:OmniEtcdKey", name, {}, opts);
        if (args.armoredPrivateKey !== undefined) {
            // The value may be unknown until deployment, so it is checked in an apply; a bad key rejects the
            // output, which fails every resource that uses it (the Omni container) with this ConfigError.
            const checked = pulumi.output(args.armoredPrivateKey).apply(async (armored) => {
                const problems = await etcdKeyProblems(armored);
                if (problems.length) throw new ConfigError(problems.map((message) => ({ key: "etcdKey", message })));
                return { armored, fingerprint: await keyFingerprint(armored) };
            });
            this.armoredPrivateKey = pulumi.secret(checked.armored);
            this.fingerprint = pulumi.unsecret(checked.fingerprint);
            this.armoredPublicKey = pulumi.unsecret(this.armoredPrivateKey.apply(publicKeyOf));
        } else {
            const key = new GeneratedEtcdKey(
                `${name}-generated`,
                { name: args.name, email: args.email },
                // Losing the key loses the data: never delete it, not even with the stack.
                { parent: this, protect: true, retainOnDelete: true, additionalSecretOutputs: ["armoredPrivateKey"] },
            );
            this.armoredPrivateKey = pulumi.secret(key.armoredPrivateKey);
            this.fingerprint = key.fingerprint;
            // What the key's own resource reports, so nothing parses the key before `up` generates it.
            this.armoredPublicKey = pulumi.unsecret(
                pulumi
                    .all([key.armoredPublicKey, key.armoredPrivateKey])
                    .apply(async ([pub, priv]) => pub ?? (await publicKeyOf(priv))),
            );
        }
        this.registerOutputs({
            armoredPrivateKey: this.armoredPrivateKey,
            fingerprint: this.fingerprint,
            armoredPublicKey: this.armoredPublicKey,
        });
    }
}

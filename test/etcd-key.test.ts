import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import * as openpgp from "openpgp";
import { OmniEtcdKey, etcdKeyProvider } from "../components/hub/etcd-key";
import { etcdKeyProblems } from "../components/hub/etcd-key-rules";
import { isSecret, runProgram } from "../src/plan/capture";
import { GENERATED_AT_UP } from "../src/plan/mocks";
import { eccKey, GpgHome, providerMadeKey } from "./keys";
import { requireTools } from "./tools";

describe("etcd-key: generation (dynamic provider) and etcdKeyProblems", () => {
    // One RSA-4096 key (a few seconds), made the way `pulumi up` makes it: through the provider's create (kept for
    // warm runs while the provider's code is unchanged: keys.ts).
    let rsa: { armoredPrivateKey: string; fingerprint: string };
    let id: string;
    before(async function () {
        this.timeout(120000);
        const created = await providerMadeKey({ name: "Omni test", email: "omni@example.com" });
        rsa = created.outs;
        id = created.id;
    });

    it("creates an unlocked RSA-4096 key with an RSA-4096 encryption subkey, id = fingerprint", async () => {
        assert.equal(id, rsa.fingerprint);
        const key = await openpgp.readPrivateKey({ armoredKey: rsa.armoredPrivateKey });
        assert.equal(key.getFingerprint().toUpperCase(), rsa.fingerprint);
        assert.deepEqual(key.getAlgorithmInfo(), { algorithm: "rsaEncryptSign", bits: 4096 });
        assert.equal(key.getSubkeys().length, 1);
        assert.equal(key.getSubkeys()[0].getAlgorithmInfo().bits, 4096);
        const enc = await key.getEncryptionKey();
        assert.notEqual(enc.getFingerprint(), key.getFingerprint(), "encryption must use the subkey");
        assert.ok(key.isDecrypted());
        assert.deepEqual(await etcdKeyProblems(rsa.armoredPrivateKey), []);
    });

    it("never reports a diff, so the key is never regenerated", async () => {
        const diff = await etcdKeyProvider.diff!(id, rsa, { name: "renamed" });
        assert.equal(diff.changes, false);
    });

    it("rejects the same RSA-4096 key once locked with a passphrase", async () => {
        const key = await openpgp.readPrivateKey({ armoredKey: rsa.armoredPrivateKey });
        const locked = await openpgp.encryptKey({ privateKey: key, passphrase: "hunter2" });
        const problems = await etcdKeyProblems(locked.armor());
        assert.equal(problems.length, 1);
        assert.match(problems[0], /locked with a passphrase.*cannot unlock it at startup/);
        assert.match(problems[0], new RegExp(rsa.fingerprint));
    });

    it("accepts an unlocked ECC key with an encryption subkey", async () => {
        assert.deepEqual(await etcdKeyProblems(await eccKey()), []);
    });

    it("rejects a key without an encryption subkey, naming the gpg fix", async () => {
        const problems = await etcdKeyProblems(await eccKey({ noSubkey: true }));
        assert.equal(problems.length, 1);
        assert.match(problems[0], /no usable encryption subkey.*gpg --quick-add-key [0-9A-F]{40} rsa4096 encr never/);
    });

    it("reports every problem of a key at once", async () => {
        const problems = await etcdKeyProblems(await eccKey({ noSubkey: true, passphrase: "pw" }));
        assert.equal(problems.length, 2);
    });

    it("rejects a public key and text that is no key", async () => {
        const key = await openpgp.readPrivateKey({ armoredKey: await eccKey() });
        const [pub] = await etcdKeyProblems(key.toPublic().armor());
        assert.match(pub, /is a public key.*gpg --export-secret-key --armor/);
        const [garbage] = await etcdKeyProblems("not a key");
        assert.match(garbage, /not an ASCII-armored OpenPGP key/);
    });

    it("agrees with keys made by gpg (cert-only primary, then an encr subkey)", async function () {
        this.timeout(30000);
        requireTools(this, ["gpg"], "etcd key checks against gpg-made keys");
        const home = new GpgHome();
        try {
            const fpr = home.certifyOnlyKey("Omni (Used for etcd data encryption) <omni@example.com>");
            const [noSubkey] = await etcdKeyProblems(home.exportSecret(fpr));
            assert.match(noSubkey, /no usable encryption subkey/);
            home.addEncryptionSubkey(fpr);
            assert.deepEqual(await etcdKeyProblems(home.exportSecret(fpr)), []);
        } finally {
            home.remove();
        }
    });
});

describe("etcd-key: OmniEtcdKey component", () => {
    it("generates the key in a protected, retained dynamic resource with a secret output", async () => {
        const run = await runProgram(
            () => {
                const key = new OmniEtcdKey("etcd", {});
                return { armored: key.armoredPrivateKey, fingerprint: key.fingerprint };
            },
            { stack: "test" },
        );
        const generated = run.resources.find((r) => r.name === "etcd-generated")!;
        assert.equal(generated.type, "pulumi-nodejs:dynamic:Resource");
        assert.equal(generated.protect, true);
        assert.equal(generated.retainOnDelete, true);
        assert.deepEqual(generated.additionalSecretOutputs, ["armoredPrivateKey"]);
        assert.equal(generated.parent, run.resources.find((r) => r.type === "omni-scale:omni:OmniEtcdKey")!.urn);
        assert.ok(isSecret(run.outputs.armored), "the armored key must stay secret");
        // The offline mocks do not make a key: the provider does, at `pulumi up` (its create is tested above).
        assert.equal(run.outputs.fingerprint, GENERATED_AT_UP);
    });

    it("passes a good supplied key through as a secret with its fingerprint", async () => {
        const armored = await eccKey();
        const expected = (await openpgp.readKey({ armoredKey: armored })).getFingerprint().toUpperCase();
        const run = await runProgram(
            () => {
                const key = new OmniEtcdKey("etcd", { armoredPrivateKey: pulumi.secret(armored) });
                return { armored: key.armoredPrivateKey, fingerprint: key.fingerprint };
            },
            { stack: "test" },
        );
        assert.ok(!run.resources.some((r) => r.type === "pulumi-nodejs:dynamic:Resource"), "no key is generated");
        assert.ok(isSecret(run.outputs.armored));
        assert.equal((run.outputs.armored as { value: string }).value, armored);
        assert.equal(run.outputs.fingerprint, expected);
    });

    it("fails the program with a ConfigError for a locked supplied key", async () => {
        const locked = await eccKey({ passphrase: "pw" });
        await assert.rejects(
            runProgram(
                () => {
                    const key = new OmniEtcdKey("etcd", { armoredPrivateKey: pulumi.secret(locked) });
                    return { armored: key.armoredPrivateKey };
                },
                { stack: "test" },
            ),
            /invalid configuration:\n  - etcdKey: key [0-9A-F]{40} is locked with a passphrase/,
        );
    });
});

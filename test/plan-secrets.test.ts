import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { ConfigError } from "../components/core/validation";
import { readStackFile } from "../src/plan/plan";
import { decryptKeys, stackDecrypter } from "../src/stack-secrets";
import { GpgHome, Pair, selfSigned } from "./keys";
import { passphraseStack, TEST_PASSPHRASE } from "./passphrase-secrets";
import { runPlan } from "./plan-run";
import { editedStacks, removeStackDirs } from "./stack-files";
import { requireTools } from "./tools";

interface PublishedValue {
    key?: string;
    encryptionsalt: string;
    secure?: string;
    passphrase: string;
    wrongPassphrase?: string;
}
const [pitfall, pulumiTestState] = JSON.parse(
    fs.readFileSync(path.join(__dirname, "fixtures", "pulumi-secrets", "published-values.json"), "utf8"),
).values as PublishedValue[];

const PASSPHRASE = TEST_PASSPHRASE;
/** One wrong passphrase for the test stacks: each passphrase tried costs a key derivation (a quarter second). */
const WRONG_PASSPHRASE = "not the passphrase";

/** The ConfigError `fn` throws, for assertions on its issues. */
function configError(fn: () => unknown): ConfigError {
    try {
        fn();
    } catch (e) {
        if (e instanceof ConfigError) return e;
        throw e;
    }
    assert.fail("expected a ConfigError");
}

describe("plan: secure values of Pulumi's passphrase provider (src/stack-secrets.ts)", () => {
    // One key derivation (1M PBKDF2 rounds) for every fixture of this block.
    const stack = passphraseStack(PASSPHRASE);
    const dirs: string[] = [];
    after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
    const stackFile = (doc: Record<string, unknown>) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-secrets-"));
        dirs.push(dir);
        const file = path.join(dir, "Pulumi.test.yaml");
        fs.writeFileSync(file, YAML.stringify(doc));
        return file;
    };

    it("opens a value the Pulumi CLI wrote (pitfall's published stack file), and refuses it once altered", () => {
        const decrypt = stackDecrypter({ encryptionsalt: pitfall.encryptionsalt }, "Pulumi.pitf.yaml", [pitfall.key!], {
            PULUMI_CONFIG_PASSPHRASE: pitfall.passphrase,
        });
        // AES-GCM authenticates: only the CLI's own key derivation and layout open it.
        assert.equal(typeof decrypt(pitfall.secure!), "string");
        const [version, nonce, sealed] = pitfall.secure!.split(":");
        const altered = `${version}:${nonce}:${sealed.startsWith("A") ? "B" : "A"}${sealed.slice(1)}`;
        const { issues } = decryptKeys({ [pitfall.key!]: { secure: altered } }, decrypt);
        assert.equal(issues.length, 1);
        assert.match(
            issues[0].message,
            /cannot be decrypted with this stack's passphrase.*set it again with `pulumi config set --secret dbpassword \.\.\.`/,
        );
    });

    it("tells the passphrase of Pulumi's own test state from a wrong one, naming the variable and never the value", () => {
        const settings = { encryptionsalt: pulumiTestState.encryptionsalt };
        assert.doesNotThrow(() =>
            stackDecrypter(settings, "Pulumi.dev.yaml", ["p:k"], {
                PULUMI_CONFIG_PASSPHRASE: pulumiTestState.passphrase,
            }),
        );
        const wrong = configError(() =>
            stackDecrypter(settings, "Pulumi.dev.yaml", ["p:k"], {
                PULUMI_CONFIG_PASSPHRASE: pulumiTestState.wrongPassphrase,
            }),
        );
        assert.match(
            wrong.message,
            /PULUMI_CONFIG_PASSPHRASE: does not unlock the secrets of Pulumi\.dev\.yaml \(incorrect passphrase/,
        );
        assert.ok(!wrong.message.includes(pulumiTestState.wrongPassphrase!));
    });

    it("round-trips the test-side writer, including values inside objects and lists (the whole key is secret)", () => {
        const file = stackFile({
            encryptionsalt: stack.encryptionsalt,
            config: {
                "omni-scale:role": "hub",
                "omni-scale:tlsPrivateKey": stack.secure(
                    "-----BEGIN PRIVATE KEY-----\nfake\n-----END PRIVATE KEY-----\n",
                ),
                "omni-scale:nested": {
                    a: stack.secure("nested-secret-one"),
                    list: [stack.secure("nested-secret-two"), "plain"],
                    n: 3,
                },
            },
        });
        const { config, secret } = readStackFile(file, { PULUMI_CONFIG_PASSPHRASE: PASSPHRASE });
        assert.equal(
            config["omni-scale:tlsPrivateKey"],
            "-----BEGIN PRIVATE KEY-----\nfake\n-----END PRIVATE KEY-----\n",
        );
        assert.deepEqual(JSON.parse(config["omni-scale:nested"]), {
            a: "nested-secret-one",
            list: ["nested-secret-two", "plain"],
            n: 3,
        });
        assert.equal(config["omni-scale:role"], "hub");
        assert.deepEqual([...secret].sort(), ["omni-scale:nested", "omni-scale:tlsPrivateKey"]);
    });

    it("reads PULUMI_CONFIG_PASSPHRASE_FILE (trimmed) unless PULUMI_CONFIG_PASSPHRASE is set, even empty, as the CLI does", () => {
        const file = stackFile({
            encryptionsalt: stack.encryptionsalt,
            config: { "omni-scale:tlsPrivateKey": stack.secure("file-test-secret") },
        });
        const passFile = path.join(path.dirname(file), "passphrase.txt");
        fs.writeFileSync(passFile, `${PASSPHRASE}\n`);
        assert.equal(
            readStackFile(file, { PULUMI_CONFIG_PASSPHRASE_FILE: passFile }).config["omni-scale:tlsPrivateKey"],
            "file-test-secret",
        );
        const empty = configError(() =>
            readStackFile(file, { PULUMI_CONFIG_PASSPHRASE: "", PULUMI_CONFIG_PASSPHRASE_FILE: passFile }),
        );
        assert.match(empty.message, /- PULUMI_CONFIG_PASSPHRASE: does not unlock/);
        fs.writeFileSync(passFile, `${WRONG_PASSPHRASE}\n`);
        assert.match(
            configError(() => readStackFile(file, { PULUMI_CONFIG_PASSPHRASE_FILE: passFile })).message,
            /- PULUMI_CONFIG_PASSPHRASE_FILE: does not unlock/,
        );
        const missing = configError(() =>
            readStackFile(file, { PULUMI_CONFIG_PASSPHRASE_FILE: path.join(path.dirname(file), "nope") }),
        );
        assert.match(missing.message, /PULUMI_CONFIG_PASSPHRASE_FILE \(got ".*nope"\): cannot be read \(ENOENT\)/);
        const unset = configError(() => readStackFile(file, {}));
        assert.match(
            unset.message,
            /- PULUMI_CONFIG_PASSPHRASE: is not set: omni-scale:tlsPrivateKey in .* are encrypted with the stack's passphrase; set PULUMI_CONFIG_PASSPHRASE to it \(or PULUMI_CONFIG_PASSPHRASE_FILE/,
        );
    });

    it("reads nothing secret, and needs no passphrase, when no key of the program's own is encrypted", () => {
        // A malformed salt and no passphrase pass: the salt is looked at (and the key derived) only for a secure value.
        const file = stackFile({
            encryptionsalt: "v1:not-a-salt",
            config: { "omni-scale:role": "hub", "proxmoxve:apiToken": { secure: "v1:abc:def" } },
        });
        const { config, secret } = readStackFile(file, {});
        assert.deepEqual(config, { "omni-scale:role": "hub" }, "encrypted provider credentials are not passed on");
        assert.equal(secret.size, 0);
    });

    it("refuses another secrets provider naming it and how to plan anyway, and a damaged salt naming the line", () => {
        const config = {
            "omni-scale:tlsPrivateKey": { secure: "v1:abc:def" },
            "omni-scale:etcdGpgKey": { secure: "v1:abc:def" },
        };
        const kms = configError(() =>
            readStackFile(
                stackFile({ secretsprovider: "awskms://alias/omni?region=eu-central-1", encryptedkey: "AQID", config }),
                {
                    PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
                },
            ),
        );
        assert.equal(kms.issues.length, 2);
        assert.match(
            kms.message,
            /omni-scale:tlsPrivateKey: is encrypted with the stack's awskms secrets provider, which the offline plan cannot reach; to plan anyway, plan a copy of the stack file without its encrypted keys \(--config FILE\)/,
        );
        // The passphrase provider named explicitly is the passphrase provider.
        const named = stackFile({
            secretsprovider: "passphrase",
            encryptionsalt: stack.encryptionsalt,
            config: { "omni-scale:tlsPrivateKey": stack.secure("named-provider-secret") },
        });
        assert.equal(
            readStackFile(named, { PULUMI_CONFIG_PASSPHRASE: PASSPHRASE }).config["omni-scale:tlsPrivateKey"],
            "named-provider-secret",
        );
        const damaged = configError(() =>
            readStackFile(stackFile({ encryptionsalt: "v1:abc", config }), { PULUMI_CONFIG_PASSPHRASE: PASSPHRASE }),
        );
        assert.match(damaged.message, /encryptionsalt \(.*\) \(got "v1:abc"\): is not a passphrase provider state/);
    });
});

describe("plan CLI: a real stack file's etcd GPG key and TLS pair, decrypted (npm run plan -- --config FILE)", function () {
    this.timeout(180000);
    const stack = passphraseStack(PASSPHRASE);
    const env = { PULUMI_CONFIG_PASSPHRASE: PASSPHRASE };
    let home: GpgHome | undefined;
    let tlsDir: string | undefined;
    const keys: Record<"good" | "locked" | "noEncryptionSubkey" | "publicOnly", string> = {
        good: "",
        locked: "",
        noEncryptionSubkey: "",
        publicOnly: "",
    };
    let omni: Pair;
    let other: Pair;

    before(function () {
        requireTools(this, ["gpg", "openssl"], "planning a stack file with real keys");
        home = new GpgHome();
        // As an operator makes them with gpg: a cert-only primary key, then (or not) an encryption subkey.
        const good = home.certifyOnlyKey("Omni good <good@example.com>");
        home.addEncryptionSubkey(good);
        keys.good = home.exportSecret(good);
        keys.publicOnly = home.exportPublic(good);
        const locked = home.certifyOnlyKey("Omni locked <locked@example.com>", "hunter2");
        home.addEncryptionSubkey(locked, "hunter2");
        keys.locked = home.exportSecret(locked, "hunter2");
        keys.noEncryptionSubkey = home.exportSecret(home.certifyOnlyKey("Omni cert only <certonly@example.com>"));
        tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-tls-"));
        omni = selfSigned(tlsDir, "omni", "omni.example.com", "DNS:omni.example.com");
        other = selfSigned(tlsDir, "other", "other.example.com", "DNS:other.example.com");
    });
    after(() => {
        home?.remove();
        if (tlsDir) fs.rmSync(tlsDir, { recursive: true, force: true });
        removeStackDirs();
    });

    /** The example hub stack with these secrets set as `pulumi config set --secret` would (TLS from config). */
    function hubFile(secrets: { etcdGpgKey?: string; tlsCertificate: string; tlsPrivateKey: string }): string {
        return editedStacks({
            quantum: (c, doc) => {
                doc.encryptionsalt = stack.encryptionsalt;
                c["omni-scale:hub"].tls = { mode: "config" };
                for (const [key, value] of Object.entries(secrets))
                    if (value !== undefined) c[`omni-scale:${key}`] = stack.secure(value);
            },
        }).quantum;
    }
    const plan = (file: string, extra: string[] = [], planEnv: NodeJS.ProcessEnv = env) =>
        runPlan(["--stack", "quantum", "--config", file, ...extra], planEnv);
    const noKeyMaterial = (text: string) => {
        assert.doesNotMatch(text, /BEGIN PGP PRIVATE KEY|BEGIN PRIVATE KEY|BEGIN CERTIFICATE/);
        assert.ok(!text.includes(omni.key.split("\n")[1]), "no line of the TLS key");
    };

    it("plans a good key and pair: exit 0, the policies see them, every output masks them", async () => {
        const run = await plan(hubFile({ etcdGpgKey: keys.good, tlsCertificate: omni.cert, tlsPrivateKey: omni.key }), [
            "--json",
        ]);
        assert.equal(run.code, 0, run.stderr);
        const doc = JSON.parse(run.stdout);
        // The policy that parses the uploaded key found nothing: it read the decrypted key in plain text, as in a preview.
        assert.deepEqual(doc.violations, []);
        assert.ok(
            // (the hub backup's own signing key is generated: it is not the etcd key)
            !doc.resources.some(
                (r: any) => r.type === "pulumi-nodejs:dynamic:Resource" && r.name === "omni-etcd-key-generated",
            ),
            "the supplied key is used, none generated",
        );
        const omniContainer = doc.resources.find(
            (r: any) => r.type === "docker:index/container:Container" && r.inputs.uploads?.length,
        );
        assert.ok(
            omniContainer.inputs.uploads.every((u: any) => u.content === "[secret]"),
            JSON.stringify(omniContainer.inputs.uploads),
        );
        assert.equal(doc.outputs.etcdKeyArmored, "[secret]");
        noKeyMaterial(run.stdout + run.stderr);
    });

    for (const [name, key, problem] of [
        ["locked with a passphrase", "locked", /locked with a passphrase.*cannot unlock it at startup/],
        [
            "without an encryption subkey",
            "noEncryptionSubkey",
            /no usable encryption subkey.*gpg --quick-add-key [0-9A-F]{40} rsa4096 encr never/,
        ],
        ["that is a public key only", "publicOnly", /is a public key.*gpg --export-secret-key --armor/],
    ] as const) {
        it(`fails naming the problem for a GnuPG key ${name}`, async () => {
            const run = await plan(
                hubFile({ etcdGpgKey: keys[key], tlsCertificate: omni.cert, tlsPrivateKey: omni.key }),
            );
            assert.notEqual(run.code, 0);
            assert.match(run.stderr, problem);
            noKeyMaterial(run.stdout + run.stderr);
        });
    }

    it("fails naming the problem for a TLS pair of another name and for a key of another certificate", async () => {
        const otherName = await plan(
            hubFile({ etcdGpgKey: keys.good, tlsCertificate: other.cert, tlsPrivateKey: other.key }),
        );
        assert.notEqual(otherName.code, 0);
        assert.match(otherName.stderr, /tlsCertificate: .*covers DNS:other\.example\.com, not omni\.example\.com/);
        const mismatched = await plan(
            hubFile({ etcdGpgKey: keys.good, tlsCertificate: omni.cert, tlsPrivateKey: other.key }),
        );
        assert.notEqual(mismatched.code, 0);
        assert.match(mismatched.stderr, /tlsCertificate: the private key does not belong to the certificate/);
        noKeyMaterial(otherName.stderr + mismatched.stderr);
    });

    it("exits 2 naming the variable for a wrong or missing passphrase, before planning anything", async () => {
        const file = hubFile({ tlsCertificate: omni.cert, tlsPrivateKey: omni.key });
        const wrong = await plan(file, [], { PULUMI_CONFIG_PASSPHRASE: WRONG_PASSPHRASE });
        assert.equal(wrong.code, 2);
        assert.equal(wrong.stdout, "");
        assert.match(
            wrong.stderr,
            /PULUMI_CONFIG_PASSPHRASE: does not unlock the secrets of .*Pulumi\.quantum\.yaml \(incorrect passphrase/,
        );
        assert.ok(!wrong.stderr.includes(WRONG_PASSPHRASE));
        const unset = await plan(file, [], {});
        assert.equal(unset.code, 2);
        assert.match(
            unset.stderr,
            /PULUMI_CONFIG_PASSPHRASE: is not set: .*omni-scale:tlsCertificate, omni-scale:tlsPrivateKey/,
        );
    });

    it("never prints a decrypted value, even where an error would quote it", async () => {
        const file = editedStacks({
            quantum: (c, doc) => {
                doc.encryptionsalt = stack.encryptionsalt;
                // A secure value inside an object: zod quotes the bad input in its error.
                c["omni-scale:hub"].ports = { api: stack.secure("secret-port-value") };
            },
        }).quantum;
        const run = await plan(file);
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, /omni-scale:hub\.ports\.api \(got "\[secret\]"\)/);
        assert.ok(!run.stderr.includes("secret-port-value"), run.stderr);
    });
});

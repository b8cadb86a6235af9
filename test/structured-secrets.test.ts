import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { currentStackConfig } from "../src/config";
import { CapturedResource, isSecret, maskSecrets, runProgram, unwrapSecrets } from "../src/plan/capture";
import { planStack, readStackFile } from "../src/plan/plan";
import { programFor } from "../src/programs";
import { secretLeaves } from "../src/stack-secrets";
import { passphraseStack, TEST_PASSPHRASE } from "./passphrase-secrets";
import { runPlan } from "./plan-run";
import { editedStacks, removeStackDirs } from "./stack-files";

const PASSPHRASE = TEST_PASSPHRASE;

/** A registry credential in the first cluster's patch, as `pulumi config set --secret --path` puts it there. */
function withRegistryPatch(clusters: any[], password: unknown) {
    clusters[0].patches = [
        {
            name: "registry-auth",
            inline: { machine: { registries: { config: { "ghcr.io": { auth: { username: "bot", password } } } } } },
        },
    ];
}

/** Each resource input that shows `needle` (secrets unwrapped), and whether it shows it with its secrets masked. */
function carriers(resources: CapturedResource[], needle: string): { name: string; key: string; leaks: boolean }[] {
    return resources.flatMap((r) =>
        Object.entries(r.inputs)
            .filter(([, v]) => JSON.stringify(unwrapSecrets(v)).includes(needle))
            .map(([key, v]) => ({ name: r.name, key, leaks: JSON.stringify(maskSecrets(v)).includes(needle) })),
    );
}

describe("secret values inside ordinary keys stay secret end to end (issue 30, item 5)", function () {
    this.timeout(180_000);
    const stack = passphraseStack(PASSPHRASE);
    after(removeStackDirs);

    it("plans a cluster patch with a `secure:` password: the input carrying it is secret and no output shows it", async () => {
        const password = "hostile-registry-password-0xC0FFEE";
        const files = editedStacks({
            matrix: (c, doc) => {
                doc.encryptionsalt = stack.encryptionsalt;
                withRegistryPatch(c["omni-scale:clusters"], stack.secure(password));
            },
        });
        const env = { PULUMI_CONFIG_PASSPHRASE: PASSPHRASE };
        const result = await planStack({ stack: "matrix", configFile: files.matrix, skipPolicies: true, env });
        const found = carriers(result.resources, password);
        assert.ok(found.length > 0, "the patch reaches the cluster template");
        assert.deepEqual(
            found.filter((f) => f.leaks),
            [],
            "every input that shows the password is secret (stored encrypted, masked in previews)",
        );
        for (const [k, v] of Object.entries(result.outputs))
            if (JSON.stringify(unwrapSecrets(v)).includes(password)) assert.ok(isSecret(v), `output ${k}`);
        for (const format of [[], ["--json"]]) {
            const run = await runPlan(["--stack", "matrix", "--config", files.matrix, ...format], env);
            assert.equal(run.code, 0, run.stderr);
            assert.ok(!run.stdout.includes(password) && !run.stderr.includes(password), `plan ${format} shows it`);
        }
        // The rest of the cluster is not hidden for it: the template's other values still show in the plan.
        const text = (await runPlan(["--stack", "matrix", "--config", files.matrix], env)).stdout;
        assert.match(text, /talos-prod-01/);
    });

    it("under `pulumi up` finds the secret leaves through the stack file, with no decryption of its own", async () => {
        const password = "runtime-registry-password-0xBEEF";
        const files = editedStacks({
            matrix: (c, doc) => {
                doc.encryptionsalt = stack.encryptionsalt;
                withRegistryPatch(c["omni-scale:clusters"], stack.secure(password));
            },
        });
        // What the CLI hands the program: the key decrypted whole and listed as secret, nothing marking the leaf.
        const doc = YAML.parse(fs.readFileSync(files.matrix, "utf8"), { merge: true });
        const clusters = doc.config["omni-scale:clusters"];
        withRegistryPatch(clusters, password);
        const plainFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-plain-")), "Pulumi.matrix.yaml");
        const plain = { ...doc, config: { ...doc.config, "omni-scale:clusters": clusters } };
        delete plain.encryptionsalt;
        fs.writeFileSync(plainFile, YAML.stringify(plain));
        const raw = readStackFile(plainFile).config;
        const hub = await planStack({ stack: "quantum", configFile: files.quantum, skipPolicies: true, silent: true });
        const hubOutputs = Object.fromEntries(Object.entries(hub.outputs).map(([k, v]) => [k, unwrapSecrets(v)]));
        const { resources } = await runProgram(() => programFor(currentStackConfig(files.matrix)), {
            stack: "matrix",
            config: raw,
            secretKeys: ["omni-scale:clusters"],
            stackReferences: {
                "organization/omni-scale/quantum": { outputs: hubOutputs, secretOutputNames: Object.keys(hubOutputs) },
                "organization/omni-scale/matrix": { outputs: {}, secretOutputNames: [] },
            },
        });
        fs.rmSync(path.dirname(plainFile), { recursive: true, force: true });
        const found = carriers(resources, password);
        assert.ok(found.length > 0);
        assert.deepEqual(
            found.filter((f) => f.leaks),
            [],
        );
        // Only the leaf is secret: inputs that show the cluster but not the password stay in the clear.
        const cluster = resources.find((r) => r.name === "talos-prod-01-cluster")!;
        assert.deepEqual(
            found.map((f) => `${f.name}.${f.key}`),
            ["talos-prod-01-cluster.state", "talos-prod-01-cluster.yaml"],
        );
        assert.equal(cluster.inputs.name, "talos-prod-01", "what does not show the password stays in the clear");
    });

    it("takes the `secure:` leaves by their path in the stack file, or every string when the file says nothing", () => {
        const file = { a: "x", list: [{ p: { secure: "v1:..." } }, { p: "plain" }], n: { deep: { secure: "v1:..." } } };
        const plain = { a: "x", list: [{ p: "s1" }, { p: "plain" }], n: { deep: { k: "s2", j: "s3" } } };
        assert.deepEqual(secretLeaves(file, plain), ["s1", "s2", "s3"]);
        assert.deepEqual(secretLeaves(undefined, { a: "x", b: ["y", 1] }), ["x", "y"]);
    });
});

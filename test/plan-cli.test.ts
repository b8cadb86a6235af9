import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PlanRun, planNodeArgs, runPlan } from "./plan-run";
import { editedStacks, removeStackDirs } from "./stack-files";
import { GENERATED_AT_UP } from "../src/plan/mocks";

const root = path.join(__dirname, "..");

/** Runs the CLI in this process, capturing what it writes. */
const plan = (...args: string[]) => runPlan(args);

/**
 * A plan of an example stack, run once for every test that only reads what it printed (the test of byte-identical
 * output plans again).
 */
const examples = new Map<string, Promise<PlanRun>>();
const example = (...args: string[]) => {
    const key = args.join(" ");
    if (!examples.has(key)) examples.set(key, plan(...args));
    return examples.get(key)!;
};

const tempDirs: string[] = [];
const tempDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-plan-"));
    tempDirs.push(dir);
    return dir;
};

describe("plan CLI", () => {
    after(() => {
        tempDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
        removeStackDirs();
    });

    it("prints the documented JSON for the hub example, secrets masked, exit 0", async () => {
        const { code, stdout, stderr } = await example("--stack", "quantum", "--json");
        assert.equal(code, 0);
        assert.match(
            stderr,
            /^warning: \[runtime\] Omni's etcd encryption key is generated and kept only in this stack's state/m,
        );
        const doc = JSON.parse(stdout);
        assert.deepEqual(Object.keys(doc).sort(), [
            "outputs",
            "resources",
            "simulated",
            "simulatedOutputs",
            "stack",
            "violations",
        ]);
        assert.equal(doc.stack, "quantum");
        for (const r of doc.resources) {
            assert.deepEqual(Object.keys(r).sort(), [
                "dependsOn",
                "import",
                "inputs",
                "name",
                "parent",
                "protect",
                "retainOnDelete",
                "type",
            ]);
            assert.equal(r.import, null, "the example creates everything, adopts nothing");
        }
        // As in a real preview, the key generated at `up` is unknown, so the policy that parses it cannot run yet.
        assert.deepEqual(
            doc.violations.map((v: any) => [v.policy, v.enforcementLevel, v.resourceName]),
            [["omni-gpg-key-no-passphrase", "advisory", "omni-omni"]],
        );
        assert.match(doc.violations[0].message, /can't run policy .* during preview: .*uploads\.0\.content/);
        assert.equal(doc.outputs.automationKey, "[secret]");
        assert.equal(doc.outputs.omniApiUrl, "https://omni.example.com");
        // No secret reaches the document: the mock Tailscale key and any armored key stay masked.
        assert.doesNotMatch(stdout, /tskey-auth-|BEGIN PGP PRIVATE KEY/);
        const sidecar = doc.resources.find(
            (r: any) => r.type === "docker:index/container:Container" && r.name === "omni-tailscale",
        );
        assert.ok(sidecar.inputs.envs.includes("[secret]"), "TS_AUTHKEY is masked");
        // State volumes say what they hold, so the policy pack does not depend on their names.
        const roles = doc.resources
            .filter((r: any) => r.type === "docker:index/volume:Volume")
            .map((r: any) => r.inputs.labels[0].value)
            .sort();
        assert.deepEqual(roles, ["omni-data", "tailscale-state"]);
    });

    it("plans the workload example against the hub example's outputs", async () => {
        const { code, stdout, stderr } = await example("--stack", "matrix", "--json");
        assert.equal(code, 0);
        // The hub plan that feeds the StackReference runs silently: its warnings are about the hub stack, and a preview of
        // this stack would not print them (the hub's own plan does: see the test above).
        assert.doesNotMatch(stderr, /etcd encryption key/);
        const doc = JSON.parse(stdout);
        const provider = doc.resources.find(
            (r: any) =>
                r.type === "docker:index/container:Container" &&
                r.inputs.command?.some((c: string) => c.startsWith("--id=")),
        );
        assert.ok(
            provider.inputs.command.includes("--omni-api-endpoint=https://omni.example.com"),
            "endpoint came through the StackReference",
        );
        assert.ok(doc.resources.some((r: any) => r.type === "proxmoxve:index/dnsLegacy:DnsLegacy"));
        assert.deepEqual(doc.violations, []);
    });

    it("gives the same output for the same file: two plans of each example are byte-identical", async () => {
        for (const stack of ["quantum", "matrix"])
            for (const format of [["--json"], []]) {
                const [first, second] = [
                    await example("--stack", stack, ...format),
                    await plan("--stack", stack, ...format),
                ];
                assert.equal(first.code, 0, first.stderr);
                assert.equal(second.stdout, first.stdout, `${stack} ${format.join("")}`);
            }
        // What only `pulumi up` makes is shown as such, not as a fresh random value.
        const doc = JSON.parse((await example("--stack", "quantum", "--json")).stdout);
        assert.equal(doc.outputs.hubBackup.keyFingerprint, GENERATED_AT_UP);
        const backup = doc.resources.find((r: any) => r.name === "omni-backup-container");
        assert.ok(backup.inputs.labels.some((l: any) => l.value === GENERATED_AT_UP));
    });

    it("labels what it makes up, in the text and in --json, and ends with the next step", async () => {
        const text = (await example("--stack", "matrix")).stdout;
        assert.match(
            text,
            /^ {2}preflight-foxtrot \(command:remote:Command\): stdout: a healthy node's answer, not a check: the preflight runs on the node at pulumi up$/m,
        );
        assert.match(text, /^ {2}preflight \(simulated\): \{"foxtrot":\{"certificate":.*"notAfter":"2099-/m);
        assert.match(text, /^ {2}providerId: "matrix-cluster"$/m, "a value from the stack file is not marked");
        assert.match(
            text,
            /\nNext: .*\n {2}pulumi preview --stack matrix --policy-pack policy\n {2}pulumi up --stack matrix --policy-pack policy\n$/,
        );
        const hub = (await example("--stack", "quantum")).stdout;
        assert.match(hub, /^ {4}--account-id=[0-9a-f-]{36} \(simulated\)$/m);
        assert.match(hub, /^ {4}--name=omni$/m);
        assert.match(
            hub,
            /^ {2}omni-account-id \(random:index\/randomUuid:RandomUuid\): result: random, drawn by the provider/m,
        );
        const doc = JSON.parse((await example("--stack", "quantum", "--json")).stdout);
        assert.deepEqual(doc.simulatedOutputs, ["accountId", "hubBackup"]);
        assert.deepEqual(
            doc.simulated.find((v: any) => v.resource === "omni-etcd-key-generated"),
            {
                resource: "omni-etcd-key-generated",
                type: "pulumi-nodejs:dynamic:Resource",
                outputs: ["armoredPrivateKey", "fingerprint", "armoredPublicKey"],
                note: `generated at pulumi up, shown as ${JSON.stringify(GENERATED_AT_UP)}`,
            },
        );
        const matrix = JSON.parse((await example("--stack", "matrix", "--json")).stdout);
        // The preflight's answer and the clusters' status are made up; the rendered class and template YAML is not.
        assert.deepEqual(matrix.simulatedOutputs, ["clusterStatus", "preflight"]);
        assert.match((await example("--stack", "matrix")).stdout, /^ {6}namespace: default$/m);
    });

    it("prints a readable tree, the rendered Omni flags and YAML, and the policy result", async () => {
        const { code, stdout } = await example("--stack", "matrix");
        assert.equal(code, 0);
        assert.match(stdout, /^Resources:$/m);
        assert.match(stdout, /^ {4}omni-scale:proxmox:ProxmoxInfraProvider {2}infra-provider$/m);
        assert.match(stdout, /type: MachineClasses\.omni\.sidero\.dev/);
        assert.match(stdout, /kind: ControlPlane/);
        assert.match(stdout, /^Policies:\n {2}no violations$/m);
    });

    it("exits 2 naming the key for a wrong type", async () => {
        const file = editedStacks({
            quantum: (c) => {
                c["omni-scale:hub"].ports = { api: "443x" };
            },
        }).quantum;
        const { code, stderr, stdout } = await plan("--stack", "quantum", "--config", file);
        assert.equal(code, 2);
        assert.equal(stdout, "");
        assert.match(stderr, /omni-scale:hub\.ports\.api \(got "443x"\)/);
    });

    it("exits 2 naming a missing required key", async () => {
        const file = editedStacks({
            matrix: (c) => {
                delete c["omni-scale:infraProvider"].lxc.node;
            },
        }).matrix;
        const { code, stderr } = await plan("--stack", "matrix", "--config", file);
        assert.equal(code, 2);
        assert.match(stderr, /omni-scale:infraProvider\.lxc\.node/);
    });

    it("marks nothing of a user's own manifest as simulated, whatever the made-up (secret) configs contain", async () => {
        const files = editedStacks({
            matrix: (c) => {
                const [first] = c["omni-scale:clusters"];
                const manifest = { apiVersion: "v1", kind: "Namespace", metadata: { name: "apps" } };
                c["omni-scale:clusters"].push({
                    ...first,
                    name: "talos-dev-02",
                    kubernetesManifests: [{ name: "apps-namespace", mode: "one-time", inline: manifest }],
                });
            },
        });
        const { code, stdout, stderr } = await plan("--stack", "matrix", "--config", files.matrix);
        assert.equal(code, 0, stderr);
        // The second cluster's manifest shows; the first cluster's made-up kubeconfig has the same line.
        assert.match(stdout, /^ +apiVersion: v1$/m);
        assert.doesNotMatch(stdout, /apiVersion: v1 \(simulated\)/);
    });

    it("exits 2 when the hub stack lacks what the workload stack reads, as `pulumi up` would fail", async () => {
        const files = editedStacks({
            quantum: (c) => {
                c["omni-scale:hub"].infraProviders = ["other-cluster"];
            },
        });
        const { code, stderr } = await plan("--stack", "matrix", "--config", files.matrix);
        assert.equal(code, 2);
        // Just the cause and the fix, before any resource: no SDK prefix such as `error serializing property "envs":`.
        assert.match(
            stderr,
            /^ {2}- omni-scale:hubStack \(got "organization\/omni-scale\/quantum"\): no infra-provider key for "matrix-cluster": add it to the hub's infraProviders/m,
        );
        assert.doesNotMatch(stderr, /serializing/);
    });

    it("exits 2 naming the Pulumi.<stack>.yaml it looked for when the hub stack's file is missing", async () => {
        const files = editedStacks({
            matrix: (c) => {
                c["omni-scale:hubStack"] = "organization/omni-scale/homelab";
            },
        });
        const { code, stderr } = await plan("--stack", "matrix", "--config", files.matrix);
        assert.equal(code, 2);
        const looked = path.join(path.dirname(files.matrix), "Pulumi.homelab.yaml");
        assert.ok(
            stderr.includes(
                `omni-scale:hubStack (got "organization/omni-scale/homelab"): the offline plan reads the hub's outputs from a plan of its stack file, and there is no ${looked}: put the hub stack's Pulumi.homelab.yaml beside Pulumi.matrix.yaml`,
            ),
            stderr,
        );
    });

    it("exits 2 for encrypted values of a provider it cannot reach, saying how to plan anyway, and for bad arguments", async () => {
        // No encryptionsalt and no secretsprovider: the stack's Pulumi Cloud key.
        const file = editedStacks({
            quantum: (c) => {
                c["omni-scale:tlsPrivateKey"] = { secure: "v1:abc:def" };
            },
        }).quantum;
        const enc = await plan("--stack", "quantum", "--config", file);
        assert.equal(enc.code, 2);
        assert.match(
            enc.stderr,
            /omni-scale:tlsPrivateKey: is encrypted with the stack's Pulumi Cloud key .*cannot reach; to plan anyway, plan a copy of the stack file without its encrypted keys \(--config FILE\)/,
        );
        assert.equal((await plan()).code, 2);
        assert.equal((await plan("--stack", "nope")).code, 2);
    });

    it("exits 1 naming the policy when a mandatory policy fails", async () => {
        // Config validation already refuses the seed's mistakes, so tighten a policy through its config instead.
        const dir = tempDir();
        const policyConfig = path.join(dir, "policy.json");
        fs.writeFileSync(policyConfig, JSON.stringify({ "proxmox-provider-patched-tag": { minimumVersion: "0.4.0" } }));
        const { code, stdout } = await plan("--stack", "matrix", "--json", "--policy-config", policyConfig);
        assert.equal(code, 1);
        const violations = JSON.parse(stdout).violations;
        assert.ok(
            violations.some(
                (v: any) => v.policy === "proxmox-provider-patched-tag" && v.enforcementLevel === "mandatory",
            ),
            stdout,
        );
        const text = await plan("--stack", "matrix", "--policy-config", policyConfig);
        assert.match(text.stdout, /\nNext: fix the mandatory violations above and plan again.*\n$/);
        assert.doesNotMatch(text.stdout, /pulumi up --stack/);
    });

    it("refuses a policy config naming a policy or key the pack lacks, naming the pack's policies and keys", async () => {
        const dir = tempDir();
        const run = async (config: unknown) => {
            const file = path.join(dir, "policy.json");
            fs.writeFileSync(file, JSON.stringify(config));
            return plan("--stack", "matrix", "--policy-config", file);
        };
        const typo = await run({ "proxmox-dns-local-only": { allowedResolver: ["203.0.113.53"] } });
        assert.equal(typo.code, 2);
        assert.equal(typo.stdout, "");
        assert.match(
            typo.stderr,
            /^  - policy config proxmox-dns-local-only\.allowedResolver \(got \["203\.0\.113\.53"\]\): unknown key: did you mean `allowedResolvers`\? \(proxmox-dns-local-only takes enforcementLevel, allowedResolvers\)$/m,
        );
        const unknown = await run({ "proxmox-dns-local": { allowedResolvers: ["203.0.113.53"] } });
        assert.equal(unknown.code, 2);
        assert.match(
            unknown.stderr,
            /policy config proxmox-dns-local: unknown policy: did you mean `proxmox-dns-local-only`\?/,
        );
        // Every policy of the pack is named, with its keys.
        assert.match(unknown.stderr, /proxmox-provider-patched-tag \(enforcementLevel, minimumVersion, patchedTags\)/);
        assert.match(unknown.stderr, /tailnet-key-hygiene \(enforcementLevel\)/);
        // Values are checked against the policy's schema, levels against the CLI's.
        const bad = await run({
            "proxmox-dns-local-only": { allowedResolvers: "203.0.113.53", enforcementLevel: "strict" },
        });
        assert.equal(bad.code, 2);
        assert.match(
            bad.stderr,
            /proxmox-dns-local-only\.enforcementLevel \(got "strict"\): is not an enforcement level/,
        );
        assert.match(bad.stderr, /proxmox-dns-local-only\.allowedResolvers \(got "203\.0\.113\.53"\): must be array/);
    });

    it("applies `all` to every policy's level, a policy's own level first (as the Pulumi CLI does)", async () => {
        const dir = tempDir();
        const file = path.join(dir, "policy.json");
        const tightened = { minimumVersion: "0.4.0" };
        fs.writeFileSync(file, JSON.stringify({ all: "advisory", "proxmox-provider-patched-tag": tightened }));
        const advisory = await plan("--stack", "matrix", "--json", "--policy-config", file);
        assert.equal(advisory.code, 0, advisory.stderr);
        const levels = JSON.parse(advisory.stdout).violations.map((v: any) => `${v.policy} ${v.enforcementLevel}`);
        assert.ok(levels.includes("proxmox-provider-patched-tag advisory"), levels.join("\n"));
        fs.writeFileSync(
            file,
            JSON.stringify({
                all: "advisory",
                "proxmox-provider-patched-tag": { ...tightened, enforcementLevel: "mandatory" },
            }),
        );
        assert.equal((await plan("--stack", "matrix", "--json", "--policy-config", file)).code, 1);
    });

    it("runs as `npm run plan` does, as a process with its exit code: serializes the etcd key's provider once, then serves the same text from its cache", function () {
        // A cache directory of its own (OMNI_SCALE_CACHE, cache-dir.ts), empty: the repository's .build is the other
        // tests' and the workers' (test/setup.ts).
        const cache = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-plan-cache-"));
        const closures = path.join(cache, "closures");
        const entries = () =>
            fs.existsSync(closures)
                ? fs.readdirSync(closures).filter((f) => /^etcd-key\.ts\.etcdKeyProvider\..*\.json$/.test(f))
                : [];
        const providerText = () => {
            const run = spawnSync(process.execPath, [...planNodeArgs(), "--stack", "quantum", "--json"], {
                cwd: root,
                encoding: "utf8",
                env: { ...process.env, OMNI_SCALE_CACHE: cache },
            });
            assert.equal(run.status, 0, run.stderr);
            assert.match(run.stdout, /--auth-auth0-domain=dev-example\.us\.auth0\.com/);
            return JSON.parse(run.stdout).resources.find((r: any) => r.type === "pulumi-nodejs:dynamic:Resource").inputs
                .__provider;
        };
        try {
            const serialized = providerText();
            assert.match(serialized, /async function \/\*generateEtcdKey\*\//);
            assert.equal(entries().length, 1, "the first plan kept what the SDK serialized");
            assert.equal(providerText(), serialized, "the next plan prints the same text");
        } finally {
            fs.rmSync(cache, { recursive: true, force: true });
        }
    });
});

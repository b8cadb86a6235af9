import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as config from "../src/config";
import { ConfigError } from "../components/core/validation";
import { HUB_CONTRACT_OUTPUT, READ_STACK_OUTPUTS, workloadView } from "../src/hub-contract";
import { isSecret, unwrapSecrets } from "../src/plan/capture";
import { planStack } from "../src/plan/plan";
import { editedStacks, removeStackDirs } from "./stack-files";

/** Every string leaf of a value (secrets unwrapped), to search a stack's whole state for a value. */
function strings(value: unknown): string[] {
    const v = unwrapSecrets(value);
    if (typeof v === "string") return [v];
    if (Array.isArray(v)) return v.flatMap(strings);
    return v && typeof v === "object" ? Object.values(v).flatMap(strings) : [];
}

describe("hub contract: a workload stack holds only what it needs of the hub", () => {
    after(removeStackDirs);

    it("reads the hub's workloadContract without a StackReference, so no other hub secret reaches its state", async function () {
        this.timeout(120_000);
        // The case that was found: a hub with two infra providers; before, the workload stack's StackReference state
        // held etcdKeyArmored, the automation key and both provider keys.
        const files = editedStacks({
            quantum: (c) => {
                c["omni-scale:hub"].infraProviders = ["matrix-cluster", "other-cluster"];
            },
        });
        const hub = await planStack({ stack: "quantum", configFile: files.quantum, skipPolicies: true, silent: true });
        const contract = unwrapSecrets(hub.outputs[HUB_CONTRACT_OUTPUT]);
        assert.ok(isSecret(hub.outputs[HUB_CONTRACT_OUTPUT]), "the contract holds keys: secret as a whole");
        assert.deepEqual(Object.keys(contract).sort(), [
            "automationKey",
            "etcdBackupIntervals",
            "infraProviderKeys",
            "machineApiUrl",
            "omniApiUrl",
            "wireguardEndpoint",
        ]);
        const etcdKey = unwrapSecrets(hub.outputs.etcdKeyArmored) as string;
        const otherKey = contract.infraProviderKeys["other-cluster"] as string;
        const ownKey = contract.infraProviderKeys["matrix-cluster"] as string;
        // Offline the generated etcd key is a placeholder, found in the hub's state only.
        assert.ok(etcdKey && otherKey && ownKey && otherKey !== ownKey);

        const matrix = await planStack({ stack: "matrix", configFile: files.matrix, skipPolicies: true, silent: true });
        assert.deepEqual(
            matrix.resources.filter((r) => r.type === "pulumi:pulumi:StackReference").map((r) => r.inputs.name),
            ["organization/omni-scale/matrix"],
            "the only StackReference is to the stack's own previous outputs",
        );
        const state = [...matrix.resources.flatMap((r) => [...strings(r.inputs), ...strings(r.state)])];
        const anywhere = (needle: string) =>
            state.some((s) => s.includes(needle)) || strings(matrix.outputs).some((s) => s.includes(needle));
        assert.ok(!anywhere(etcdKey), "not the etcd key");
        assert.ok(!anywhere(otherKey), "no other provider's key");
        // Its own key and the automation key are what it uses, as secrets.
        const provider = matrix.resources.find((r) => r.name === "infra-provider-container")!;
        assert.ok(isSecret(provider.inputs.envs) || (provider.inputs.envs as unknown[]).some(isSecret));
        assert.ok(strings(provider.inputs.envs).some((e) => e.includes(ownKey)));
        const cls = matrix.resources.find((r) => r.custom && r.inputs.serviceAccountKey !== undefined)!;
        assert.ok(isSecret(cls.inputs.serviceAccountKey), "the automation key is secret in the class's inputs");
    });

    it("plans the hub behind several workload plans once per hub file text: an edited hub is planned again, a failed one is not kept", async function () {
        this.timeout(120_000);
        // Counted where a plan validates a hub stack's config, once per run of the hub's program.
        const hubPlans: string[] = [];
        const load = config.loadStackConfig;
        const domainOf = (matrix: Awaited<ReturnType<typeof planStack>>) =>
            strings(matrix.resources.find((r) => r.name === "infra-provider-container")!.inputs.command).find((c) =>
                c.startsWith("--omni-api-endpoint="),
            );
        const plan = (file: string) =>
            planStack({ stack: "matrix", configFile: file, skipPolicies: true, silent: true });
        (config as { loadStackConfig: typeof load }).loadStackConfig = (raw, secret) => {
            if (raw["omni-scale:hub"]) hubPlans.push(JSON.parse(raw["omni-scale:hub"]).omniDomain);
            return load(raw, secret);
        };
        try {
            // A hub of its own: no other test's plan of the same text is kept in this process.
            const files = editedStacks({ quantum: (c) => void (c["omni-scale:hub"].omniDomain = "once.example.com") });
            assert.equal(domainOf(await plan(files.matrix)), "--omni-api-endpoint=https://once.example.com");
            assert.equal(domainOf(await plan(files.matrix)), "--omni-api-endpoint=https://once.example.com");
            assert.deepEqual(hubPlans, ["once.example.com"], "the second workload plan reused the hub's plan");

            const hub = fs.readFileSync(files.quantum, "utf8");
            fs.writeFileSync(files.quantum, hub.replace("once.example.com", "twice.example.com"));
            assert.equal(domainOf(await plan(files.matrix)), "--omni-api-endpoint=https://twice.example.com");
            fs.writeFileSync(files.quantum, hub.replace("once.example.com", "https://x"));
            await assert.rejects(plan(files.matrix), ConfigError);
            await assert.rejects(plan(files.matrix), ConfigError);
            assert.deepEqual(hubPlans, ["once.example.com", "twice.example.com", "https://x", "https://x"]);
        } finally {
            (config as { loadStackConfig: typeof load }).loadStackConfig = load;
        }
    });

    it(`uses the engine's ${READ_STACK_OUTPUTS} invoke (pulumi/pulumi pkg/resource/deploy/builtins.go)`, () => {
        // builtins.go: Invoke serves readStackOutputs with readStackReference, the same outputs a StackReference
        // stores; an invoke's result is returned to the program and not recorded in the state.
        assert.equal(READ_STACK_OUTPUTS, "pulumi:pulumi:readStackOutputs");
    });

    const contract = {
        omniApiUrl: "https://omni.example.com",
        machineApiUrl: "https://omni.example.com:8090",
        wireguardEndpoint: "192.168.1.10:50180",
        etcdBackupIntervals: {},
        automationKey: "automation",
        infraProviderKeys: { a: "key-a" },
    };
    const issues = (outputs: Record<string, unknown>, id = "a") => {
        try {
            workloadView("organization/omni-scale/quantum", outputs, id);
            return [];
        } catch (e) {
            assert.ok(e instanceof ConfigError);
            return e.issues.map((i) => `${i.key}: ${i.message}`);
        }
    };

    it("names the hub stack and the fix when the contract is missing, malformed or lacks this stack's keys", () => {
        assert.deepEqual(issues({ [HUB_CONTRACT_OUTPUT]: contract }), []);
        assert.match(
            issues({ omniApiUrl: "x" })[0],
            /^omni-scale:hubStack: has no `workloadContract` output: run `pulumi up` on the hub/,
        );
        assert.match(
            issues({ [HUB_CONTRACT_OUTPUT]: { ...contract, omniApiUrl: 3 } })[0],
            /is not one this version reads \(omniApiUrl: .*\): run `pulumi up` on the hub stack first/,
        );
        assert.deepEqual(
            issues({ [HUB_CONTRACT_OUTPUT]: { ...contract, automationKey: undefined } }, "b").map(
                (i) => i.split(": ")[1],
            ),
            ["no automation key", 'no infra-provider key for "b"'],
        );
    });
});

import assert from "node:assert/strict";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { ClusterSpec } from "../components/cluster-render";
import { MachineClassSpec } from "../components/machine-class-render";
import { OmniCluster } from "../components/omni-cluster";
import { OmniMachineClass } from "../components/omni-machine-class";
import { ConfigError } from "../components/validation";
import { CapturedResource, isSecret, runProgram } from "../src/plan/capture";

const access = { omniEndpoint: "https://omni.example.internal", serviceAccountKey: "offline-service-account-key" };
const classSpec = (name: string, memory = 8192, cpu_type = "x86-64-v2-AES"): MachineClassSpec => ({
    name,
    providerId: "matrix-cluster",
    providerData: { cores: 4, memory, disk_size: 40, storage_selector: 'name == "local-lvm"', cpu_type },
});
const clusterSpec = (name: string, workerClass: string, size = 1): ClusterSpec => ({
    name,
    controlPlane: { machineClass: "cp", size: 1 },
    workers: [{ name: "workers", machineClass: workerClass, size }],
});

/** Runs a program and returns the captured resources; `find` throws when a name is missing. */
async function run(program: () => void) {
    const { resources } = await runProgram(program, { stack: "test" });
    const find = (name: string): CapturedResource => {
        const r = resources.find((x) => x.name === name);
        assert.ok(r, `${name} was not registered (got ${resources.map((x) => x.name).join(", ")})`);
        return r;
    };
    return { resources, find };
}

function assertOmnictlEnvironment(cmd: CapturedResource) {
    const env = cmd.inputs.environment as Record<string, unknown>;
    assert.equal(env.OMNI_ENDPOINT, access.omniEndpoint);
    assert.ok(isSecret(env.OMNI_SERVICE_ACCOUNT_KEY), "the key is a secret even when passed as a plain string");
    assert.equal((env.OMNI_SERVICE_ACCOUNT_KEY as { value: unknown }).value, access.serviceAccountKey);
    assert.ok(cmd.additionalSecretOutputs.includes("environment"));
}

describe("OmniMachineClass", () => {
    it("makes its command wait for what the class was told to wait for (e.g. the provider)", async () => {
        const { find } = await run(() => {
            const provider = new command.local.Command("provider", { create: "true" });
            new OmniMachineClass("cp", { spec: classSpec("cp"), ...access }, { dependsOn: [provider] });
        });
        assert.ok(find("cp-apply").dependsOn.includes(find("provider").urn));
    });

    it("applies the rendered class with omnictl, content on stdin, key as a secret", async () => {
        let mc!: OmniMachineClass;
        const { find } = await run(() => {
            mc = new OmniMachineClass("cp", { spec: classSpec("cp"), ...access });
        });
        const component = find("cp");
        const cmd = find("cp-apply");
        assert.equal(component.type, "omni-scale:omni:OmniMachineClass");
        assert.equal(cmd.type, "command:local:Command");
        assert.equal(cmd.parent, component.urn);
        assert.equal(mc.id, "cp");
        assert.equal(cmd.inputs.stdin, mc.yaml);
        assert.equal(YAML.parse(String(cmd.inputs.stdin)).metadata.id, "cp");
        assert.match(String(cmd.inputs.create), /omnictl apply -f "\$dir\/resource\.yaml"/);
        assert.match(String(cmd.inputs.create), /cat > "\$dir\/resource\.yaml"/, "stdin is saved to the file omnictl reads");
        assert.doesNotMatch(String(cmd.inputs.create), /MachineClasses|local-lvm/, "content never goes on the command line");
        assert.equal(cmd.inputs.delete, "omnictl delete machineclass cp");
        assertOmnictlEnvironment(cmd);
    });

    it("re-applies on content change as an update, and replaces only when the id changes", async () => {
        const stdinAndTriggers = async (spec: MachineClassSpec) => {
            const cmd = (await run(() => new OmniMachineClass("mc", { spec, ...access }))).find("mc-apply");
            return { stdin: cmd.inputs.stdin, triggers: cmd.inputs.triggers };
        };
        const before = await stdinAndTriggers(classSpec("workers"));
        const bigger = await stdinAndTriggers(classSpec("workers", 16384));
        const renamed = await stdinAndTriggers(classSpec("workers-v2"));
        assert.notEqual(bigger.stdin, before.stdin, "new content reaches the command, so omnictl apply runs again");
        assert.deepEqual(bigger.triggers, before.triggers, "a content change must not replace (its delete would remove the class)");
        assert.notDeepEqual(renamed.triggers, before.triggers, "a new id replaces, so the old class is deleted");
    });

    it("logs the cpu_type host warning on the component", async () => {
        const warnings: string[] = [];
        const original = pulumi.log.warn;
        pulumi.log.warn = (msg: string) => {
            warnings.push(msg);
            return Promise.resolve();
        };
        try {
            await run(() => new OmniMachineClass("cp", { spec: classSpec("cp", 8192, "host"), ...access }));
        } finally {
            pulumi.log.warn = original;
        }
        assert.equal(warnings.length, 1);
        assert.match(warnings[0], /cpu_type.*host.*migration/);
    });

    it("fails on bad provider data with a ConfigError", async () => {
        await assert.rejects(
            run(() => new OmniMachineClass("bad", { spec: classSpec("bad", 1024), ...access })),
            (e: unknown) => e instanceof ConfigError && /providerData\.memory/.test(e.message),
        );
    });
});

describe("OmniCluster", () => {
    /** Three classes, two clusters: each cluster uses cp and one worker class. */
    const twoClusters = (asMap: boolean) => () => {
        const classes = ["cp", "small", "large"].map((n) => new OmniMachineClass(n, { spec: classSpec(n), ...access }));
        const machineClasses = asMap ? Object.fromEntries(classes.map((c) => [c.id, c])) : classes;
        new OmniCluster("dev", { spec: clusterSpec("dev", "small"), machineClasses, ...access });
        new OmniCluster("prod", { spec: clusterSpec("prod", "large", 3), machineClasses, ...access });
    };

    it("syncs the template with omnictl, content on stdin, and deletes with the stored template", async () => {
        const { find } = await run(twoClusters(false));
        const component = find("prod");
        const cmd = find("prod-sync");
        assert.equal(component.type, "omni-scale:omni:OmniCluster");
        assert.equal(cmd.parent, component.urn);
        const docs = YAML.parseAllDocuments(String(cmd.inputs.stdin)).map((d) => d.toJS());
        assert.deepEqual(docs.map((d) => d.kind), ["Cluster", "ControlPlane", "Workers"]);
        assert.equal(docs[0].name, "prod");
        assert.deepEqual(docs[2].machineClass, { name: "large", size: 3 });
        assert.match(String(cmd.inputs.create), /omnictl cluster template sync -f "\$dir\/resource\.yaml"/);
        assert.match(String(cmd.inputs.delete), /cat > "\$dir\/resource\.yaml"[\s\S]*omnictl cluster template delete -f "\$dir\/resource\.yaml"/);
        assert.doesNotMatch(String(cmd.inputs.create) + String(cmd.inputs.delete), /ControlPlane/);
        assert.deepEqual(cmd.inputs.triggers, ["prod"]);
        assertOmnictlEnvironment(cmd);
    });

    it("depends only on its own machine classes; classes do not wait for each other", async () => {
        for (const asMap of [false, true]) {
            const { find } = await run(twoClusters(asMap));
            const apply = (n: string) => find(`${n}-apply`).urn;
            const devDeps = find("dev-sync").dependsOn;
            const prodDeps = find("prod-sync").dependsOn;
            assert.ok(devDeps.includes(apply("cp")) && devDeps.includes(apply("small")), devDeps.join("\n"));
            assert.ok(!devDeps.includes(apply("large")), "dev must not wait for (or block the deletion of) prod's class");
            assert.ok(prodDeps.includes(apply("cp")) && prodDeps.includes(apply("large")));
            assert.ok(!prodDeps.includes(apply("small")));
            for (const n of ["cp", "small", "large"]) assert.deepEqual(find(`${n}-apply`).dependsOn, []);
        }
    });

    it("re-syncs on content change as an update, and replaces only when the cluster is renamed", async () => {
        const sync = async (spec: ClusterSpec) => {
            const { find } = await run(() => {
                const classes = ["cp", "small"].map((n) => new OmniMachineClass(n, { spec: classSpec(n), ...access }));
                new OmniCluster("c", { spec, machineClasses: classes, ...access });
            });
            return find("c-sync").inputs;
        };
        const before = await sync(clusterSpec("dev", "small", 1));
        const scaled = await sync(clusterSpec("dev", "small", 2));
        const renamed = await sync(clusterSpec("dev2", "small", 1));
        assert.notEqual(scaled.stdin, before.stdin);
        assert.deepEqual(scaled.triggers, before.triggers, "a content change must not replace (its delete would remove the cluster)");
        assert.notDeepEqual(renamed.triggers, before.triggers);
    });

    it("exposes the template and the Cilium values", async () => {
        let cluster!: OmniCluster;
        await run(() => {
            const classes = ["cp", "small"].map((n) => new OmniMachineClass(n, { spec: classSpec(n), ...access }));
            cluster = new OmniCluster("dev", { spec: clusterSpec("dev", "small"), machineClasses: classes, ...access });
        });
        assert.match(cluster.yaml, /kind: ControlPlane/);
        assert.equal(YAML.parse(cluster.ciliumValues!).MTU, 1450);
    });

    it("fails when a machine class is not defined in the stack", async () => {
        await assert.rejects(
            run(() => {
                const cp = new OmniMachineClass("cp", { spec: classSpec("cp"), ...access });
                new OmniCluster("dev", { spec: clusterSpec("dev", "missing"), machineClasses: [cp], ...access });
            }),
            (e: unknown) => e instanceof ConfigError && /cluster dev uses machine class "missing".*known: cp/.test(e.message),
        );
    });
});

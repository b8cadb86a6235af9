import { strict as assert } from "node:assert";
import { isSecret } from "../src/plan/capture";
import { planStack } from "../src/plan/plan";
import { examplePlan } from "./plan-run";
import { editedStacks, removeStackDirs } from "./stack-files";

/** What the stack programs hand to Omni and Proxmox, checked against the rules those systems enforce. */
describe("stack programs against Omni's and the provider's contracts", () => {
    after(removeStackDirs);

    it("makes every machine class wait (5 min) for its provider's registration, under the provider's id", async () => {
        const { resources, config } = await examplePlan("matrix");
        const classes = resources.filter((r) => r.inputs.kind === "omni-machine-class");
        assert.equal(classes.length, (config as any).machineClasses.length);
        for (const c of classes) {
            assert.equal(c.inputs.providerId, "matrix-cluster");
            assert.equal(c.inputs.providerTimeoutSeconds, 300);
        }
    });

    it("refuses a cluster backupInterval outside the hub's etcdBackup limits, read from the hub stack", async () => {
        const interval = (v: string) => (c: Record<string, any>) => {
            c["omni-scale:clusters"][0].features = { backupInterval: v };
        };
        const hubLimits = (c: Record<string, any>) => {
            c["omni-scale:hub"].etcdBackup = { localPath: "/srv/b", minInterval: "15m", maxInterval: "2h" };
        };
        // 30m: below Omni's default minimum, inside this hub's limits.
        const ok = editedStacks({ quantum: hubLimits, matrix: interval("30m") });
        await planStack({ stack: "matrix", configFile: ok.matrix, skipPolicies: true });
        const bad = editedStacks({ quantum: hubLimits, matrix: interval("6h") });
        await assert.rejects(
            planStack({ stack: "matrix", configFile: bad.matrix, skipPolicies: true }),
            /omni-scale:clusters\[0\]\.features\.backupInterval \(got "6h"\): cluster talos-prod-01: backupInterval 6h is longer than the hub's etcdBackup maxInterval \(2h\)/,
        );
        const defaults = editedStacks({ matrix: interval("30m") });
        await assert.rejects(
            planStack({ stack: "matrix", configFile: defaults.matrix, skipPolicies: true }),
            /shorter than the hub's etcdBackup minInterval \(1h\)/,
        );
    });

    it("grants Sys.Console for HA classes and Mapping.Use for passthrough", async () => {
        const files = editedStacks({
            matrix: (c) => {
                c["omni-scale:machineClasses"][0].providerData.ha = { state: "started" };
                c["omni-scale:machineClasses"][1].providerData.usb_devices = [{ mapping: "zigbee" }];
            },
        });
        const { resources } = await planStack({ stack: "matrix", configFile: files.matrix, skipPolicies: true });
        const role = resources.find((r) => r.type === "proxmoxve:index/roleLegacy:RoleLegacy")!;
        assert.ok((role.inputs.privileges as string[]).includes("Sys.Console"));
        assert.ok((role.inputs.privileges as string[]).includes("Mapping.Use"));
        const plain = await examplePlan("matrix");
        const basic = plain.resources.find((r) => r.type === "proxmoxve:index/roleLegacy:RoleLegacy")!.inputs
            .privileges as string[];
        assert.ok(!basic.includes("Sys.Console") && !basic.includes("Mapping.Use"));
    });

    it("renews the automation key with the key in use when automationKeyRotation is bumped", async () => {
        const files = editedStacks({
            quantum: (c) => {
                c["omni-scale:hub"].automationKeyRotation = 1;
            },
        });
        const previous = {
            outputs: { automationKey: "previous-automation-key", omniVersion: "v1.10.4" },
            secretOutputNames: ["automationKey"],
        };
        const { resources } = await planStack({
            stack: "quantum",
            configFile: files.quantum,
            skipPolicies: true,
            previousOutputs: previous,
        });
        const renew = resources.find((r) => r.name === "omni-automation-key-renewal")!;
        assert.equal(renew.inputs.create, "omnictl serviceaccount renew 'pulumi-automation'");
        assert.deepEqual(renew.inputs.triggers, [1]);
        const key = (renew.inputs.environment as Record<string, unknown>).OMNI_SERVICE_ACCOUNT_KEY;
        assert.ok(
            isSecret(key) && key.value === "previous-automation-key",
            "authenticates with the key in use, as a secret",
        );
        const plain = await examplePlan("quantum");
        assert.equal(
            plain.resources.find((r) => r.name === "omni-automation-key-renewal"),
            undefined,
        );
    });

    it("refuses two machine classes or clusters of one name (Omni ids are global)", async () => {
        const files = editedStacks({
            matrix: (c) => {
                c["omni-scale:machineClasses"].push({ ...c["omni-scale:machineClasses"][0] });
                c["omni-scale:clusters"].push({ ...c["omni-scale:clusters"][0] });
            },
        });
        await assert.rejects(
            planStack({ stack: "matrix", configFile: files.matrix, skipPolicies: true }),
            (e: Error) =>
                /omni-scale:machineClasses\[4\]\.name \(got "matrix-control-plane"\): machine class names must be unique/.test(
                    e.message,
                ) &&
                /omni-scale:clusters\[1\]\.name \(got "talos-prod-01"\): cluster names must be unique/.test(e.message),
        );
    });

    it("exports optional hub outputs only when their feature is on (Pulumi warns about undefined outputs)", async () => {
        const { outputs } = await examplePlan("quantum");
        assert.deepEqual(
            ["automationKey", "certificate", "tailnetAddress", "hubBackup"].filter((k) => k in outputs),
            ["automationKey", "hubBackup"],
            "the example bootstraps and backs up, with hostFiles TLS and no Cloudflare record",
        );
    });

    it("renders both EULA flags in the hub example", async () => {
        const { resources } = await examplePlan("quantum");
        const omni = resources.find((r) => r.name === "omni-omni")!;
        const flags = omni.inputs.command as string[];
        assert.ok(flags.includes("--eula-accept-name=Example Admin"));
        assert.ok(flags.includes("--eula-accept-email=admin@example.com"));
    });
});

import { strict as assert } from "node:assert";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { OmniMachineClass } from "../components/omni/machine-class";
import { machineClassState } from "../components/omni/omni-state";
import { ConfigError } from "../components/core/validation";
import { access, assertSecretAccess, classSpec, run } from "./omni-commands";

describe("OmniMachineClass", () => {
    it("makes its resource wait for what the class was told to wait for (e.g. the provider)", async () => {
        const { find } = await run(() => {
            const provider = new command.local.Command("provider", { create: "true" });
            new OmniMachineClass("cp", { spec: classSpec("cp"), ...access }, { dependsOn: [provider] });
        });
        assert.ok(find("cp-class").dependsOn.includes(find("provider").urn));
    });

    it("holds the rendered class and its comparable state in a dynamic resource, access as secrets", async () => {
        let mc!: OmniMachineClass;
        const { find } = await run(() => {
            mc = new OmniMachineClass("cp", { spec: classSpec("cp"), ...access });
        });
        const component = find("cp");
        const r = find("cp-class");
        assert.equal(component.type, "omni-scale:omni:OmniMachineClass");
        assert.equal(r.type, "pulumi-nodejs:dynamic:Resource");
        assert.equal(r.parent, component.urn);
        assert.equal(r.inputs.kind, "omni-machine-class");
        assert.equal(mc.id, "cp");
        assert.equal(r.inputs.classId, "cp");
        assert.equal(r.inputs.yaml, mc.yaml);
        assert.equal(YAML.parse(String(r.inputs.yaml)).metadata.id, "cp");
        assert.deepEqual(r.inputs.state, machineClassState(mc.yaml));
        assert.equal((r.inputs.state as unknown as { providerData: { memory: number } }).providerData.memory, 8192);
        assert.equal(r.inputs.providerTimeoutSeconds, 300);
        assert.equal(r.protect, false, "a class is not protected: clusters that use it are, and policies keep it");
        assertSecretAccess(r);
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

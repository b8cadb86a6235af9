import { strict as assert } from "node:assert";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { MachineClassSpec } from "../components/omni/machine-class-render";
import { OmniMachineClass } from "../components/omni/machine-class";
import { ConfigError } from "../components/core/validation";
import { access, assertOmnictlEnvironment, classSpec, run } from "./omni-commands";

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
        assert.match(
            String(cmd.inputs.create),
            /cat > "\$dir\/resource\.yaml"/,
            "stdin is saved to the file omnictl reads",
        );
        assert.doesNotMatch(
            String(cmd.inputs.create),
            /MachineClasses|local-lvm/,
            "content never goes on the command line",
        );
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
        assert.deepEqual(
            bigger.triggers,
            before.triggers,
            "a content change must not replace (its delete would remove the class)",
        );
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

import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";

describe("library entry point", () => {
    it("resolves `omni-scale` by its package name to the built components (npm runs the build on install)", () => {
        // Node resolves a package's own name through its "exports", exactly as a consumer's import does.
        const lib = require("omni-scale");
        const components = [
            "OmniHub",
            "OmniEtcdKey",
            "ProxmoxHostDns",
            "ProxmoxInfraProvider",
            "OmniMachineClass",
            "OmniCluster",
            "HubBackup",
            "ProxmoxPreflight",
            "CloudflareRecord",
            "AcmeCertificate",
        ];
        for (const component of components) {
            assert.ok(
                lib[component].prototype instanceof pulumi.ComponentResource,
                `${component} is a ComponentResource`,
            );
        }
        assert.equal(typeof lib.renderOmniFlags, "function");
        assert.equal(lib.versions.omni, lib.versions.omnictl);
    });

    it("the built library finds its vendored Talos schemas (components/omni/talos-schemas, shipped beside bin/)", () => {
        const lib = require("omni-scale");
        const [problem] = lib.talosPatchProblems({ machine: { kubelet: { extraArg: {} } } }, lib.versions.talos);
        assert.match(
            problem,
            /^machine\.kubelet\.extraArg: unknown key for Talos \d+\.\d+: did you mean `extraArgs`\?$/,
        );
    });
});

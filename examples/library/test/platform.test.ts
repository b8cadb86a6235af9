import { strict as assert } from "node:assert";
import { isSecret, runOffline, unwrapSecrets } from "omni-scale/testing";
import { platform } from "../index";

// The program under omni-scale/testing's mocks: nothing is contacted; every registration is recorded with its options.
describe("the platform, offline", () => {
    it("registers the hub, the provider, the classes and the cluster, and keeps the kubeconfig a secret", async () => {
        const { resources, outputs } = await runOffline(() => platform(), {
            project: "omni-scale-library-example",
            stack: "dev",
        });
        const types = new Set(resources.map((r) => r.type));
        for (const component of ["OmniHub", "OmniEtcdKey", "ProxmoxInfraProvider", "OmniMachineClass", "OmniCluster"])
            assert.ok(
                types.has(`omni-scale:omni:${component}`) || types.has(`omni-scale:proxmox:${component}`),
                component,
            );

        const dynamic = resources.filter((r) => r.type === "pulumi-nodejs:dynamic:Resource");
        assert.deepEqual(dynamic.map((r) => r.inputs.kind).sort(), [
            "omni-cluster",
            "omni-etcd-key",
            "omni-machine-class",
            "omni-machine-class",
        ]);
        // The generated etcd key is never deleted with the stack.
        const key = dynamic.find((r) => r.inputs.kind === "omni-etcd-key")!;
        assert.ok(key.protect && key.retainOnDelete);
        // Omni's automation key reaches the classes and the cluster as a secret input only.
        for (const r of dynamic.filter((r) => r.inputs.kind !== "omni-etcd-key"))
            assert.ok(isSecret(r.inputs.serviceAccountKey));

        assert.ok(isSecret(outputs.kubeconfig), "the kubeconfig output is a secret");
        assert.match(unwrapSecrets(outputs.kubeconfig), /apiVersion: v1/);
        assert.equal(outputs.omniApiUrl, "https://omni.example.com");
    });
});

import { strict as assert } from "node:assert";
import { isSecret, runProgram } from "../src/plan/capture";

/** examples/app-stack: a downstream stack deploys into the cluster through a StackReference, offline under mocks. */
describe("the downstream application stack (examples/app-stack)", function () {
    this.timeout(60000);
    const KUBECONFIG = "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: offline-fake-token\n";

    it("deploys with a Kubernetes provider whose kubeconfig comes from the workload stack and stays secret", async () => {
        const { resources } = await runProgram(() => require("../examples/app-stack/index.ts"), {
            project: "app-stack",
            stack: "app",
            config: { "app-stack:workloadsStack": "organization/omni-scale/matrix" },
            stackReferences: {
                "organization/omni-scale/matrix": {
                    outputs: {
                        kubeconfigs: { "talos-prod-01": KUBECONFIG },
                        clusterStatus: { "talos-prod-01": { ready: true, kubernetesVersion: "v1.36.2" } },
                    },
                    secretOutputNames: ["kubeconfigs"],
                },
            },
        });
        const provider = resources.find((r) => r.type === "pulumi:providers:kubernetes");
        assert.ok(provider, "a Kubernetes provider is registered");
        assert.ok(isSecret(provider.inputs.kubeconfig), "the kubeconfig is a secret in the provider's inputs");
        assert.equal((provider.inputs.kubeconfig as { value: unknown }).value, KUBECONFIG);
        const deployment = resources.find((r) => r.type === "kubernetes:apps/v1:Deployment");
        assert.ok(deployment, "a Deployment is registered");
        assert.ok(deployment.provider?.startsWith(`${provider.urn}::`), "the Deployment uses that provider");
        const stack = resources.find((r) => r.type === "pulumi:pulumi:Stack")!;
        assert.doesNotMatch(JSON.stringify(stack.inputs) + JSON.stringify(stack.state), /offline-fake-token/);
    });
});

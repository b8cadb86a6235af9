import { strict as assert } from "node:assert";
import { ClusterSpec } from "../components/omni/cluster-render";
import { MachineClassSpec } from "../components/omni/machine-class-render";
import { CapturedResource, isSecret, runProgram } from "../src/plan/capture";

/** Shared by the OmniMachineClass and OmniCluster tests. */

export const access = {
    omniEndpoint: "https://omni.example.internal",
    serviceAccountKey: "offline-service-account-key",
};
export const classSpec = (name: string, memory = 8192, cpu_type = "x86-64-v2-AES"): MachineClassSpec => ({
    name,
    providerId: "matrix-cluster",
    providerData: { cores: 4, memory, disk_size: 40, storage_selector: 'name == "local-lvm"', cpu_type },
});
export const clusterSpec = (name: string, workerClass: string, size = 1): ClusterSpec => ({
    name,
    controlPlane: { machineClass: "cp", size: 1 },
    workers: [{ name: "workers", machineClass: workerClass, size }],
});

/** Runs a program and returns the captured resources; `find` throws when a name is missing. */
export async function run(program: () => void) {
    const { resources } = await runProgram(program, { stack: "test" });
    const find = (name: string): CapturedResource => {
        const r = resources.find((x) => x.name === name);
        assert.ok(r, `${name} was not registered (got ${resources.map((x) => x.name).join(", ")})`);
        return r;
    };
    return { resources, find };
}

export function assertOmnictlEnvironment(cmd: CapturedResource) {
    const env = cmd.inputs.environment as Record<string, unknown>;
    assert.equal(env.OMNI_ENDPOINT, access.omniEndpoint);
    assert.ok(isSecret(env.OMNI_SERVICE_ACCOUNT_KEY), "the key is a secret even when passed as a plain string");
    assert.equal((env.OMNI_SERVICE_ACCOUNT_KEY as { value: unknown }).value, access.serviceAccountKey);
    assert.ok(cmd.additionalSecretOutputs.includes("environment"));
}

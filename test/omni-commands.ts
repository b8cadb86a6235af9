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

/** The Omni access reaches a dynamic resource as secret inputs (never in its serialized provider), and stays secret as outputs. */
export function assertSecretAccess(r: CapturedResource) {
    for (const [key, value] of [
        ["omniEndpoint", access.omniEndpoint],
        ["serviceAccountKey", access.serviceAccountKey],
    ]) {
        assert.ok(isSecret(r.inputs[key]), `${key} is a secret even when passed as a plain string`);
        assert.equal((r.inputs[key] as { value: unknown }).value, value);
        assert.ok(r.additionalSecretOutputs.includes(key));
    }
    const provider = String(r.inputs.__provider);
    assert.ok(provider.length > 0, "the serialized provider is an input");
    assert.ok(!provider.includes(access.serviceAccountKey) && !provider.includes(access.omniEndpoint));
}

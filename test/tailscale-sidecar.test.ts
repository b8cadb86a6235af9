import { strict as assert } from "node:assert";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { tailscaleSidecar } from "../components/tailscale/sidecar";
import { isSecret, runProgram } from "../src/plan/capture";

class Parent extends pulumi.ComponentResource {
    constructor() {
        super("test:index:Parent", "p", {});
    }
}

const base = {
    containerName: "omni-tailscale",
    stateVolumeName: "omni-tailscale-state",
    hostname: "omni",
    tags: ["tag:omni"],
    image: "tailscale/tailscale:v1.94.2",
    keyExpirySeconds: 600,
    waitTimeoutSeconds: 90,
};

async function sidecar(over: Partial<Parameters<typeof tailscaleSidecar>[1]> = {}) {
    const { resources } = await runProgram(
        () => {
            const parent = new Parent();
            const provider = new docker.Provider("d", { host: "unix:///var/run/docker.sock" }, { parent });
            tailscaleSidecar("hub", { ...base, ...over }, { parent, provider });
        },
        { stack: "sidecar-test" },
    );
    return (name: string) => resources.find((r) => r.name === name);
}

describe("tailscaleSidecar: the one sidecar definition the hub and the provider share", () => {
    it("creates a single-use tagged key, a protected state volume and a kernel-mode container that waits to be healthy", async () => {
        const get = await sidecar();
        const key = get("hub-tailscale-key")!;
        assert.deepEqual(
            [
                key.inputs.reusable,
                key.inputs.ephemeral,
                key.inputs.preauthorized,
                key.inputs.expiry,
                key.inputs.recreateIfInvalid,
            ],
            [false, false, true, 600, "never"],
        );
        const volume = get("hub-tailscale-state")!;
        assert.equal(volume.inputs.name, "omni-tailscale-state");
        assert.ok(volume.protect && volume.retainOnDelete, "losing the state renames the node <hostname>-1");
        const container = get("hub-tailscale")!;
        assert.deepEqual(
            [container.inputs.wait, container.inputs.waitTimeout, container.deleteBeforeReplace],
            [true, 90, true],
        );
        assert.deepEqual((container.inputs.capabilities as { adds: string[] }).adds, ["NET_ADMIN"]);
        const envs = container.inputs.envs as unknown[];
        assert.ok(isSecret(envs[0]), "TS_AUTHKEY stays secret");
        assert.ok(envs.includes("TS_USERSPACE=false") && envs.includes("TS_HOSTNAME=omni"));
    });

    it("uses a given auth key instead of creating one, and adopts an existing state volume by name", async () => {
        const get = await sidecar({
            authKey: pulumi.secret("tskey-given"),
            adoptStateVolume: "tailscale-state",
            stateVolumeName: "tailscale-state",
        });
        assert.equal(get("hub-tailscale-key"), undefined);
        const volume = get("hub-tailscale-state")!;
        assert.equal(volume.importId, "tailscale-state");
        assert.ok(volume.ignoreChanges.includes("labels"), "Docker cannot relabel an adopted volume");
    });
});

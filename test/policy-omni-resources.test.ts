import { strict as assert } from "node:assert";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import { renderClusterTemplate } from "../components/omni/cluster-render";
import { renderMachineClass } from "../components/omni/machine-class-render";
import { analyze, assertNoViolation, assertViolation, violationsOf } from "./policy-helpers";

const workerClass = renderMachineClass({
    name: "worker",
    providerId: "proxmox",
    providerData: { cores: 4, memory: 8192, disk_size: 40, storage_selector: 'storageType == "rbd"' },
}).yaml;

/** The same class with hand-written provider data, as someone might apply it without the renderer. */
const classWithProviderData = (providerdata: string) =>
    workerClass.replace(
        /providerdata: \|\n(?: {6}.*\n)+/,
        `providerdata: |\n${providerdata.replace(/^/gm, "      ")}\n`,
    );

const apply = (name: string, stdin: string) => () => {
    new command.local.Command(name, { create: "omnictl apply -f -", stdin });
};

const template = renderClusterTemplate(
    {
        name: "talos",
        controlPlane: { machineClass: "worker", size: 1 },
        workers: [
            { name: "workers", machineClass: "worker", size: 2, nodeLabels: { "topology.kubernetes.io/zone": "a" } },
        ],
    },
    ["worker"],
).yaml;

describe("policy: Omni resources", () => {
    describe("machine-class-provider-data", () => {
        it("passes a rendered class", async () => {
            await assertNoViolation("machine-class-provider-data", apply("worker-apply", workerClass));
        });

        it("rejects a misspelled key and a `type` selector, naming the fixes", async () => {
            const stdin = classWithProviderData(
                'cores: 4\nmemory: 8192\ndisk_size: 40\nstorage_selector: type == "rbd"\ndisk_sdd: true',
            );
            const found = await violationsOf("machine-class-provider-data", apply("worker-apply", stdin));
            assert.deepEqual(
                found.map((v) => [v.resourceName, v.enforcementLevel]),
                [
                    ["worker-apply", "mandatory"],
                    ["worker-apply", "mandatory"],
                ],
            );
            assert.match(
                found[0].message,
                /providerdata\.storage_selector: .*use storageType, i\.e\. storageType == "rbd"/,
            );
            assert.match(found[1].message, /providerdata\.disk_sdd: unknown key/);
        });

        it("ignores commands that apply something else", async () => {
            await assertNoViolation("machine-class-provider-data", apply("other", "kind: ConfigMap\n"));
        });
    });

    describe("no-node-role-labels", () => {
        it("passes a rendered template with a topology label", async () => {
            await assertNoViolation("no-node-role-labels", apply("talos-sync", template));
        });

        it("rejects a node-role label in a Workers patch, naming the alternative", async () => {
            const stdin = template.replace("topology.kubernetes.io/zone: a", 'node-role.kubernetes.io/worker: ""');
            await assertViolation(
                "no-node-role-labels",
                "talos-sync",
                apply("talos-sync", stdin),
                /Workers workers: patch omni-scale-node-labels sets node-role\.kubernetes\.io\/worker/,
                /topology\.kubernetes\.io\/zone/,
            );
        });
    });

    describe("cluster-template-valid", () => {
        it("passes a rendered template", async () => {
            await assertNoViolation("cluster-template-valid", apply("talos-sync", template));
        });

        it("rejects what Omni's template model refuses, e.g. a second ControlPlane", async () => {
            const cp = template.split("---\n").find((doc) => doc.startsWith("kind: ControlPlane"))!;
            await assertViolation(
                "cluster-template-valid",
                "talos-sync",
                apply("talos-sync", `${template}---\n${cp}`),
                /exactly 1 ControlPlane document, got 2/,
            );
        });

        it("rejects a Talos version Omni v1.10.4 does not offer, and Kubernetes its Talos minor does not run", async () => {
            const versions = (talos: string, kubernetes: string) =>
                template
                    .replace(/^( {2}version: )v1\.13\.\d+$/m, `$1${talos}`)
                    .replace(/^( {2}version: )v1\.36\.\d+$/m, `$1${kubernetes}`);
            await assertViolation(
                "cluster-template-valid",
                "talos-sync",
                apply("talos-sync", versions("v1.6.4", "v1.29.0")),
                /Talos v1\.6\.4 is no longer supported by Omni v1\.10\.4/,
            );
            await assertViolation(
                "cluster-template-valid",
                "talos-sync",
                apply("talos-sync", versions("v1.9.5", "v1.36.2")),
                /Kubernetes v1\.36\.2 does not run on Talos v1\.9\.5, which supports Kubernetes 1\.27 to 1\.32/,
            );
            await assertNoViolation("cluster-template-valid", apply("talos-sync", versions("v1.9.5", "v1.32.3")));
        });
    });

    describe("talos-config-patches-valid", () => {
        it("passes a rendered template (its generated CNI and node-label patches included)", async () => {
            await assertNoViolation("talos-config-patches-valid", apply("talos-sync", template));
        });

        it("rejects a hand-written template's patch with a typo, naming the set, the patch, the path and the fix", async () => {
            const stdin = template.replace("nodeLabels:", "nodeLables:");
            await assertViolation(
                "talos-config-patches-valid",
                "talos-sync",
                apply("talos-sync", stdin),
                /cluster talos, Workers workers, patch omni-scale-node-labels: machine\.nodeLables: unknown key for Talos 1\.13: did you mean `nodeLabels`\?/,
            );
        });

        it("leaves a Talos version the pinned Omni does not offer to cluster-template-valid (reported once)", async () => {
            const stdin = template.replace(/version: v1\.13\.\d+/, "version: v1.14.0");
            await assertNoViolation("talos-config-patches-valid", apply("talos-sync", stdin));
            await assertViolation("cluster-template-valid", "talos-sync", apply("talos-sync", stdin), /v1\.14\.0/);
        });
    });

    describe("provider-id-consistent (stack)", () => {
        const stack = (providerCommand: string[], classYaml: string) => () => {
            new docker.Container("infra-provider", {
                image: "ghcr.io/siderolabs/omni-infra-provider-proxmox:v0.3.0",
                command: ["--omni-api-endpoint=https://omni.example.com", ...providerCommand],
            });
            new command.local.Command("worker-apply", { create: "omnictl apply -f -", stdin: classYaml });
        };

        it("passes when the class's providerid equals the provider's --id", async () => {
            await assertNoViolation("provider-id-consistent", stack(["--id=proxmox"], workerClass));
            await assertNoViolation("provider-id-consistent", stack(["--id", "proxmox"], workerClass));
        });

        it("rejects an id that differs only in case, on the machine class", async () => {
            const v = await assertViolation(
                "provider-id-consistent",
                "worker-apply",
                stack(["--id=proxmox"], workerClass.replace("providerid: proxmox", "providerid: Proxmox")),
                /providerid "Proxmox", but the infra provider runs with --id "proxmox" \(ids are case-sensitive\)/,
            );
            assert.equal(v.resourceType, "command:local:Command");
        });

        it("uses the provider's default id when --id is not given", async () => {
            await assertViolation(
                "provider-id-consistent",
                "worker-apply",
                stack([], workerClass.replace("providerid: proxmox", "providerid: matrix")),
                /--id "proxmox"/,
            );
        });

        it("has nothing to compare in a stack without the provider", async () => {
            assert.deepEqual(await analyze(apply("worker-apply", workerClass)), []);
        });
    });
});

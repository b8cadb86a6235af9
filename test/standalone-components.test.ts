import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { OmniCluster } from "../components/omni/cluster";
import { OmniHub } from "../components/hub/omni-hub";
import { OmniMachineClass } from "../components/omni/machine-class";
import { ProxmoxHostDns } from "../components/proxmox/host-dns";
import { ProxmoxInfraProvider } from "../components/proxmox/infra-provider";
import { ProxmoxPreflight } from "../components/proxmox/preflight";
import { ConfigError } from "../components/core/validation";
import { runProgram } from "../src/plan/capture";
import { hubSettings, providerSettings } from "./fixtures/settings";

const access = { omniEndpoint: "https://omni.example.com", serviceAccountKey: pulumi.secret("key") };
const badClass = {
    name: "Bad_Name",
    providerId: "proxmox",
    providerData: { cores: 2, memory: 4096, disk_size: 20, storage_selector: 'name == "local-lvm"' },
};

/**
 * Each component, used from a plain program with no omni-scale stack config, as a platform team would: bad args fail
 * before anything is registered, named by the component's own args (`<name>.settings…`, `<name>.spec…`), or under
 * `keyPrefix` when given.
 */
const cases: [string, (keyPrefix?: string) => void, string][] = [
    [
        "OmniHub",
        (keyPrefix) => new OmniHub("hub", { settings: { ...hubSettings, lanIp: "100.100.1.1" } as never, keyPrefix }),
        "hub.settings.lanIp",
    ],
    [
        "ProxmoxHostDns",
        (keyPrefix) =>
            new ProxmoxHostDns("dns", {
                settings: { domain: "example.com", servers: ["8.8.8.8"], nodes: ["pve1"] },
                keyPrefix,
            }),
        "dns.settings.servers[0]",
    ],
    [
        "ProxmoxInfraProvider",
        (keyPrefix) =>
            new ProxmoxInfraProvider("provider", {
                settings: { ...providerSettings, providerId: "Proxmox" },
                omniApiEndpoint: "https://omni.example.com",
                infraProviderKey: "k",
                keyPrefix,
            }),
        "provider.settings.providerId",
    ],
    [
        "ProxmoxPreflight",
        (keyPrefix) =>
            new ProxmoxPreflight("preflight", {
                settings: { nodes: [{ name: "pve1", address: "not an address!" }] } as never,
                target: { domain: "omni.example.com", lanIp: "192.168.10.20", ports: [443, 8090] } as never,
                keyPrefix,
            }),
        "preflight.settings.nodes[0].address",
    ],
    [
        "OmniMachineClass",
        (keyPrefix) => new OmniMachineClass("class", { spec: badClass, ...access, keyPrefix }),
        "class.spec.name",
    ],
    [
        "OmniCluster",
        (keyPrefix) =>
            new OmniCluster("cluster", {
                spec: { name: "c1", controlPlane: { machineClass: "missing", size: 1 } },
                machineClasses: [],
                ...access,
                keyPrefix,
            }),
        "cluster.spec.controlPlane.machineClass",
    ],
];

describe("components used from a plain program", () => {
    for (const [component, build, key] of cases) {
        it(`${component}: refuses bad args before registering anything, keyed by its own args or keyPrefix`, async () => {
            const errors: ConfigError[] = [];
            const { resources } = await runProgram(
                () => {
                    for (const prefix of [undefined, "my-config"]) {
                        try {
                            build(prefix);
                        } catch (e) {
                            assert.ok(e instanceof ConfigError, String(e));
                            errors.push(e);
                        }
                    }
                },
                { stack: "plain-program" },
            );
            assert.equal(errors.length, 2, "both constructions fail");
            assert.ok(
                errors[0].issues.some((i) => i.key === key),
                `${errors[0].message}\nexpected key ${key}`,
            );
            const suffix = key.slice(key.indexOf(".", key.indexOf(".") + 1));
            assert.ok(
                errors[1].issues.some((i) => i.key === `my-config${suffix}`),
                errors[1].message,
            );
            assert.ok(
                errors.every((e) => !e.message.includes("omni-scale:")),
                "no omni-scale stack keys",
            );
            assert.deepEqual(
                resources.filter((r) => r.type !== "pulumi:pulumi:Stack").map((r) => r.name),
                [],
            );
        });
    }
});

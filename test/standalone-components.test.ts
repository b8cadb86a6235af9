import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { OmniCluster } from "../components/omni/cluster";
import { OmniHub } from "../components/hub/omni-hub";
import { OmniMachineClass } from "../components/omni/machine-class";
import { ProxmoxHostDns } from "../components/proxmox/host-dns";
import { ProxmoxInfraProvider } from "../components/proxmox/infra-provider";
import { ProxmoxPreflight } from "../components/proxmox/preflight";
import { ConfigError } from "../components/core/validation";
import * as lib from "../components";
import { CapturedResource, isSecret, runProgram, RunResult, unwrapSecrets } from "../src/plan/capture";
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
        (keyPrefix) => new OmniHub("hub", { settings: { ...hubSettings, lanIp: "100.100.1.1" }, keyPrefix }),
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

const byName = (run: RunResult, name: string): CapturedResource => {
    const found = run.resources.find((r) => r.name === name);
    assert.ok(found, `no resource ${name}; have ${run.resources.map((r) => r.name).join(", ")}`);
    return found;
};
const hostFilesTls = {
    mode: "hostFiles",
    certPath: "/etc/omni/fullchain.pem",
    keyPath: "/etc/omni/privkey.pem",
} as const;

/**
 * A whole program as a library user writes it, from the package root only: settings as written (no schema parse),
 * outputs wired as typed (no casts, no `!`; tsc checks this file), each component handed what the one before exposes.
 */
function userProgram() {
    const hub = new lib.OmniHub("hub", {
        settings: { ...hubSettings, tls: hostFilesTls, infraProviders: ["proxmox"] },
    });
    const provider = new lib.ProxmoxInfraProvider("provider", {
        settings: providerSettings,
        omniApiEndpoint: hub.apiUrl,
        infraProviderKey: hub.infraProviderKey("proxmox"),
    });
    const worker = new lib.OmniMachineClass(
        "worker",
        {
            spec: { ...badClass, name: "worker", providerId: provider.providerId },
            omniEndpoint: hub.apiUrl,
            serviceAccountKey: hub.automationKey,
        },
        { dependsOn: [provider] },
    );
    const cluster = new lib.OmniCluster("c1", {
        spec: { name: "c1", controlPlane: { machineClass: worker.id, size: 1 }, features: { backupInterval: "2h" } },
        machineClasses: [worker],
        omniEndpoint: hub.apiUrl,
        serviceAccountKey: hub.automationKey,
        etcdBackupIntervals: hub.etcdBackupIntervals,
    });
    const backup = new lib.HubBackup("hub-backup", {
        ...hub.backupTarget,
        settings: { targetDir: "/mnt/nas/omni-hub-backups" },
    });
    return { kubeconfig: cluster.kubeconfig, backup: backup.summary };
}

describe("the component API as a library user writes it (imports from the package root only)", () => {
    let run: RunResult;
    before(async () => {
        run = await runProgram(userProgram, { stack: "plain-program" });
    });

    it("wires hub → infra provider → machine class → cluster with the hub's own outputs", () => {
        const container = byName(run, "provider-container");
        const env = unwrapSecrets(container.inputs.envs) as string[];
        assert.ok(isSecret((container.inputs.envs as unknown[])[0]), "the provider's key stays a secret");
        assert.match(env[0], /^OMNI_SERVICE_ACCOUNT_KEY=./);
        const cls = byName(run, "worker-class");
        assert.equal(cls.inputs.providerId, "proxmox");
        assert.ok(isSecret(cls.inputs.serviceAccountKey));
        assert.ok(cls.dependsOn.includes(container.urn), "the class waits for the provider it is given in dependsOn");
        const c = byName(run, "c1-cluster");
        assert.ok(c.dependsOn.includes(cls.urn), "the cluster waits for its class");
        assert.ok(isSecret(run.outputs.kubeconfig), "the kubeconfig is a secret output");
    });

    it("adds a HubBackup beside the hub with what the hub exposes, its settings' defaults applied", () => {
        const backup = byName(run, "hub-backup-container");
        const omni = byName(run, "hub-omni");
        assert.equal(backup.inputs.networkMode, omni.inputs.networkMode, "in Omni's network namespace");
        assert.ok(backup.dependsOn.includes(omni.urn), "starts after Omni");
        assert.ok(
            (backup.inputs.volumes as { volumeName?: string; readOnly?: boolean }[]).some(
                (v) => v.volumeName === byName(run, "hub-omni-data").inputs.name && v.readOnly,
            ),
            "mounts Omni's data volume read-only",
        );
        const summary = run.outputs.backup as { schedule: string; keep: number };
        assert.match(summary.schedule, /^every 6h;/);
        assert.equal(summary.keep, 28);
    });

    it("names bad HubBackup settings by its own args, before registering anything", async () => {
        const errors: unknown[] = [];
        const { resources } = await runProgram(
            () => {
                const hub = new lib.OmniHub("hub", { settings: { ...hubSettings, tls: hostFilesTls } });
                const target = hub.backupTarget;
                const s3 = { bucket: "omni-backups", endpoint: "https://s3.example.com" };
                for (const settings of [
                    { targetDir: "relative/dir" },
                    { targetDir: "/srv/b", keep: 0 },
                    { targetDir: "/srv/b", s3 },
                ]) {
                    try {
                        new lib.HubBackup("b", { ...target, settings, s3AccessKeyId: "only-the-id" });
                    } catch (e) {
                        errors.push(e);
                    }
                }
            },
            { stack: "plain-program" },
        );
        assert.equal(errors.length, 3);
        assert.ok(errors.every((e) => e instanceof ConfigError));
        assert.match(String(errors[0]), /b\.settings\.targetDir/);
        assert.match(String(errors[1]), /b\.settings\.keep/);
        assert.match(String(errors[2]), /s3AccessKeyId\/s3SecretAccessKey: b\.settings\.s3 is set: pass both/);
        assert.ok(!resources.some((r) => r.name.startsWith("b-") || r.name === "b"));
    });

    it("says which setting is missing when a hub without the bootstrap is asked for its keys", async () => {
        const messages: string[] = [];
        await runProgram(
            () => {
                const off = new lib.OmniHub("off", {
                    settings: { ...hubSettings, tls: hostFilesTls, initialServiceAccount: { enabled: false } },
                });
                const on = new lib.OmniHub("on", {
                    settings: { ...hubSettings, tls: hostFilesTls, accountName: "omni2", infraProviders: ["proxmox"] },
                });
                for (const read of [
                    () => off.automationKey,
                    () => off.infraProviderKey("proxmox"),
                    () => on.infraProviderKey("Proxmox"),
                ]) {
                    try {
                        read();
                    } catch (e) {
                        assert.ok(e instanceof ConfigError, String(e));
                        messages.push(e.message);
                    }
                }
            },
            { stack: "plain-program" },
        );
        assert.equal(messages.length, 3);
        assert.match(messages[0], /off\.settings\.initialServiceAccount\.enabled .*no automationKey/);
        assert.match(messages[1], /off\.settings\.initialServiceAccount\.enabled .*no infraProviderKey\("proxmox"\)/);
        assert.match(messages[2], /on\.settings\.infraProviders .*has no "Proxmox"/);
    });

    it("reports the hub's etcd backup interval range, Omni's defaults when unset", async () => {
        const { outputs } = await runProgram(
            () => ({
                unset: new lib.OmniHub("a", { settings: { ...hubSettings, tls: hostFilesTls } }).etcdBackupIntervals,
                set: new lib.OmniHub("b", {
                    settings: {
                        ...hubSettings,
                        tls: hostFilesTls,
                        accountName: "omni2",
                        etcdBackup: { localPath: "/srv/etcd", maxInterval: "12h" },
                    },
                }).etcdBackupIntervals,
            }),
            { stack: "plain-program" },
        );
        assert.deepEqual(outputs.unset, lib.ETCD_BACKUP_DEFAULTS);
        assert.deepEqual(outputs.set, { minInterval: "1h", maxInterval: "12h" });
    });
});

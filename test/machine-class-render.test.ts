import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import {
    MachineClassSpec,
    machineClassDocProblems,
    ProviderData,
    ProviderDataSchema,
    privilegesForProviderData,
    renderMachineClass,
    storageSelectorProblems,
} from "../components/omni/machine-class-render";
import { z } from "zod";
import { ConfigError } from "../components/core/validation";
import { versions } from "../components/core/versions";

// The seed's classes (basher83/Omni-Scale `machine-classes/*.yaml`).
const tuning = {
    machine_type: "q35",
    balloon: false,
    disk_ssd: true,
    disk_discard: true,
    disk_iothread: true,
    disk_cache: "none",
    disk_aio: "io_uring",
} as const;
const controlPlane: MachineClassSpec = {
    name: "matrix-control-plane",
    providerId: "matrix-cluster",
    providerData: {
        cores: 4,
        sockets: 1,
        memory: 8192,
        disk_size: 40,
        network_bridge: "vmbr0",
        storage_selector: 'name == "local-lvm"',
        cpu_type: "host",
        ...tuning,
    },
};
const worker = (node: string): MachineClassSpec => ({
    name: `matrix-worker-${node}`,
    providerId: "matrix-cluster",
    providerData: {
        cores: 8,
        sockets: 1,
        memory: 16384,
        disk_size: 100,
        network_bridge: "vmbr0",
        storage_selector: 'name == "vm_ssd"',
        node,
        ...tuning,
    },
});
// The seed's examples/gpu-worker.yaml and multi-disk-worker.yaml, in spirit.
const gpuWorker: MachineClassSpec = {
    name: "gpu-worker",
    providerId: "proxmox",
    providerData: {
        cores: 8,
        memory: 32768,
        disk_size: 100,
        storage_selector: 'storageType == "rbd"',
        machine_type: "q35",
        numa: true,
        hugepages: "1GB",
        balloon: false,
        pci_devices: [{ mapping: "nvidia-gpu-1", pcie: true, primary_gpu: false, rombar: true }],
    },
};
const multiDisk: MachineClassSpec = {
    name: "multi-disk-worker",
    providerId: "proxmox",
    providerData: {
        cores: 4,
        memory: 8192,
        disk_size: 40,
        storage_selector: 'name == "local-lvm"',
        additional_disks: [
            {
                disk_size: 200,
                storage_selector: 'storageType == "rbd" && availableSpace > 200000000000u',
                disk_ssd: true,
                disk_cache: "writeback",
                disk_aio: "native",
            },
        ],
        additional_nics: [{ bridge: "vmbr1", vlan: 40, firewall: false }],
    },
};

function withData(data: Record<string, unknown>, base: MachineClassSpec = worker("foxtrot")): MachineClassSpec {
    return { ...base, providerData: { ...base.providerData, ...data } as ProviderData };
}

/** Render expecting a ConfigError; returns its issues as "key: message" lines. */
function problems(spec: unknown): string[] {
    try {
        renderMachineClass(spec as MachineClassSpec);
    } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        return e.issues.map((i) => `${i.key}: ${i.message}`);
    }
    assert.fail("expected a ConfigError");
}

function parsed(spec: MachineClassSpec) {
    const out = renderMachineClass(spec);
    const doc = YAML.parse(out.yaml);
    return { out, doc, data: YAML.parse(doc.spec.autoprovision.providerdata) };
}

describe("renderMachineClass", () => {
    it("renders the seed's control-plane class as the document omnictl apply takes", () => {
        const { out, doc, data } = parsed(controlPlane);
        assert.equal(out.id, "matrix-control-plane");
        assert.deepEqual(doc.metadata, {
            namespace: "default",
            type: "MachineClasses.omni.sidero.dev",
            id: "matrix-control-plane",
        });
        // omni v1.10.4 internal/backend/runtime/omni/validations/machine_class.go: autoprovision and matchlabels are exclusive.
        assert.deepEqual(Object.keys(doc.spec), ["autoprovision"]);
        assert.deepEqual(Object.keys(doc.spec.autoprovision).sort(), [
            "grpctunnel",
            "kernelargs",
            "metavalues",
            "providerdata",
            "providerid",
        ]);
        assert.equal(doc.spec.autoprovision.providerid, "matrix-cluster");
        assert.deepEqual(doc.spec.autoprovision.kernelargs, []);
        assert.deepEqual(doc.spec.autoprovision.metavalues, []);
        assert.equal(doc.spec.autoprovision.grpctunnel, 0);
        assert.equal(typeof doc.spec.autoprovision.providerdata, "string", "providerdata is a YAML string, not a map");
        assert.deepEqual(data, controlPlane.providerData);
        assert.equal(data.node, undefined, "the control plane is placed by the provider");
    });

    it("renders the per-node worker classes pinned with node", () => {
        for (const node of ["foxtrot", "golf", "hotel"]) {
            const { out, data } = parsed(worker(node));
            assert.equal(out.id, `matrix-worker-${node}`);
            assert.equal(data.node, node);
            assert.equal(data.storage_selector, 'name == "vm_ssd"');
            assert.deepEqual(out.warnings, []);
        }
    });

    it("warns (without failing) that cpu_type host makes migration unsafe", () => {
        const { out } = parsed(controlPlane);
        assert.equal(out.warnings.length, 1);
        assert.match(out.warnings[0], /cpu_type.*host.*migration/);
        assert.deepEqual(parsed(withData({ cpu_type: "x86-64-v2-AES" })).out.warnings, []);
    });

    it("defaults sockets to 1, because the provider sends 0 when it is omitted", () => {
        assert.equal(parsed(gpuWorker).data.sockets, 1);
        assert.equal(parsed(withData({ sockets: 2 })).data.sockets, 2);
    });

    it("renders PCI passthrough, NUMA/hugepages, extra disks and NICs", () => {
        const gpu = parsed(gpuWorker).data;
        assert.deepEqual(gpu.pci_devices, [{ mapping: "nvidia-gpu-1", pcie: true, primary_gpu: false, rombar: true }]);
        assert.equal(gpu.hugepages, "1GB");
        assert.equal(gpu.numa, true);
        const disks = parsed(multiDisk).data;
        assert.equal(disks.additional_disks[0].disk_size, 200);
        assert.deepEqual(disks.additional_nics, [{ bridge: "vmbr1", vlan: 40, firewall: false }]);
    });

    it("renders the provider v0.1.0–v0.3.0 fields: firewall, tags, pool, placement, the full HA block, firmware display, mdev, USB", () => {
        const ha = {
            state: "started",
            comment: "talos",
            max_restart: 2,
            max_relocate: 1,
            failback: true,
            resource_affinity: "negative",
            node_affinity_nodes: ["pve1", "pve2:2"],
            node_affinity_strict: true,
            rules: ["talos-spread"],
        } as const;
        const data = parsed(
            withData({
                network_firewall: false,
                tags: ["talos", "worker"],
                pool: "talos-workers",
                placement_strategy: "round-robin",
                ha,
                bios: "ovmf",
                vga: "virtio,memory=32",
                pci_devices: [{ mapping: "a16", mdev: "nvidia-180" }],
                usb_devices: [{ mapping: "zigbee", usb3: true }],
            }),
        ).data;
        assert.equal(data.network_firewall, false);
        assert.deepEqual(data.tags, ["talos", "worker"]);
        assert.equal(data.pool, "talos-workers");
        assert.equal(data.placement_strategy, "round-robin");
        assert.deepEqual(data.ha, ha);
        assert.equal(data.bios, "ovmf");
        assert.equal(data.vga, "virtio,memory=32");
        assert.deepEqual(data.pci_devices, [{ mapping: "a16", mdev: "nvidia-180" }]);
        assert.deepEqual(data.usb_devices, [{ mapping: "zigbee", usb3: true }]);
        assert.match(problems(withData({ bios: "uefi" })).join(), /providerData\.bios: .*expected one of/);
        assert.match(problems(withData({ vga: "vga" })).join(), /providerData\.vga: a Proxmox display/);
    });

    it("renders kernel args, META values and the gRPC tunnel enum", () => {
        const doc = parsed({
            ...multiDisk,
            kernelArgs: ["console=ttyS0"],
            metaValues: [{ key: 12, value: "machineLabels:\n  size: standard\n" }],
            grpcTunnel: "enabled",
        }).doc;
        assert.deepEqual(doc.spec.autoprovision.kernelargs, ["console=ttyS0"]);
        assert.deepEqual(doc.spec.autoprovision.metavalues, [{ key: 12, value: "machineLabels:\n  size: standard\n" }]);
        assert.equal(doc.spec.autoprovision.grpctunnel, 1);
        assert.equal(parsed({ ...multiDisk, grpcTunnel: "disabled" }).doc.spec.autoprovision.grpctunnel, 2);
    });

    it("renders grpcTunnel as Omni's GrpcTunnelMode numbers (fixtures/upstream/omni-grpc-tunnel.v1.10.4.json)", () => {
        const upstream = JSON.parse(
            fs.readFileSync(path.join(__dirname, "fixtures/upstream/omni-grpc-tunnel.v1.10.4.json"), "utf8"),
        );
        assert.equal(upstream.machineClassField, "spec.autoprovision.grpctunnel");
        for (const [mode, number] of Object.entries(upstream.enum)) {
            const doc = parsed({ ...multiDisk, grpcTunnel: mode.toLowerCase() as "unset" }).doc;
            assert.equal(doc.spec.autoprovision.grpctunnel, number, mode);
        }
    });

    it("requires cores, memory, disk_size and storage_selector, saying what to set", () => {
        const found = problems({ name: "x", providerId: "p", providerData: {} });
        for (const key of ["cores", "memory", "disk_size", "storage_selector"]) {
            assert.ok(
                found.some((p) => p.startsWith(`machineClasses.providerData.${key}: required:`)),
                `${key} in ${found.join("\n")}`,
            );
        }
    });

    it("enforces the provider's minimums", () => {
        assert.match(problems(withData({ memory: 2047 })).join(), /providerData\.memory: .*at least 2048/);
        assert.match(problems(withData({ disk_size: 4 })).join(), /providerData\.disk_size: .*at least 5/);
        assert.match(problems(withData({ cores: 0 })).join(), /providerData\.cores: .*at least 1/);
        assert.match(problems(withData({ sockets: 0 })).join(), /providerData\.sockets: .*at least 1/);
        assert.match(problems(withData({ cores: 2.5 })).join(), /providerData\.cores/);
        assert.match(problems(withData({ vlan: 4095 })).join(), /providerData\.vlan: .*4094/);
        // The minimums themselves pass.
        assert.equal(parsed(withData({ memory: 2048, disk_size: 5, cores: 1 })).data.memory, 2048);
    });

    it("rejects values outside the provider's enums", () => {
        for (const [key, bad] of [
            ["machine_type", "pc"],
            ["disk_cache", "writeahead"],
            ["disk_aio", "uring"],
            ["hugepages", "2M"],
            ["placement_strategy", "spread-out"],
        ]) {
            const found = problems(withData({ [key]: bad }));
            assert.equal(found.length, 1, found.join("\n"));
            assert.match(found[0], new RegExp(`^machineClasses\\.providerData\\.${key}: .*expected one of`));
        }
    });

    it("rejects unknown keys, which the provider would silently ignore", () => {
        assert.deepEqual(problems(withData({ disk_sise: 40 })), [
            "machineClasses.providerData.disk_sise: unknown key `disk_sise`: did you mean `disk_size`?",
        ]);
        assert.match(
            problems(
                withData({ additional_disks: [{ disk_size: 10, storage_selector: 'name == "a"', ssd: true }] }),
            ).join(),
            /additional_disks\[0\]\.ssd: unknown key/,
        );
        assert.match(
            problems(withData({ ha: { state: "started", affinity: "negative" } })).join(),
            /ha\.affinity: unknown key/,
        );
        assert.match(problems({ ...worker("golf"), provider: "x" }).join(), /machineClasses\.provider: unknown key/);
    });

    it("rejects a storage_selector using `type`, giving the storageType fix, also in additional disks", () => {
        const top = problems(withData({ storage_selector: 'type == "rbd"' }));
        assert.equal(top.length, 1);
        assert.match(top[0], /^machineClasses\.providerData\.storage_selector: .*storageType == "rbd"/);
        const extra = problems(withData({ additional_disks: [{ disk_size: 10, storage_selector: "type == 'rbd'" }] }));
        assert.match(extra.join(), /additional_disks\[0\]\.storage_selector: .*storageType == 'rbd'/);
    });

    it("rejects a storage_selector that tests no storage variable", () => {
        assert.match(
            problems(withData({ storage_selector: "'local-lvm'" })).join(),
            /storage_selector: .*must test a storage variable/,
        );
        assert.match(
            problems(withData({ storage_selector: 'storage_type == "rbd"' })).join(),
            /unknown variable\(s\) storage_type/,
        );
        assert.match(problems(withData({ storage_selector: "  " })).join(), /storage_selector: .*CEL expression/);
    });

    it("refuses the static networking keys that came after the pinned provider release, which it would silently drop", () => {
        const explicit = {
            network_subnet: "192.168.26.0/24",
            network_ip: "192.168.26.31",
            network_gateway: "192.168.26.1",
            network_nameservers: ["192.168.26.1"],
            network_mtu: 1500,
        };
        const found = problems(withData({ ...explicit, network_base_ip: "192.168.26.40", vmid_range: "5300-5350" }));
        assert.equal(found.length, 7, found.join("\n"));
        for (const p of found)
            assert.match(
                p,
                /^machineClasses\.providerData\.(network_\w+|vmid_range): needs a provider release newer than v0\.3\.0 .*DHCP/,
            );
    });

    it("caps kernel args as Omni does (omni v1.10.4 validations/kernel_args.go: 64 entries, 256 bytes each)", () => {
        assert.doesNotThrow(() =>
            renderMachineClass({
                ...multiDisk,
                kernelArgs: Array.from({ length: 64 }, (_, i) => `a${i}=${"x".repeat(200)}`),
            }),
        );
        assert.match(
            problems({ ...multiDisk, kernelArgs: Array.from({ length: 65 }, (_, i) => `a${i}`) }).join(),
            /kernelArgs: Omni accepts at most 64/,
        );
        assert.match(
            problems({ ...multiDisk, kernelArgs: ["x".repeat(257)] }).join(),
            /kernelArgs\[0\]: Omni accepts kernel args of at most 256 bytes/,
        );
    });

    it("asks for Mapping.Use with PCI/USB passthrough and Sys.Console with HA", () => {
        assert.deepEqual(privilegesForProviderData([controlPlane.providerData]), []);
        assert.deepEqual(privilegesForProviderData([gpuWorker.providerData]), ["Mapping.Use"]);
        assert.deepEqual(
            privilegesForProviderData([{ usb_devices: [{ mapping: "z" }] }, { ha: { state: "started" } }]),
            ["Mapping.Use", "Sys.Console"],
        );
    });

    it("checks the class's own fields", () => {
        assert.match(problems({ ...worker("golf"), name: "Worker_1" }).join(), /^machineClasses\.name: use lowercase/);
        assert.match(
            problems({ ...worker("golf"), metaValues: [{ key: 256, value: "x" }] }).join(),
            /metaValues\[0\]\.key: META keys are 0–255/,
        );
        assert.match(problems({ ...worker("golf"), grpcTunnel: "on" }).join(), /grpcTunnel/);
    });

    it("reports every problem at once, under the given key prefix", () => {
        try {
            renderMachineClass(
                {
                    name: "x",
                    providerId: "p",
                    providerData: {
                        cores: 0,
                        memory: 1,
                        disk_size: 1,
                        storage_selector: 'type == "rbd"',
                        typo: 1,
                    } as unknown as ProviderData,
                },
                "omni-scale:machineClasses[2]",
            );
            assert.fail("expected a ConfigError");
        } catch (e) {
            assert.ok(e instanceof ConfigError);
            assert.deepEqual(e.issues.map((i) => i.key).sort(), [
                "omni-scale:machineClasses[2].providerData.cores",
                "omni-scale:machineClasses[2].providerData.disk_size",
                "omni-scale:machineClasses[2].providerData.memory",
                "omni-scale:machineClasses[2].providerData.storage_selector",
                "omni-scale:machineClasses[2].providerData.typo",
            ]);
        }
    });
});

describe("storageSelectorProblems", () => {
    it("accepts the provider's variables, operators, string methods and macros", () => {
        for (const ok of [
            'name == "local-lvm"',
            "name == 'nvme'",
            'storageType == "rbd" && availableSpace > 100u',
            'node == "pve1" || name.startsWith("ceph")',
            '["a", "b"].exists(s, s == name)',
        ]) {
            assert.deepEqual(storageSelectorProblems(ok), [], ok);
        }
    });

    it("only flags `type` used as a variable, not inside strings or as a member", () => {
        assert.deepEqual(storageSelectorProblems('name == "type"'), []);
        assert.equal(storageSelectorProblems('name.startsWith("type") && type == "rbd"').length, 1);
        assert.match(
            storageSelectorProblems('name.startsWith("type") && type == "rbd"')[0],
            /name\.startsWith\("type"\) && storageType == "rbd"/,
        );
    });
});

describe("machineClassDocProblems", () => {
    const rendered = renderMachineClass(worker("hotel")).yaml;

    it("finds nothing wrong in a rendered class", () => {
        assert.deepEqual(machineClassDocProblems(rendered), []);
    });

    it("flags a wrong type, a missing autoprovision and unparseable YAML", () => {
        assert.match(
            machineClassDocProblems(rendered.replace("MachineClasses.omni.sidero.dev", "MachineClass")).join(),
            /metadata\.type must be MachineClasses\.omni\.sidero\.dev/,
        );
        assert.match(
            machineClassDocProblems(
                YAML.stringify({
                    metadata: { type: "MachineClasses.omni.sidero.dev", id: "x" },
                    spec: { matchlabels: [] },
                }),
            ).join(),
            /autoprovision is missing/,
        );
        assert.match(machineClassDocProblems("metadata: [").join(), /not valid YAML/);
        const both = YAML.parse(rendered);
        both.spec.matchlabels = [];
        assert.match(
            machineClassDocProblems(YAML.stringify(both)).join(),
            /matchlabels must be absent with spec\.autoprovision/,
        );
    });

    it("applies the provider data rules to hand-written providerdata", () => {
        const doc = YAML.parse(rendered);
        doc.spec.autoprovision.providerdata = 'cors: 4\nmemory: 8192\ndisk_size: 40\nstorage_selector: type == "rbd"\n';
        const found = machineClassDocProblems(YAML.stringify(doc));
        // The value meant for `cores` sits under the typo: said once, by the typo, not also as `cores` missing.
        assert.ok(found.includes("providerdata.cors: unknown key `cors`: did you mean `cores`?"), found.join("\n"));
        assert.ok(!found.some((p) => p.startsWith("providerdata.cores:")), found.join("\n"));
        assert.ok(
            found.some((p) => p.startsWith("providerdata.storage_selector:") && p.includes('storageType == "rbd"')),
            found.join("\n"),
        );
    });
});

/** Just enough JSON Schema (type, minimum, enum, required, properties, items) to check rendered provider data. */
type JsonSchema = {
    type?: string;
    minimum?: number;
    enum?: unknown[];
    required?: string[];
    properties?: Record<string, JsonSchema>;
    items?: JsonSchema;
};
function schemaErrors(schema: JsonSchema, value: unknown, at = "$"): string[] {
    const typeOk: Record<string, (v: unknown) => boolean> = {
        object: (v) => typeof v === "object" && v !== null && !Array.isArray(v),
        array: Array.isArray,
        integer: Number.isInteger,
        string: (v) => typeof v === "string",
        boolean: (v) => typeof v === "boolean",
    };
    if (schema.type && !typeOk[schema.type](value)) return [`${at}: expected ${schema.type}`];
    const errors: string[] = [];
    if (schema.minimum !== undefined && (value as number) < schema.minimum)
        errors.push(`${at}: below ${schema.minimum}`);
    if (schema.enum && !schema.enum.includes(value)) errors.push(`${at}: not in enum`);
    for (const key of schema.required ?? [])
        if ((value as Record<string, unknown>)[key] === undefined) errors.push(`${at}.${key}: required`);
    for (const [key, sub] of Object.entries(schema.properties ?? {})) {
        const v = (value as Record<string, unknown>)[key];
        if (v !== undefined) errors.push(...schemaErrors(sub, v, `${at}.${key}`));
    }
    if (schema.items && Array.isArray(value))
        value.forEach((v, i) => errors.push(...schemaErrors(schema.items!, v, `${at}[${i}]`)));
    return errors;
}

const upstream = (file: string) => JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/upstream", file), "utf8"));

describe("provider data against the provider's JSON schema (omni-infra-provider-proxmox data/schema.json at 0d9fd58)", function () {
    const schema: JsonSchema = upstream("provider-data.schema.0d9fd58.json");

    it("covers every field of the schema, with the same required fields", () => {
        const ours = Object.keys(ProviderDataSchema.shape);
        for (const key of Object.keys(schema.properties!))
            assert.ok(ours.includes(key), `ProviderDataSchema lacks ${key}`);
        assert.deepEqual([...schema.required!].sort(), ["cores", "disk_size", "memory", "storage_selector"]);
        const missing = problems({ name: "x", providerId: "p", providerData: {} }).map((p) =>
            p.split(":")[0].replace("machineClasses.providerData.", ""),
        );
        assert.deepEqual(missing.sort(), [...schema.required!].sort());
    });

    it("renders provider data the schema accepts", () => {
        for (const spec of [controlPlane, worker("golf"), gpuWorker, multiDisk]) {
            const data = parsed(spec).data;
            assert.deepEqual(schemaErrors(schema, data), [], spec.name);
        }
    });

    it("(the checker itself rejects what the schema rejects)", () => {
        assert.deepEqual(
            schemaErrors(schema, { cores: 1, memory: 1024, disk_size: 5, storage_selector: "x", disk_cache: "fast" }),
            ["$.memory: below 2048", "$.disk_cache: not in enum"],
        );
    });
});

describe("provider data keys of the pinned provider release (omni-infra-provider-proxmox v0.3.0 internal/pkg/provider/data.go)", () => {
    const release = upstream("provider-data.v0.3.0.json");

    it("pins the release the fixture was read from", () => {
        assert.match(release.provenance.release, new RegExp(`^${versions.proxmoxProvider} `));
    });

    it("accepts exactly the keys that release reads, at every level", () => {
        const shape = ProviderDataSchema.shape as Record<string, z.ZodType>;
        const known = Object.keys(shape);
        assert.deepEqual(known.filter((k) => !release.afterRelease.includes(k)).sort(), [...release.keys].sort());
        for (const key of release.afterRelease)
            assert.ok(known.includes(key), `${key} gets the release message, not "unknown key"`);
        const nested = (key: string) => {
            const element = (shape[key] as z.ZodOptional<z.ZodType>).unwrap();
            const obj = (element instanceof z.ZodArray ? element.element : element) as z.ZodObject;
            return Object.keys(obj.shape).sort();
        };
        for (const [key, fields] of Object.entries(release.nested as Record<string, string[]>))
            assert.deepEqual(nested(key), [...fields].sort(), key);
    });

    it("refuses every key added after the release, naming the release", () => {
        for (const key of release.afterRelease as string[]) {
            assert.match(
                problems(withData({ [key]: "x" })).join(),
                new RegExp(`providerData\\.${key}: needs a provider release newer than ${versions.proxmoxProvider}`),
                key,
            );
        }
    });

    it("accepts each placement strategy the release parses", () => {
        for (const strategy of release.placementStrategies)
            assert.equal(parsed(withData({ placement_strategy: strategy })).data.placement_strategy, strategy);
    });
});

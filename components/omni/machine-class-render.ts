import { z } from "zod";
import { dnsLabel, InfraProviderIdSchema, parseOrThrow, zodIssues } from "../core/validation";
import { oncePerText } from "../core/hot-paths";
import { readYaml, yamlErrorLine } from "../core/yaml-read";
import { yamlPackage } from "../core/yaml-package";

/**
 * Omni MachineClass rendering for the Proxmox infra provider (omni-infra-provider-proxmox `internal/pkg/provider/data.go`, test/fixtures/upstream/provider-data.v0.3.0.json).
 * The provider parses `providerdata` leniently and drops unknown keys, so every object here is strict:
 * a typo fails the preview instead of silently creating the wrong VM.
 */

export const MACHINE_CLASS_TYPE = "MachineClasses.omni.sidero.dev";

/** Variables the provider declares for `storage_selector` (§3.6). */
const SELECTOR_VARIABLES = ["name", "node", "storageType", "availableSpace"];
/** CEL literals and type names that may appear bare (`type` is left out on purpose: see below). */
const CEL_KEYWORDS = [
    "true",
    "false",
    "null",
    "in",
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "dyn",
];

const STRING_LITERAL = /([rRbB]?(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'))/;
/** A whole identifier that is not a `.member` and not a `function(` call. */
const BARE_IDENTIFIER = /(?<![.\w])([A-Za-z_]\w*)\b(?!\s*\()/g;

/**
 * Problems with a storage_selector CEL expression, each with its fix. Not a CEL parser: outside string
 * literals, bare identifiers must be the provider's variables.
 */
export function storageSelectorProblems(expr: string): string[] {
    // split() with a capturing group alternates code (even) and string literals (odd).
    const parts = expr.split(STRING_LITERAL);
    const code = parts.filter((_, i) => i % 2 === 0).join(" ");
    // Comprehension macros (`list.exists(x, ...)`) bind their own variable.
    const bound = [...code.matchAll(/\.(?:all|exists|exists_one|map|filter)\(\s*([A-Za-z_]\w*)\s*,/g)].map((m) => m[1]);
    const variables = [...code.matchAll(BARE_IDENTIFIER)]
        .map((m) => m[1])
        .filter((id) => !CEL_KEYWORDS.includes(id) && !bound.includes(id));
    const problems: string[] = [];
    if (variables.includes("type")) {
        const fixed = parts
            .map((p, i) => (i % 2 === 0 ? p.replace(BARE_IDENTIFIER, (id) => (id === "type" ? "storageType" : id)) : p))
            .join("");
        problems.push(`"type" is CEL's built-in type, not the storage type: use storageType, i.e. ${fixed}`);
    }
    const unknown = [...new Set(variables.filter((v) => v !== "type" && !SELECTOR_VARIABLES.includes(v)))];
    if (unknown.length > 0) {
        problems.push(
            `unknown variable(s) ${unknown.join(", ")}: the selector can use ${SELECTOR_VARIABLES.join(", ")}`,
        );
    }
    if (problems.length === 0 && !variables.some((v) => SELECTOR_VARIABLES.includes(v))) {
        problems.push(
            `the selector must test a storage variable (${SELECTOR_VARIABLES.join(", ")}), e.g. name == "local-lvm"`,
        );
    }
    return problems;
}

/** zod's "expected number, received undefined" does not say what to set: name it. */
const required = (hint: string) => ({
    error: (issue: { input?: unknown }) => (issue.input === undefined ? `required: ${hint}` : undefined),
});

const UNIT_MIB: Record<string, number> = { k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 };

/**
 * A size the provider takes as a bare number of `unit` (Proxmox's MiB and GiB; the provider's schema says MB and GB):
 * a string such as `8GB` is refused naming the unit and the number it stands for.
 */
const size = (field: string, unit: "MiB" | "GiB", hint: string) => ({
    error: (issue: { input?: unknown }) => {
        if (issue.input === undefined) return `required: ${hint}`;
        if (typeof issue.input !== "string") return undefined;
        const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])i?b?)?\s*$/i.exec(issue.input);
        const mib = m ? Number(m[1]) * (m[2] ? UNIT_MIB[m[2].toLowerCase()] : unit === "MiB" ? 1 : 1024) : undefined;
        const meant = mib === undefined ? undefined : unit === "MiB" ? mib : mib / 1024;
        return `${field} is a number of ${unit}, not a string${meant !== undefined && Number.isInteger(meant) ? `: write ${meant}` : ""} (${hint})`;
    },
});

const StorageSelector = z
    .string(required('a CEL expression that picks the disk storage, e.g. name == "local-lvm"'))
    .trim()
    .min(1, 'set a CEL expression that picks the VM disk storage, e.g. name == "local-lvm"')
    .superRefine((expr, ctx) => {
        for (const message of storageSelectorProblems(expr)) ctx.addIssue({ code: "custom", message, input: expr });
    });

const DiskCache = z.enum(["none", "writethrough", "writeback", "directsync", "unsafe"]);
const DiskAio = z.enum(["native", "threads", "io_uring"]);
const Vlan = z.number().int().min(0, "use 0 for an untagged NIC").max(4094, "VLAN tags go up to 4094");

const AdditionalDisk = z.strictObject({
    disk_size: z.number(required("the disk size in GB")).int().min(1, "disk_size is in GB and must be at least 1"),
    storage_selector: StorageSelector,
    disk_ssd: z.boolean().optional(),
    disk_discard: z.boolean().optional(),
    disk_iothread: z.boolean().optional(),
    disk_cache: DiskCache.optional(),
    disk_aio: DiskAio.optional(),
});

const AdditionalNic = z.strictObject({
    bridge: z.string(required("the Proxmox bridge, e.g. vmbr1")).min(1, "name the Proxmox bridge, e.g. vmbr1"),
    vlan: Vlan.optional(),
    firewall: z.boolean().optional(),
});

const PciDevice = z.strictObject({
    mapping: z
        .string(required("a Proxmox PCI resource mapping name"))
        .min(1, "name a Proxmox PCI resource mapping (Datacenter → Resource Mappings)"),
    /** A mediated device type of the mapped card (vGPU), e.g. nvidia-180. */
    mdev: z.string().min(1).optional(),
    pcie: z.boolean().optional(),
    primary_gpu: z.boolean().optional(),
    rombar: z.boolean().optional(),
});

const UsbDevice = z.strictObject({
    mapping: z
        .string(required("a Proxmox USB resource mapping name"))
        .min(1, "name a Proxmox USB resource mapping (Datacenter → Resource Mappings)"),
    usb3: z.boolean().optional(),
});

/**
 * Proxmox HA registration (provider v0.2.0+, PVE 9+; the provider's `ha.Config`); replaces the provider's own
 * spreading. Values follow Proxmox's ha-manager resource and rule options.
 */
const Ha = z.strictObject({
    state: z.enum(["started", "stopped", "enabled", "disabled", "ignored"]).optional(),
    comment: z.string().optional(),
    max_restart: z.number().int().min(0).optional(),
    max_relocate: z.number().int().min(0).optional(),
    failback: z.boolean().optional(),
    resource_affinity: z.enum(["positive", "negative"]).optional(),
    node_affinity_nodes: z
        .array(z.string().regex(/^[a-zA-Z0-9-]+(:\d+)?$/, "a Proxmox node name, optionally with a priority (node:2)"))
        .optional(),
    node_affinity_strict: z.boolean().optional(),
    rules: z.array(z.string().min(1)).optional(),
});

/** Proxmox's display types (qm.conf `vga: [type=]<enum>[,clipboard=vnc][,memory=<MiB>]`). */
const VGA_TYPES = [
    "cirrus",
    "none",
    "qxl",
    "qxl2",
    "qxl3",
    "qxl4",
    "serial0",
    "serial1",
    "serial2",
    "serial3",
    "std",
    "virtio",
    "virtio-gl",
    "vmware",
];
const Vga = z
    .string()
    .regex(
        new RegExp(`^(type=)?(${VGA_TYPES.join("|")})(,(clipboard=vnc|memory=\\d+))*$`),
        `a Proxmox display: one of ${VGA_TYPES.join(", ")}, optionally with ,memory=<MiB> or ,clipboard=vnc`,
    );

/** The provider release we pin; keys that came after it are refused with this. */
const PINNED_PROVIDER = "v0.3.0";
/**
 * Keys on the provider's main branch after the pinned release (static networking). The released provider drops them
 * silently, so the VM would come up on DHCP instead of the address asked for.
 */
const laterProviderKey = z
    .unknown()
    .refine(
        (v) => v === undefined,
        `needs a provider release newer than ${PINNED_PROVIDER} (the pinned provider ignores it, and the VM would quietly come up on DHCP): remove it`,
    )
    .optional();

export const ProviderDataSchema = z.strictObject({
    cores: z.number(required("vCPU cores per socket, e.g. 4")).int().min(1, "cores (per socket) must be at least 1"),
    // The provider sends 0 sockets when omitted (§3.5), so always send 1 unless told otherwise.
    sockets: z.number().int().min(1, "sockets must be at least 1").default(1),
    memory: z
        .number(size("memory", "MiB", "at least 2048, e.g. 8192 for 8 GiB"))
        .int()
        .min(2048, "memory is a number of MiB and the provider requires at least 2048"),
    disk_size: z
        .number(size("disk_size", "GiB", "the boot disk, at least 5, e.g. 40"))
        .int()
        .min(5, "disk_size is a number of GiB and the provider requires at least 5"),
    storage_selector: StorageSelector,
    node: z.string().min(1, "name a Proxmox node, or leave node out for automatic placement").optional(),
    network_bridge: z.string().min(1, "name the Proxmox bridge, e.g. vmbr0").optional(),
    vlan: Vlan.optional(),
    network_firewall: z.boolean().optional(),
    cpu_type: z.string().min(1, "e.g. x86-64-v2-AES (the provider default) or host").optional(),
    machine_type: z.enum(["q35", "i440fx"]).optional(),
    numa: z.boolean().optional(),
    hugepages: z.enum(["2MB", "1GB"]).optional(),
    balloon: z.boolean().optional(),
    disk_ssd: z.boolean().optional(),
    disk_discard: z.boolean().optional(),
    disk_iothread: z.boolean().optional(),
    disk_cache: DiskCache.optional(),
    disk_aio: DiskAio.optional(),
    additional_disks: z.array(AdditionalDisk).optional(),
    additional_nics: z.array(AdditionalNic).optional(),
    pci_devices: z.array(PciDevice).optional(),
    usb_devices: z.array(UsbDevice).optional(),
    tags: z.array(z.string().regex(/^[a-z0-9_+.-]+$/i, "Proxmox tags use letters, digits and - _ + . only")).optional(),
    pool: z.string().min(1).optional(),
    placement_strategy: z.enum(["spread", "fewer-vms", "round-robin", "binpack"]).optional(),
    ha: Ha.optional(),
    bios: z.enum(["seabios", "ovmf"]).optional(),
    vga: Vga.optional(),
    network_subnet: laterProviderKey,
    network_ip: laterProviderKey,
    network_base_ip: laterProviderKey,
    network_gateway: laterProviderKey,
    network_nameservers: laterProviderKey,
    network_mtu: laterProviderKey,
    vmid_range: laterProviderKey,
});

const DnsLabel = dnsLabel();

const GRPC_TUNNEL = { unset: 0, enabled: 1, disabled: 2 } as const;

export const MachineClassSpecSchema = z.strictObject({
    name: DnsLabel.describe("The machine class id in Omni (global: unique across stacks)"),
    providerId: InfraProviderIdSchema.describe("Must equal infraProvider.providerId, the provider's --id"),
    providerData: ProviderDataSchema.describe(
        "The Proxmox provider's snake_case keys (v0.3.0): cores, sockets, memory (MiB), disk_size (GiB), storage_selector, node, network_bridge, …",
    ),
    // Omni caps auto-provision kernel args (omni v1.10.4 `validations/kernel_args.go`).
    kernelArgs: z
        .array(z.string().min(1).max(256, "Omni accepts kernel args of at most 256 bytes"))
        .max(64, "Omni accepts at most 64 kernel args")
        .optional()
        .describe("Kernel args of the provisioned machines, at most 64 of at most 256 bytes"),
    metaValues: z
        .array(z.strictObject({ key: z.number().int().min(0).max(255, "META keys are 0–255"), value: z.string() }))
        .optional()
        .describe("Talos META entries { key (0–255), value }"),
    grpcTunnel: z.enum(["unset", "enabled", "disabled"]).optional().describe("Omni's SideroLink gRPC tunnel mode"),
});

export type ProviderData = z.input<typeof ProviderDataSchema>;
export type MachineClassSpec = z.input<typeof MachineClassSpecSchema>;

export interface RenderedMachineClass {
    id: string;
    providerId: string;
    yaml: string;
    warnings: string[];
}

/**
 * Proxmox privileges the provider needs for what these classes use, beyond its default role: resource mappings
 * for PCI/USB passthrough (`Mapping.Use`) and HA resources and rules (`Sys.Console` on /, per the provider's v0.2.0
 * HA notes).
 */
export function privilegesForProviderData(data: Pick<ProviderData, "pci_devices" | "usb_devices" | "ha">[]): string[] {
    const privileges: string[] = [];
    if (data.some((d) => (d.pci_devices?.length ?? 0) + (d.usb_devices?.length ?? 0) > 0))
        privileges.push("Mapping.Use");
    if (data.some((d) => d.ha !== undefined)) privileges.push("Sys.Console");
    return privileges;
}

/** The MachineClass document `omnictl apply -f` takes, plus advice that is not an error. */
export function renderMachineClass(spec: MachineClassSpec, keyPrefix = "machineClasses"): RenderedMachineClass {
    const s = parseOrThrow(MachineClassSpecSchema, spec, keyPrefix);
    const warnings: string[] = [];
    if (s.providerData.cpu_type === "host") {
        warnings.push(
            `${keyPrefix}.providerData.cpu_type: "host" ties VMs of class ${s.name} to the host CPU model, so live migration between different CPUs is unsafe; use x86-64-v2-AES (or another named model) if VMs must move`,
        );
    }
    const { stringify } = yamlPackage();
    const doc = {
        metadata: { namespace: "default", type: MACHINE_CLASS_TYPE, id: s.name },
        // No matchlabels: Omni refuses a class that sets both it and autoprovision (validations/machine_class.go).
        spec: {
            autoprovision: {
                providerid: s.providerId,
                kernelargs: s.kernelArgs ?? [],
                metavalues: s.metaValues ?? [],
                providerdata: stringify(s.providerData),
                grpctunnel: GRPC_TUNNEL[s.grpcTunnel ?? "unset"],
            },
        },
    };
    return { id: s.name, providerId: s.providerId, yaml: stringify(doc), warnings };
}

/** A MachineClass document, or why it is not YAML: read once per text (its check and two stack policies ask). */
export const machineClassDocument = oncePerText((text: string): { doc: unknown } | { error: string } => {
    try {
        return { doc: readYaml(text) };
    } catch (e) {
        return { error: yamlErrorLine(e) };
    }
});

/**
 * Problems in a MachineClass document as a policy sees it (rendered here or written by hand), using the same
 * provider-data rules as the renderer.
 */
export function machineClassDocProblems(yamlText: string): string[] {
    const read = machineClassDocument(yamlText);
    if ("error" in read) return [`not valid YAML: ${read.error}`];
    const d = read.doc as {
        metadata?: { type?: unknown };
        spec?: { autoprovision?: { providerdata?: unknown } };
    } | null;
    if (d?.metadata?.type !== MACHINE_CLASS_TYPE)
        return [`metadata.type must be ${MACHINE_CLASS_TYPE} (got ${JSON.stringify(d?.metadata?.type)})`];
    const auto = d.spec?.autoprovision;
    // omni v1.10.4 validations/machine_class.go: "can't set both auto provision and match labels at the same time".
    if (auto && (d.spec as { matchlabels?: unknown }).matchlabels !== undefined)
        return ["spec.matchlabels must be absent with spec.autoprovision: Omni refuses a class that sets both"];
    if (!auto)
        return [
            "spec.autoprovision is missing: Omni reports 'autoprovision is disabled for the machine class' and never asks the provider for VMs",
        ];
    if (typeof auto.providerdata !== "string")
        return ["spec.autoprovision.providerdata must be a YAML string (providerdata: |)"];
    let data: unknown;
    try {
        data = readYaml(auto.providerdata);
    } catch (e) {
        return [`spec.autoprovision.providerdata is not valid YAML: ${yamlErrorLine(e)}`];
    }
    const result = ProviderDataSchema.safeParse(data ?? {}, { reportInput: true });
    if (result.success) return [];
    return zodIssues(result.error, "providerdata", ProviderDataSchema).map((i) => `${i.key}: ${i.message}`);
}

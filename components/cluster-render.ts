import * as semver from "semver";
import { z } from "zod";
import * as YAML from "yaml";
import { dnsLabel, goDuration, parseGoDuration, parseOrThrow, uniqueBy } from "./validation";
import { kubernetesSupportProblem, versions } from "./versions";

/**
 * Omni cluster templates (domain.md §4.11): one Cluster, one ControlPlane, Workers, optional Machine docs,
 * plus the Cilium preset from the seed's guide (§1.10).
 */

const NODE_ROLE_PREFIX = "node-role.kubernetes.io/";
/** Names of the patches this module generates; user patches may not take this prefix. */
const GENERATED_PATCH_PREFIX = "omni-scale-";
const CNI_PATCH = `${GENERATED_PATCH_PREFIX}cilium-cni`;
const NODE_LABELS_PATCH = `${GENERATED_PATCH_PREFIX}node-labels`;

const NODE_ROLE_FIX =
    "the kubelet may not set node-role.kubernetes.io/* labels (NodeRestriction rejects them and the node reboot-loops): use e.g. topology.kubernetes.io/zone, or label the node with kubectl after it joins";

export function isPinnedVersion(v: unknown): boolean {
    return typeof v === "string" && /^v\d+\.\d+\.\d+$/.test(v) && semver.valid(v) !== null;
}

/** node-role.kubernetes.io/* keys a machine config patch would make the kubelet set (nodeLabels or --node-labels). */
export function nodeRoleLabelsInPatch(inline: unknown): string[] {
    const machine = (inline as { machine?: { nodeLabels?: unknown; kubelet?: { extraArgs?: Record<string, unknown> } } } | null)?.machine;
    const labels = Object.keys((machine?.nodeLabels as object | undefined) ?? {});
    const flag = machine?.kubelet?.extraArgs?.["node-labels"];
    if (typeof flag === "string") labels.push(...flag.split(",").map((l) => l.split("=")[0].trim()));
    return labels.filter((k) => k.startsWith(NODE_ROLE_PREFIX));
}

const Name = dnsLabel();

const Version = (what: string, pinned: string) =>
    z.string().refine(isPinnedVersion, `pin an exact ${what} version like ${pinned} (leading v, no ranges or "latest")`).default(pinned);

const Labels = z.record(z.string(), z.string());

const NodeLabels = Labels.superRefine((labels, ctx) => {
    for (const key of Object.keys(labels).filter((k) => k.startsWith(NODE_ROLE_PREFIX))) {
        ctx.addIssue({ code: "custom", path: [key], message: NODE_ROLE_FIX, input: key });
    }
});

const Patch = z.strictObject({
    name: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "name the patch with letters, digits, '.', '_' or '-'")
        .refine((n) => !n.startsWith(GENERATED_PATCH_PREFIX), `the "${GENERATED_PATCH_PREFIX}" prefix is reserved for generated patches: rename it`),
    inline: z.record(z.string(), z.unknown()).superRefine((inline, ctx) => {
        if (nodeRoleLabelsInPatch(inline).length > 0) ctx.addIssue({ code: "custom", path: ["machine"], message: NODE_ROLE_FIX, input: inline.machine });
    }),
});

const Patches = z.array(Patch).superRefine(uniqueBy((p) => p.name, "patch names must be unique in a list", "name"));

const SystemExtensions = z.array(z.string().regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, "name the extension as <org>/<name>, e.g. siderolabs/iscsi-tools"));
const Strategy = z.strictObject({
    type: z.enum(["Rolling", "Unset"]),
    rolling: z.strictObject({ maxParallelism: z.number().int().min(1) }).optional(),
});

/** A key Omni's template model refuses in this place: set, it fails with `why`. */
const refused = (why: string) => z.unknown().refine((v) => v === undefined, why).optional();

/**
 * Omni's template model (omni v1.10.4 `client/pkg/template/internal/models/machineset.go`, `list.go`): a machine set
 * that allocates from a machine class may not carry kernelArgs, nor may the cluster; every set here uses a class.
 */
const KERNEL_ARGS_REFUSED =
    "Omni refuses kernelArgs in a template whose machine sets use machine classes (all of ours do): set them in the machine class's kernelArgs instead";

/** Set-level options ControlPlane and Workers share (§4.11 MachineSet). */
const machineSetFields = (classes?: ClassCheck) => ({
    machineClass: classes ? Name.superRefine(classes.check) : Name,
    labels: Labels.optional(),
    annotations: Labels.optional(),
    patches: Patches.optional(),
    systemExtensions: SystemExtensions.optional(),
    kernelArgs: refused(KERNEL_ARGS_REFUSED),
});

interface ClassCheck {
    check: (name: string, ctx: z.RefinementCtx) => void;
}

/** Machine classes must exist in the same stack; the message names the cluster so a multi-cluster config is easy to fix. */
function classCheck(cluster: string, known: string[]): ClassCheck {
    return {
        check: (name, ctx) => {
            if (known.includes(name)) return;
            const list = known.length > 0 ? known.join(", ") : "none";
            ctx.addIssue({ code: "custom", message: `cluster ${cluster} uses machine class "${name}", which this stack does not define (known: ${list}): define it or fix the name`, input: name });
        },
    };
}

/** The schema, optionally checking machine class names against the ones defined in the stack. */
function clusterSpecSchema(classes?: ClassCheck) {
    const size = z.number().int().min(0, "size is a machine count (0 or more) or \"unlimited\"");
    return z.strictObject({
        name: Name,
        kubernetesVersion: Version("Kubernetes", versions.kubernetes),
        talosVersion: Version("Talos", versions.talos),
        labels: Labels.optional(),
        annotations: Labels.optional(),
        patches: Patches.optional(),
        systemExtensions: SystemExtensions.optional(),
        kernelArgs: refused(KERNEL_ARGS_REFUSED),
        features: z
            .strictObject({
                diskEncryption: z.boolean().optional(),
                enableWorkloadProxy: z.boolean().optional(),
                useEmbeddedDiscoveryService: z.boolean().optional(),
                /**
                 * Etcd backup interval, a Go duration; it must lie within the hub's etcdBackup min/max interval (Omni's
                 * defaults: 1h to 24h). "0" turns this cluster's backups off.
                 */
                backupInterval: goDuration("use a Go duration such as 1h, 6h or 24h (0 disables backups)").optional(),
            })
            .optional(),
        controlPlane: z.strictObject({
            ...machineSetFields(classes),
            size: size.min(1, "a cluster needs at least one control-plane node (3 for HA)"),
            // omni v1.10.4 client/pkg/template/internal/models/controlplane.go
            updateStrategy: refused("Omni's template model refuses updateStrategy on the control plane (it updates control-plane machines one at a time itself): remove it"),
            deleteStrategy: refused("Omni's template model refuses deleteStrategy on the control plane: remove it"),
        }),
        workers: z
            .array(
                z.strictObject({
                    ...machineSetFields(classes),
                    name: Name.refine((n) => n !== "control-planes", "control-planes is reserved by Omni for the control plane: pick another worker set name"),
                    size: z.union([size, z.literal("unlimited")]),
                    /** Rendered as a machine.nodeLabels patch on this set. */
                    nodeLabels: NodeLabels.optional(),
                    updateStrategy: Strategy.optional(),
                    deleteStrategy: Strategy.optional(),
                }),
            )
            .default([])
            .superRefine(uniqueBy((w) => w.name, "worker set names must be unique in a cluster", "name")),
        // omni v1.10.4 client/pkg/template/internal/models/list.go: a Machine document must be listed by a set's machines.
        machines: refused(
            "Omni refuses Machine documents that no machine set lists, and our sets allocate from machine classes, never by machine UUID: "
                + "put per-machine settings in a machine class (its providerData) or a patch on the set",
        ),
        cni: z.enum(["cilium", "default"]).default("cilium"),
        cilium: z
            .strictObject({
                /** Helm chart version, shown in the install command. */
                version: z.string().refine((v) => semver.valid(v) !== null, "use a Cilium chart version such as 1.18.2").optional(),
                /** Pod MTU: the SideroLink WireGuard link is 1280, and auto-detection ended at 1280 (§1.10). */
                mtu: z.number().int().min(1280).max(9000).default(1450),
                hubble: z.boolean().default(false),
                gatewayApi: z.boolean().default(false),
            })
            .default({ mtu: 1450, hubble: false, gatewayApi: false }),
    }).superRefine((c, ctx) => {
        const problem = kubernetesSupportProblem(c.talosVersion, c.kubernetesVersion);
        if (problem) ctx.addIssue({ code: "custom", path: ["kubernetesVersion"], message: problem, input: c.kubernetesVersion });
    });
}

export const ClusterSpecSchema = clusterSpecSchema();
export type ClusterSpec = z.input<typeof ClusterSpecSchema>;
type Cluster = z.output<typeof ClusterSpecSchema>;
type MachineSet = Omit<Cluster["workers"][number], "name" | "size" | "nodeLabels"> & { name?: string; size: number | "unlimited" };

export interface RenderedClusterTemplate {
    /** The cluster name (Omni's cluster id). */
    name: string;
    /** Multi-document template for `omnictl cluster template sync -f`. */
    yaml: string;
    /** Helm values for installing Cilium, when the Cilium preset is on. */
    ciliumValues?: string;
    /** Machine classes this cluster uses (what it must depend on). */
    machineClasses: string[];
}

/** Drop undefined and empty values so the template only carries what was set. */
function compact<T extends Record<string, unknown>>(o: T): Partial<T> {
    return Object.fromEntries(
        Object.entries(o).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0) && !(typeof v === "object" && v !== null && Object.keys(v).length === 0)),
    ) as Partial<T>;
}

/** `patches` is passed separately because generated patches go first. */
function machineSetDoc(kind: "ControlPlane" | "Workers", set: MachineSet, patches: Cluster["patches"]) {
    return compact({
        kind,
        name: set.name,
        labels: set.labels,
        annotations: set.annotations,
        machineClass: { name: set.machineClass, size: set.size },
        updateStrategy: set.updateStrategy,
        deleteStrategy: set.deleteStrategy,
        patches,
        systemExtensions: set.systemExtensions,
    });
}

function ciliumValues(c: Cluster["cilium"]): string {
    const values = {
        ipam: { mode: "kubernetes" },
        kubeProxyReplacement: true,
        MTU: c.mtu,
        // KubePrism: the node-local API server endpoint, available before any CNI.
        k8sServiceHost: "localhost",
        k8sServicePort: 7445,
        securityContext: {
            capabilities: {
                ciliumAgent: ["CHOWN", "KILL", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "SYS_ADMIN", "SYS_RESOURCE", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"],
                cleanCiliumState: ["NET_ADMIN", "SYS_ADMIN", "SYS_RESOURCE"],
            },
        },
        // Talos mounts cgroupv2 itself.
        cgroup: { autoMount: { enabled: false }, hostRoot: "/sys/fs/cgroup" },
        ...(c.hubble ? { hubble: { enabled: true, relay: { enabled: true }, ui: { enabled: true } } } : {}),
        ...(c.gatewayApi ? { gatewayAPI: { enabled: true } } : {}),
    };
    const doc = new YAML.Document(values);
    const version = c.version ? ` --version ${c.version}` : "";
    doc.commentBefore = ` helm install cilium cilium/cilium${version} -n kube-system -f <this file>\n Pass the same values on every upgrade: a ConfigMap-only change does not survive a later install.`;
    return doc.toString();
}

/** Render the template; every problem (including unknown machine classes) is reported at once as a ConfigError. */
export function renderClusterTemplate(spec: ClusterSpec, knownMachineClasses: string[], keyPrefix = "clusters"): RenderedClusterTemplate {
    const cluster = String((spec as { name?: unknown } | undefined)?.name);
    const c = parseOrThrow(clusterSpecSchema(classCheck(cluster, knownMachineClasses)), spec, keyPrefix);
    const cilium = c.cni === "cilium";
    const cniPatch = { name: CNI_PATCH, inline: { cluster: { network: { cni: { name: "none" } }, proxy: { disabled: true } } } };
    const docs: object[] = [
        compact({
            kind: "Cluster",
            name: c.name,
            labels: c.labels,
            annotations: c.annotations,
            kubernetes: { version: c.kubernetesVersion },
            talos: { version: c.talosVersion },
            features: compact({
                diskEncryption: c.features?.diskEncryption,
                enableWorkloadProxy: c.features?.enableWorkloadProxy,
                useEmbeddedDiscoveryService: c.features?.useEmbeddedDiscoveryService,
                backupConfiguration: c.features?.backupInterval ? { interval: c.features.backupInterval } : undefined,
            }),
            patches: [...(cilium ? [cniPatch] : []), ...(c.patches ?? [])],
            systemExtensions: c.systemExtensions,
        }),
        machineSetDoc("ControlPlane", c.controlPlane, c.controlPlane.patches),
        ...c.workers.map((w) => {
            const labelsPatch = w.nodeLabels && Object.keys(w.nodeLabels).length > 0 ? [{ name: NODE_LABELS_PATCH, inline: { machine: { nodeLabels: w.nodeLabels } } }] : [];
            return machineSetDoc("Workers", w, [...labelsPatch, ...(w.patches ?? [])]);
        }),
    ];
    return {
        name: c.name,
        yaml: docs.map((d) => YAML.stringify(d)).join("---\n"),
        ciliumValues: cilium ? ciliumValues(c.cilium) : undefined,
        machineClasses: [...new Set([c.controlPlane.machineClass, ...c.workers.map((w) => w.machineClass)])],
    };
}

/**
 * Why a cluster's etcd backup interval falls outside what the hub accepts, or undefined (omni v1.10.4
 * `internal/backend/runtime/omni/validations/cluster.go`: min ≤ interval ≤ max; 0 turns backups off).
 */
export function backupIntervalProblem(interval: string | undefined, limits: { min: number; max: number }, hubSetting = "the hub's etcdBackup"): string | undefined {
    const ms = interval === undefined ? undefined : parseGoDuration(interval);
    if (ms === undefined || ms === 0) return undefined;
    const fmt = (v: number) => (v % 3_600_000 === 0 ? `${v / 3_600_000}h` : v % 60_000 === 0 ? `${v / 60_000}m` : `${v / 1000}s`);
    if (ms < limits.min) return `backupInterval ${interval} is shorter than ${hubSetting} minInterval (${fmt(limits.min)}); Omni refuses the cluster: use ${fmt(limits.min)} or more`;
    if (ms > limits.max) return `backupInterval ${interval} is longer than ${hubSetting} maxInterval (${fmt(limits.max)}); Omni refuses the cluster: use ${fmt(limits.max)} or less`;
    return undefined;
}

/** Problems in a cluster template as a policy sees it (rendered here or written by hand). */
export function clusterTemplateProblems(yamlText: string): string[] {
    const parsed = YAML.parseAllDocuments(yamlText);
    const broken = parsed.flatMap((d) => d.errors.map((e) => `not valid YAML: ${e.message}`));
    if (broken.length > 0) return broken;
    const docs = parsed.map((d) => d.toJS() as Record<string, unknown> | null).filter((d): d is Record<string, unknown> => d !== null);
    const problems: string[] = [];
    const count = (kind: string) => docs.filter((d) => d.kind === kind).length;
    for (const kind of ["Cluster", "ControlPlane"]) {
        if (count(kind) !== 1) problems.push(`a template needs exactly 1 ${kind} document, got ${count(kind)}`);
    }
    for (const d of docs) {
        const where = `${String(d.kind)}${d.name ? ` ${String(d.name)}` : ""}`;
        if (!["Cluster", "ControlPlane", "Workers", "Machine"].includes(String(d.kind))) problems.push(`${where}: unknown kind (expected Cluster, ControlPlane, Workers or Machine)`);
        if (d.kind === "Cluster") {
            const k = (d.kubernetes as { version?: unknown } | undefined)?.version;
            const t = (d.talos as { version?: unknown } | undefined)?.version;
            if (!isPinnedVersion(k)) problems.push(`${where}: kubernetes.version ${JSON.stringify(k)} is not pinned: use an exact version like ${versions.kubernetes}`);
            if (!isPinnedVersion(t)) problems.push(`${where}: talos.version ${JSON.stringify(t)} is not pinned: use an exact version like ${versions.talos}`);
        }
        // Omni's template model at v1.10.4 (controlplane.go, machineset.go): the same refusals as the renderer's.
        if (d.kind === "ControlPlane") {
            for (const key of ["updateStrategy", "deleteStrategy"]) if (d[key] !== undefined) problems.push(`${where}: ${key} is not allowed on the control plane (Omni refuses the template)`);
        }
        const usesClass = (d.kind === "ControlPlane" || d.kind === "Workers") && d.machineClass !== undefined;
        if (usesClass && d.kernelArgs !== undefined) problems.push(`${where}: ${KERNEL_ARGS_REFUSED}`);
        const patches = Array.isArray(d.patches) ? (d.patches as { name?: unknown; inline?: unknown }[]) : [];
        for (const p of patches) {
            const labels = nodeRoleLabelsInPatch(p?.inline);
            if (labels.length > 0) problems.push(`${where}: patch ${String(p.name)} sets ${labels.join(", ")}: ${NODE_ROLE_FIX}`);
        }
    }
    const sets = docs.filter((d) => d.kind === "ControlPlane" || d.kind === "Workers");
    const cluster = docs.find((d) => d.kind === "Cluster");
    if (cluster?.kernelArgs !== undefined && sets.some((d) => d.machineClass !== undefined)) problems.push(`Cluster ${String(cluster.name)}: ${KERNEL_ARGS_REFUSED}`);
    // list.go: every Machine document must be listed by a set's machines.
    const listed = new Set(sets.flatMap((d) => (Array.isArray(d.machines) ? d.machines.map(String) : [])));
    for (const m of docs.filter((d) => d.kind === "Machine" && !listed.has(String(d.name)))) {
        problems.push(`Machine ${String(m.name)}: no machine set lists this machine (Omni refuses the template)`);
    }
    return problems;
}

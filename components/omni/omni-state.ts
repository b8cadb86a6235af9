import { isDeepStrictEqual } from "node:util";
import { readYaml, readYamlDocuments } from "../core/yaml-read";
import { z } from "zod";
import { goDuration, parseGoDuration } from "../core/validation";

/**
 * What Omni holds for a machine class or a cluster, in one comparable form, whether it comes from what this
 * project renders or from what omnictl reads back (siderolabs/omni v1.10.4):
 * - a machine class from `omnictl get machineclasses <id> -o yaml` (`client/pkg/omnictl/get.go`, the resource's
 *   YAML: `metadata` and a `spec` with the proto's Go field names lower-cased, `client/api/omni/specs/omni.proto`
 *   `MachineClassSpec`);
 * - a cluster from `omnictl cluster template export -c <cluster>` (`client/pkg/omnictl/cluster/template/export.go`,
 *   `client/pkg/template/operations/export.go`): the template Omni would write for what it runs.
 * Each normalizer fills in what Omni fills in and drops what Omni does not keep, so a freshly applied resource
 * compares equal to what is read back. No Pulumi SDK here: the dynamic providers and the tests share it.
 */

type Labels = Record<string, string>;

/** The `kind` input of the dynamic resources that hold a machine class or a cluster (policies and the plan find them by it). */
export const MACHINE_CLASS_KIND = "omni-machine-class";
export const CLUSTER_KIND = "omni-cluster";
/** A cluster resource's outputs that are secrets: Omni's access and the configs it issues. */
export const CLUSTER_SECRET_OUTPUTS = ["omniEndpoint", "serviceAccountKey", "kubeconfig", "talosconfig"];

export interface MachineClassState {
    providerId: string;
    /** The provider data, parsed: one field per VM setting. */
    providerData: Record<string, unknown>;
    kernelArgs: string[];
    metaValues: { key: number; value: string }[];
    /** GrpcTunnelMode: 0 unset, 1 enabled, 2 disabled. */
    grpcTunnel: number;
    matchLabels: string[];
}

/** One config patch, keyed by its Omni id in its list. */
export interface PatchState {
    annotations: Labels;
    labels: Labels;
    /** The patch's YAML documents, parsed (Omni stores bytes; formatting is not kept). */
    content: unknown[];
}

export interface StrategyState {
    type: string;
    maxParallelism: number;
}

export interface MachineSetState {
    machineClass: string;
    size: number | string;
    labels: Labels;
    annotations: Labels;
    /** Absent: the set keeps its machines' extensions; a list (even empty) sets them (models.go translateExtensions). */
    systemExtensions?: string[];
    patches: Record<string, PatchState>;
    updateStrategy?: StrategyState;
    deleteStrategy?: StrategyState;
    upgradeStrategy?: StrategyState;
    bootstrapSpec?: { clusterUUID: string; snapshot: string };
}

export interface ClusterState {
    name: string;
    labels: Labels;
    annotations: Labels;
    kubernetesVersion: string;
    talosVersion: string;
    features: {
        diskEncryption: boolean;
        enableWorkloadProxy: boolean;
        useEmbeddedDiscoveryService: boolean;
        disablePublicDiscoveryService: boolean;
        enableNodeAuditSkip: boolean;
        /** Seconds; 0 when backups are off or not set. */
        backupIntervalSeconds: number;
    };
    systemExtensions?: string[];
    patches: Record<string, PatchState>;
    manifests: Record<string, { mode: string; labels: Labels; annotations: Labels; content: unknown[] }>;
    healthchecks: Record<string, { labels: Labels; annotations: Labels; content: unknown[]; intervalSeconds: number }>;
    controlPlane: MachineSetState;
    workers: Record<string, MachineSetState>;
}

/** Omni's patch weights (omni v1.10.4 `client/pkg/constants/constants.go`): a patch's id starts with its weight. */
const PATCH_BASE_WEIGHT_CLUSTER = 200;
const PATCH_BASE_WEIGHT_MACHINE_SET = 400;
/** Omni's ids for the control-plane set and the unnamed worker set (`client/pkg/omni/resources/omni/machine_set.go`). */
const CONTROL_PLANES = "control-planes";
const DEFAULT_WORKERS = "workers";
/** Omni's own labels and annotations, which export leaves out (export.go `getUserDescriptors`). */
const SYSTEM_PREFIX = "omni.sidero.dev/";

type Doc = Record<string, any>;

function userDescriptors(value: unknown): Labels {
    const out: Labels = {};
    for (const [k, v] of Object.entries((value as Labels | undefined) ?? {}))
        if (!k.startsWith(SYSTEM_PREFIX)) out[k] = v === null || v === undefined ? "" : String(v);
    return out;
}

/** The documents of inline content in the three forms Omni accepts (inline.go): a mapping, a list, or YAML text. */
function contentDocs(inline: unknown): unknown[] {
    if (inline === undefined || inline === null) return [];
    if (typeof inline === "string") return (readYamlDocuments(inline) as (Doc | null)[]).filter((d) => d !== null);
    return Array.isArray(inline) ? inline : [inline];
}

/** A Go duration (template) or a number of seconds, as whole seconds. */
function seconds(value: unknown): number {
    if (typeof value === "number") return value;
    if (typeof value !== "string") return 0;
    return Math.round((parseGoDuration(value) ?? 0) / 1000);
}

/** `v1.2.3` as Omni's export writes it (`"v" + spec.version`), whichever form was given. */
export const version = (v: unknown) => (v === undefined || v === null ? "" : `v${String(v).replace(/^v/, "")}`);

/**
 * A patch list keyed by the id Omni gives each patch: its idOverride, else `%03d-<prefix>-<name>` by position
 * (omni v1.10.4 `client/pkg/template/internal/models/patch.go` Translate), with the `name` annotation it sets.
 */
function patches(list: unknown, prefix: string, baseWeight: number): Record<string, PatchState> {
    const out: Record<string, PatchState> = {};
    ((list as Doc[] | undefined) ?? []).forEach((p, i) => {
        const name = String(p.name ?? p.file ?? "");
        const id = p.idOverride ?? `${String(baseWeight + i).padStart(3, "0")}-${prefix}-${name}`;
        // Translate sets the `name` annotation on every patch, idOverride or not, before the user's descriptors; export
        // writes it back as an annotation (export.go transformConfigPatchToModel: idOverride, descriptors, inline).
        out[id] = {
            annotations: { name, ...userDescriptors(p.annotations) },
            labels: userDescriptors(p.labels),
            content: contentDocs(p.inline),
        };
    });
    return out;
}

/**
 * A strategy as Omni keeps it. Export writes a strategy only when it has a rolling config, and leaves out the
 * type when it is the default (Rolling for updates, Unset for deletes and upgrades), so a type without a rolling
 * config cannot be read back and is not compared.
 */
function strategy(value: Doc | undefined, defaultType: string): StrategyState | undefined {
    if (value?.rolling?.maxParallelism === undefined) return undefined;
    return { type: value.type ?? defaultType, maxParallelism: Number(value.rolling.maxParallelism) };
}

function extensions(value: unknown): string[] | undefined {
    return Array.isArray(value) ? value.map(String).sort() : undefined;
}

/** A machine-class size: Omni's template model reads "Static" as 0 and digits as a count (machineset.go `Size`). */
function size(value: unknown): number | string {
    if (typeof value === "number") return value;
    const s = String(value ?? "0");
    if (/^\d+$/.test(s)) return Number(s);
    return s === "Static" ? 0 : "Unlimited";
}

/** Pulumi drops undefined properties: leave them out, so that a state that went through Pulumi compares equal. */
const defined = <T extends object>(o: T): T =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

function machineSet(doc: Doc, cluster: string, setName: string): MachineSetState {
    const id = `${cluster}-${setName}`;
    return defined({
        machineClass: String(doc.machineClass?.name ?? ""),
        size: size(doc.machineClass?.size),
        labels: userDescriptors(doc.labels),
        annotations: userDescriptors(doc.annotations),
        patches: patches(doc.patches, id, PATCH_BASE_WEIGHT_MACHINE_SET),
        systemExtensions: extensions(doc.systemExtensions),
        updateStrategy: strategy(doc.updateStrategy, "Rolling"),
        deleteStrategy: strategy(doc.deleteStrategy, "Unset"),
        upgradeStrategy: strategy(doc.upgradeStrategy, "Unset"),
        bootstrapSpec: doc.bootstrapSpec
            ? { clusterUUID: String(doc.bootstrapSpec.clusterUUID), snapshot: String(doc.bootstrapSpec.snapshot) }
            : undefined,
    });
}

/** A cluster template (rendered, or exported by Omni) in comparable form. */
export function clusterState(templateYaml: string): ClusterState {
    const docs = (readYamlDocuments(templateYaml) as (Doc | null)[]).filter((d): d is Doc => d !== null);
    const cluster = docs.find((d) => d.kind === "Cluster");
    if (!cluster) throw new Error("the template has no Cluster document");
    const name = String(cluster.name);
    const controlPlane = docs.find((d) => d.kind === "ControlPlane") ?? {};
    const f = cluster.features ?? {};
    return defined<ClusterState>({
        name,
        labels: userDescriptors(cluster.labels),
        annotations: userDescriptors(cluster.annotations),
        kubernetesVersion: version(cluster.kubernetes?.version),
        talosVersion: version(cluster.talos?.version),
        features: {
            diskEncryption: f.diskEncryption === true,
            enableWorkloadProxy: f.enableWorkloadProxy === true,
            useEmbeddedDiscoveryService: f.useEmbeddedDiscoveryService === true,
            // Export writes it only for clusters created with Talos 1.14+; absent is false.
            disablePublicDiscoveryService: f.disablePublicDiscoveryService === true,
            enableNodeAuditSkip: f.enableNodeAuditSkip === true,
            backupIntervalSeconds: seconds(f.backupConfiguration?.interval),
        },
        patches: patches(cluster.patches, `cluster-${name}`, PATCH_BASE_WEIGHT_CLUSTER),
        manifests: Object.fromEntries(
            ((cluster.kubernetes?.manifests as Doc[] | undefined) ?? []).map((m) => [
                String(m.name ?? m.file),
                {
                    mode: String(m.mode),
                    labels: userDescriptors(m.labels),
                    annotations: userDescriptors(m.annotations),
                    content: contentDocs(m.inline),
                },
            ]),
        ),
        // kubernetes_healthcheck.go: the id is the idOverride, else `cluster-<name>-<check name>`.
        healthchecks: Object.fromEntries(
            ((cluster.kubernetes?.healthchecks as Doc[] | undefined) ?? []).map((h) => [
                String(h.idOverride ?? `cluster-${name}-${h.name}`),
                {
                    labels: userDescriptors(h.labels),
                    annotations: userDescriptors(h.annotations),
                    content: contentDocs(h.job),
                    intervalSeconds: seconds(h.interval),
                },
            ]),
        ),
        controlPlane: machineSet(controlPlane, name, CONTROL_PLANES),
        workers: Object.fromEntries(
            docs
                .filter((d) => d.kind === "Workers")
                .map((w) => {
                    const setName = String(w.name ?? DEFAULT_WORKERS);
                    return [setName, machineSet(w, name, setName)];
                }),
        ),
        systemExtensions: extensions(cluster.systemExtensions),
    });
}

/** A MachineClass document (rendered, or read with `omnictl get machineclasses <id> -o yaml`) in comparable form. */
export function machineClassState(classYaml: string): MachineClassState {
    const doc = readYaml(classYaml) as Doc | null;
    const auto = doc?.spec?.autoprovision ?? {};
    const data = typeof auto.providerdata === "string" ? readYaml(auto.providerdata) : auto.providerdata;
    return {
        providerId: String(auto.providerid ?? ""),
        providerData: (data as Record<string, unknown> | null) ?? {},
        kernelArgs: ((auto.kernelargs as unknown[] | null) ?? []).map(String),
        metaValues: ((auto.metavalues as Doc[] | null) ?? []).map((m) => ({
            key: Number(m.key ?? 0),
            value: String(m.value ?? ""),
        })),
        grpcTunnel: Number(auto.grpctunnel ?? 0),
        matchLabels: ((doc?.spec?.matchlabels as unknown[] | null) ?? []).map(String),
    };
}

/** Pulumi's property-path syntax: `a.b`, `a[0]`, `a["key-with-dash"]`. */
function pathJoin(base: string, key: string | number): string {
    if (typeof key === "number") return `${base}[${key}]`;
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

export type FieldChange = "add" | "delete" | "update";

/**
 * The fields in which `next` differs from `prior`, as Pulumi property paths under `root`, down to the leaves of
 * mappings (lists and patch contents compare whole: a patch is one document to Omni).
 */
export function changedFields(prior: unknown, next: unknown, root: string): Record<string, FieldChange> {
    const out: Record<string, FieldChange> = {};
    const walk = (a: unknown, b: unknown, at: string) => {
        if (isDeepStrictEqual(a, b)) return;
        const isMap = (v: unknown): v is Record<string, unknown> =>
            typeof v === "object" && v !== null && !Array.isArray(v);
        if (isMap(a) && isMap(b)) {
            for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
                if (k === "content" && at.includes("patches")) {
                    if (!isDeepStrictEqual(a[k], b[k])) out[pathJoin(at, k)] = "update";
                    continue;
                }
                walk(a[k], b[k], pathJoin(at, k));
            }
            return;
        }
        out[at] = a === undefined ? "add" : b === undefined ? "delete" : "update";
    };
    walk(prior, next, root);
    return out;
}

/** A one-line summary of changed fields for logs and errors: `state.workers["w"].size, state.talosVersion`. */
export const describeChanges = (changes: Record<string, FieldChange>) =>
    Object.entries(changes)
        .map(([path, kind]) => (kind === "update" ? path : `${path} (${kind === "add" ? "added" : "removed"})`))
        .join(", ");

// ---- omnictl invocations (client/pkg/omnictl at v1.10.4) ----

/** `get.go`: one resource as YAML; a missing one is the state's NotFound error and exit code 1. */
export const getMachineClassArgs = (id: string) => ["get", "machineclasses", id, "-o", "yaml"];
/** `apply.go`: `-f` is the only way to give content. */
export const applyArgs = (file: string) => ["apply", "-f", file];
export const deleteMachineClassArgs = (id: string) => ["delete", "machineclasses", id];
/** `cluster/template/export.go`: `-c` is required; output goes to stdout without `-o`. */
export const exportClusterArgs = (cluster: string) => ["cluster", "template", "export", "-c", cluster];
/** `cluster/template/sync.go` and `delete.go`: `-f` names the template file. */
export const syncClusterArgs = (file: string) => ["cluster", "template", "sync", "-f", file];
/** `sync.go` `--dry-run`: prints what a sync would create, update and tear down, changing nothing. */
export const syncDryRunArgs = (file: string) => ["cluster", "template", "sync", "--dry-run", "-f", file];
/** `delete.go`: `--destroy-disconnected-machines` also removes the cluster's disconnected machines from Omni. */
export const deleteClusterArgs = (file: string, destroyDisconnectedMachines = false) => [
    "cluster",
    "template",
    "delete",
    ...(destroyDisconnectedMachines ? ["--destroy-disconnected-machines"] : []),
    "-f",
    file,
];
export const getClusterStatusArgs = (cluster: string) => ["get", "clusterstatuses", cluster, "-o", "yaml"];
/** One per cluster, with the cluster's id (controllers/omni/kubernetes_upgrade_status.go, talosupgrade/status.go). */
export const getTalosUpgradeStatusArgs = (cluster: string) => ["get", "talosupgradestatuses", cluster, "-o", "yaml"];
export const getKubernetesUpgradeStatusArgs = (cluster: string) => [
    "get",
    "kubernetesupgradestatuses",
    cluster,
    "-o",
    "yaml",
];
/** A cluster's resources of one type: Omni labels them with the cluster (omni.sidero.dev/cluster). */
const clusterListArgs = (type: string, cluster: string) => [
    "get",
    type,
    "-l",
    `omni.sidero.dev/cluster=${cluster}`,
    "-o",
    "yaml",
];
/** Omni's per-request view for a cluster (controllers/omni/cluster_machine_request_status.go). */
export const getMachineRequestStatusesArgs = (cluster: string) =>
    clusterListArgs("clustermachinerequeststatuses", cluster);
export const getMachineSetStatusesArgs = (cluster: string) => clusterListArgs("machinesetstatuses", cluster);
export const getInfraProviderStatusArgs = (providerId: string) => ["get", "infraproviderstatuses", providerId];

export interface KubeconfigOptions {
    /** The `sub` of the token (kubeconfig.go: required with --service-account). */
    user: string;
    /** Kubernetes groups of the token (omnictl's default: system:masters, constants.DefaultAccessGroup). */
    groups: string[];
    /** A Go duration; omnictl's default is 8760h (365 days), Omni's maximum 87600h (10 years, oidc/external). */
    ttl: string;
}

export const DEFAULT_KUBECONFIG: KubeconfigOptions = { user: "pulumi", groups: ["system:masters"], ttl: "8760h" };
/** Omni refuses a longer service-account token (omni v1.10.4 `internal/backend/oidc/external/external.go`). */
export const MAX_KUBECONFIG_TTL_HOURS = 10 * 365 * 24;

/**
 * `kubeconfig.go`: writes to a file (the positional path), merging into an existing file unless `--merge=false`;
 * `--force` overwrites. A service-account kubeconfig needs `--user` and the Operator role (grpc/serviceaccount.go).
 */
export function kubeconfigArgs(cluster: string, file: string, o: KubeconfigOptions): string[] {
    return [
        "kubeconfig",
        file,
        "--cluster",
        cluster,
        "--service-account",
        "--user",
        o.user,
        "--groups",
        o.groups.join(","),
        "--ttl",
        o.ttl,
        "--merge=false",
        "--force",
    ];
}

/**
 * `talosconfig.go`: the cluster's talosconfig, pointing at Omni with `siderov1` auth for the caller's identity
 * (runtime/talos `GetTalosconfigRaw`). It holds no key: talosctl signs with the service-account key it finds in
 * OMNI_SERVICE_ACCOUNT_KEY (siderolabs/go-api-signature `pkg/client/interceptor/interceptor.go` initServiceAccount).
 */
export const talosconfigArgs = (cluster: string, file: string) => [
    "talosconfig",
    file,
    "--cluster",
    cluster,
    "--merge=false",
    "--force",
];

/**
 * omnictl's answer for a resource that does not exist: the state's NotFound relayed as a gRPC status (`rpc error:
 * code = NotFound desc = …`; `cluster template export` wraps it, client/pkg/template/operations/export.go at v1.10.4).
 * Only that code: a proxy's "404 (Not Found)" or any other failure must not read as "deleted in Omni", or a refresh
 * would drop the resource from the state.
 */
export const isNotFound = (stderr: string) => /\bcode = NotFound\b/.test(stderr);

// ---- readiness (ClusterStatusSpec, omni.proto) ----

export interface ClusterStatus {
    phase: string;
    ready: boolean;
    kubernetesAPIReady: boolean;
    controlplaneReady: boolean;
    machines: { total: number; healthy: number; connected: number; requested: number };
    talosVersion: string;
    kubernetesVersion: string;
}

/** ClusterStatusSpec.Phase (omni.proto); YAML carries the number. */
const PHASES = ["UNKNOWN", "SCALING_UP", "SCALING_DOWN", "RUNNING", "DESTROYING"];

/** `omnictl get clusterstatuses <id> -o yaml`, as the fields a readiness wait and the stack outputs need. */
export function parseClusterStatus(statusYaml: string): ClusterStatus {
    const spec = ((readYaml(statusYaml) as Doc | null)?.spec ?? {}) as Doc;
    const m = spec.machines ?? {};
    const phase =
        typeof spec.phase === "number" ? (PHASES[spec.phase] ?? String(spec.phase)) : String(spec.phase ?? "UNKNOWN");
    return {
        phase,
        ready: spec.ready === true,
        kubernetesAPIReady: spec.kubernetesapiready === true,
        controlplaneReady: spec.controlplaneready === true,
        machines: {
            total: Number(m.total ?? 0),
            healthy: Number(m.healthy ?? 0),
            connected: Number(m.connected ?? 0),
            requested: Number(m.requested ?? 0),
        },
        talosVersion: version(spec.talosversion),
        kubernetesVersion: version(spec.kubernetesversion),
    };
}

/** Ready as Omni means it, plus the Kubernetes API: every requested machine allocated and healthy. */
export const isClusterReady = (s: ClusterStatus) =>
    s.phase === "RUNNING" && s.ready && s.kubernetesAPIReady && s.machines.healthy >= s.machines.requested;

export const describeStatus = (s: ClusterStatus) =>
    `phase ${s.phase}, ${s.machines.healthy}/${s.machines.requested} machines healthy (${s.machines.connected} connected), ` +
    `Kubernetes API ${s.kubernetesAPIReady ? "ready" : "not ready"}, control plane ${s.controlplaneReady ? "ready" : "not ready"}`;

/** Every resource of a multi-document `omnictl get … -o yaml` answer. */
export function resources(text: string): Doc[] {
    return (readYamlDocuments(text) as (Doc | null)[]).filter((d): d is Doc => d !== null);
}

/** ClusterMachineRequestStatusSpec.Stage (omni.proto). */
const REQUEST_STAGES = ["UNKNOWN", "PENDING", "PROVISIONING", "PROVISIONED", "DEPROVISIONING", "FAILED"];

/** Set by Omni on a request whose machine has joined the cluster (cluster_machine_request_status.go). */
const REQUEST_IN_USE = "omni.sidero.dev/machine-request-in-use";

/**
 * Omni's own words on why machines are missing: machine requests whose machine has not joined (their `status` and
 * `error` come from the infra provider's MachineRequestStatus) and machine-set errors.
 */
export function omniReasons(requestsYaml: string, machineSetsYaml: string): string[] {
    const requests = resources(requestsYaml).flatMap((r) => {
        const s = r.spec ?? {};
        if (r.metadata?.labels && REQUEST_IN_USE in r.metadata.labels) return [];
        const stage =
            typeof s.stage === "number" ? (REQUEST_STAGES[s.stage] ?? String(s.stage)) : String(s.stage ?? "");
        const status = String(s.status ?? "");
        const what = [status, s.error && !status.includes(s.error) ? s.error : undefined].filter(Boolean).join(": ");
        return what ? [`machine request ${r.metadata?.id} (${stage.toLowerCase()}): ${what}`] : [];
    });
    const sets = resources(machineSetsYaml).flatMap((r) =>
        r.spec?.error ? [`machine set ${r.metadata?.id}: ${r.spec.error}`] : [],
    );
    return [...new Set([...requests, ...sets])];
}

/** What to look at when a cluster does not become ready, by what Omni said. */
export function readinessAdvice(reasons: string[]): string {
    const text = reasons.join("\n");
    const hints: string[] = [];
    if (/storage|selector/i.test(text))
        hints.push(
            "the machine class's storage_selector matches no storage on the chosen node (pvesm status lists them)",
        );
    if (/vmid|vm id|id range/i.test(text)) hints.push("free VM ids on the Proxmox cluster (the provider's id range)");
    if (/download|image|iso/i.test(text))
        hints.push(
            "that the Proxmox node can download the Talos image from the image factory (DNS, proxy, disk space)",
        );
    if (reasons.length === 0)
        hints.push(
            "the infra provider's logs (docker logs on the provider LXC), that the VMs booted and reach Omni (SideroLink, port 8090), and `omnictl get machinestatus`",
        );
    return `check ${hints.join("; ")}`;
}

/** How long `up` waits for a cluster to be ready by default: VMs are created, booted and joined in that time. */
export const DEFAULT_READY_TIMEOUT = "30m";

/**
 * A cluster's lifecycle settings in the stack file, beside its template (none of them is rendered into the template).
 */
export const clusterLifecycleFields = {
    readyTimeout: goDuration("use a Go duration such as 30m or 1h")
        .optional()
        .describe(
            `How long up waits for the cluster to be ready after a create or an update (a Go duration; ${DEFAULT_READY_TIMEOUT} when unset)`,
        ),
    allowDestroy: z
        .boolean()
        .optional()
        .describe(
            "Protected unless true: up refuses to delete the cluster (removed or renamed in the stack file) until an up has deployed this",
        ),
    allowRemovals: z
        .boolean()
        .optional()
        .describe(
            "Lets up delete machine sets (with their machines), patches, manifests and healthchecks the stack file no longer lists; refused otherwise",
        ),
    destroyDisconnectedMachines: z
        .boolean()
        .optional()
        .describe(
            "Destroying the cluster also removes its disconnected machines from Omni (omnictl cluster template delete --destroy-disconnected-machines)",
        ),
    kubeconfig: z
        .strictObject({
            user: z
                .string()
                .min(1, "the user name in the token (its sub)")
                .optional()
                .describe(
                    `The user name in the service-account token (its sub; ${DEFAULT_KUBECONFIG.user} when unset)`,
                ),
            groups: z
                // omnictl takes them comma-separated (--groups a,b): a comma would split a group in two.
                .array(z.string().regex(/^[^,\s]+$/, "a Kubernetes group name without commas or spaces"))
                .min(1, "at least one Kubernetes group, e.g. system:masters")
                .optional()
                .describe(`The Kubernetes groups of that user (${DEFAULT_KUBECONFIG.groups.join(", ")} when unset)`),
            ttl: goDuration("use a Go duration such as 8760h (365 days)")
                .refine((v) => {
                    const ms = parseGoDuration(v) ?? 0;
                    return ms > 0 && ms <= MAX_KUBECONFIG_TTL_HOURS * 3_600_000;
                }, `Omni issues service-account tokens for more than 0 and at most ${MAX_KUBECONFIG_TTL_HOURS}h (10 years)`)
                .optional()
                .describe(
                    `The token's lifetime (a Go duration; ${DEFAULT_KUBECONFIG.ttl} when unset, at most ${MAX_KUBECONFIG_TTL_HOURS}h)`,
                ),
        })
        .optional()
        .describe("The service-account kubeconfig exported for the next stack (omnictl kubeconfig --service-account)"),
    kubeconfigRotation: z
        .number()
        .int()
        .min(0)
        .optional()
        .describe(
            "Increase it to issue a new kubeconfig and talosconfig on the next up (e.g. before the old one expires)",
        ),
};

/** The kubeconfig settings a cluster spec asks for, with omnictl's defaults. */
export const kubeconfigOptions = (k?: Partial<KubeconfigOptions>): KubeconfigOptions => ({
    user: k?.user ?? DEFAULT_KUBECONFIG.user,
    groups: k?.groups ?? DEFAULT_KUBECONFIG.groups,
    ttl: k?.ttl ?? DEFAULT_KUBECONFIG.ttl,
});
export function readyTimeoutMs(value: string | undefined): number {
    const ms = parseGoDuration(value ?? DEFAULT_READY_TIMEOUT);
    if (ms === undefined) throw new Error(`readyTimeout ${value} is not a Go duration such as 30m or 1h`);
    return ms;
}

/** How long a machine class waits for its provider to register before the apply fails. */
export const PROVIDER_REGISTRATION_TIMEOUT_SECONDS = 300;

// ---- no accidental teardown ----

/** What the last deployment exported about a cluster that is gone from the stack file. */
export interface DeployedCluster {
    name: string;
    /** Machines Omni reported when `up` last waited for it. */
    machines?: number;
}

/**
 * Why `up` must not run: clusters deployed with protection that the stack file no longer lists (removed, or renamed:
 * the name is the cluster's id in Omni, so a rename deletes the old cluster and creates a new one).
 */
export function removedClusterProblems(deployed: DeployedCluster[], configured: string[], stack: string): string[] {
    const added = configured.filter((n) => !deployed.some((d) => d.name === n));
    return deployed
        .filter((d) => !configured.includes(d.name))
        .map((d) => {
            const machines = d.machines === undefined ? "its machines" : `its ${d.machines} machine(s)`;
            const rename =
                added.length > 0
                    ? ` If it was renamed to ${added.join(" or ")}: a rename creates a new cluster and deletes this one, so release the old one first the same way.`
                    : "";
            return (
                `cluster ${d.name} is deployed by stack ${stack} and protected, but omni-scale:clusters no longer lists it: ` +
                `this \`up\` would delete cluster ${d.name} in Omni with ${machines}, their VMs and their data (etcd, volumes). ` +
                `To delete it on purpose: put its entry back with allowDestroy: true, run \`pulumi up\`, then remove it and run \`pulumi up\` again.` +
                rename
            );
        });
}

/**
 * What `cluster template sync` would tear down when `next` replaces `prior`: it deletes every machine set, patch,
 * manifest and healthcheck of the cluster that the template no longer lists (omni v1.10.4
 * `client/pkg/template/template.go` Sync: what is not expected is destroyed). A renamed set or patch is one of them.
 */
export function teardownOf(prior: ClusterState, next: ClusterState): string[] {
    const gone = (a: object, b: object) => Object.keys(a).filter((k) => !(k in b));
    const setPatches = (s: MachineSetState | undefined) => s?.patches ?? {};
    const sets = gone(prior.workers, next.workers);
    return [
        ...sets.map((s) => `machine set ${prior.name}-${s} with its machines`),
        ...gone(prior.patches, next.patches).map((id) => `patch ${id}`),
        ...gone(prior.controlPlane.patches, next.controlPlane.patches).map((id) => `patch ${id}`),
        ...Object.entries(prior.workers)
            .filter(([s]) => !sets.includes(s))
            .flatMap(([s, set]) => gone(set.patches, setPatches(next.workers[s])).map((id) => `patch ${id}`)),
        ...gone(prior.manifests, next.manifests).map((m) => `manifest ${m}`),
        ...gone(prior.healthchecks, next.healthchecks).map((h) => `healthcheck ${h}`),
    ];
}

/** Resource types whose teardown deletes machines or changes what runs on them (template.go `actualResources`). */
const TEARDOWN_TYPES = [
    "MachineSets",
    "MachineSetNodes",
    "ConfigPatches",
    "KubernetesManifestGroups",
    "KubernetesHealthChecks",
].map((t) => `${t}.omni.sidero.dev`);

/**
 * What `cluster template sync --dry-run` says it would tear down: `* tearing down (dry run) <Type>(<id>)` lines
 * (omni v1.10.4 `client/pkg/template/operations/sync.go` syncDeleteResources, `internal/utils/utils.go` Describe).
 */
export function dryRunTeardowns(stdout: string): string[] {
    return [...stdout.matchAll(/^\* tearing down \(dry run\) ([\w.]+)\((.+)\)\s*$/gm)]
        .filter((m) => TEARDOWN_TYPES.includes(m[1]))
        .map((m) => `${m[1]}(${m[2]})`);
}

/** Why `up` does not sync: it would tear down what the stack does not (or no longer) list. */
export function teardownRefused(cluster: string, what: string[]): string {
    return (
        `cluster ${cluster}: this sync would tear down ${what.join(", ")}; removing a machine set deletes its machines and VMs, ` +
        `and removing a patch, manifest or healthcheck changes the running cluster. ` +
        `Put them back in the stack file, or, to remove them on purpose, set allowRemovals: true on the cluster for this \`pulumi up\` ` +
        `(and take it out again afterwards). Renaming a set or a patch removes the old one.`
    );
}

/** Why `up` does not sync over changes made in Omni since the state was last read. */
export function driftRefused(cluster: string, changes: Record<string, FieldChange>): string {
    return (
        `cluster ${cluster} changed in Omni since Pulumi last read it (${describeChanges(changes)} differ from the state): ` +
        `a sync would overwrite or delete that. Run \`pulumi refresh\` first, then \`pulumi up\` shows the difference ` +
        `and puts back what the stack file says (add what you want to keep to the stack file).`
    );
}

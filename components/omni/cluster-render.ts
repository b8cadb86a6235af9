import * as fs from "node:fs";
import * as path from "node:path";
import * as semver from "semver";
import { z } from "zod";
import { oncePerText } from "../core/hot-paths";
import { readYamlDocuments, yamlErrorLine } from "../core/yaml-read";
import { dnsLabel, goDuration, parseGoDuration, parseOrThrow, uniqueBy } from "../core/validation";
import { kubernetesSupportProblem, omniTalosSupport, talosVersionProblem, versions } from "../core/versions";
import { labelValueProblem, qualifiedNameProblem } from "./talos-node-rules";
import {
    machineSetLabel,
    talosSchemaProblem,
    TemplatePatch,
    templatePatchCheck,
    templatePatchProblems,
} from "./talos-patches";
import { clusterLifecycleFields } from "./omni-state";
import { yamlPackage } from "../core/yaml-package";

/**
 * Omni cluster templates (siderolabs/omni v1.10.4 `client/pkg/template/internal/models`): one Cluster, one ControlPlane, Workers, optional Machine docs,
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

/**
 * The documents of inline content in any of the three forms Omni's template model accepts (omni v1.10.4
 * `client/pkg/template/internal/models/inline.go`): a mapping, a list of mappings, or a YAML string (one or more
 * documents). A string that is not valid YAML gives no documents.
 */
export function inlineDocuments(inline: unknown): unknown[] {
    if (typeof inline === "string") return yamlText(inline).docs ?? [];
    return Array.isArray(inline) ? inline : [inline];
}

/**
 * A YAML text's documents, or its first error. Read once per text: the config check, the node-role check and the
 * policies read each patch and template; callers do not change what they get.
 */
const yamlText = oncePerText((text: string): { docs?: unknown[]; error?: string } => {
    try {
        return { docs: readYamlDocuments(text) };
    } catch (e) {
        return { error: yamlErrorLine(e) };
    }
});

/** node-role.kubernetes.io/* keys a machine config patch would make the kubelet set (nodeLabels or --node-labels). */
export function nodeRoleLabelsInPatch(inline: unknown): string[] {
    return inlineDocuments(inline).flatMap((doc) => {
        const machine = (
            doc as { machine?: { nodeLabels?: unknown; kubelet?: { extraArgs?: Record<string, unknown> } } } | null
        )?.machine;
        const labels = Object.keys((machine?.nodeLabels as object | undefined) ?? {});
        const flag = machine?.kubelet?.extraArgs?.["node-labels"];
        if (typeof flag === "string") labels.push(...flag.split(",").map((l) => l.split("=")[0].trim()));
        return labels.filter((k) => k.startsWith(NODE_ROLE_PREFIX));
    });
}

const Name = dnsLabel();

const Version = (what: string, pinned: string) =>
    z
        .string()
        .refine(isPinnedVersion, `pin an exact ${what} version like ${pinned} (leading v, no ranges or "latest")`)
        .default(pinned);

const Labels = z.record(z.string(), z.string());

/** Omni keeps this prefix for its own labels and annotations (omni v1.10.4 `client/pkg/omni/resources/omni/labels.go`). */
const SYSTEM_LABEL_PREFIX = "omni.sidero.dev/";

/** Labels or annotations of a template resource (models.go `Descriptors.Validate`): Omni refuses its own prefix there. */
const Descriptors = Labels.superRefine((labels, ctx) => {
    for (const key of Object.keys(labels).filter((k) => k.startsWith(SYSTEM_LABEL_PREFIX))) {
        ctx.addIssue({
            code: "custom",
            path: [key],
            input: key,
            message: `the ${SYSTEM_LABEL_PREFIX} prefix is reserved for Omni's own labels and annotations (Omni refuses the template): use your own prefix, e.g. example.com/${key.slice(SYSTEM_LABEL_PREFIX.length)}`,
        });
    }
}).describe(`Labels or annotations of the Omni resource (not ${SYSTEM_LABEL_PREFIX}*)`);

const NodeLabels = Labels.superRefine((labels, ctx) => {
    for (const key of Object.keys(labels).filter((k) => k.startsWith(NODE_ROLE_PREFIX))) {
        ctx.addIssue({ code: "custom", path: [key], message: NODE_ROLE_FIX, input: key });
    }
    // What the node refuses when it loads the rendered machine.nodeLabels (talos v1alpha1_validation.go, labels/validate.go).
    for (const [key, value] of Object.entries(labels)) {
        const keyProblem = qualifiedNameProblem(key);
        if (keyProblem)
            ctx.addIssue({
                code: "custom",
                path: [key],
                input: key,
                message: `the label key ${keyProblem}: Talos refuses it`,
            });
        const valueProblem = labelValueProblem(value);
        if (valueProblem)
            ctx.addIssue({
                code: "custom",
                path: [key],
                input: value,
                message: `the label value ${valueProblem}: Talos refuses it`,
            });
    }
}).describe(`Kubernetes node labels of this set's nodes, as a machine.nodeLabels patch (not ${NODE_ROLE_PREFIX}*)`);

const INLINE_FORMS = "a mapping (one document), a list of mappings (several documents) or a YAML string (`inline: |`)";
/** Inline content in the three forms of Omni's template model (inline.go). */
const Inline = z
    .union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown())), z.string()], {
        error: `inline content is ${INLINE_FORMS}`,
    })
    .describe(`The content itself: ${INLINE_FORMS}; or use file`);
const FilePath = z
    .string()
    .min(1, "a path relative to the Pulumi project directory, or an absolute one")
    .describe("A YAML file, relative to the project directory (rendered inline); or use inline");

/** The id Omni gives the resource instead of one derived from its name (`omnictl cluster template export` writes these). */
const IdOverride = z
    .string()
    .regex(/^\S+$/, "an Omni resource id, without spaces, e.g. 400-cluster-prod-longhorn")
    .describe(
        "The Omni resource id instead of one derived from the name (what omnictl cluster template export writes)",
    );

/** `file` and the content key are alternatives (patch.go, kubernetes_manifest.go, kubernetes_healthcheck.go). */
function oneSource(content: "inline" | "job", what: string) {
    return (v: { file?: string } & Record<string, unknown>, ctx: z.RefinementCtx) => {
        if ((v.file === undefined) === (v[content] === undefined)) {
            ctx.addIssue({
                code: "custom",
                path: [content],
                input: v[content],
                message: `set exactly one of ${content} (the ${what} itself) or file (a path to it)`,
            });
        }
    };
}

/**
 * The content of `file`, or the inline content. A file is read at render time, relative to the Pulumi project
 * directory (the working directory of `pulumi up` and `npm run plan`), and rendered inline under the same name:
 * `omnictl cluster template sync` runs on a temporary copy of the template, where a relative `file:` would not
 * resolve. Its content stays a string, so Omni stores the same bytes as from the file itself. Strings must be YAML.
 */
function content(
    v: { file?: string } & Record<string, unknown>,
    key: "inline" | "job",
    ctx: z.RefinementCtx,
): z.output<typeof Inline> | undefined {
    let value = v[key] as z.output<typeof Inline> | undefined;
    if (v.file !== undefined) {
        const file = path.resolve(v.file);
        try {
            value = fs.readFileSync(file, "utf8");
        } catch (e) {
            const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
            ctx.addIssue({
                code: "custom",
                path: ["file"],
                input: v.file,
                message: `cannot read ${file} (${why}): give a path relative to the Pulumi project directory, or an absolute one`,
            });
            return undefined;
        }
    }
    const error = typeof value === "string" ? yamlText(value).error : undefined;
    if (error !== undefined) {
        ctx.addIssue({
            code: "custom",
            path: [v.file !== undefined ? "file" : key],
            input: v.file ?? value,
            message: `not valid YAML: ${error}`,
        });
        return undefined;
    }
    return value;
}

const Patch = z
    .strictObject({
        name: z
            .string()
            .regex(
                /^[A-Za-z0-9][A-Za-z0-9._\/-]*$/,
                "name the patch with letters, digits, '.', '_', '-' or '/' (Omni names a file patch by its path)",
            )
            .refine(
                (n) => !n.startsWith(GENERATED_PATCH_PREFIX),
                `the "${GENERATED_PATCH_PREFIX}" prefix is reserved for generated patches: rename it`,
            )
            .optional()
            .describe("The patch's name (Omni derives its id from it); a file patch is named by its path"),
        idOverride: IdOverride.optional(),
        labels: Descriptors.optional(),
        annotations: Descriptors.optional(),
        inline: Inline.optional(),
        file: FilePath.optional(),
    })
    .superRefine(oneSource("inline", "machine config patch"))
    .superRefine((p, ctx) => {
        if (p.inline !== undefined && p.name === undefined && p.idOverride === undefined) {
            ctx.addIssue({
                code: "custom",
                path: ["name"],
                message: "an inline patch needs a name (or an idOverride): Omni derives the patch's id from it",
            });
        }
    })
    .transform((p, ctx) => {
        const inline = content(p, "inline", ctx);
        if (inline === undefined) return z.NEVER;
        if (nodeRoleLabelsInPatch(inline).length > 0) {
            const mapping = p.file === undefined && typeof inline === "object" && !Array.isArray(inline);
            const input = mapping ? (inline as { machine?: unknown }).machine : (p.file ?? inline);
            ctx.addIssue({
                code: "custom",
                path: p.file !== undefined ? ["file"] : mapping ? ["inline", "machine"] : ["inline"],
                message: NODE_ROLE_FIX,
                input,
            });
            return z.NEVER;
        }
        // A file patch keeps the name Omni gives it (its path), so its resource id does not change.
        return {
            name: p.name ?? p.file,
            idOverride: p.idOverride,
            labels: p.labels,
            annotations: p.annotations,
            inline,
        };
    });

const Patches = z
    .array(Patch)
    .superRefine(
        uniqueBy(
            (p) => p.idOverride ?? p.name,
            "patch names must be unique in a list, and so must idOverrides",
            "name",
        ),
    )
    .describe("Talos config patches: { name or idOverride, inline or file, labels, annotations }");

const SystemExtensions = z
    .array(
        z
            .string()
            .regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, "name the extension as <org>/<name>, e.g. siderolabs/iscsi-tools"),
    )
    .describe("Talos system extensions as <org>/<name>, e.g. siderolabs/iscsi-tools; an empty list removes them");

/** machineset.go `UpdateStrategyConfig`; the type defaults to Rolling for updates and to Unset for deletes and upgrades. */
const Strategy = z
    .strictObject({
        type: z.enum(["Rolling", "Unset"], { error: "type is Rolling or Unset (Omni's strategy types)" }).optional(),
        rolling: z.strictObject({ maxParallelism: z.number().int().min(1) }).optional(),
    })
    .describe("Omni's strategy: type Rolling or Unset, rolling.maxParallelism");

const UNLIMITED_SIZES = ["unlimited", "Unlimited", "infinity", "∞"];
const SIZE_FORMS = 'a machine count: a whole number such as 3 (or the string "3")';

/**
 * A machine set's size as Omni's template model reads it (omni v1.10.4 `client/pkg/template/internal/models/machineset.go`
 * `Size`): a count (a number or a string of digits), "Static" (a count of 0), or unlimited spelled unlimited, Unlimited,
 * infinity or ∞. Unlimited is refused: Omni refuses it from a machine class that auto-provisions
 * (`internal/backend/runtime/omni/validations/machine_set.go`), and every class of this project does.
 */
const Size = z
    .union([z.number(), z.string()], {
        error: (i) => `${i.input === undefined ? "required" : "size is"}: ${SIZE_FORMS}`,
    })
    .transform((v, ctx) => {
        if (typeof v === "string" && UNLIMITED_SIZES.includes(v)) {
            ctx.addIssue({
                code: "custom",
                input: v,
                message: `"${v}" is Omni's unlimited allocation (${UNLIMITED_SIZES.join(", ")} are the same), which Omni refuses for a machine class that auto-provisions, as every class of this project does: give ${SIZE_FORMS}`,
            });
            return z.NEVER;
        }
        const count = typeof v === "number" ? v : /^\d+$/.test(v) ? Number(v) : v === "Static" ? 0 : NaN;
        if (!Number.isInteger(count) || count < 0 || count > 0xffffffff) {
            ctx.addIssue({
                code: "custom",
                input: v,
                message: `size is ${SIZE_FORMS}, or one of ${UNLIMITED_SIZES.join(", ")} for unlimited (refused here: see its message)`,
            });
            return z.NEVER;
        }
        return count;
    })
    .describe(
        'A machine count: a whole number, a string of digits, or "Static" (0); unlimited is refused (auto-provisioning classes)',
    );

const ManifestName = z.string().min(1, "name the manifest (Omni derives its id from the name, or from the file path)");

/** kubernetes_manifest.go: applied by Omni server-side, once (`one-time`) or kept in sync (`full`). */
const KubernetesManifest = z
    .strictObject({
        name: ManifestName.optional().describe(
            "The manifest's name (Omni derives its id from it); a file is named by its path",
        ),
        mode: z
            .enum(["one-time", "full"], {
                error: 'mode is "one-time" (applied once) or "full" (Omni keeps it in sync)',
            })
            .describe("one-time: applied once; full: Omni keeps it in sync"),
        labels: Descriptors.optional(),
        annotations: Descriptors.optional(),
        inline: Inline.optional(),
        file: FilePath.optional(),
    })
    .superRefine(oneSource("inline", "manifest"))
    .superRefine((m, ctx) => {
        if (m.name === undefined && m.file === undefined)
            ctx.addIssue({
                code: "custom",
                path: ["name"],
                message: "an inline manifest needs a name: Omni derives its id from it",
            });
    })
    .transform((m, ctx) => {
        const inline = content(m, "inline", ctx);
        return inline === undefined
            ? z.NEVER
            : { name: (m.name ?? m.file)!, mode: m.mode, labels: m.labels, annotations: m.annotations, inline };
    });

/** kubernetes_healthcheck.go: a Kubernetes Job Omni runs to check the cluster while it holds an upgrade. */
const KubernetesHealthcheck = z
    .strictObject({
        name: ManifestName.optional().describe("The healthcheck's name (Omni derives its id from it)"),
        idOverride: IdOverride.optional(),
        labels: Descriptors.optional(),
        annotations: Descriptors.optional(),
        job: Inline.optional().describe("The Kubernetes Job manifest Omni runs; or use file"),
        file: FilePath.optional(),
        interval: goDuration("use a Go duration such as 30s or 1m")
            .optional()
            .describe("How often Omni checks again while it holds an upgrade (Omni's default 30s)"),
    })
    .superRefine(oneSource("job", "Job manifest"))
    .superRefine((h, ctx) => {
        if (h.name === undefined && h.idOverride === undefined)
            ctx.addIssue({
                code: "custom",
                path: ["name"],
                message: "a healthcheck needs a name (or an idOverride): Omni derives its id from it",
            });
    })
    .transform((h, ctx) => {
        const job = content(h, "job", ctx);
        return job === undefined
            ? z.NEVER
            : {
                  name: h.name,
                  idOverride: h.idOverride,
                  labels: h.labels,
                  annotations: h.annotations,
                  job,
                  interval: h.interval,
              };
    });

/** A key Omni's template model refuses in this place: set, it fails with `why`. */
const refused = (why: string) =>
    z
        .unknown()
        .refine((v) => v === undefined, why)
        .optional()
        // The stack file schema refuses the key too (`not: {}` matches no value), so editors flag it.
        .meta({ description: `Refused: ${why}`, not: {} });

/**
 * Omni's template model (omni v1.10.4 `client/pkg/template/internal/models/machineset.go`, `list.go`): a machine set
 * that allocates from a machine class may not carry kernelArgs, nor may the cluster; every set here uses a class.
 */
const KERNEL_ARGS_REFUSED =
    "Omni refuses kernelArgs in a template whose machine sets use machine classes (all of ours do): set them in the machine class's kernelArgs instead";

/** machineset.go: a set allocates from a machine class or lists machines by UUID, never both. */
const STATIC_MACHINES_REFUSED =
    "every machine set here allocates from a machine class, so a set of hand-picked machines (listed by UUID) cannot be expressed: " +
    "let a machine class provide them, or keep that cluster in omnictl outside this stack";

/** Set-level options ControlPlane and Workers share (§4.11 MachineSet). */
const machineSetFields = (classes?: ClassCheck) => ({
    machineClass: z
        .string({ error: "required: the machine class this set allocates from (one defined in machineClasses)" })
        .pipe(classes ? Name.superRefine(classes.check) : Name)
        .describe("The machine class this set allocates from, one of machineClasses"),
    labels: Descriptors.optional(),
    annotations: Descriptors.optional(),
    patches: Patches.optional(),
    // An empty list removes the machines' extensions; leaving it out keeps them (models.go `translateExtensions`).
    systemExtensions: SystemExtensions.optional(),
    upgradeStrategy: Strategy.optional().describe("How Talos upgrades roll through the set (Omni's default: Unset)"),
    kernelArgs: refused(KERNEL_ARGS_REFUSED),
    machines: refused(STATIC_MACHINES_REFUSED),
});

interface ClassCheck {
    check: (name: string, ctx: z.RefinementCtx) => void;
}

/**
 * The cluster and the stack's machine classes of the parse in progress. zod passes no context to a refinement, and a
 * schema made per parse costs its construction and zod's compilation of every object in it, each time (a tenth of a
 * plan); parsing is synchronous, so one schema reads them here.
 */
let parsing: { cluster: string; known: string[] } | undefined;

/** Machine classes must exist in the same stack; the message names the cluster so a multi-cluster config is easy to fix. */
const classCheck: ClassCheck = {
    check: (name, ctx) => {
        if (!parsing || parsing.known.includes(name)) return;
        const list = parsing.known.length > 0 ? parsing.known.join(", ") : "none";
        ctx.addIssue({
            code: "custom",
            message: `cluster ${parsing.cluster} uses machine class "${name}", which this stack does not define (known: ${list}): define it or fix the name`,
            input: name,
        });
    },
};

type PatchedSets = {
    name: string;
    talosVersion: string;
    patches?: TemplatePatch[];
    controlPlane: { patches?: TemplatePatch[] };
    workers: { name: string; patches?: TemplatePatch[] }[];
};

/** Every user patch checked against the Talos config schema of the cluster's version (talos-patches.ts). */
function talosPatchIssues(c: PatchedSets, ctx: z.RefinementCtx) {
    const sets = [
        { label: machineSetLabel("Cluster"), path: [], patches: c.patches },
        { label: machineSetLabel("ControlPlane"), path: ["controlPlane"], patches: c.controlPlane.patches },
        ...c.workers.map((w, i) => ({
            label: machineSetLabel("Workers", w.name),
            path: ["workers", i],
            patches: w.patches,
        })),
    ];
    // A version Omni does not offer is refused once, at talosVersion, whatever its schema.
    if (talosVersionProblem(c.talosVersion)) return;
    const schemaProblem = talosSchemaProblem(c.talosVersion);
    if (schemaProblem && sets.some((s) => (s.patches?.length ?? 0) > 0)) {
        ctx.addIssue({ code: "custom", path: ["talosVersion"], input: c.talosVersion, message: schemaProblem });
        return;
    }
    for (const set of sets) {
        set.patches?.forEach((p, i) => {
            if (p?.inline === undefined) return; // the patch's own schema reports it
            for (const message of templatePatchProblems(c.name, set.label, p, c.talosVersion))
                ctx.addIssue({
                    code: "custom",
                    path: [...set.path, "patches", i],
                    input: p.name ?? p.idOverride,
                    message,
                });
        });
    }
}

/** The schema, optionally checking machine class names against the ones defined in the stack. */
function clusterSpecSchema(classes?: ClassCheck) {
    return z
        .strictObject({
            name: z
                .string({ error: "required: the cluster's name (its id in Omni)" })
                .pipe(Name)
                .describe("The cluster's id in Omni (global: unique across stacks)"),
            kubernetesVersion: Version("Kubernetes", versions.kubernetes).describe(
                "An exact version (vX.Y.Z) the cluster's Talos minor runs (Talos machinery's compatibility data)",
            ),
            talosVersion: Version("Talos", versions.talos).describe(
                `An exact version (vX.Y.Z) the pinned Omni offers: Talos ${omniTalosSupport.minimum} to ${omniTalosSupport.latestMinor}.x, without ${omniTalosSupport.denylisted.join(", ")}`,
            ),
            labels: Descriptors.optional().describe("Labels of the cluster resource (not omni.sidero.dev/*)"),
            annotations: Descriptors.optional().describe("Annotations of the cluster resource (not omni.sidero.dev/*)"),
            patches: Patches.optional().describe(
                "Talos config patches for every machine: { name or idOverride, inline or file, labels, annotations }",
            ),
            systemExtensions: SystemExtensions.optional().describe(
                "Talos system extensions, e.g. siderolabs/iscsi-tools",
            ),
            kernelArgs: refused(KERNEL_ARGS_REFUSED),
            /** Manifests Omni applies to the cluster (cluster.go `kubernetes.manifests`). */
            kubernetesManifests: z
                .array(KubernetesManifest)
                .superRefine(uniqueBy((m) => m.name, "manifest names must be unique in a cluster", "name"))
                .optional()
                .describe("Manifests Omni applies to the cluster: { name, mode (one-time or full), inline or file }"),
            /** Jobs Omni runs to check the cluster during upgrades (cluster.go `kubernetes.healthchecks`). */
            kubernetesHealthchecks: z
                .array(KubernetesHealthcheck)
                .superRefine(
                    uniqueBy(
                        (h) => h.idOverride ?? h.name,
                        "healthcheck names (and idOverrides) must be unique in a cluster",
                        "name",
                    ),
                )
                .optional()
                .describe("Jobs Omni runs to check the cluster during upgrades"),
            features: z
                .strictObject({
                    diskEncryption: z.boolean().optional().describe("Encrypt the machines' disks with Omni's KMS"),
                    enableWorkloadProxy: z
                        .boolean()
                        .optional()
                        .describe("Expose annotated Services through Omni's workload proxy"),
                    useEmbeddedDiscoveryService: z
                        .boolean()
                        .optional()
                        .describe("Use Omni's embedded discovery service (the hub must enable it)"),
                    disablePublicDiscoveryService: z
                        .boolean()
                        .optional()
                        .describe(
                            "Only for clusters created with Talos 1.14+, with the embedded discovery service on (validations/cluster.go)",
                        ),
                    enableNodeAuditSkip: z
                        .boolean()
                        .optional()
                        .describe(
                            "Lets the omni.sidero.dev/node-audit-skip annotation exempt a Kubernetes node from Omni's node audit",
                        ),
                    backupInterval: goDuration("use a Go duration such as 1h, 6h or 24h (0 disables backups)")
                        .optional()
                        .describe(
                            "Etcd backup interval (a Go duration) within the hub's etcdBackup min/max interval (Omni's defaults 1h to 24h); 0 turns backups off",
                        ),
                })
                .optional()
                .describe(
                    "Omni cluster features: diskEncryption, enableWorkloadProxy, useEmbeddedDiscoveryService, enableNodeAuditSkip, backupInterval (within the hub's etcdBackup range)",
                ),
            // A template has exactly one ControlPlane (models/list.go).
            controlPlane: z
                .strictObject(
                    {
                        ...machineSetFields(classes),
                        size: Size.pipe(
                            z.number().min(1, "a cluster needs at least one control-plane node (3 for HA)"),
                        ),
                        name: refused(
                            "Omni names the control-plane set itself (<cluster>-control-planes) and refuses a custom name (controlplane.go): remove it",
                        ),
                        bootstrapSpec: z
                            .strictObject({
                                clusterUUID: z.string().min(1, "the UUID of the cluster the backup was taken from"),
                                snapshot: z
                                    .string()
                                    .min(1, "the backup's snapshot name, e.g. FFFFFFFF9AA169F0.snapshot"),
                            })
                            .optional()
                            .describe(
                                "Create the cluster from an etcd backup: clusterUUID and snapshot, both required",
                            ),
                        // omni v1.10.4 client/pkg/template/internal/models/controlplane.go
                        updateStrategy: refused(
                            "Omni's template model refuses updateStrategy on the control plane (it updates control-plane machines one at a time itself): remove it",
                        ),
                        deleteStrategy: refused(
                            "Omni's template model refuses deleteStrategy on the control plane: remove it",
                        ),
                    },
                    { error: "required: the control plane, { machineClass, size } (a cluster has exactly one)" },
                )
                .describe(
                    "The one control-plane set: { machineClass, size (3 for HA), patches, systemExtensions, upgradeStrategy, bootstrapSpec }",
                ),
            workers: z
                .array(
                    z.strictObject({
                        ...machineSetFields(classes),
                        // Omni's default name for a Workers document without one (workers.go).
                        name: Name.refine(
                            (n) => n !== "control-planes",
                            "control-planes is reserved by Omni for the control plane: pick another worker set name",
                        )
                            .default("workers")
                            .describe("The set's name, unique in the cluster (Omni's default: workers)"),
                        size: Size,
                        bootstrapSpec: refused(
                            "bootstrapSpec restores a cluster from an etcd backup and belongs to the control plane (Omni refuses it in workers, workers.go): move it to controlPlane",
                        ),
                        /** Rendered as a machine.nodeLabels patch on this set. */
                        nodeLabels: NodeLabels.optional(),
                        updateStrategy: Strategy.optional(),
                        deleteStrategy: Strategy.optional(),
                    }),
                )
                .default([])
                .superRefine(uniqueBy((w) => w.name, "worker set names must be unique in a cluster", "name"))
                .describe(
                    "Worker sets: { name, machineClass, size, nodeLabels, patches, systemExtensions, update/delete/upgradeStrategy }",
                ),
            // omni v1.10.4 client/pkg/template/internal/models/list.go: a Machine document must be listed by a set's machines.
            machines: refused(
                "Omni refuses Machine documents that no machine set lists, and our sets allocate from machine classes, never by machine UUID: " +
                    "put per-machine settings in a machine class (its providerData) or a patch on the set",
            ),
            cni: z
                .enum(["cilium", "default"])
                .default("cilium")
                .describe(
                    "cilium: no CNI and no kube-proxy in Talos, Cilium installed with the ciliumValues output; default: Flannel",
                ),
            cilium: z
                .strictObject({
                    version: z
                        .string()
                        .refine((v) => semver.valid(v) !== null, "use a Cilium chart version such as 1.18.2")
                        .optional()
                        .describe("The Helm chart version, shown in the install command"),
                    mtu: z
                        .number()
                        .int()
                        .min(1280)
                        .max(9000)
                        .default(1450)
                        .describe("Pod MTU (auto-detection would pick the SideroLink WireGuard link's 1280)"),
                    hubble: z.boolean().default(false).describe("Turn on Hubble"),
                    gatewayApi: z.boolean().default(false).describe("Turn on Cilium's Gateway API support"),
                })
                .default({ mtu: 1450, hubble: false, gatewayApi: false })
                .describe(
                    "With cni cilium: chart version, pod mtu (1450: SideroLink's link is 1280), hubble, gatewayApi",
                ),
            ...clusterLifecycleFields,
        })
        .superRefine((c, ctx) => {
            const talosProblem = talosVersionProblem(c.talosVersion);
            if (talosProblem)
                ctx.addIssue({ code: "custom", path: ["talosVersion"], message: talosProblem, input: c.talosVersion });
            const problem = kubernetesSupportProblem(c.talosVersion, c.kubernetesVersion);
            if (problem)
                ctx.addIssue({
                    code: "custom",
                    path: ["kubernetesVersion"],
                    message: problem,
                    input: c.kubernetesVersion,
                });
            talosPatchIssues(c, ctx);
            // omni v1.10.4 internal/backend/runtime/omni/validations/cluster.go (validateDiscoveryServiceSetting).
            const talos = semver.coerce(c.talosVersion);
            if (c.features?.disablePublicDiscoveryService && talos && semver.lt(talos, "1.14.0")) {
                ctx.addIssue({
                    code: "custom",
                    path: ["features", "disablePublicDiscoveryService"],
                    input: true,
                    message: `Omni turns the public discovery service off only for clusters created with Talos 1.14 or newer, and this one runs ${c.talosVersion}: remove it`,
                });
            } else if (c.features?.disablePublicDiscoveryService && !c.features.useEmbeddedDiscoveryService) {
                ctx.addIssue({
                    code: "custom",
                    path: ["features", "disablePublicDiscoveryService"],
                    input: true,
                    message:
                        "Omni refuses a cluster with no discovery service at all: set features.useEmbeddedDiscoveryService: true too, or remove this",
                });
            }
        });
}

export const ClusterSpecSchema = clusterSpecSchema();
/** The schema renderClusterTemplate parses with: machine classes checked against the stack's (`parsing`). */
const ClassCheckedSpecSchema = clusterSpecSchema(classCheck);
export type ClusterSpec = z.input<typeof ClusterSpecSchema>;
type Cluster = z.output<typeof ClusterSpecSchema>;
type Worker = Cluster["workers"][number];
type MachineSet = Pick<
    Worker,
    "labels" | "annotations" | "machineClass" | "size" | "upgradeStrategy" | "systemExtensions"
> &
    Partial<Pick<Worker, "name" | "updateStrategy" | "deleteStrategy">> & {
        bootstrapSpec?: Cluster["controlPlane"]["bootstrapSpec"];
    };
type RenderedPatch = {
    name?: string;
    idOverride?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    inline: unknown;
};

export interface RenderedClusterTemplate {
    /** The cluster name (Omni's cluster id). */
    name: string;
    /** Multi-document template for `omnictl cluster template sync -f`. */
    yaml: string;
    /** Helm values for installing Cilium, when the Cilium preset is on. */
    ciliumValues?: string;
    /** Machine classes this cluster uses (what it must depend on). */
    machineClasses: string[];
    /** Valid but surprising patch values (an unquoted value Talos reads as other text), for the program to log. */
    warnings: string[];
}

/** Drop undefined and empty values so the template only carries what was set. */
function compact<T extends Record<string, unknown>>(o: T): Partial<T> {
    return Object.fromEntries(
        Object.entries(o).filter(
            ([, v]) =>
                v !== undefined &&
                !(Array.isArray(v) && v.length === 0) &&
                !(typeof v === "object" && v !== null && Object.keys(v).length === 0),
        ),
    ) as Partial<T>;
}

/** Inline content is kept as given, even when empty: a patch without it is refused by Omni. */
const patchDoc = (p: RenderedPatch) => ({
    ...compact({ name: p.name, idOverride: p.idOverride, labels: p.labels, annotations: p.annotations }),
    inline: p.inline,
});

/** A defined list, even an empty one (which removes extensions), is rendered; an absent one is not. */
const extensions = (list: string[] | undefined) => (list === undefined ? {} : { systemExtensions: list });

/** `patches` is passed separately because generated patches go first. */
function machineSetDoc(kind: "ControlPlane" | "Workers", set: MachineSet, patches: RenderedPatch[]) {
    return {
        ...compact({
            kind,
            name: set.name,
            labels: set.labels,
            annotations: set.annotations,
            machineClass: { name: set.machineClass, size: set.size },
            bootstrapSpec: set.bootstrapSpec,
            updateStrategy: set.updateStrategy,
            deleteStrategy: set.deleteStrategy,
            upgradeStrategy: set.upgradeStrategy,
            patches: patches.map(patchDoc),
        }),
        ...extensions(set.systemExtensions),
    };
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
                ciliumAgent: [
                    "CHOWN",
                    "KILL",
                    "NET_ADMIN",
                    "NET_RAW",
                    "IPC_LOCK",
                    "SYS_ADMIN",
                    "SYS_RESOURCE",
                    "DAC_OVERRIDE",
                    "FOWNER",
                    "SETGID",
                    "SETUID",
                ],
                cleanCiliumState: ["NET_ADMIN", "SYS_ADMIN", "SYS_RESOURCE"],
            },
        },
        // Talos mounts cgroupv2 itself.
        cgroup: { autoMount: { enabled: false }, hostRoot: "/sys/fs/cgroup" },
        ...(c.hubble ? { hubble: { enabled: true, relay: { enabled: true }, ui: { enabled: true } } } : {}),
        ...(c.gatewayApi ? { gatewayAPI: { enabled: true } } : {}),
    };
    const doc = new (yamlPackage().Document)(values);
    const version = c.version ? ` --version ${c.version}` : "";
    doc.commentBefore = ` helm install cilium cilium/cilium${version} -n kube-system -f <this file>\n Pass the same values on every upgrade: a ConfigMap-only change does not survive a later install.`;
    return doc.toString();
}

/** Render the template; every problem (including unknown machine classes) is reported at once as a ConfigError. */
export function renderClusterTemplate(
    spec: ClusterSpec,
    knownMachineClasses: string[],
    keyPrefix = "clusters",
): RenderedClusterTemplate {
    parsing = { cluster: String((spec as { name?: unknown } | undefined)?.name), known: knownMachineClasses };
    let c: Cluster;
    try {
        c = parseOrThrow(ClassCheckedSpecSchema, spec, keyPrefix);
    } finally {
        parsing = undefined;
    }
    const cilium = c.cni === "cilium";
    const cniPatch = {
        name: CNI_PATCH,
        inline: { cluster: { network: { cni: { name: "none" } }, proxy: { disabled: true } } },
    };
    const docs: object[] = [
        {
            ...compact({
                kind: "Cluster",
                name: c.name,
                labels: c.labels,
                annotations: c.annotations,
                kubernetes: compact({
                    version: c.kubernetesVersion,
                    manifests: c.kubernetesManifests?.map((m) => ({
                        ...compact({ name: m.name, mode: m.mode, labels: m.labels, annotations: m.annotations }),
                        inline: m.inline,
                    })),
                    healthchecks: c.kubernetesHealthchecks?.map((h) => ({
                        ...compact({
                            name: h.name,
                            idOverride: h.idOverride,
                            labels: h.labels,
                            annotations: h.annotations,
                            interval: h.interval,
                        }),
                        job: h.job,
                    })),
                }),
                talos: { version: c.talosVersion },
                features: compact({
                    diskEncryption: c.features?.diskEncryption,
                    enableWorkloadProxy: c.features?.enableWorkloadProxy,
                    useEmbeddedDiscoveryService: c.features?.useEmbeddedDiscoveryService,
                    disablePublicDiscoveryService: c.features?.disablePublicDiscoveryService,
                    enableNodeAuditSkip: c.features?.enableNodeAuditSkip,
                    backupConfiguration: c.features?.backupInterval
                        ? { interval: c.features.backupInterval }
                        : undefined,
                }),
                patches: [...(cilium ? [cniPatch] : []), ...(c.patches ?? [])].map(patchDoc),
            }),
            ...extensions(c.systemExtensions),
        },
        machineSetDoc("ControlPlane", c.controlPlane, c.controlPlane.patches ?? []),
        ...c.workers.map((w) => {
            const labelsPatch =
                w.nodeLabels && Object.keys(w.nodeLabels).length > 0
                    ? [{ name: NODE_LABELS_PATCH, inline: { machine: { nodeLabels: w.nodeLabels } } }]
                    : [];
            return machineSetDoc("Workers", w, [...labelsPatch, ...(w.patches ?? [])]);
        }),
    ];
    const { stringify } = yamlPackage();
    const yaml = docs.map((d) => stringify(d)).join("---\n");
    return {
        name: c.name,
        yaml,
        ciliumValues: cilium ? ciliumValues(c.cilium) : undefined,
        machineClasses: [...new Set([c.controlPlane.machineClass, ...c.workers.map((w) => w.machineClass)])],
        warnings: talosPatchTemplateWarnings(yaml),
    };
}

/** The documents of a template, or why it is not YAML (read once per text: the render and four policies ask). */
export function templateDocuments(text: string): Record<string, unknown>[] | string {
    const { docs, error } = yamlText(text);
    if (error !== undefined) return `not valid YAML: ${error}`;
    return docs!.filter((d): d is Record<string, unknown> => d !== null);
}

/** node-role.kubernetes.io/* labels any patch of a template (rendered here or written by hand) would make the kubelet set. */
export function nodeRoleLabelProblems(yamlText: string): string[] {
    const docs = templateDocuments(yamlText);
    if (typeof docs === "string") return []; // cluster-template-valid reports it
    return docs.flatMap((d) => {
        const where = `${String(d.kind)}${d.name ? ` ${String(d.name)}` : ""}`;
        const patches = Array.isArray(d.patches) ? (d.patches as { name?: unknown; inline?: unknown }[]) : [];
        return patches.flatMap((p) => {
            const labels = nodeRoleLabelsInPatch(p?.inline);
            return labels.length > 0
                ? [`${where}: patch ${String(p.name)} sets ${labels.join(", ")}: ${NODE_ROLE_FIX}`]
                : [];
        });
    });
}

/**
 * Talos config problems of every patch in a template (rendered here or written by hand), judged by its Cluster's
 * talos.version. A `file:` patch of a hand-written template is not read here: its path is relative to the template.
 */
export const talosPatchTemplateProblems = (yamlText: string): string[] => [
    ...talosPatchTemplateCheck(yamlText).problems,
];

/** Valid but surprising values in a template's patches (an unquoted value Talos reads as other text). */
export const talosPatchTemplateWarnings = (yamlText: string): string[] => [
    ...talosPatchTemplateCheck(yamlText).warnings,
];

/** Once per template text: the render's warnings and two policies ask. */
const talosPatchTemplateCheck = oncePerText((yamlText: string): { problems: string[]; warnings: string[] } => {
    const none = { problems: [], warnings: [] };
    const docs = templateDocuments(yamlText);
    if (typeof docs === "string") return none; // cluster-template-valid reports it
    const cluster = docs.find((d) => d.kind === "Cluster");
    const talos = (cluster?.talos as { version?: unknown } | undefined)?.version;
    if (typeof talos !== "string" || talosVersionProblem(talos)) return none; // cluster-template-valid reports it
    const patched = docs.flatMap((d) =>
        (Array.isArray(d.patches) ? (d.patches as TemplatePatch[]) : [])
            .filter((p) => p?.inline !== undefined)
            .map((p) => ({ set: machineSetLabel(String(d.kind), String(d.name)), patch: p })),
    );
    const schemaProblem = talosSchemaProblem(talos);
    if (schemaProblem)
        return {
            problems: patched.length > 0 ? [`cluster ${String(cluster?.name)}: ${schemaProblem}`] : [],
            warnings: [],
        };
    const verdicts = patched.map(({ set, patch }) => templatePatchCheck(String(cluster?.name), set, patch, talos));
    return { problems: verdicts.flatMap((v) => v.problems), warnings: verdicts.flatMap((v) => v.warnings) };
});

/**
 * Why a cluster's etcd backup interval falls outside what the hub accepts, or undefined (omni v1.10.4
 * `internal/backend/runtime/omni/validations/cluster.go`: min ≤ interval ≤ max; 0 turns backups off).
 */
export function backupIntervalProblem(
    interval: string | undefined,
    limits: { min: number; max: number },
    hubSetting = "the hub's etcdBackup",
): string | undefined {
    const ms = interval === undefined ? undefined : parseGoDuration(interval);
    if (ms === undefined || ms === 0) return undefined;
    const fmt = (v: number) =>
        v % 3_600_000 === 0 ? `${v / 3_600_000}h` : v % 60_000 === 0 ? `${v / 60_000}m` : `${v / 1000}s`;
    if (ms < limits.min)
        return `backupInterval ${interval} is shorter than ${hubSetting} minInterval (${fmt(limits.min)}); Omni refuses the cluster: use ${fmt(limits.min)} or more`;
    if (ms > limits.max)
        return `backupInterval ${interval} is longer than ${hubSetting} maxInterval (${fmt(limits.max)}); Omni refuses the cluster: use ${fmt(limits.max)} or less`;
    return undefined;
}

/** Problems in a cluster template as a policy sees it (rendered here or written by hand). */
export function clusterTemplateProblems(yamlText: string): string[] {
    const docs = templateDocuments(yamlText);
    if (typeof docs === "string") return [docs];
    const problems: string[] = [];
    const count = (kind: string) => docs.filter((d) => d.kind === kind).length;
    for (const kind of ["Cluster", "ControlPlane"]) {
        if (count(kind) !== 1) problems.push(`a template needs exactly 1 ${kind} document, got ${count(kind)}`);
    }
    for (const d of docs) {
        const where = `${String(d.kind)}${d.name ? ` ${String(d.name)}` : ""}`;
        if (!["Cluster", "ControlPlane", "Workers", "Machine"].includes(String(d.kind)))
            problems.push(`${where}: unknown kind (expected Cluster, ControlPlane, Workers or Machine)`);
        if (d.kind === "Cluster") {
            const k = (d.kubernetes as { version?: unknown } | undefined)?.version;
            const t = (d.talos as { version?: unknown } | undefined)?.version;
            if (!isPinnedVersion(k))
                problems.push(
                    `${where}: kubernetes.version ${JSON.stringify(k)} is not pinned: use an exact version like ${versions.kubernetes}`,
                );
            if (!isPinnedVersion(t))
                problems.push(
                    `${where}: talos.version ${JSON.stringify(t)} is not pinned: use an exact version like ${versions.talos}`,
                );
            // The versions Omni offers (omni v1.10.4 validations/version.go, validations/cluster.go).
            else {
                const problem =
                    talosVersionProblem(t as string) ??
                    (isPinnedVersion(k) ? kubernetesSupportProblem(t as string, k as string) : undefined);
                if (problem) problems.push(`${where}: ${problem}`);
            }
        }
        // Omni's template model at v1.10.4 (controlplane.go, machineset.go): the same refusals as the renderer's.
        if (d.kind === "ControlPlane") {
            for (const key of ["updateStrategy", "deleteStrategy"])
                if (d[key] !== undefined)
                    problems.push(`${where}: ${key} is not allowed on the control plane (Omni refuses the template)`);
        }
        const usesClass = (d.kind === "ControlPlane" || d.kind === "Workers") && d.machineClass !== undefined;
        if (usesClass && d.kernelArgs !== undefined) problems.push(`${where}: ${KERNEL_ARGS_REFUSED}`);
    }
    const sets = docs.filter((d) => d.kind === "ControlPlane" || d.kind === "Workers");
    const cluster = docs.find((d) => d.kind === "Cluster");
    if (cluster?.kernelArgs !== undefined && sets.some((d) => d.machineClass !== undefined))
        problems.push(`Cluster ${String(cluster.name)}: ${KERNEL_ARGS_REFUSED}`);
    // list.go: every Machine document must be listed by a set's machines.
    const listed = new Set(sets.flatMap((d) => (Array.isArray(d.machines) ? d.machines.map(String) : [])));
    for (const m of docs.filter((d) => d.kind === "Machine" && !listed.has(String(d.name)))) {
        problems.push(`Machine ${String(m.name)}: no machine set lists this machine (Omni refuses the template)`);
    }
    return problems;
}

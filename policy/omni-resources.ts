import {
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
} from "@pulumi/policy";
import {
    clusterTemplateProblems,
    nodeRoleLabelProblems,
    talosPatchTemplateProblems,
    talosPatchTemplateWarnings,
    templateDocuments,
} from "../components/omni/cluster-render";
import {
    MACHINE_CLASS_TYPE,
    machineClassDocProblems,
    machineClassDocument,
} from "../components/omni/machine-class-render";
import { CLUSTER_KIND, MACHINE_CLASS_KIND } from "../components/omni/omni-state";
import { DEFAULT_INFRA_PROVIDER_ID } from "../components/core/validation";
import { oncePerText } from "../components/core/hot-paths";
import { commandFlags, flag, known, yamlDocuments } from "./props";
import { docker } from "./providers";

/**
 * Omni resources: the YAML an OmniMachineClass or OmniCluster holds (`yaml` of its dynamic resource, found by its
 * `kind`), or what a hand-made `command:local:Command` gives omnictl on stdin.
 */

const DYNAMIC_RESOURCE = "pulumi-nodejs:dynamic:Resource";

/** The Omni YAML a resource carries, if it is known and the resource is one that applies Omni resources. */
function omniYaml(r: { type: string; props: Record<string, any> }): string | undefined {
    const text =
        r.type === DYNAMIC_RESOURCE
            ? known(() => ([MACHINE_CLASS_KIND, CLUSTER_KIND].includes(r.props.kind) ? r.props.yaml : undefined))
            : r.type === "command:local:Command"
              ? known(() => r.props.stdin)
              : undefined;
    return typeof text === "string" ? text : undefined;
}

/** Machine class documents a resource carries (unknown content is not one this program renders). */
function machineClassDocs(r: { type: string; props: Record<string, any> }): string[] {
    const text = omniYaml(r);
    return text === undefined ? [] : yamlDocuments(text).filter((doc) => doc.includes(MACHINE_CLASS_TYPE));
}

/** Once per class text: the same class is analyzed as a resource input and in the stack's outputs. */
const classDocProblems = oncePerText(machineClassDocProblems);

/** A validation over every resource that carries Omni YAML. */
const eachOmniResource =
    (check: (r: ResourceValidationArgs, report: (message: string) => void) => void) =>
    (args: ResourceValidationArgs, report: (message: string) => void) => {
        if (args.type === DYNAMIC_RESOURCE || args.type === "command:local:Command") check(args, report);
    };

export const machineClassProviderData: ResourceValidationPolicy = {
    name: "machine-class-provider-data",
    description:
        "Machine classes use only provider-data keys the Proxmox provider knows, with required fields and a storage_selector on storageType " +
        "(the provider silently drops unknown keys, and `type` in CEL is the built-in).",
    severity: "high",
    remediationSteps:
        "Fix the machine class's providerData as the message says (spelling of keys, storageType instead of type, minimums).",
    validateResource: eachOmniResource((r, report) => {
        for (const doc of machineClassDocs(r)) {
            for (const problem of classDocProblems(doc)) report(problem);
        }
    }),
};

const CLUSTER_DOC = /^kind:\s*["']?Cluster["']?\s*$/m;

/** A policy over the cluster templates that clusters (or omnictl commands) carry. */
function clusterTemplatePolicy(
    p: Omit<ResourceValidationPolicy, "validateResource"> & { problems: (template: string) => string[] },
): ResourceValidationPolicy {
    const { problems, ...policy } = p;
    return {
        ...policy,
        validateResource: eachOmniResource((r, report) => {
            const text = omniYaml(r);
            if (text === undefined || !CLUSTER_DOC.test(text)) return;
            for (const problem of problems(text)) report(problem);
        }),
    };
}

export const noNodeRoleLabels = clusterTemplatePolicy({
    name: "no-node-role-labels",
    description:
        "Cluster templates set no node-role.kubernetes.io/* node labels: NodeRestriction rejects them and the node reboot-loops.",
    severity: "high",
    remediationSteps:
        "Use another label (e.g. topology.kubernetes.io/zone) or label nodes with kubectl after they join.",
    problems: nodeRoleLabelProblems,
});

export const clusterTemplateValid = clusterTemplatePolicy({
    name: "cluster-template-valid",
    description:
        "Cluster templates are what Omni's template model accepts: one Cluster and one ControlPlane, pinned Talos and Kubernetes versions " +
        "(a Talos version the pinned Omni offers, a Kubernetes version that Talos minor runs), " +
        "no control-plane update/delete strategy, no kernelArgs on sets that use machine classes, no unlisted Machine documents.",
    severity: "high",
    remediationSteps:
        "Fix each template problem named; omnictl cluster template validate -f <file> shows the same offline.",
    problems: clusterTemplateProblems,
});

export const talosConfigPatchesValid = clusterTemplatePolicy({
    name: "talos-config-patches-valid",
    description:
        "Machine config patches in cluster templates fit Talos's config schema for the cluster's Talos version (unknown keys, wrong types, " +
        "unknown document kinds) and what Omni accepts (strategic merge only, no fields Omni sets itself).",
    severity: "high",
    remediationSteps:
        "Fix the key, type or kind the message names (it suggests the closest known key); the schema of each Talos minor is in components/omni/talos-schemas.",
    problems: talosPatchTemplateProblems,
});

export const talosConfigPatchesPlain = clusterTemplatePolicy({
    name: "talos-config-patches-plain",
    description:
        "Machine config patches say what Talos reads: an unquoted value that lands in a text field (0x1F, 1_000, yes, on) is the text as written " +
        "for Talos (go.yaml.in/yaml v4), though other YAML readers take it for a number or a boolean.",
    enforcementLevel: "advisory",
    severity: "low",
    remediationSteps: "Quote the value the message names (or write the value Talos should get).",
    problems: talosPatchTemplateWarnings,
});

/** `--id` of a container that runs an infra provider (it talks to Omni via --omni-api-endpoint or sets --id). */
function providerId(resource: PolicyResource): string | undefined {
    const flags = commandFlags(resource.props);
    if (!flags.has("id") && !flags.has("omni-api-endpoint")) return undefined;
    return flag(flags, "id") ?? DEFAULT_INFRA_PROVIDER_ID;
}

/** A machine class document's id and provider id, or undefined when it is not YAML. */
function parseMachineClass(doc: string): { id: string; providerId?: string } | undefined {
    const read = machineClassDocument(doc);
    if ("error" in read) return undefined; // machine-class-provider-data reports the broken YAML
    const parsed = read.doc as {
        metadata?: { id?: unknown };
        spec?: { autoprovision?: { providerid?: unknown } };
    } | null;
    const providerId = parsed?.spec?.autoprovision?.providerid;
    return {
        id: String(parsed?.metadata?.id),
        providerId: typeof providerId === "string" ? providerId : undefined,
    };
}

export const providerIdConsistent: StackValidationPolicy = {
    name: "provider-id-consistent",
    description:
        "Every machine class's providerid equals the infra provider's --id (case-sensitive): Omni rejects the provider's writes for another id, " +
        "and the class never gets machines.",
    severity: "high",
    remediationSteps:
        "Use one provider id everywhere: the provider's --id, `omnictl infraprovider create <id>` and each machine class's providerId.",
    validateStack: (args, report) => {
        const ids = new Set<string>();
        for (const r of args.resources) {
            const id = r.isType(docker.Container) ? providerId(r) : undefined;
            if (id !== undefined) ids.add(id);
        }
        // A stack without the provider (e.g. classes for a provider run elsewhere) has nothing to compare with.
        if (ids.size === 0) return;
        const expected = [...ids].map((id) => `"${id}"`).join(" or ");
        for (const r of args.resources) {
            for (const doc of machineClassDocs(r)) {
                const mc = parseMachineClass(doc);
                if (!mc || (mc.providerId !== undefined && ids.has(mc.providerId))) continue;
                const lower = mc.providerId?.toLowerCase();
                const caseOnly = [...ids].some((id) => id.toLowerCase() === lower);
                const found = mc.providerId === undefined ? "no providerid" : `providerid "${mc.providerId}"`;
                report(
                    `machine class ${mc.id} has ${found}, but the infra provider runs with --id ${expected}` +
                        `${caseOnly ? " (ids are case-sensitive)" : ""}: set the class's providerId to ${expected}`,
                    r.urn,
                );
            }
        }
    },
};

/** A cluster resource's name, or undefined for other resources. */
function clusterName(r: { type: string; props: Record<string, any> }): string | undefined {
    if (r.type !== DYNAMIC_RESOURCE) return undefined;
    const name = known(() => (r.props.kind === CLUSTER_KIND ? r.props.name : undefined));
    return typeof name === "string" ? name : undefined;
}

export const clusterProtected: ResourceValidationPolicy = {
    name: "omni-cluster-protected",
    description:
        "Omni clusters are protected (`protect`), so that removing or renaming one in the stack file cannot delete it with its machines and data; " +
        "only a cluster whose spec says allowDestroy: true may be unprotected.",
    severity: "high",
    remediationSteps:
        "Register the cluster with protect: true (OmniCluster does unless the spec sets allowDestroy: true); to delete one on purpose, set allowDestroy: true, run `pulumi up`, then remove it.",
    validateResource: (args, report) => {
        const name = clusterName(args);
        if (name === undefined || args.opts.protect) return;
        if (known(() => args.props.allowDestroy) === true) return;
        report(
            `cluster ${name} is not protected and its spec does not set allowDestroy: true; a removed or renamed entry would delete the cluster with its machines: protect it, or set allowDestroy: true if deleting it is intended`,
        );
    },
};

/** The machine classes a cluster's template allocates from. */
function templateClasses(text: string): string[] {
    const docs = templateDocuments(text);
    if (typeof docs === "string") return []; // cluster-template-valid reports it
    return docs.flatMap((d) => {
        const name = (d.machineClass as { name?: unknown } | undefined)?.name;
        return typeof name === "string" ? [name] : [];
    });
}

export const clusterClassesPresent: StackValidationPolicy = {
    name: "omni-cluster-classes-present",
    description:
        "Every machine class a cluster allocates from is defined in the same stack: a class removed while a cluster uses it would be deleted under the cluster " +
        "(and Omni could no longer provision its machines).",
    severity: "high",
    remediationSteps:
        "Keep the machine class while any cluster uses it; change the cluster's machineClass first (one `up`), then remove the class.",
    validateStack: (args, report) => {
        const classes = new Set(
            args.resources.flatMap((r) => machineClassDocs(r).map((doc) => parseMachineClass(doc)?.id)),
        );
        for (const r of args.resources) {
            const name = clusterName(r);
            const text = name === undefined ? undefined : omniYaml(r);
            if (text === undefined) continue;
            const missing = [...new Set(templateClasses(text))].filter((c) => !classes.has(c));
            if (missing.length > 0)
                report(
                    `cluster ${name} allocates from machine class(es) ${missing.join(", ")}, which this stack does not define: keep them while the cluster uses them`,
                    r.urn,
                );
        }
    },
};

export const omniResourcePolicies = [
    clusterProtected,
    clusterClassesPresent,
    machineClassProviderData,
    noNodeRoleLabels,
    clusterTemplateValid,
    talosConfigPatchesValid,
    talosConfigPatchesPlain,
    providerIdConsistent,
];

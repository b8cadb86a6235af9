import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import {
    PolicyResource,
    ResourceValidationPolicy,
    StackValidationPolicy,
    validateResourceOfType,
} from "@pulumi/policy";
import * as YAML from "yaml";
import {
    clusterTemplateProblems,
    nodeRoleLabelProblems,
    talosPatchTemplateProblems,
} from "../components/omni/cluster-render";
import { MACHINE_CLASS_TYPE, machineClassDocProblems } from "../components/omni/machine-class-render";
import { DEFAULT_INFRA_PROVIDER_ID } from "../components/core/validation";
import { commandFlags, flag, known, yamlDocuments } from "./props";

/** Omni resources applied with omnictl: the YAML a `command:local:Command` gets on stdin. */

/** Machine class documents in a command's stdin (unknown stdin is not one this program renders). */
function machineClassDocs(props: { stdin?: string }): string[] {
    const stdin = known(() => props.stdin);
    return typeof stdin === "string" ? yamlDocuments(stdin).filter((doc) => doc.includes(MACHINE_CLASS_TYPE)) : [];
}

export const machineClassProviderData: ResourceValidationPolicy = {
    name: "machine-class-provider-data",
    description:
        "Machine classes use only provider-data keys the Proxmox provider knows, with required fields and a storage_selector on storageType " +
        "(the provider silently drops unknown keys, and `type` in CEL is the built-in).",
    severity: "high",
    remediationSteps:
        "Fix the machine class's providerData as the message says (spelling of keys, storageType instead of type, minimums).",
    validateResource: validateResourceOfType(command.local.Command, (cmd, _args, report) => {
        for (const doc of machineClassDocs(cmd)) {
            for (const problem of machineClassDocProblems(doc)) report(problem);
        }
    }),
};

const CLUSTER_DOC = /^kind:\s*["']?Cluster["']?\s*$/m;

/** A policy over the cluster templates that omnictl commands carry on stdin. */
function clusterTemplatePolicy(
    p: Omit<ResourceValidationPolicy, "validateResource"> & { problems: (template: string) => string[] },
): ResourceValidationPolicy {
    const { problems, ...policy } = p;
    return {
        ...policy,
        validateResource: validateResourceOfType(command.local.Command, (cmd, _args, report) => {
            const stdin = known(() => cmd.stdin);
            if (typeof stdin !== "string" || !CLUSTER_DOC.test(stdin)) return;
            for (const problem of problems(stdin)) report(problem);
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

/** `--id` of a container that runs an infra provider (it talks to Omni via --omni-api-endpoint or sets --id). */
function providerId(resource: PolicyResource): string | undefined {
    const flags = commandFlags(resource.props);
    if (!flags.has("id") && !flags.has("omni-api-endpoint")) return undefined;
    return flag(flags, "id") ?? DEFAULT_INFRA_PROVIDER_ID;
}

function parseMachineClass(doc: string): { id: string; providerId?: string } | undefined {
    try {
        const parsed = YAML.parse(doc);
        const providerId = parsed?.spec?.autoprovision?.providerid;
        return {
            id: String(parsed?.metadata?.id),
            providerId: typeof providerId === "string" ? providerId : undefined,
        };
    } catch {
        return undefined; // machine-class-provider-data reports the broken YAML
    }
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
            if (!r.isType(command.local.Command)) continue;
            for (const doc of machineClassDocs(r.props)) {
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

export const omniResourcePolicies = [
    machineClassProviderData,
    noNodeRoleLabels,
    clusterTemplateValid,
    talosConfigPatchesValid,
    providerIdConsistent,
];

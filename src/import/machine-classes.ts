import * as YAML from "yaml";
import { MACHINE_CLASS_TYPE } from "../../components/omni/machine-class-render";
import { Findings } from "./findings";

/**
 * Omni MachineClass resources (`omnictl get machineclasses -o yaml`, or the seed's
 * machine-classes/*.yaml) → `omni-scale:machineClasses` entries, as an operator would write them. Nothing is
 * validated here: the stack's own schemas judge the result, with their messages.
 */

/** `spec.autoprovision.grpctunnel` (Omni's GrpcTunnelMode enum, number or name) → the setting's value. */
const GRPC_TUNNEL: Record<string, string> = {
    0: "unset",
    1: "enabled",
    2: "disabled",
    UNSET: "unset",
    ENABLED: "enabled",
    DISABLED: "disabled",
};

/** Keys of `spec.autoprovision` this project renders; anything else is named as not carried over. */
const AUTOPROVISION_KEYS = ["providerid", "providerdata", "kernelargs", "metavalues", "grpctunnel"];

export interface ImportedClass {
    source: string;
    /** A `machineClasses` entry. */
    spec: Record<string, unknown>;
}

/** One MachineClass document → a class entry, or undefined (with the reason in `f`) when the project cannot manage it. */
export function machineClassFrom(doc: unknown, source: string, f: Findings): ImportedClass | undefined {
    const d = doc as { metadata?: { type?: unknown; id?: unknown }; spec?: Record<string, unknown> } | null;
    const id = typeof d?.metadata?.id === "string" ? d.metadata.id : undefined;
    const where = `${source}${id ? ` (${id})` : ""}`;
    if (d?.metadata?.type !== MACHINE_CLASS_TYPE || !id) {
        f.unexpressed.push({
            source: where,
            message: `not a MachineClass (metadata.type ${MACHINE_CLASS_TYPE} and metadata.id are needed): skipped`,
        });
        return undefined;
    }
    const spec = d.spec ?? {};
    const auto = spec.autoprovision as Record<string, unknown> | undefined;
    const matchLabels = Array.isArray(spec.matchlabels) ? spec.matchlabels : [];
    if (!auto) {
        f.unexpressed.push({
            source: where,
            message:
                `machine class ${id} selects existing machines by label (matchlabels: ${matchLabels.join(", ") || "none"}) instead of asking a provider for VMs; ` +
                "this project manages auto-provisioning classes only: it stays in Omni as it is, and clusters that use it cannot be imported",
        });
        return undefined;
    }
    if (matchLabels.length > 0) {
        f.unexpressed.push({
            source: where,
            message: `machine class ${id} sets both matchlabels and autoprovision, which Omni refuses (validations/machine_class.go): the matchlabels are left out`,
        });
    }
    for (const key of Object.keys(auto).filter((k) => !AUTOPROVISION_KEYS.includes(k))) {
        f.unexpressed.push({
            source: where,
            message: `spec.autoprovision.${key} of machine class ${id} has no setting here: left out`,
        });
    }

    const out: Record<string, unknown> = { name: id, providerId: auto.providerid };
    if (typeof auto.providerdata === "string") {
        try {
            out.providerData = YAML.parse(auto.providerdata) ?? {};
        } catch (e) {
            f.issues.push({
                key: `${where} spec.autoprovision.providerdata`,
                message: `not valid YAML: ${(e as Error).message.split("\n")[0].replace(/:$/, "")}`,
            });
            return undefined;
        }
    } else {
        out.providerData = auto.providerdata;
    }
    if (Array.isArray(auto.kernelargs) && auto.kernelargs.length > 0) out.kernelArgs = auto.kernelargs;
    if (Array.isArray(auto.metavalues) && auto.metavalues.length > 0) out.metaValues = auto.metavalues;
    const tunnel = auto.grpctunnel === undefined ? "unset" : (GRPC_TUNNEL[String(auto.grpctunnel)] ?? auto.grpctunnel);
    if (tunnel !== "unset") out.grpcTunnel = tunnel;
    return { source: where, spec: out };
}

import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ConfigError } from "../components/core/validation";

/**
 * The hub stack's one output for workload stacks: what they need of the hub, and nothing else (no etcd key).
 *
 * A workload stack reads it with the engine's `pulumi:pulumi:readStackOutputs` invoke, not a StackReference: a
 * StackReference is a resource whose state holds every output of the referenced stack (pulumi/pulumi
 * pkg/resource/deploy/builtins.go, readStackReference returns `outputs` whole), so the hub's etcd key and every infra
 * provider's key would be copied into each workload stack's state. An invoke's result is never stored: only what the
 * program passes on (its own provider's key, the automation key its Omni resources use) reaches the workload's state.
 */
export const HUB_CONTRACT_OUTPUT = "workloadContract";

/** The builtin provider's invoke that returns a stack's outputs (same file: readStackOutputs). */
export const READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs";

export const HubContractSchema = z.object({
    omniApiUrl: z.string().min(1),
    machineApiUrl: z.string().min(1),
    wireguardEndpoint: z.string().min(1),
    /** The served certificate's fingerprint (tls.mode config or acme): a new one re-runs the preflight. */
    certificateFingerprint: z.string().optional(),
    /** The range Omni accepts for a cluster's backupInterval. */
    etcdBackupIntervals: z.object({ minInterval: z.string().optional(), maxInterval: z.string().optional() }),
    /** The automation service account's key (secret); absent without hub.initialServiceAccount. */
    automationKey: z.string().optional(),
    /** Infra provider id → its key (secret); a workload stack takes only its own. */
    infraProviderKeys: z.record(z.string(), z.string()),
});
export type HubContract = z.output<typeof HubContractSchema>;

/** What a workload stack takes from its hub: endpoints in the clear, its two keys as secrets. */
export interface HubForWorkloads {
    omniApiUrl: string;
    machineApiUrl: string;
    wireguardEndpoint: string;
    certificateFingerprint: string;
    etcdBackupIntervals: HubContract["etcdBackupIntervals"];
    automationKey: pulumi.Output<string>;
    infraProviderKey: pulumi.Output<string>;
}

/**
 * The hub's contract, checked, narrowed to one provider id. Throws a ConfigError (before any resource is registered)
 * naming the hub stack and what to run when the contract is missing, malformed, or lacks what this stack needs.
 */
export function workloadView(hubStack: string, outputs: Record<string, unknown>, providerId: string): HubForWorkloads {
    const key = "omni-scale:hubStack";
    const raw = outputs[HUB_CONTRACT_OUTPUT];
    if (raw === undefined) {
        throw new ConfigError([
            {
                key,
                value: hubStack,
                message: `has no \`${HUB_CONTRACT_OUTPUT}\` output: run \`pulumi up\` on the hub stack with this version of omni-scale first (it adds the output workload stacks read)`,
            },
        ]);
    }
    const parsed = HubContractSchema.safeParse(raw);
    if (!parsed.success) {
        throw new ConfigError([
            {
                key,
                value: hubStack,
                message: `its \`${HUB_CONTRACT_OUTPUT}\` output is not one this version reads (${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}): run \`pulumi up\` on the hub stack first`,
            },
        ]);
    }
    const c = parsed.data;
    const problems: string[] = [];
    if (!c.automationKey)
        problems.push(
            "no automation key: enable hub.initialServiceAccount on the hub (machine classes and clusters are applied with it)",
        );
    const providerKey = c.infraProviderKeys[providerId];
    if (!providerKey)
        problems.push(
            `no infra-provider key for "${providerId}": add it to the hub's infraProviders and run \`pulumi up\` there first`,
        );
    if (problems.length) throw new ConfigError(problems.map((message) => ({ key, value: hubStack, message })));
    return {
        omniApiUrl: c.omniApiUrl,
        machineApiUrl: c.machineApiUrl,
        wireguardEndpoint: c.wireguardEndpoint,
        certificateFingerprint: c.certificateFingerprint ?? "",
        etcdBackupIntervals: c.etcdBackupIntervals,
        automationKey: pulumi.secret(c.automationKey!),
        infraProviderKey: pulumi.secret(providerKey),
    };
}

/** Reads the hub stack's outputs through the engine's invoke (stored nowhere) and narrows them to `providerId`. */
export async function readHubForWorkloads(hubStack: string, providerId: string): Promise<HubForWorkloads> {
    const result = (await pulumi.runtime.invoke(READ_STACK_OUTPUTS, { name: hubStack })) as {
        outputs?: Record<string, unknown>;
    };
    return workloadView(hubStack, result?.outputs ?? {}, providerId);
}

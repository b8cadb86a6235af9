import * as pulumi from "@pulumi/pulumi";
import { StackConfig } from "./config";
import { guardedSecretValues, mentionsSecret } from "./stack-secrets";

/** The stack program for a validated config, chosen by its role (stack names such as quantum or matrix are the user's). */
export async function programFor(config: StackConfig): Promise<Record<string, unknown>> {
    const guard = guardedSecretValues().length > 0;
    if (guard) pulumi.runtime.registerStackTransformation(keepSecretValuesSecret);
    // Only the role's own program loads: a hub stack never loads the Proxmox SDK, the Omni resources or the patch check.
    const outputs = await (config.role === "hub"
        ? (require("./hub-program") as typeof import("./hub-program")).hubProgram(config)
        : (require("./workloads-program") as typeof import("./workloads-program")).workloadsProgram(config));
    return guard ? Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, secretIfMentioned(v)])) : outputs;
}

/**
 * The value with each part that shows a secret config value (a `secure:` leaf of a structured key, say) made secret:
 * an Output or a string as a whole, objects and lists part by part, so the secretness of the rest is unchanged.
 */
function secretIfMentioned(value: unknown): unknown {
    if (pulumi.Output.isInstance(value)) return value.apply((v) => (mentionsSecret(v) ? pulumi.secret(v) : v));
    if (value instanceof Promise) return secretIfMentioned(pulumi.output(value));
    if (typeof value === "string") return mentionsSecret(value) ? pulumi.secret(value) : value;
    if (Array.isArray(value)) return value.map(secretIfMentioned);
    if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype)
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, secretIfMentioned(v)]));
    return value;
}

/**
 * A secret config value inside an ordinary key (a cluster patch's password) is read as plain settings and rendered into
 * plain strings; each custom resource's input that shows one becomes secret, so the engine stores it encrypted and
 * previews mask it, as for the typed secret keys. Components hold no inputs of their own; a dynamic provider's
 * serialized code (`__provider`) never shows config.
 */
function keepSecretValuesSecret(
    args: pulumi.ResourceTransformationArgs,
): pulumi.ResourceTransformationResult | undefined {
    if (args.resource instanceof pulumi.ComponentResource || args.type === "pulumi:pulumi:StackReference")
        return undefined;
    const props = Object.fromEntries(
        Object.entries(args.props).map(([k, v]) => [k, k === "__provider" ? v : secretIfMentioned(v)]),
    );
    return { props, opts: args.opts };
}

import * as pulumi from "@pulumi/pulumi";
import { MachineClassSpec, renderMachineClass } from "./machine-class-render";
import { argsKey, KeyedArgs } from "../core/validation";
import { machineClassProvider, OMNI_PROVIDER_VERSION } from "./omni-providers";
import { packagedProvider } from "../core/packaged-provider";
import { MACHINE_CLASS_KIND, machineClassState, PROVIDER_REGISTRATION_TIMEOUT_SECONDS } from "./omni-state";

export interface OmniMachineClassArgs extends KeyedArgs {
    spec: MachineClassSpec;
    omniEndpoint: pulumi.Input<string>;
    serviceAccountKey: pulumi.Input<string>;
    /** How long the apply waits for the provider to register with Omni (default 300 s). */
    providerTimeoutSeconds?: number;
}

/** The dynamic resource that holds the class (the SDK's Resource is abstract). */
class MachineClassResource extends pulumi.dynamic.Resource {}

/**
 * An Omni MachineClass with autoprovision, as a resource Pulumi reads: `refresh` records what Omni holds, `up` applies
 * the difference (omnictl apply), destroy deletes it. A class Omni already holds unchanged is adopted on the first apply.
 */
export class OmniMachineClass extends pulumi.ComponentResource {
    /** The MachineClass id, known at construction so clusters can check their class names. */
    public readonly id: string;
    /** The rendered MachineClass document. */
    public readonly yaml: string;
    /** The resource that holds the class in Omni (clusters depend on it). */
    public readonly resource: pulumi.CustomResource;

    constructor(name: string, args: OmniMachineClassArgs, opts?: pulumi.ComponentResourceOptions) {
        // Render first: bad provider data fails before anything is registered.
        const rendered = renderMachineClass(args.spec, argsKey(name, args, "spec"));
        super("omni-scale:omni:OmniMachineClass", name, {}, opts);
        this.id = rendered.id;
        this.yaml = rendered.yaml;
        for (const warning of rendered.warnings) pulumi.log.warn(warning, this);

        this.resource = new MachineClassResource(
            packagedProvider(machineClassProvider, "omni-scale/providers/omni", "machineClassProvider", __filename),
            `${name}-class`,
            {
                kind: MACHINE_CLASS_KIND,
                classId: rendered.id,
                providerId: rendered.providerId,
                yaml: rendered.yaml,
                state: machineClassState(rendered.yaml),
                providerTimeoutSeconds: args.providerTimeoutSeconds ?? PROVIDER_REGISTRATION_TIMEOUT_SECONDS,
                providerVersion: OMNI_PROVIDER_VERSION,
                omniEndpoint: pulumi.secret(args.omniEndpoint),
                serviceAccountKey: pulumi.secret(args.serviceAccountKey),
            },
            // Children do not inherit a component's dependsOn; the class itself must wait (e.g. for the provider).
            {
                parent: this,
                dependsOn: opts?.dependsOn,
                additionalSecretOutputs: ["omniEndpoint", "serviceAccountKey"],
            },
        );

        this.registerOutputs({ id: this.id, yaml: this.yaml });
    }
}

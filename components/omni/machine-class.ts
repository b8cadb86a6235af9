import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { MachineClassSpec, renderMachineClass } from "./machine-class-render";
import { argsKey, KeyedArgs } from "../core/validation";
import {
    omnictlEnvironment,
    omnictlWithStdinFile,
    PROVIDER_REGISTRATION_TIMEOUT_SECONDS,
    waitForInfraProviderScript,
} from "./omnictl";

export interface OmniMachineClassArgs extends KeyedArgs {
    spec: MachineClassSpec;
    omniEndpoint: pulumi.Input<string>;
    serviceAccountKey: pulumi.Input<string>;
    /** How long the apply waits for the provider to register with Omni (default 300 s). */
    providerTimeoutSeconds?: number;
}

/** An Omni MachineClass with autoprovision, applied with `omnictl apply` and deleted on destroy. */
export class OmniMachineClass extends pulumi.ComponentResource {
    /** The MachineClass id, known at construction so clusters can check their class names. */
    public readonly id: string;
    /** The rendered MachineClass document. */
    public readonly yaml: string;

    constructor(name: string, args: OmniMachineClassArgs, opts?: pulumi.ComponentResourceOptions) {
        // Render first: bad provider data fails before anything is registered.
        const rendered = renderMachineClass(args.spec, argsKey(name, args, "spec"));
        super("omni-scale:omni:OmniMachineClass", name, {}, opts);
        this.id = rendered.id;
        this.yaml = rendered.yaml;
        for (const warning of rendered.warnings) pulumi.log.warn(warning, this);

        new command.local.Command(
            `${name}-apply`,
            {
                // Each apply (create and update) first waits for the provider: Omni refuses the class until it registered.
                create: [
                    waitForInfraProviderScript(
                        rendered.providerId,
                        args.providerTimeoutSeconds ?? PROVIDER_REGISTRATION_TIMEOUT_SECONDS,
                    ),
                    omnictlWithStdinFile("apply"),
                ].join("\n"),
                delete: `omnictl delete machineclass ${rendered.id}`,
                // Changed content reaches the command as changed stdin, which re-runs `apply` as an update. Only a new id
                // replaces the command: a replacement runs the old delete after the new apply, which must hit the old id.
                stdin: rendered.yaml,
                triggers: [rendered.id],
                environment: omnictlEnvironment(args),
            },
            // Children do not inherit a component's dependsOn; the command itself must wait (e.g. for the provider).
            { parent: this, dependsOn: opts?.dependsOn, additionalSecretOutputs: ["environment"] },
        );

        this.registerOutputs({ id: this.id, yaml: this.yaml });
    }
}

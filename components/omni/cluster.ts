import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { backupIntervalProblem, ClusterSpec, renderClusterTemplate } from "./cluster-render";
import { etcdBackupIntervalLimits } from "../hub/settings";
import { OmniMachineClass } from "./machine-class";
import { omnictlEnvironment, omnictlWithStdinFile } from "./omnictl";
import { argsKey, ConfigError, KeyedArgs } from "../core/validation";

export interface OmniClusterArgs extends KeyedArgs {
    spec: ClusterSpec;
    /** The machine classes defined in this stack; the cluster depends only on those it uses. */
    machineClasses: OmniMachineClass[] | Record<string, OmniMachineClass>;
    omniEndpoint: pulumi.Input<string>;
    serviceAccountKey: pulumi.Input<string>;
    /**
     * The hub's `etcdBackup` min/max intervals (the hub stack's `etcdBackupIntervals` output). Omni refuses a cluster
     * whose backupInterval lies outside them; Omni's defaults (1h–24h) apply when absent.
     */
    etcdBackupIntervals?: pulumi.Input<{ minInterval?: string; maxInterval?: string } | undefined>;
}

/** An Omni cluster template, synced with `omnictl cluster template sync` and deleted on destroy. */
export class OmniCluster extends pulumi.ComponentResource {
    /** The rendered multi-document cluster template. */
    public readonly yaml: string;
    /** Helm values for Cilium when the Cilium preset is on (Omni does not install the CNI). */
    public readonly ciliumValues: string | undefined;

    constructor(name: string, args: OmniClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        const classes = Object.values(args.machineClasses);
        // Render first: a bad template or an unknown machine class fails before anything is registered.
        const key = argsKey(name, args, "spec");
        const rendered = renderClusterTemplate(
            args.spec,
            classes.map((c) => c.id),
            key,
        );
        super("omni-scale:omni:OmniCluster", name, {}, opts);
        this.yaml = rendered.yaml;
        this.ciliumValues = rendered.ciliumValues;

        new command.local.Command(
            `${name}-sync`,
            {
                create: omnictlWithStdinFile("cluster template sync"),
                // The delete runs with the stdin stored in state, i.e. the template last synced.
                delete: omnictlWithStdinFile("cluster template delete"),
                // Content changes re-run `sync` as an update (stdin changed). Only a renamed cluster replaces the
                // command: a replacement's delete runs after the new sync and must remove the old cluster, not this one.
                // The template reaches Omni only once its backup interval is known to fit the hub's limits.
                stdin: pulumi.output(args.etcdBackupIntervals).apply((limits) => {
                    const interval = args.spec.features?.backupInterval;
                    const problem = backupIntervalProblem(interval, etcdBackupIntervalLimits(limits));
                    if (problem)
                        throw new ConfigError([
                            {
                                key: `${key}.features.backupInterval`,
                                value: interval,
                                message: `cluster ${rendered.name}: ${problem}`,
                            },
                        ]);
                    return rendered.yaml;
                }),
                triggers: [rendered.name],
                environment: omnictlEnvironment(args),
            },
            {
                parent: this,
                additionalSecretOutputs: ["environment"],
                // Machine classes run in parallel; each cluster waits only for its own.
                dependsOn: classes.filter((c) => rendered.machineClasses.includes(c.id)),
            },
        );

        this.registerOutputs({ yaml: this.yaml, ciliumValues: this.ciliumValues });
    }
}

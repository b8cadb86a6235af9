import * as pulumi from "@pulumi/pulumi";
import { backupIntervalProblem, ClusterSpec, renderClusterTemplate } from "./cluster-render";
import { etcdBackupIntervalLimits } from "../hub/settings";
import { OmniMachineClass } from "./machine-class";
import { clusterProvider, OMNI_PROVIDER_VERSION } from "./omni-providers";
import { packagedProvider } from "../core/packaged-provider";
import {
    CLUSTER_KIND,
    CLUSTER_SECRET_OUTPUTS,
    ClusterStatus,
    clusterState,
    DEFAULT_READY_TIMEOUT,
    kubeconfigOptions,
} from "./omni-state";
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

/** The dynamic resource; `declare`: a class field would overwrite the outputs the base constructor sets. */
class ClusterResource extends pulumi.dynamic.Resource {
    declare readonly kubeconfig: pulumi.Output<string>;
    declare readonly talosconfig: pulumi.Output<string>;
    declare readonly status: pulumi.Output<ClusterStatus>;
}

/**
 * An Omni cluster from its template, as a resource Pulumi reads: `refresh` records the template Omni exports, `up`
 * syncs the difference and waits until the cluster is ready as the template says, destroy deletes it. Protected
 * unless the spec sets `allowDestroy: true`; a sync that would tear down machine sets, patches, manifests or
 * healthchecks is refused unless it sets `allowRemovals: true`. Outputs a service-account kubeconfig and a
 * talosconfig (secrets) and the cluster's status.
 */
export class OmniCluster extends pulumi.ComponentResource {
    /** The rendered multi-document cluster template. */
    public readonly yaml: string;
    /** Helm values for Cilium when the Cilium preset is on (Omni does not install the CNI). */
    public readonly ciliumValues: string | undefined;
    /** A service-account kubeconfig (secret) for the next stack; lifetime: the spec's kubeconfig.ttl (default 365 days). */
    public readonly kubeconfig: pulumi.Output<string>;
    /** The cluster's talosconfig through Omni (secret); talosctl needs OMNI_SERVICE_ACCOUNT_KEY set to use it. */
    public readonly talosconfig: pulumi.Output<string>;
    /** Omni's ClusterStatus when `up` last waited or `refresh` last read: phase, machines, versions. */
    public readonly status: pulumi.Output<ClusterStatus>;

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
        for (const warning of rendered.warnings) pulumi.log.warn(warning, this);

        // The template reaches Omni only once its backup interval is known to fit the hub's limits.
        const yaml = pulumi.output(args.etcdBackupIntervals).apply((limits) => {
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
        });
        const resource = new ClusterResource(
            packagedProvider(clusterProvider, "omni-scale/providers/omni", "clusterProvider", __filename),
            `${name}-cluster`,
            {
                kind: CLUSTER_KIND,
                name: rendered.name,
                yaml,
                state: clusterState(rendered.yaml),
                readyTimeout: args.spec.readyTimeout ?? DEFAULT_READY_TIMEOUT,
                kubeconfigOptions: kubeconfigOptions(args.spec.kubeconfig),
                kubeconfigRotation: args.spec.kubeconfigRotation ?? 0,
                allowDestroy: args.spec.allowDestroy === true,
                allowRemovals: args.spec.allowRemovals === true,
                destroyDisconnectedMachines: args.spec.destroyDisconnectedMachines === true,
                providerVersion: OMNI_PROVIDER_VERSION,
                omniEndpoint: pulumi.secret(args.omniEndpoint),
                serviceAccountKey: pulumi.secret(args.serviceAccountKey),
                status: undefined,
                kubeconfig: undefined,
                talosconfig: undefined,
            },
            {
                parent: this,
                // Deleting a cluster deletes its machines and their data: only on purpose (docs/OPERATIONS.md).
                protect: args.spec.allowDestroy !== true,
                additionalSecretOutputs: CLUSTER_SECRET_OUTPUTS,
                // Machine classes run in parallel; each cluster waits only for its own.
                dependsOn: classes.filter((c) => rendered.machineClasses.includes(c.id)).map((c) => c.resource),
            },
        );
        this.kubeconfig = pulumi.secret(resource.kubeconfig);
        this.talosconfig = pulumi.secret(resource.talosconfig);
        this.status = resource.status;

        this.registerOutputs({ yaml: this.yaml, ciliumValues: this.ciliumValues, status: this.status });
    }
}

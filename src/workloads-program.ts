import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
// The public API (what `omni-scale` exports), by domain folder: the workload stack loads no hub components.
import {
    ClusterStatus,
    OmniCluster,
    OmniMachineClass,
    privilegesForProviderData,
    removedClusterProblems,
} from "../components/omni";
import { preflightTarget, ProxmoxHostDns, ProxmoxInfraProvider, ProxmoxPreflight } from "../components/proxmox";
import { ClusterVersions, clusterUpgradeProblem, ConfigError, ConfigIssue, versions } from "../components/core";
import { WorkloadStackConfig } from "./config";
import { WorkloadOutputs } from "./outputs";
import { previousOutputs } from "./previous";
import { readHubForWorkloads } from "./hub-contract";

/**
 * A workload stack: split-horizon DNS on the Proxmox nodes, the infra provider in its LXC, then the machine
 * classes and clusters Omni provisions through it. Endpoints and keys come from the hub stack.
 */
export async function workloadsProgram(config: WorkloadStackConfig): Promise<WorkloadOutputs> {
    const clusterVersions: Record<string, ClusterVersions> = Object.fromEntries(
        config.clusters.map((c) => [
            c.name,
            {
                talos: c.talosVersion ?? versions.talos,
                kubernetes: c.kubernetesVersion ?? versions.kubernetes,
            },
        ]),
    );
    const last = await previousOutputs([
        "clusterVersions",
        "clusters",
        "machineClasses",
        "protectedClusters",
        "clusterStatus",
        "omniResources",
    ]);
    const previous = last.clusterVersions as Record<string, ClusterVersions> | undefined;
    const upgradeIssues: ConfigIssue[] = config.clusters.flatMap((c, i) => {
        const problem = clusterUpgradeProblem(c.name, previous?.[c.name], clusterVersions[c.name]);
        return problem ? [{ key: `omni-scale:clusters[${i}]`, message: problem }] : [];
    });
    if (upgradeIssues.length > 0) throw new ConfigError(upgradeIssues);

    // Stacks deployed before `omniResources` held classes and clusters as omnictl commands, all clusters protected in effect.
    const legacy = last.clusters !== undefined && last.omniResources === undefined;
    const deployedProtected = ((legacy ? last.clusters : last.protectedClusters) as string[] | undefined) ?? [];
    const lastStatus = (last.clusterStatus as Record<string, ClusterStatus | undefined> | undefined) ?? {};
    const teardown = removedClusterProblems(
        deployedProtected.map((name) => ({ name, machines: lastStatus[name]?.machines.total })),
        config.clusters.map((c) => c.name),
        pulumi.getStack(),
    );
    if (teardown.length > 0)
        throw new ConfigError(teardown.map((message) => ({ key: "omni-scale:clusters", message })));

    // Only what this stack needs of the hub, read without a StackReference (whose state would hold every hub output).
    const hub = await readHubForWorkloads(config.hubStack, config.infraProvider.providerId);
    const omniApiUrl = hub.omniApiUrl;
    const automationKey = hub.automationKey;
    const providerId = config.infraProvider.providerId;
    const infraProviderKey = hub.infraProviderKey;
    const etcdBackupIntervals = hub.etcdBackupIntervals;

    const dns = new ProxmoxHostDns("proxmox-dns", { settings: config.hostDns, keyPrefix: "omni-scale:hostDns" });
    const provider = new ProxmoxInfraProvider(
        "infra-provider",
        {
            settings: config.infraProvider,
            keyPrefix: "omni-scale:infraProvider",
            omniApiEndpoint: omniApiUrl,
            infraProviderKey,
            proxmoxCredentials:
                config.proxmoxTokenId && config.secrets.proxmoxTokenSecret
                    ? { tokenId: config.proxmoxTokenId, tokenSecret: config.secrets.proxmoxTokenSecret }
                    : undefined,
            extraPrivileges: privilegesForProviderData(config.machineClasses.map((c) => c.providerData)),
        },
        { dependsOn: [dns] },
    );

    // From every node, after its resolver is set and beside the provider (one step, however many nodes): the path a
    // booting VM takes to Omni. Classes and clusters wait for it, so a failed check stops `up` before any VM is asked for.
    const preflight =
        config.preflight &&
        new ProxmoxPreflight(
            "preflight",
            {
                settings: config.preflight,
                keyPrefix: "omni-scale:preflight",
                target: preflightTarget({
                    omniApiUrl,
                    machineApiUrl: hub.machineApiUrl,
                    wireguardEndpoint: hub.wireguardEndpoint,
                }),
                // A new certificate on the hub (tls.mode config or acme) re-runs the checks; hostFiles hubs export none.
                triggers: [hub.certificateFingerprint],
            },
            { dependsOn: [dns] },
        );

    // Classes apply in parallel; each cluster waits only for the classes it uses.
    const classes = new Map(
        config.machineClasses.map((spec, i) => [
            spec.name,
            new OmniMachineClass(
                spec.name,
                {
                    spec,
                    omniEndpoint: omniApiUrl,
                    serviceAccountKey: automationKey,
                    keyPrefix: `omni-scale:machineClasses[${i}]`,
                },
                { dependsOn: [provider, ...(preflight ? [preflight] : [])] },
            ),
        ]),
    );
    const clusters = Object.fromEntries(
        config.clusters.map((spec, i) => [
            spec.name,
            new OmniCluster(spec.name, {
                spec,
                machineClasses: [...classes.values()],
                omniEndpoint: omniApiUrl,
                serviceAccountKey: automationKey,
                etcdBackupIntervals,
                keyPrefix: `omni-scale:clusters[${i}]`,
            }),
        ]),
    );
    if (legacy) {
        const deployed = (key: string) => new Set((last[key] as string[] | undefined) ?? []);
        const lastClasses = deployed("machineClasses");
        const lastClusters = deployed("clusters");
        for (const [name, c] of classes) if (lastClasses.has(name)) neutralizeLegacyCommand(`${name}-apply`, name, c);
        for (const [name, c] of Object.entries(clusters))
            if (lastClusters.has(name)) neutralizeLegacyCommand(`${name}-sync`, name, c);
    }

    return {
        providerId,
        lxcAddress: provider.lxcAddress,
        tailscaleHostname: provider.tailscaleHostname,
        machineClasses: [...classes.keys()],
        clusters: Object.keys(clusters),
        // Read back by the next deployment to keep upgrades one step at a time.
        clusterVersions,
        // Helm values for installing Cilium on each cluster (docs/guides/CILIUM.md).
        // Per Proxmox node: what the Omni name resolved to, which ports answered, the certificate's names and expiry.
        ...(preflight ? { preflight: preflight.results } : {}),
        ciliumValues: Object.fromEntries(Object.entries(clusters).map(([name, c]) => [name, c.ciliumValues])),
        // For the next stack (docs/OPERATIONS.md "The downstream stack"): per cluster, as secrets.
        kubeconfigs: pulumi.secret(pulumi.all(mapValues(clusters, (c) => c.kubeconfig))),
        talosconfigs: pulumi.secret(pulumi.all(mapValues(clusters, (c) => c.talosconfig))),
        clusterStatus: pulumi.all(mapValues(clusters, (c) => c.status)),
        // Read back by the next deployment: a protected cluster missing from the stack file stops `up`.
        protectedClusters: config.clusters.filter((c) => c.allowDestroy !== true).map((c) => c.name),
        // Classes and clusters are resources Pulumi reads (not omnictl commands, see neutralizeLegacyCommand).
        omniResources: 2,
    };
}

const mapValues = <T, U>(o: Record<string, T>, f: (v: T) => U): Record<string, U> =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));

/**
 * A stack deployed with classes and clusters as omnictl commands holds commands whose stored `delete` runs
 * `omnictl delete` / `omnictl cluster template delete`: dropping them from the program would run it. For one `up`
 * they are registered again under their old names with no-op scripts and retainOnDelete. With an `update` command
 * and the old `triggers` the change is an update (`true`), never a replacement, which would run the old delete. The
 * next `up` drops them without running anything; the new resources adopt what Omni holds unchanged.
 */
function neutralizeLegacyCommand(name: string, id: string, parent: pulumi.Resource) {
    new command.local.Command(
        name,
        { create: "true", update: "true", delete: "true", triggers: [id] },
        { parent, retainOnDelete: true },
    );
}

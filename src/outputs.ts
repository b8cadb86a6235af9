/**
 * The stack outputs of each role, described once: the programs' return types allow only these names, `npm run docs`
 * renders the tables in docs/DEPLOYMENT.md from them, and a test runs both programs to compare.
 */
export interface StackOutput {
    /** What the output holds and who reads it. */
    meaning: string;
    /** The setting that makes the stack export it; always exported when absent. */
    when?: string;
    /** A secret: `pulumi stack output <name> --show-secrets` shows it. */
    secret?: true;
}

export const HUB_OUTPUTS = {
    workloadContract: {
        meaning:
            "What workload stacks read (src/hub-contract.ts): endpoints, backup intervals, certificate fingerprint, the automation and provider keys, never the etcd key; read through the engine's `readStackOutputs` invoke rather than a StackReference, so only the keys a workload stack uses reach its state",
        secret: true,
    },
    omniVersion: { meaning: "The Omni release running; the next `up` refuses a downgrade or a skipped migration" },
    omnictlVersion: { meaning: "The omnictl to use against this hub: always the hub's own version" },
    omniApiUrl: {
        meaning:
            "Omni's API and UI at `hub.omniDomain`, e.g. `https://omni.example.com`; the workload stacks reach Omni there",
    },
    machineApiUrl: {
        meaning:
            "The machine API Talos dials, e.g. `https://omni.example.com:8090`; machines keep it, so it must never change",
    },
    kubernetesProxyUrl: { meaning: "Omni's Kubernetes API proxy, e.g. `https://omni.example.com:8100`" },
    wireguardEndpoint: {
        meaning:
            "SideroLink's WireGuard on `hub.lanIp`, e.g. `192.168.10.20:50180`; machines keep it, so it must never change",
    },
    tailscaleHostname: {
        meaning: "The sidecar's tailnet name as configured; check the admin console for a `-1` suffix",
    },
    accountId: { meaning: "Omni's account UUID; it never changes" },
    automationKey: {
        meaning:
            "Key of the automation service account the workload stacks use; renew it with `hub.automationKeyRotation`",
        when: "`hub.initialServiceAccount.enabled`",
        secret: true,
    },
    infraProviderKeys: { meaning: "Infra provider id → its key (`hub.infraProviders`)", secret: true },
    etcdKeyArmored: {
        meaning: "The etcd encryption key: without it the Omni data is lost; keep a copy offline",
        secret: true,
    },
    certificate: {
        meaning:
            "`{fingerprint, names, notAfter}` of the uploaded certificate; a new one re-runs the workload stacks' preflight",
        when: "`hub.tls.mode` config or acme",
    },
    tailnetAddress: {
        meaning: "Where the public Cloudflare record points",
        when: "`hub.dns.cloudflare` (unless its `record` is false)",
    },
    hubBackup: {
        meaning:
            "The hub's own backup: container, schedule, retention, target, S3, the fingerprint of the etcd key every set needs, how to restore",
        when: "`hub.backup`",
    },
    etcdBackupIntervals: {
        meaning:
            "`{minInterval, maxInterval}` every cluster's `features.backupInterval` must lie in (`hub.etcdBackup`, or Omni's 1h–24h); the workload stacks check against it",
    },
} as const satisfies Record<string, StackOutput>;

export const WORKLOAD_OUTPUTS = {
    providerId: { meaning: "The infra provider's id (`infraProvider.providerId`)" },
    lxcAddress: { meaning: "The provider LXC's LAN address" },
    tailscaleHostname: { meaning: "The provider sidecar's tailnet name" },
    machineClasses: { meaning: "The machine class names" },
    clusters: { meaning: "The cluster names" },
    clusterVersions: {
        meaning: "Cluster → `{talos, kubernetes}`; the next `up` reads it back to allow one upgrade step at a time",
    },
    preflight: {
        meaning:
            "Per Proxmox node: what the Omni name resolved to, which ports answered, the certificate's names and expiry",
        when: "`preflight`",
    },
    ciliumValues: { meaning: "Cluster → Helm values for Cilium, with `cni: cilium` (docs/guides/CILIUM.md)" },
    kubeconfigs: {
        meaning: 'Cluster → a service-account kubeconfig, for the next stack (OPERATIONS.md, "The downstream stack")',
        secret: true,
    },
    talosconfigs: {
        meaning: "Cluster → its talosconfig through Omni (talosctl also needs `OMNI_SERVICE_ACCOUNT_KEY`)",
        secret: true,
    },
    clusterStatus: {
        meaning:
            "Cluster → Omni's status when `up` last waited or `refresh` last read: phase, ready, machines, versions",
    },
    protectedClusters: {
        meaning:
            "The clusters without `allowDestroy`; the next `up` refuses to drop one that the stack file no longer lists",
    },
    omniResources: {
        meaning:
            "`2`: machine classes and clusters are resources Pulumi reads (stacks without it held omnictl commands)",
    },
} as const satisfies Record<string, StackOutput>;

/** What the hub program may export. */
export type HubOutputs = { [K in keyof typeof HUB_OUTPUTS]?: unknown };
/** What a workload program may export. */
export type WorkloadOutputs = { [K in keyof typeof WORKLOAD_OUTPUTS]?: unknown };

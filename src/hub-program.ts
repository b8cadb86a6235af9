import * as pulumi from "@pulumi/pulumi";
// The public API (what `omni-scale` exports), by domain folder: the hub stack loads no Proxmox code.
import { hubBackupWarnings, hubEndpoints, OmniHub } from "../components/hub";
import { cloudflareEnvOverride } from "../components/edge";
import {
    ConfigError,
    ConfigIssue,
    hubEndpointProblems,
    IMMUTABLE_HUB_OUTPUTS,
    omniUpgradeProblem,
    versions,
} from "../components/core";
import { HubStackConfig } from "./config";
import { HubOutputs } from "./outputs";
import { previousOutputs } from "./previous";
import { HUB_CONTRACT_OUTPUT } from "./hub-contract";

/**
 * The management stack: the Omni hub. Its outputs (src/outputs.ts) are the contract a workload stack reads through a
 * StackReference (renaming one breaks `matrix`, and its offline plan, on purpose).
 */
export async function hubProgram(config: HubStackConfig): Promise<HubOutputs> {
    // Compare with the last deployment before registering anything: Omni cannot roll back, and machines keep
    // the endpoints they first booted with.
    const previous = await previousOutputs(["omniVersion", "automationKey", ...IMMUTABLE_HUB_OUTPUTS]);
    const next = { ...hubEndpoints(config.hub), accountId: config.hub.accountId ?? previous.accountId };
    const issues: ConfigIssue[] = hubEndpointProblems(previous, next).map((message) => ({
        key: "omni-scale:hub",
        message,
    }));
    const upgrade = omniUpgradeProblem(previous.omniVersion as string | undefined, config.hub.omniVersion);
    if (upgrade) issues.push({ key: "omni-scale:hub.omniVersion", value: config.hub.omniVersion, message: upgrade });
    if (issues.length > 0) throw new ConfigError(issues);
    if (config.hub.omniVersion !== versions.omnictl) {
        pulumi.log.warn(
            `hub.omniVersion ${config.hub.omniVersion} differs from the omnictl pin ${versions.omnictl} (components/core/versions.ts, mise.toml): use an omnictl equal to the hub`,
        );
    }

    if (!config.secrets.etcdGpgKey) {
        pulumi.log.warn(
            "Omni's etcd encryption key is generated and kept only in this stack's state and on the hub: back it up " +
                "(`pulumi stack output etcdKeyArmored --show-secrets > omni.asc`); without it the Omni data cannot be restored",
        );
    }
    for (const warning of hubBackupWarnings(config.hub, Boolean(config.secrets.etcdGpgKey))) pulumi.log.warn(warning);
    const cloudflareEnv = config.hub.tls.mode === "acme" ? cloudflareEnvOverride(process.env) : undefined;
    if (cloudflareEnv) pulumi.log.warn(cloudflareEnv);
    const hub = new OmniHub("omni", {
        settings: config.hub,
        keyPrefix: "omni-scale:hub",
        etcdKey: config.secrets.etcdGpgKey,
        tlsCertificate: config.secrets.tlsCertificate,
        tlsPrivateKey: config.secrets.tlsPrivateKey,
        oidcClientSecret: config.secrets.oidcClientSecret,
        cloudflareApiToken: config.secrets.cloudflareApiToken,
        hubBackupS3: {
            accessKeyId: config.secrets.hubBackupS3AccessKeyId,
            secretAccessKey: config.secrets.hubBackupS3SecretAccessKey,
        },
        currentAutomationKey: previous.automationKey as string | undefined,
    });
    return {
        // What workload stacks read (src/hub-contract.ts): endpoints, intervals, the automation key and the infra
        // provider keys; never the etcd key. Secret as a whole, since it holds keys.
        [HUB_CONTRACT_OUTPUT]: pulumi.secret({
            omniApiUrl: hub.apiUrl,
            machineApiUrl: hub.machineApiUrl,
            wireguardEndpoint: hub.wireguardEndpoint,
            ...(config.hub.tls.mode !== "hostFiles"
                ? { certificateFingerprint: hub.certificate.apply((c) => c?.fingerprint) }
                : {}),
            etcdBackupIntervals: hub.etcdBackupIntervals,
            ...(config.hub.initialServiceAccount.enabled ? { automationKey: hub.automationKey } : {}),
            infraProviderKeys: hub.infraProviderKeys,
        }),
        omniVersion: config.hub.omniVersion,
        // The omnictl to use against this hub: always the hub's own version.
        omnictlVersion: config.hub.omniVersion,
        omniApiUrl: hub.apiUrl,
        machineApiUrl: hub.machineApiUrl,
        kubernetesProxyUrl: hub.k8sProxyUrl,
        wireguardEndpoint: hub.wireguardEndpoint,
        tailscaleHostname: hub.tailscaleHostname,
        accountId: hub.accountId,
        // Optional outputs only when their feature is on: Pulumi warns about every undefined stack output.
        ...(config.hub.initialServiceAccount.enabled ? { automationKey: hub.automationKey } : {}),
        infraProviderKeys: hub.infraProviderKeys,
        etcdKeyArmored: hub.etcdKeyArmored,
        // The served certificate (tls.mode config or acme): a new one re-runs the workload stacks' preflight.
        ...(config.hub.tls.mode !== "hostFiles" ? { certificate: hub.certificate } : {}),
        // Where the public record for omniDomain points (hub.dns.cloudflare).
        ...(config.hub.dns?.cloudflare?.record ? { tailnetAddress: hub.tailnetAddress } : {}),
        // The hub's own backup (not the clusters' etcdBackup): schedule, target and the etcd key fingerprint every set needs.
        ...(config.hub.backup ? { hubBackup: hub.hubBackup } : {}),
        // Workload stacks check their clusters' backupInterval against these (Omni refuses one outside them).
        etcdBackupIntervals: hub.etcdBackupIntervals,
    };
}

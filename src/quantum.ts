import { OmniHub } from "../components/omni-hub";
import { versions } from "../components/versions";
import { HubStackConfig } from "./config";

/**
 * The management stack: the Omni hub. Its outputs are the contract a workload stack reads through a
 * StackReference (renaming one breaks `matrix`, and its offline plan, on purpose).
 */
export function quantumProgram(config: HubStackConfig): Record<string, unknown> {
    const hub = new OmniHub("omni", {
        settings: config.hub,
        etcdKey: config.secrets.etcdGpgKey,
        tlsCertificate: config.secrets.tlsCertificate,
        tlsPrivateKey: config.secrets.tlsPrivateKey,
        oidcClientSecret: config.secrets.oidcClientSecret,
    });
    return {
        omniVersion: config.hub.omniVersion,
        omnictlVersion: versions.omnictl,
        omniApiUrl: hub.apiUrl,
        machineApiUrl: hub.machineApiUrl,
        kubernetesProxyUrl: hub.k8sProxyUrl,
        wireguardEndpoint: hub.wireguardEndpoint,
        tailscaleHostname: hub.tailscaleHostname,
        accountId: hub.accountId,
        automationKey: hub.automationKey,
        infraProviderKeys: hub.infraProviderKeys,
        etcdKeyArmored: hub.etcdKeyArmored,
    };
}

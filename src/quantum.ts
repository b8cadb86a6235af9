import { OmniHub } from "../components/omni-hub";
import { omniUpgradeProblem } from "../components/upgrades";
import { ConfigError } from "../components/validation";
import { versions } from "../components/versions";
import { HubStackConfig } from "./config";
import { previousOutputs } from "./previous";

/**
 * The management stack: the Omni hub. Its outputs are the contract a workload stack reads through a
 * StackReference (renaming one breaks `matrix`, and its offline plan, on purpose).
 */
export async function quantumProgram(config: HubStackConfig): Promise<Record<string, unknown>> {
    const previous = await previousOutputs(["omniVersion"]);
    const problem = omniUpgradeProblem(previous.omniVersion as string | undefined, config.hub.omniVersion);
    if (problem) throw new ConfigError([{ key: "omni-scale:hub.omniVersion", value: config.hub.omniVersion, message: problem }]);

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

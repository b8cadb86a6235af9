import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { dockerSshOptions } from "../core/ssh";
import {
    CONFIG_PATH,
    dockerInstallCommand,
    dockerInstallScript,
    ParsedProviderSettings,
    providerCommand,
    ProxmoxInfraProviderSettings,
    ProxmoxInfraProviderSettingsSchema,
    renderProviderConfig,
    splitTokenValue,
    vmGuardScript,
} from "./provider-render";
import { tailscaleSidecar } from "../tailscale/sidecar";
import { argsKey, ConfigError, KeyedArgs, parseOrThrow } from "../core/validation";

export { ProxmoxInfraProviderSettings, ProxmoxInfraProviderSettingsSchema } from "./provider-render";

/** How long a destroy waits for Omni to deprovision the provider's VMs before refusing. */
const VM_GUARD_WAIT_SECONDS = 600;
/** The LXC disk is small: cap Docker's json-file logs. */
const LOG_OPTS = { "max-size": "10m", "max-file": "3" };

export interface ProxmoxApiToken {
    /** `user@realm!tokenname` */
    tokenId: pulumi.Input<string>;
    tokenSecret: pulumi.Input<string>;
}

export interface ProxmoxInfraProviderArgs extends KeyedArgs {
    settings: ProxmoxInfraProviderSettings;
    /** Omni's API URL (the hub's advertised API URL). */
    omniApiEndpoint: pulumi.Input<string>;
    /** The key `omnictl infraprovider create <providerId>` printed (an infra-provider key, not a user service account). */
    infraProviderKey: pulumi.Input<string>;
    /** An existing Proxmox API token; required, and only used, when settings.leastPrivilege.enabled is false. */
    proxmoxCredentials?: ProxmoxApiToken;
    /** A Tailscale auth key (or OAuth client secret) to use instead of creating a TailnetKey. */
    tailscaleAuthKey?: pulumi.Input<string>;
    /** Privileges the machine classes need besides the role's (see `privilegesForProviderData`). */
    extraPrivileges?: string[];
}

/**
 * A dedicated Proxmox user holding only the provider's role, and its API token. The user has no password, so only
 * the token can act as it.
 */
function leastPrivilegeIdentity(
    name: string,
    lp: ParsedProviderSettings["leastPrivilege"],
    extraPrivileges: string[],
    parent: pulumi.Resource,
) {
    const role = new proxmoxve.RoleLegacy(
        `${name}-role`,
        { roleId: lp.roleId, privileges: [...new Set([...lp.privileges, ...extraPrivileges])] },
        { parent },
    );
    const user = new proxmoxve.UserLegacy(
        `${name}-user`,
        {
            userId: lp.userId,
            enabled: true,
            comment: "Omni infra provider (API token only), managed by Pulumi",
        },
        { parent },
    );
    const acl = new proxmoxve.Acl(
        `${name}-acl`,
        { path: lp.path, roleId: role.roleId, userId: user.userId, propagate: true },
        { parent },
    );
    // Without privilege separation the token has exactly the user's rights, so the one ACL covers both.
    const token = new proxmoxve.user.Token(
        `${name}-token`,
        {
            userId: user.userId,
            tokenName: lp.tokenName,
            privilegesSeparation: false,
            comment: "Omni infra provider, managed by Pulumi",
        },
        { parent },
    );
    const parts = pulumi.secret(token.value).apply((v) => splitTokenValue(v, `${lp.userId}!${lp.tokenName}`));
    return { acl, tokenId: parts.tokenId, tokenSecret: pulumi.secret(parts.tokenSecret) };
}

/**
 * The Omni Proxmox infra provider in an unprivileged LXC: Docker installed over SSH, a Tailscale sidecar with
 * persistent state, and the provider in the sidecar's network namespace, talking to Proxmox with its own
 * least-privilege token (or given credentials).
 *
 * Destroy: a guard refuses to stop the provider while VMs it created still exist (it waits for Omni to remove them
 * first), so Talos VMs are never left running unmanaged. The LXC itself carries no PVE protection flag: it is
 * replaceable, and replacing it replaces every container in it (`deletedWith`) — except the protected Tailscale
 * state volume, which makes Pulumi stop and ask, because a new state re-registers the node as `<hostname>-1`.
 * SSH (the install command and the Docker provider's `ssh://`) authenticates with the operator's SSH agent.
 */
export class ProxmoxInfraProvider extends pulumi.ComponentResource {
    public readonly providerId: string;
    public readonly lxcAddress: pulumi.Output<string>;
    public readonly tailscaleHostname: string;
    public readonly containerName: string;

    constructor(name: string, args: ProxmoxInfraProviderArgs, opts?: pulumi.ComponentResourceOptions) {
        const key = argsKey(name, args);
        const s = parseOrThrow(ProxmoxInfraProviderSettingsSchema, args.settings, key);
        if (!s.leastPrivilege.enabled && !args.proxmoxCredentials) {
            throw new ConfigError([
                {
                    key: `${key}.leastPrivilege.enabled`,
                    value: false,
                    message:
                        "without the least-privilege identity the provider needs an existing API token: pass proxmoxCredentials, or enable leastPrivilege",
                },
            ]);
        }
        super("omni-scale:proxmox:ProxmoxInfraProvider", name, {}, opts);
        const { lxc, tailscale: ts } = s;
        this.providerId = s.providerId;
        this.tailscaleHostname = ts.hostname;
        this.containerName = `omni-infra-provider-${s.providerId}`;

        let acl: proxmoxve.Acl | undefined;
        let credentials: ProxmoxApiToken;
        if (s.leastPrivilege.enabled) {
            if (args.proxmoxCredentials)
                pulumi.log.warn(
                    "proxmoxCredentials are ignored: the provider uses its own least-privilege token",
                    this,
                );
            ({ acl, ...credentials } = leastPrivilegeIdentity(
                name,
                s.leastPrivilege,
                args.extraPrivileges ?? [],
                this,
            ));
        } else {
            credentials = {
                tokenId: args.proxmoxCredentials!.tokenId,
                tokenSecret: pulumi.secret(args.proxmoxCredentials!.tokenSecret),
            };
        }

        const template = new proxmoxve.download.FileLegacy(
            `${name}-template`,
            {
                nodeName: lxc.node,
                contentType: "vztmpl",
                datastoreId: lxc.template.datastore,
                url: lxc.template.url,
                checksum: lxc.template.checksum,
                checksumAlgorithm: lxc.template.checksumAlgorithm,
                // The template only seeds the LXC: no re-download when the URL's file changes; a copy put there by hand is replaced.
                overwrite: false,
                overwriteUnmanaged: true,
            },
            { parent: this },
        );

        const dhcp = lxc.ipv4 === "dhcp";
        const container = new proxmoxve.ContainerLegacy(
            `${name}-lxc`,
            {
                nodeName: lxc.node,
                vmId: lxc.vmId,
                description: `Omni infra provider "${s.providerId}" (Docker + Tailscale), managed by Pulumi`,
                tags: ["omni", "pulumi"],
                unprivileged: true,
                // Docker in an unprivileged LXC needs nesting and keyctl; the Tailscale sidecar needs the TUN device.
                features: { nesting: true, keyctl: true },
                devicePassthroughs: [{ path: "/dev/net/tun", mode: "0666" }],
                operatingSystem: { templateFileId: template.id, type: lxc.template.osType },
                cpu: { cores: lxc.cores },
                memory: { dedicated: lxc.memoryMb, swap: lxc.swapMb },
                disk: { datastoreId: lxc.datastore, size: lxc.diskGb },
                networkInterfaces: [{ name: "eth0", bridge: lxc.bridge, vlanId: lxc.vlan }],
                initialization: {
                    hostname: lxc.hostname,
                    dns: { domain: lxc.dns.domain, servers: lxc.dns.servers },
                    ipConfigs: [{ ipv4: { address: lxc.ipv4, gateway: lxc.gateway } }],
                    userAccount: { keys: lxc.sshPublicKeys },
                },
                startOnBoot: true,
                started: true,
                waitForIp: dhcp ? { ipv4: true } : undefined,
                protection: false,
            },
            { parent: this },
        );

        const staticAddress = dhcp ? undefined : lxc.ipv4.split("/")[0];
        this.lxcAddress = container.ipv4.apply((ips) => {
            const address = staticAddress ?? ips?.eth0;
            if (!address)
                throw new Error(`LXC ${lxc.vmId} reported no IPv4 address on eth0: check DHCP on ${lxc.bridge}`);
            return address;
        });

        const install = new command.remote.Command(
            `${name}-docker-install`,
            {
                connection: { host: this.lxcAddress, user: lxc.sshUser, hostKey: lxc.sshHostKey },
                create: dockerInstallCommand(lxc.sshUser),
                stdin: dockerInstallScript,
            },
            { parent: this, deletedWith: container },
        );

        const dockerProvider = new docker.Provider(
            `${name}-docker`,
            {
                host: pulumi.interpolate`ssh://${lxc.sshUser}@${this.lxcAddress}`,
                // Only lxc.sshHostKey when set; else trust the LXC's key on first use (after replacing the LXC, drop the
                // old one: ssh-keygen -R <address>). Bounded either way: a hung LXC must not hold `up` forever.
                sshOpts: dockerSshOptions({
                    hostKey: lxc.sshHostKey,
                    unpinned: ["-o", "StrictHostKeyChecking=accept-new"],
                }),
            },
            { parent: this, dependsOn: [install] },
        );
        // Everything in Docker lives on the LXC's disk: replaced with the LXC, never deleted one by one when it goes.
        const onLxc = { parent: this, provider: dockerProvider, deletedWith: container };

        // The provider joins this namespace only once the node is on the tailnet.
        const { container: sidecar } = tailscaleSidecar(
            name,
            {
                containerName: `${this.containerName}-tailscale`,
                stateVolumeName: `${this.containerName}-tailscale-state`,
                hostname: ts.hostname,
                tags: ts.tags,
                image: ts.image,
                authKey: args.tailscaleAuthKey === undefined ? undefined : pulumi.secret(args.tailscaleAuthKey),
                // The LXC is provisioned in the same `up`, so the key is used within the hour.
                keyExpirySeconds: 3600,
                waitTimeoutSeconds: 120,
                logOpts: LOG_OPTS,
            },
            onLxc,
        );
        // Aliases keep the earlier names (`<name>-provider-image`, `<name>-provider`): a rename must not replace them.
        const providerImage = new docker.RemoteImage(
            `${name}-image`,
            { name: s.image },
            { ...onLxc, aliases: [{ name: `${name}-provider-image` }] },
        );

        const configYaml = pulumi.secret(
            pulumi.all([credentials.tokenId, credentials.tokenSecret]).apply(([tokenId, tokenSecret]) =>
                renderProviderConfig({
                    url: s.proxmox.url,
                    tokenId,
                    tokenSecret,
                    insecureSkipVerify: s.proxmox.insecureSkipVerify,
                }),
            ),
        );
        const infraProviderKey = pulumi.secret(args.infraProviderKey);

        const provider = new docker.Container(
            `${name}-container`,
            {
                name: this.containerName,
                image: providerImage.imageId,
                // By id, not name: a new sidecar has a new id, so the provider is recreated in the new namespace instead of
                // holding on to a dead one (docs/TROUBLESHOOTING.md "joining network namespace of container"). Docker also reports the mode with the id, so there is no spurious diff.
                networkMode: pulumi.interpolate`container:${sidecar.id}`,
                command: pulumi.output(args.omniApiEndpoint).apply((endpoint) =>
                    providerCommand({
                        providerId: s.providerId,
                        omniApiEndpoint: endpoint,
                        omniInsecureSkipVerify: s.omniInsecureSkipVerify,
                    }),
                ),
                // The provider reads its key from OMNI_SERVICE_ACCOUNT_KEY; on the command line it would show in `docker inspect`'s Cmd and `ps`.
                envs: [pulumi.interpolate`OMNI_SERVICE_ACCOUNT_KEY=${infraProviderKey}`],
                uploads: [{ file: CONFIG_PATH, content: configYaml, permissions: "0400" }],
                restart: "unless-stopped",
                logOpts: LOG_OPTS,
            },
            {
                ...onLxc,
                deleteBeforeReplace: true,
                dependsOn: acl ? [acl] : [],
                aliases: [{ name: `${name}-provider` }],
            },
        );

        // Deleted before the provider (it depends on it): waits for the provider's VMs to be gone, or refuses.
        new command.local.Command(
            `${name}-vm-guard`,
            {
                delete: vmGuardScript({
                    insecureSkipVerify: s.proxmox.insecureSkipVerify,
                    waitSeconds: VM_GUARD_WAIT_SECONDS,
                }),
                environment: {
                    PVE_API_URL: s.proxmox.url.replace(/\/$/, ""),
                    PVE_API_TOKEN: pulumi.secret(pulumi.interpolate`${credentials.tokenId}=${credentials.tokenSecret}`),
                },
            },
            { parent: this, dependsOn: [provider] },
        );

        this.registerOutputs({
            providerId: this.providerId,
            lxcAddress: this.lxcAddress,
            tailscaleHostname: this.tailscaleHostname,
            containerName: this.containerName,
        });
    }
}

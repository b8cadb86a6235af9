import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { adoptedVolume, stateVolumeLabels } from "../core/state-volumes";
import { tailscaleSidecar } from "../tailscale/sidecar";
import { OmniEtcdKey } from "./etcd-key";
import { HubBackup, HubBackupSummary, HubBackupTarget, s3CredentialsProblem } from "./backup";
import { ETCD_BACKUP_DEFAULTS, OmniHubSettings, OmniHubSettingsInput, OmniHubSettingsSchema } from "./settings";
import { hubEndpoints, omniContainerPaths, renderOmniFlags, renderOmniSecretConfig } from "./omni-flags";
import { parseDockerHost } from "../core/addresses";
import { dockerSshOptions } from "../core/ssh";
import {
    automationAccountScript,
    automationKeyRenewalScript,
    infraProviderKeyScript,
    readInitialKeyScript,
    serviceAccountKeyFromOutput,
} from "./scripts";
import { omnictlEnvironment } from "../omni/omnictl";
import { AcmeCertificate } from "../edge/acme-certificate";
import { CLOUDFLARE_TOKEN_PERMISSIONS } from "../edge/acme-certificate-render";
import { CloudflareRecord } from "../edge/cloudflare-record";
import { CertificateSummary, certificateSummary, tlsProblems } from "../edge/tls";
import { argsKey, ConfigError, ConfigIssue, KeyedArgs, parseOrThrow } from "../core/validation";

export interface OmniHubArgs extends KeyedArgs {
    /**
     * The hub's settings as written (OmniHubSettingsInput: defaults may be left out). Validated here with
     * OmniHubSettingsSchema: a bad value is a ConfigError naming `<name>.settings.<path>` (or `<keyPrefix>.<path>`).
     */
    settings: OmniHubSettingsInput;
    /** Armored, unlocked OpenPGP secret key for etcd encryption (secret). Generated once when absent. */
    etcdKey?: pulumi.Input<string>;
    /** PEM certificate chain and key for the Omni domain (secret), required with `tls.mode: config`. */
    tlsCertificate?: pulumi.Input<string>;
    tlsPrivateKey?: pulumi.Input<string>;
    /** OIDC client secret (secret), with `auth.oidc`. */
    oidcClientSecret?: pulumi.Input<string>;
    /** Cloudflare API token (secret), with `dns.cloudflare`: edits the public record and answers ACME challenges. */
    cloudflareApiToken?: pulumi.Input<string>;
    /**
     * The automation key in use (e.g. the stack's last `automationKey` output): a renewal (settings.automationKeyRotation)
     * authenticates with it. Without it, the key created at bootstrap is used, which fails once that key has expired.
     */
    currentAutomationKey?: pulumi.Input<string>;
    /** S3 credentials of the hub backup (secrets), with `settings.backup.s3`. */
    hubBackupS3?: { accessKeyId?: pulumi.Input<string>; secretAccessKey?: pulumi.Input<string> };
}

/**
 * Self-hosted Omni on a Docker host: a Tailscale sidecar owns the network namespace and publishes Omni's
 * ports on the LAN IP (Talos machines reach Omni there while booting); Omni runs inside that namespace.
 */
export class OmniHub extends pulumi.ComponentResource {
    public readonly apiUrl: pulumi.Output<string>;
    public readonly machineApiUrl: pulumi.Output<string>;
    public readonly k8sProxyUrl: pulumi.Output<string>;
    public readonly wireguardEndpoint: pulumi.Output<string>;
    /** The configured node name; Tailscale appends `-1` if a stale device holds it. */
    public readonly tailscaleHostname: pulumi.Output<string>;
    public readonly accountId: pulumi.Output<string>;
    /** The etcd encryption key (secret). Without it the Omni data cannot be decrypted: keep a copy. */
    public readonly etcdKeyArmored: pulumi.Output<string>;
    /** Infra provider id → its service account key (secret); empty without the initial service account. */
    public readonly infraProviderKeys: pulumi.Output<Record<string, string>>;
    /** Omni's command line: no secret is on it (the OIDC client secret is in an uploaded config file). */
    public readonly flags: pulumi.Output<string[]>;
    /** The uploaded certificate (tls.mode config or acme); undefined with hostFiles, whose files the program never sees. */
    public readonly certificate: pulumi.Output<CertificateSummary | undefined>;
    /** The tailnet address the public DNS record points at (dns.cloudflare); undefined without one. */
    public readonly tailnetAddress: pulumi.Output<string | undefined>;
    /** The scheduled backup of this hub's etcd and SQLite (settings.backup), and the key every set needs; undefined when off. */
    public readonly hubBackup: pulumi.Output<HubBackupSummary | undefined>;
    /**
     * The range of backup intervals Omni accepts from a cluster (settings.etcdBackup, or Omni's defaults): give it to
     * OmniCluster's `etcdBackupIntervals`.
     */
    public readonly etcdBackupIntervals: { minInterval: string; maxInterval: string };
    /** What a HubBackup needs of this hub, to add one beside it: `new HubBackup("b", { ...hub.backupTarget, settings })`. */
    public readonly backupTarget: HubBackupTarget;

    private readonly settingsKey: string;
    private readonly keys?: {
        automationKey: pulumi.Output<string>;
        infraProviderKeys: pulumi.Output<Record<string, string>>;
    };
    private readonly infraProviderIds: string[];

    constructor(name: string, args: OmniHubArgs, opts?: pulumi.ComponentResourceOptions) {
        const settingsKey = argsKey(name, args);
        const s = parseOrThrow(OmniHubSettingsSchema, args.settings, settingsKey);
        const tlsArgs = [args.tlsCertificate, args.tlsPrivateKey];
        if (s.tls.mode === "config" && tlsArgs.some((v) => v === undefined)) {
            throw new ConfigError([
                {
                    key: "tlsCertificate/tlsPrivateKey",
                    message: "tls.mode is config: set both (PEM, as secrets), or use tls.mode hostFiles",
                },
            ]);
        }
        if (s.tls.mode === "hostFiles" && tlsArgs.some((v) => v !== undefined)) {
            throw new ConfigError([
                {
                    key: "tlsCertificate/tlsPrivateKey",
                    message: "tls.mode is hostFiles, so these would be ignored: remove them or use tls.mode config",
                },
            ]);
        }
        if (s.tls.mode === "acme" && tlsArgs.some((v) => v !== undefined)) {
            throw new ConfigError([
                {
                    key: "tlsCertificate/tlsPrivateKey",
                    message: "tls.mode is acme, so these would be ignored: remove them or use tls.mode config",
                },
            ]);
        }
        if (s.adopt && args.etcdKey === undefined) {
            throw new ConfigError([
                {
                    key: "etcdKey",
                    message:
                        `adopt.omniDataVolume ${s.adopt.omniDataVolume} holds data encrypted with the running Omni's etcd key, which a new key cannot read: ` +
                        "pass that key (its omni.asc) as etcdKey (in the omni-scale stacks: `pulumi config set --secret etcdGpgKey < omni.asc`)",
                },
            ]);
        }
        if (s.dns?.cloudflare && args.cloudflareApiToken === undefined) {
            throw new ConfigError([
                {
                    key: "cloudflareApiToken",
                    message: `dns.cloudflare is set: set a token with ${CLOUDFLARE_TOKEN_PERMISSIONS} with \`pulumi config set --secret cloudflareApiToken ...\``,
                },
            ]);
        }
        const s3Credentials = [args.hubBackupS3?.accessKeyId, args.hubBackupS3?.secretAccessKey];
        const s3Problem =
            s.backup && s3CredentialsProblem(s.backup.s3 !== undefined, s3Credentials, `${settingsKey}.backup.s3`);
        if (s3Problem) {
            throw new ConfigError([
                {
                    key: "hubBackupS3.accessKeyId/hubBackupS3.secretAccessKey",
                    message: `${s3Problem} (in the omni-scale stacks: the secrets hubBackupS3AccessKeyId and hubBackupS3SecretAccessKey)`,
                },
            ]);
        }
        super("omni-scale:omni:OmniHub", name, {}, opts);
        this.settingsKey = settingsKey;
        this.infraProviderIds = s.infraProviders;
        const endpoints = hubEndpoints(s);
        const paths = omniContainerPaths;

        const provider = new docker.Provider(
            `${name}-docker`,
            {
                host: s.dockerHost,
                sshOpts: s.dockerHost.startsWith("ssh://")
                    ? dockerSshOptions({ hostKey: s.dockerHostKey, extra: s.dockerSshOpts })
                    : s.dockerSshOpts,
            },
            { parent: this },
        );
        const onDocker = { parent: this, provider };
        // Stateful: never replaced or deleted by a routine `up` or `destroy`.
        const keep = { protect: true, retainOnDelete: true };

        // The account id must never change (Omni schema); protect it and ignore any input drift.
        const accountId = s.accountId
            ? pulumi.output(s.accountId)
            : new random.RandomUuid(
                  `${name}-account-id`,
                  {},
                  { parent: this, protect: true, ignoreChanges: ["keepers"] },
              ).result;
        const etcdKey = new OmniEtcdKey(`${name}-etcd-key`, { armoredPrivateKey: args.etcdKey }, { parent: this });

        // keepLocally: a replaced or destroyed image stays on the host, so going back needs no pull.
        const omniImage = new docker.RemoteImage(
            `${name}-omni-image`,
            { name: s.omniImage, keepLocally: true },
            onDocker,
        );
        const omniData = new docker.Volume(
            `${name}-omni-data`,
            {
                name: s.adopt?.omniDataVolume ?? `${s.accountName}-data`,
                labels: stateVolumeLabels("omni-data"),
            },
            { ...onDocker, ...keep, ...adoptedVolume(s.adopt?.omniDataVolume) },
        );

        const tun = [{ hostPath: "/dev/net/tun", containerPath: "/dev/net/tun" }];
        const tcp = [s.ports.api, s.ports.machineApi, s.ports.k8sProxy].map((p) => ({
            internal: p,
            external: p,
            ip: s.lanIp,
            protocol: "tcp",
        }));
        const { container: sidecar } = tailscaleSidecar(
            name,
            {
                containerName: `${s.accountName}-tailscale`,
                stateVolumeName: s.adopt?.tailscaleStateVolume ?? `${s.accountName}-tailscale-state`,
                adoptStateVolume: s.adopt?.tailscaleStateVolume,
                hostname: s.tailscale.hostname,
                tags: s.tailscale.tags,
                image: s.tailscaleImage,
                keepImageLocally: true,
                keyExpirySeconds: s.tailscale.keyExpirySeconds,
                keyDescription: "Omni hub sidecar",
                // Omni's ports are published here: the sidecar owns the namespace. LAN IP only (Talos boots there).
                ports: [
                    ...tcp,
                    { internal: s.ports.wireguard, external: s.ports.wireguard, ip: s.lanIp, protocol: "udp" },
                ],
                // Pulling and first login on a fresh Docker host take longer than in the provider's LXC.
                waitTimeoutSeconds: 180,
            },
            { ...onDocker, parent: this },
        );

        const uploads: pulumi.Input<docker.types.input.ContainerUpload>[] = [
            { file: paths.gpgKey, content: etcdKey.armoredPrivateKey, permissions: "0400" },
        ];
        const volumes: pulumi.Input<docker.types.input.ContainerVolume>[] = [
            { volumeName: omniData.name, containerPath: paths.data },
        ];
        let certificate: pulumi.Output<CertificateSummary | undefined> = pulumi.output(undefined);
        if (s.tls.mode === "config" || s.tls.mode === "acme") {
            // An issued certificate is uploaded and checked exactly like a configured one.
            const issued =
                s.tls.mode === "acme"
                    ? new AcmeCertificate(
                          `${name}-acme`,
                          {
                              domain: s.omniDomain,
                              email: s.tls.email,
                              directory: s.tls.directory,
                              renewalDays: s.tls.renewalDays,
                              cloudflareApiToken: args.cloudflareApiToken!,
                          },
                          { parent: this },
                      )
                    : undefined;
            const certPem = issued ? issued.certificatePem : args.tlsCertificate!;
            const keyPem = issued ? issued.privateKeyPem : args.tlsPrivateKey!;
            const configKey = issued ? "hub.tls (the issued certificate)" : "tlsCertificate";
            // Checked at program time; a bad pair fails the Omni container with this ConfigError.
            const tls = pulumi.all([certPem, keyPem]).apply(([cert, key]) => {
                const problems = tlsProblems(cert, key, s.omniDomain);
                if (problems.length)
                    throw new ConfigError(problems.map((message): ConfigIssue => ({ key: configKey, message })));
                return { cert, key };
            });
            uploads.push({ file: paths.tlsCert, content: tls.cert, permissions: "0444" });
            uploads.push({ file: paths.tlsKey, content: pulumi.secret(tls.key), permissions: "0400" });
            // A certificate is public; only its secret-config origin would mark the summary secret.
            certificate = pulumi.unsecret(tls.cert.apply(certificateSummary));
        } else {
            // certbot renews these in place; Omni sees the new files after a container restart.
            volumes.push({ hostPath: s.tls.certPath, containerPath: paths.tlsCert, readOnly: true });
            volumes.push({ hostPath: s.tls.keyPath, containerPath: paths.tlsKey, readOnly: true });
        }
        if (s.etcdBackup?.localPath)
            volumes.push({ hostPath: s.etcdBackup.localPath, containerPath: paths.etcdBackup });

        // The OIDC client secret goes in a file Omni reads (--config-path), never on its command line.
        const secretConfig = s.auth.oidc && args.oidcClientSecret !== undefined;
        if (secretConfig) {
            uploads.push({
                file: paths.secretConfig,
                content: pulumi
                    .secret(args.oidcClientSecret!)
                    .apply((secret) => renderOmniSecretConfig({ oidcClientSecret: secret })!),
                permissions: "0400",
            });
        }
        this.flags = accountId.apply((id) => renderOmniFlags({ settings: s, accountId: id, secretConfig }));

        const omni = new docker.Container(
            `${name}-omni`,
            {
                name: s.accountName,
                image: omniImage.imageId,
                // By id, not name: a replaced sidecar must replace Omni too, or Omni keeps a dead namespace (docs/TROUBLESHOOTING.md "joining network namespace of container").
                networkMode: pulumi.interpolate`container:${sidecar.id}`,
                devices: tun,
                capabilities: { adds: ["NET_ADMIN"] },
                volumes,
                uploads,
                command: this.flags,
                restart: "unless-stopped",
            },
            { ...onDocker, dependsOn: [sidecar], deleteBeforeReplace: true },
        );
        this.certificate = certificate;
        // The public half of the split horizon: the Omni name at the hub's tailnet address, once the sidecar has joined.
        this.tailnetAddress = s.dns?.cloudflare?.record
            ? new CloudflareRecord(
                  `${name}-dns`,
                  {
                      zoneId: s.dns.cloudflare.zoneId,
                      name: s.omniDomain,
                      ttl: s.dns.cloudflare.ttl,
                      tailscaleHostname: s.tailscale.hostname,
                      tailscaleTags: s.tailscale.tags,
                      apiToken: args.cloudflareApiToken!,
                  },
                  { parent: this, dependsOn: [sidecar] },
              ).address
            : pulumi.output(undefined);
        this.backupTarget = {
            omniVersion: s.omniVersion,
            omniContainerName: s.accountName,
            dockerHost: s.dockerHost,
            dockerProvider: provider,
            sidecarId: sidecar.id,
            dataVolumeName: omniData.name,
            etcdKeyFingerprint: etcdKey.fingerprint,
            etcdPublicKey: etcdKey.armoredPublicKey,
            accountId,
            omniContainer: omni,
        };
        this.hubBackup = s.backup
            ? new HubBackup(
                  `${name}-backup`,
                  {
                      ...this.backupTarget,
                      settings: s.backup,
                      keyPrefix: `${settingsKey}.backup`,
                      s3AccessKeyId: args.hubBackupS3?.accessKeyId,
                      s3SecretAccessKey: args.hubBackupS3?.secretAccessKey,
                  },
                  // Registered after Omni, so plans and previews list it after the hub it backs up.
                  { parent: this, dependsOn: [omni] },
              ).summary
            : pulumi.output(undefined);
        this.etcdBackupIntervals = {
            minInterval: s.etcdBackup?.minInterval ?? ETCD_BACKUP_DEFAULTS.minInterval,
            maxInterval: s.etcdBackup?.maxInterval ?? ETCD_BACKUP_DEFAULTS.maxInterval,
        };

        this.apiUrl = pulumi.output(endpoints.apiUrl);
        this.machineApiUrl = pulumi.output(endpoints.machineApiUrl);
        this.k8sProxyUrl = pulumi.output(endpoints.k8sProxyUrl);
        this.wireguardEndpoint = pulumi.output(endpoints.wireguardEndpoint);
        this.tailscaleHostname = pulumi.output(s.tailscale.hostname);
        this.accountId = accountId;
        this.etcdKeyArmored = etcdKey.armoredPrivateKey;

        this.keys = s.initialServiceAccount.enabled
            ? this.bootstrap(name, s, omni, endpoints.apiUrl, args.currentAutomationKey)
            : undefined;
        this.infraProviderKeys = this.keys?.infraProviderKeys ?? pulumi.output<Record<string, string>>({});

        this.registerOutputs({
            apiUrl: this.apiUrl,
            machineApiUrl: this.machineApiUrl,
            k8sProxyUrl: this.k8sProxyUrl,
            wireguardEndpoint: this.wireguardEndpoint,
            tailscaleHostname: this.tailscaleHostname,
            accountId: this.accountId,
            etcdKeyArmored: this.etcdKeyArmored,
            ...(this.keys ? { automationKey: this.keys.automationKey } : {}),
            infraProviderKeys: this.infraProviderKeys,
            flags: this.flags,
            certificate: this.certificate,
            tailnetAddress: this.tailnetAddress,
            hubBackup: this.hubBackup,
            etcdBackupIntervals: this.etcdBackupIntervals,
        });
    }

    /**
     * Key of the long-lived automation service account (secret), which OmniMachineClass and OmniCluster take as
     * `serviceAccountKey`. A ConfigError when read from a hub without the initial service account, which has none.
     */
    get automationKey(): pulumi.Output<string> {
        if (!this.keys) throw this.noBootstrap("automationKey");
        return this.keys.automationKey;
    }

    /** The key of an infra provider in settings.infraProviders (secret), for ProxmoxInfraProvider's `infraProviderKey`. */
    infraProviderKey(providerId: string): pulumi.Output<string> {
        if (!this.keys) throw this.noBootstrap(`infraProviderKey("${providerId}")`);
        if (!this.infraProviderIds.includes(providerId)) {
            throw new ConfigError([
                {
                    key: `${this.settingsKey}.infraProviders`,
                    value: this.infraProviderIds,
                    message: `has no "${providerId}": add it, so the hub registers that provider and creates its key (ids are case-sensitive)`,
                },
            ]);
        }
        return pulumi.secret(this.keys.infraProviderKeys.apply((keys) => keys[providerId]));
    }

    private noBootstrap(what: string): ConfigError {
        return new ConfigError([
            {
                key: `${this.settingsKey}.initialServiceAccount.enabled`,
                value: false,
                message: `the hub creates no service account keys, so it has no ${what}: enable the initial service account, or create the key with omnictl and pass it yourself`,
            },
        ]);
    }

    /**
     * Bootstrap without a browser (siderolabs/omni `internal/backend/server.go` createInitialServiceAccount, `client/pkg/omnictl/serviceaccount.go`, `infraprovider.go`): read the short-lived initial service account key
     * from the Docker host, create a long-lived automation account with it, and register the infra
     * providers. Each command runs once; later `up`s keep the keys in state (secret) and create none.
     */
    private bootstrap(
        name: string,
        s: OmniHubSettings,
        omni: docker.Container,
        apiUrl: string,
        currentAutomationKey?: pulumi.Input<string>,
    ) {
        const dockerHost = parseDockerHost(s.dockerHost);
        // Unreachable for validated settings; narrows the type.
        if (typeof dockerHost === "string") throw new Error(dockerHost);
        // Keys go to stdout: keep them out of the logs and secret in state.
        const once = { parent: this, additionalSecretOutputs: ["stdout"] };
        const readKey =
            dockerHost.scheme === "ssh"
                ? new command.remote.Command(
                      `${name}-initial-key`,
                      // No key material here: the SSH agent (SSH_AUTH_SOCK) authenticates, as for the Docker provider.
                      {
                          connection: {
                              host: dockerHost.host!,
                              user: dockerHost.user,
                              port: dockerHost.port,
                              hostKey: s.dockerHostKey,
                          },
                          create: omni.name.apply((c) =>
                              readInitialKeyScript(c, omniContainerPaths.initialServiceAccountKey, { onHost: true }),
                          ),
                          logging: "stderr",
                      },
                      // It ran once at bootstrap: a changed script must not run it again on a deployed hub.
                      { ...once, dependsOn: [omni], ignoreChanges: ["create"] },
                  )
                : new command.local.Command(
                      `${name}-initial-key`,
                      {
                          create: omni.name.apply((c) =>
                              readInitialKeyScript(c, omniContainerPaths.initialServiceAccountKey),
                          ),
                          environment: { DOCKER_HOST: s.dockerHost },
                          logging: "stderr",
                      },
                      { ...once, dependsOn: [omni] },
                  );
        const initialKey = pulumi.secret(readKey.stdout.apply((out) => out.trim()));

        // ignoreChanges: a changed key or endpoint must not re-run creation (it would mint new keys).
        const automation = new command.local.Command(
            `${name}-automation-account`,
            {
                create: automationAccountScript(s.initialServiceAccount.role),
                environment: omnictlEnvironment({ omniEndpoint: apiUrl, serviceAccountKey: initialKey }),
                logging: "stderr",
            },
            { ...once, ignoreChanges: ["environment"] },
        );
        const createdKey = pulumi.secret(automation.stdout.apply(serviceAccountKeyFromOutput));
        // Bumping automationKeyRotation replaces this command, which renews the key with the one in use.
        const automationKey =
            s.automationKeyRotation === 0
                ? createdKey
                : pulumi.secret(
                      new command.local.Command(
                          `${name}-automation-key-renewal`,
                          {
                              create: automationKeyRenewalScript(),
                              environment: omnictlEnvironment({
                                  omniEndpoint: apiUrl,
                                  serviceAccountKey: currentAutomationKey ?? createdKey,
                              }),
                              triggers: [s.automationKeyRotation],
                              logging: "stderr",
                          },
                          { ...once, ignoreChanges: ["environment"] },
                      ).stdout.apply(serviceAccountKeyFromOutput),
                  );

        const providerKeys = s.infraProviders.map((id) => {
            const register = new command.local.Command(
                `${name}-infra-provider-${id}`,
                {
                    create: infraProviderKeyScript(id),
                    environment: omnictlEnvironment({ omniEndpoint: apiUrl, serviceAccountKey: automationKey }),
                    // Bumping infraProviderKeyRotation replaces this command, which renews the key.
                    triggers: [s.infraProviderKeyRotation],
                    logging: "stderr",
                },
                { ...once, ignoreChanges: ["environment"] },
            );
            return [id, register.stdout.apply(serviceAccountKeyFromOutput)] as const;
        });
        const infraProviderKeys = pulumi.secret(pulumi.all(Object.fromEntries(providerKeys)));
        return { automationKey, infraProviderKeys };
    }
}

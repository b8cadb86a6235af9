import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import {
    HubBackupSettingsInput,
    HubBackupSettingsSchema,
    OMNI_ETCD_ENDPOINT,
    RESTORE_RECORD,
    durationSeconds,
    etcdToolsProblem,
    hubBackupBuildScript,
    hubContainerNames,
    hubBackupDockerfile,
    hubBackupHealthcheck,
    hubBackupImageTag,
    hubBackupScript,
    s3BaseUrl,
    s3CurlConfig,
} from "./backup-render";
import { HUB_BACKUP_LABELS, HUB_BACKUP_ROLE, hubBackupPaths } from "./backup-rules";
import { OmniEtcdKey } from "./etcd-key";
import { omniContainerPaths } from "./omni-flags";
import { parseDockerHost } from "../core/addresses";
import { STATE_ROLE_LABEL } from "../core/state-volumes";
import { argsKey, ConfigError, ConfigIssue, KeyedArgs, parseOrThrow } from "../core/validation";

/**
 * What a hub backup needs of the Omni it backs up. OmniHub exposes it as `backupTarget`, so a backup can be added
 * beside a hub built without `settings.backup`: `new HubBackup("b", { ...hub.backupTarget, settings: { targetDir } })`.
 */
export interface HubBackupTarget {
    omniVersion: string;
    /** Omni's container name (accountName); the backup container is `<it>-backup`. */
    omniContainerName: string;
    dockerHost: string;
    dockerProvider: docker.Provider;
    /** The Tailscale sidecar owning the network namespace Omni (and its embedded etcd) lives in. */
    sidecarId: pulumi.Input<string>;
    /** Omni's data volume (etcd directory and SQLite database), mounted read-only. */
    dataVolumeName: pulumi.Input<string>;
    /** Fingerprint of the etcd GPG key: every set needs that key to be restored. */
    etcdKeyFingerprint: pulumi.Input<string>;
    /** The etcd key's public part (armored): every set is encrypted to it. Without it (older callers) sets are plain. */
    etcdPublicKey?: pulumi.Input<string>;
    /** Omni's `--account-id`, recorded in every set (a restore refuses an Omni with another one). */
    accountId?: pulumi.Input<string>;
    /**
     * The armored secret key that signs every set (a restore verifies it): generated once and kept in the state when
     * absent. Never the etcd key: the backup container holds this one.
     */
    signingKey?: pulumi.Input<string>;
    /** The Omni container: the backup container starts after it (children do not inherit a component's dependsOn). */
    omniContainer?: pulumi.Resource;
}

export interface HubBackupArgs extends HubBackupTarget, KeyedArgs {
    /** The backup settings as written (defaults may be left out); validated here, errors named `<name>.settings.…`. */
    settings: HubBackupSettingsInput;
    /** Secrets, required with `settings.s3`. */
    s3AccessKeyId?: pulumi.Input<string>;
    s3SecretAccessKey?: pulumi.Input<string>;
}

/** Why the S3 credentials given do not fit the settings (both with `setting`, none without it), or undefined. */
export function s3CredentialsProblem(s3: boolean, given: unknown[], setting: string): string | undefined {
    const count = given.filter((v) => v !== undefined).length;
    if (s3 && count < given.length) return `${setting} is set: pass both (as secrets)`;
    if (!s3 && count > 0) return `are set but ${setting} is not: configure ${setting} or remove them`;
    return undefined;
}

/** What the stack exports about the hub backup. */
export interface HubBackupSummary {
    container: string;
    /** The network namespace it joins: the sidecar's, where Omni's embedded etcd listens. */
    networkMode: string;
    image: string;
    schedule: string;
    keep: number;
    target: string;
    s3?: string;
    keyFingerprint: string;
    /** The key every set is signed with: a restore takes only sets it signed (or, with --allow-plain, any). */
    signingKeyFingerprint: string;
    paused: boolean;
    restore: string;
    note: string;
}

/**
 * Scheduled backups of the Omni hub itself (not of the managed clusters: that is `etcdBackup`): a container in
 * Omni's network namespace snapshots the embedded etcd and copies the SQLite database into a host directory,
 * optionally uploads each set to S3, and is unhealthy when the last success is older than twice the interval.
 */
export class HubBackup extends pulumi.ComponentResource {
    public readonly summary: pulumi.Output<HubBackupSummary>;

    constructor(name: string, args: HubBackupArgs, opts?: pulumi.ComponentResourceOptions) {
        const key = argsKey(name, args);
        const s = parseOrThrow(HubBackupSettingsSchema, args.settings, key);
        const issues: ConfigIssue[] = [];
        const toolsProblem = etcdToolsProblem(args.omniVersion, s.etcdImage);
        if (toolsProblem) issues.push({ key: `${key}.etcdImage`, value: s.etcdImage, message: toolsProblem });
        const credentials = s3CredentialsProblem(
            s.s3 !== undefined,
            [args.s3AccessKeyId, args.s3SecretAccessKey],
            `${key}.s3`,
        );
        if (credentials) issues.push({ key: "s3AccessKeyId/s3SecretAccessKey", message: credentials });
        if (issues.length) throw new ConfigError(issues);
        super("omni-scale:omni:HubBackup", name, {}, opts);

        const dockerHost = parseDockerHost(args.dockerHost);
        // Unreachable for validated settings; narrows the type.
        if (typeof dockerHost === "string") throw new Error(dockerHost);
        const onDocker = { parent: this, provider: args.dockerProvider };

        // Pulled first, so the build uses exactly these pins; kept when replaced, so going back needs no pull.
        const etcdImage = new docker.RemoteImage(
            `${name}-etcd-image`,
            { name: s.etcdImage, keepLocally: true },
            onDocker,
        );
        const baseImage = new docker.RemoteImage(
            `${name}-base-image`,
            { name: s.baseImage, keepLocally: true },
            onDocker,
        );
        const dockerfile = hubBackupDockerfile(s);
        const tag = hubBackupImageTag(dockerfile, s.etcdImage);
        const buildScript = hubBackupBuildScript(dockerfile, tag);
        const buildOpts = { parent: this, dependsOn: [etcdImage, baseImage] };
        // The host's docker CLI builds it (as the bootstrap reads Omni's key there); a new Dockerfile is a new tag.
        const build =
            dockerHost.scheme === "ssh"
                ? new command.remote.Command(
                      `${name}-image`,
                      {
                          connection: { host: dockerHost.host!, user: dockerHost.user, port: dockerHost.port },
                          create: buildScript,
                          triggers: [tag],
                          logging: "stderr",
                      },
                      buildOpts,
                  )
                : new command.local.Command(
                      `${name}-image`,
                      {
                          create: buildScript,
                          environment: { DOCKER_HOST: args.dockerHost },
                          triggers: [tag],
                          logging: "stderr",
                      },
                      buildOpts,
                  );

        const intervalSeconds = durationSeconds(s.interval);
        const fingerprint = pulumi.output(args.etcdKeyFingerprint);
        // The backup's own key: it proves a set comes from this stack, and the container may hold it (not the etcd key).
        const signing = new OmniEtcdKey(
            `${name}-signing-key`,
            { armoredPrivateKey: args.signingKey, name: "omni-scale hub backup signing" },
            { parent: this },
        );
        const script = pulumi
            .all([fingerprint, args.accountId, signing.fingerprint])
            .apply(([fpr, accountId, signer]) =>
                hubBackupScript({
                    etcdEndpoint: OMNI_ETCD_ENDPOINT,
                    sqlitePath: omniContainerPaths.sqlite,
                    targetDir: hubBackupPaths.target,
                    intervalSeconds,
                    keep: s.keep,
                    keyFingerprint: fpr,
                    publicKeyFile: args.etcdPublicKey === undefined ? undefined : hubBackupPaths.publicKey,
                    signingKeyFile: hubBackupPaths.signingKey,
                    signingFingerprint: signer,
                    accountId,
                    restoreRecord: `${omniContainerPaths.data}/${RESTORE_RECORD}`,
                    paused: s.paused,
                    s3: s.s3 && {
                        url: s3BaseUrl(s.s3),
                        region: s.s3.region,
                        credentialsFile: hubBackupPaths.s3Credentials,
                    },
                }),
            );
        const uploads: pulumi.Input<docker.types.input.ContainerUpload>[] = [
            { file: hubBackupPaths.script, content: script, permissions: "0555" },
            { file: hubBackupPaths.signingKey, content: signing.armoredPrivateKey, permissions: "0400" },
            { file: hubBackupPaths.signingPublicKey, content: signing.armoredPublicKey, permissions: "0444" },
        ];
        if (args.etcdPublicKey !== undefined)
            uploads.push({ file: hubBackupPaths.publicKey, content: args.etcdPublicKey, permissions: "0444" });
        if (s.s3) {
            const curlrc = pulumi
                .all([args.s3AccessKeyId!, args.s3SecretAccessKey!])
                .apply(([id, secret]) => s3CurlConfig(id, secret));
            uploads.push({ file: hubBackupPaths.s3Credentials, content: pulumi.secret(curlrc), permissions: "0400" });
        }
        const labels = [
            { label: STATE_ROLE_LABEL, value: HUB_BACKUP_ROLE },
            { label: HUB_BACKUP_LABELS.fingerprint, value: fingerprint },
            { label: HUB_BACKUP_LABELS.signingFingerprint, value: signing.fingerprint },
            ...(s.s3
                ? [{ label: HUB_BACKUP_LABELS.s3, value: `s3://${s.s3.bucket}/${s.s3.prefix} at ${s.s3.endpoint}` }]
                : []),
        ];

        const container = new docker.Container(
            `${name}-container`,
            {
                name: hubContainerNames(args.omniContainerName).backup,
                image: tag,
                // By id, like Omni: a replaced sidecar replaces this container too, or it keeps a dead namespace.
                networkMode: pulumi.interpolate`container:${args.sidecarId}`,
                volumes: [
                    // Read-only: the backup can never damage Omni's data (SQLite then reads the WAL without writing its index).
                    { volumeName: args.dataVolumeName, containerPath: omniContainerPaths.data, readOnly: true },
                    { hostPath: s.targetDir, containerPath: hubBackupPaths.target },
                ],
                uploads,
                command: [hubBackupPaths.script, "run"],
                labels,
                healthcheck: hubBackupHealthcheck(intervalSeconds),
                restart: "unless-stopped",
            },
            {
                ...onDocker,
                dependsOn: [build, ...(args.omniContainer ? [args.omniContainer] : [])],
                deleteBeforeReplace: true,
            },
        );

        this.summary = pulumi
            .all([container.name, container.networkMode, fingerprint, signing.fingerprint])
            .apply(([c, networkMode, fpr, signer]) => ({
                container: c,
                networkMode: `${networkMode} (Omni's; etcd at ${OMNI_ETCD_ENDPOINT})`,
                image: tag,
                schedule: s.paused
                    ? "paused (hub.backup.paused): no sets are taken until it is false again"
                    : `every ${s.interval}; unhealthy when the last success is older than ${2 * intervalSeconds}s, or a set is kept for a drop in etcd revision or size`,
                keep: s.keep,
                target: s.targetDir,
                ...(s.s3 ? { s3: `s3://${s.s3.bucket}/${s.s3.prefix} at ${s.s3.endpoint}` } : {}),
                keyFingerprint: fpr,
                signingKeyFingerprint: signer,
                paused: s.paused,
                restore:
                    "npm run restore -- --stack <stack> --set latest (add --yes to restore; see docs/OPERATIONS.md)",
                note:
                    args.etcdPublicKey === undefined
                        ? `sets are NOT encrypted (no etcdPublicKey given): Omni encrypts only etcd values with the etcd key ${fpr}; etcd keys and the SQLite database are plain`
                        : `every set is encrypted with gpg to the etcd key ${fpr} (Omni itself encrypts only etcd values; etcd keys and the SQLite database are plain): ` +
                          `restoring a set needs that secret key; keep it apart from the backups. Every set is signed with ${signer}: the restore takes no other`,
            }));
        this.registerOutputs({ summary: this.summary });
    }
}

import type { ContainerArgs } from "@pulumi/docker/container";
import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import {
    HUB_BACKUP_LABELS,
    HUB_BACKUP_ROLE,
    backupTargetProblem,
    hubBackupPaths,
} from "../components/hub/backup-rules";
import { imagePinProblem } from "../components/core/images";
import { omniContainerPaths } from "../components/hub/omni-flags";
import { STATE_ROLE_LABEL } from "../components/core/state-volumes";
import { known } from "./props";
import { command, docker } from "./providers";

/** The hub's own backup (components/hub/backup.ts): its image, its target and its S3 credentials. */

type Container = ContainerArgs & Record<string, any>;

function labelsOf(container: Container): Map<string, string | undefined> {
    const labels = (known(() => container.labels) ?? []) as { label: string; value?: string }[];
    return new Map(labels.map((l) => [l.label, known(() => l.value)]));
}

const isHubBackup = (container: Container) => labelsOf(container).get(STATE_ROLE_LABEL) === HUB_BACKUP_ROLE;

/** The images a `docker build` script starts FROM (stage names excluded). */
export function dockerfileBaseImages(script: string): string[] {
    if (!/\bdocker\s+(?:image\s+)?build\b/.test(script)) return [];
    const stages = new Set<string>();
    const images: string[] = [];
    for (const m of script.matchAll(/^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/gim)) {
        if (!stages.has(m[1].toLowerCase())) images.push(m[1]);
        if (m[2]) stages.add(m[2].toLowerCase());
    }
    return images;
}

function buildBasesPinned(script: unknown, report: (message: string) => void): void {
    if (typeof script !== "string") return;
    for (const image of dockerfileBaseImages(script)) {
        const problem = imagePinProblem(image);
        if (problem) report(`docker build FROM ${image}: ${problem}`);
    }
}

export const hubBackupImagePinned: ResourceValidationPolicy = {
    name: "hub-backup-image-pinned",
    description:
        "The hub backup runs a pinned image, built on the Docker host FROM pinned images: its etcdutl must stay the embedded etcd's minor version.",
    severity: "high",
    remediationSteps:
        "Pin hub.backup.etcdImage (e.g. gcr.io/etcd-development/etcd:v3.7.1, the etcd of Omni v1.10.4) and hub.backup.baseImage (e.g. alpine:3.23.0) to version tags or digests.",
    validateResource: [
        validateResourceOfType(docker.Container, (container, _args, report) => {
            if (!isHubBackup(container)) return;
            const image = known(() => container.image);
            const problem = image && imagePinProblem(image);
            if (problem) report(`the hub backup container: ${problem}`);
        }),
        validateResourceOfType(command.local.Command, (cmd, _args, report) =>
            buildBasesPinned(
                known(() => cmd.create),
                report,
            ),
        ),
        validateResourceOfType(command.remote.Command, (cmd, _args, report) =>
            buildBasesPinned(
                known(() => cmd.create),
                report,
            ),
        ),
    ],
};

export const hubBackupTargetOutsideData: ResourceValidationPolicy = {
    name: "hub-backup-target-outside-data",
    description:
        "The hub backup writes outside the Omni data volume and Docker's data root: a backup on the disk it protects is lost with it.",
    severity: "high",
    remediationSteps:
        "Set hub.backup.targetDir to another disk or a NAS mount on the Docker host, e.g. /mnt/nas/omni-hub-backups.",
    validateResource: validateResourceOfType(docker.Container, (container, _args, report) => {
        if (!isHubBackup(container)) return;
        const volumes = (known(() => container.volumes) ?? []) as {
            hostPath?: string;
            volumeName?: string;
            containerPath?: string;
        }[];
        const dataVolume = volumes.find((v) => known(() => v.containerPath) === omniContainerPaths.data);
        const target = volumes.find((v) => known(() => v.containerPath) === hubBackupPaths.target);
        const hostPath = target && known(() => target.hostPath);
        if (!target) {
            report(
                `the hub backup container mounts nothing at ${hubBackupPaths.target}: its sets would stay inside the container and die with it`,
            );
            return;
        }
        if (!hostPath) {
            report(
                `${hubBackupPaths.target} is a Docker volume, which lives in Docker's data root beside the Omni data: mount a host directory on another disk`,
            );
            return;
        }
        const problem = backupTargetProblem(hostPath, dataVolume && known(() => dataVolume.volumeName));
        if (problem) report(problem);
    }),
};

// What S3 clients read credentials from; CrossGuard cannot tell whether an input is secret (pulumi/pulumi-policy#241).
const CREDENTIAL_ENV =
    /^(AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|S3_ACCESS_KEY(_ID)?|S3_SECRET(_ACCESS)?_KEY|MC_HOST_\w+|RCLONE_CONFIG_\w+_SECRET_ACCESS_KEY)=/;

export const hubBackupS3CredentialsSecret: ResourceValidationPolicy = {
    name: "hub-backup-s3-credentials-secret",
    description:
        "The hub backup's S3 credentials reach it only as a file readable by its owner alone: never in environment variables, the command line or labels, which `docker inspect` shows to anyone with Docker access.",
    severity: "high",
    remediationSteps:
        "Set the credentials with `pulumi config set --secret hubBackupS3AccessKeyId …` and `… hubBackupS3SecretAccessKey …`; the component uploads them (mode 0400) and curl reads them from that file.",
    validateResource: validateResourceOfType(docker.Container, (container, _args, report) => {
        if (!isHubBackup(container)) return;
        const envs = ((known(() => container.envs) ?? []) as string[]).map((e) => known(() => e) ?? "");
        for (const env of envs.filter((e) => CREDENTIAL_ENV.test(e)))
            report(`environment variable ${env.split("=")[0]} carries S3 credentials in plain sight`);
        const command = ((known(() => container.command) ?? []) as string[]).map((c) => known(() => c) ?? "");
        if (command.some((c) => /aws_secret_access_key|--user[= ]\S+:\S+|secret[_-]?key[= ]\S/i.test(c)))
            report("the command line carries S3 credentials in plain sight");
        if (!labelsOf(container).has(HUB_BACKUP_LABELS.s3)) return;
        const uploads = (known(() => container.uploads) ?? []) as { file: string; permissions?: string }[];
        const credentials = uploads.find((u) => known(() => u.file) === hubBackupPaths.s3Credentials);
        if (!credentials) {
            report(`S3 upload is on but no credentials file is uploaded at ${hubBackupPaths.s3Credentials}`);
            return;
        }
        const mode = known(() => credentials.permissions);
        if (!mode || !/^0?[0-7]00$/.test(mode))
            report(
                `${hubBackupPaths.s3Credentials} has mode ${mode ?? "default (world-readable)"}; upload it with 0400`,
            );
    }),
};

export const hubBackupEncrypted: ResourceValidationPolicy = {
    name: "hub-backup-encrypted",
    description:
        "The hub backup encrypts every set to the etcd key's public part before it leaves the host (Omni encrypts only etcd values, while etcd keys and the SQLite database are plain) and signs it with a key of its own, so that a restore can tell its sets from planted ones. The backup container holds the etcd key's public part only.",
    severity: "high",
    remediationSteps:
        "Give HubBackup the etcd key's public part (etcdPublicKey; OmniHub passes OmniEtcdKey.armoredPublicKey), never the etcd secret key; HubBackup uploads its own signing key.",
    validateResource: validateResourceOfType(docker.Container, (container, _args, report) => {
        if (!isHubBackup(container)) return;
        const uploads = (known(() => container.uploads) ?? []) as { file: string; content?: string }[];
        const file = (path: string) => uploads.find((u) => known(() => u.file) === path);
        if (!file(hubBackupPaths.publicKey)) {
            report(
                `no public key is uploaded at ${hubBackupPaths.publicKey}: the sets would leave the host with the SQLite database and etcd keys in plain text`,
            );
        }
        if (!file(hubBackupPaths.signingKey)) {
            report(
                `no signing key is uploaded at ${hubBackupPaths.signingKey}: unsigned sets cannot be told from sets planted in the target, and the restore refuses them`,
            );
        }
        for (const u of uploads)
            if (
                known(() => u.file) !== hubBackupPaths.signingKey &&
                /PRIVATE KEY BLOCK/.test(known(() => u.content) ?? "")
            )
                report(`${known(() => u.file)} holds an OpenPGP SECRET key: upload only the etcd key's public part`);
        const labels = labelsOf(container);
        const etcdKey = labels.get(HUB_BACKUP_LABELS.fingerprint);
        if (etcdKey && etcdKey === labels.get(HUB_BACKUP_LABELS.signingFingerprint))
            report(
                `the signing key is the etcd key ${etcdKey}: the backup container would hold the key that decrypts Omni's data`,
            );
    }),
};

export const hubBackupPolicies = [
    hubBackupImagePinned,
    hubBackupTargetOutsideData,
    hubBackupS3CredentialsSecret,
    hubBackupEncrypted,
];

import * as path from "node:path";

// The hub backup container's paths and labels and the rule for its target: what the policy pack checks, kept apart
// from backup-render.ts (the settings schema and the scripts), which a pack process need not load.

/** Paths inside the backup container. Omni's data volume is mounted where Omni mounts it, read-only. */
export const hubBackupPaths = {
    target: "/backup",
    script: "/usr/local/bin/omni-hub-backup",
    s3Credentials: "/etc/omni-hub-backup/s3.curlrc",
    /** The etcd key's public part: every set is encrypted to it. */
    publicKey: "/etc/omni-hub-backup/etcd-public.asc",
    /** The backup's own signing key (secret, 0400) and its public part (what the restore verifies sets with). */
    signingKey: "/etc/omni-hub-backup/signing-key.asc",
    signingPublicKey: "/etc/omni-hub-backup/signing-public.asc",
    /** Container-local (never the target): the run lock and each run's plain copies, removed by the next run if a run was killed. */
    local: "/tmp/omni-hub-backup",
} as const;

/** Labels of the backup container: what the policy pack and the restore command read. */
export const HUB_BACKUP_LABELS = {
    fingerprint: "omni-scale.hub-backup.etcd-key-fingerprint",
    signingFingerprint: "omni-scale.hub-backup.signing-key-fingerprint",
    s3: "omni-scale.hub-backup.s3",
} as const;
export const HUB_BACKUP_ROLE = "hub-backup";

/**
 * Why a backup target on the Docker host would not survive what it is meant to survive, or undefined.
 * Docker keeps named volumes (Omni's data among them) under its data root, /var/lib/docker by default.
 */
export function backupTargetProblem(targetDir: string, dataVolumeName?: string): string | undefined {
    const dir = path.posix.normalize(targetDir).replace(/\/+$/, "") || "/";
    const inside = (root: string) => dir === root || dir.startsWith(`${root}/`);
    if (dataVolumeName && inside(`/var/lib/docker/volumes/${dataVolumeName}`)) {
        return `"${targetDir}" is inside the Omni data volume ${dataVolumeName}: a backup there is lost with the data it protects; use another disk or a NAS mount, e.g. /mnt/nas/omni-hub-backups`;
    }
    if (inside("/var/lib/docker")) {
        return `"${targetDir}" is inside Docker's data root, where the Omni data volume lives: a backup there is lost with it; use another disk or a NAS mount, e.g. /mnt/nas/omni-hub-backups`;
    }
    if (dir === "/")
        return `"${targetDir}" is the root directory; use a dedicated directory on another disk or a NAS mount`;
    if (/['"\\\n]/.test(dir)) return `"${targetDir}" contains quotes, backslashes or newlines; use a plain path`;
    return undefined;
}

import { createHash } from "node:crypto";
import * as path from "node:path";
import * as semver from "semver";
import { z } from "zod";
import { parseImageRef, PinnedImageSchema, tagVersion } from "../core/images";
import { shellQuote as shQuote } from "../core/shell";
import { absoluteHostPath, goDuration, parseGoDuration, refineWith } from "../core/validation";

/**
 * Backups of the Omni hub ITSELF: its embedded etcd (a snapshot over the client endpoint) and its SQLite
 * database (`VACUUM INTO`, one read transaction), taken on a schedule by a container in Omni's network namespace,
 * each set encrypted with gpg to the etcd key's public part before it is written to the target or S3.
 * Not to be confused with the hub setting `etcdBackup`, which is Omni's own backup of the *managed clusters'* etcd.
 * Everything here is pure: the component (hub-backup.ts), the restore command and the drill tests use the same
 * rendered scripts.
 */

/**
 * The embedded etcd's client endpoint: Omni's `--etcd-endpoints` default, which it also uses as the embedded
 * server's listen URLs (siderolabs/omni v1.10.4 internal/backend/runtime/omni/state_etcd.go; default in
 * internal/pkg/config/schema.json). It is reachable only inside Omni's network namespace.
 */
export const OMNI_ETCD_ENDPOINT = "http://localhost:2379";

/** Omni release → the etcd its embedded server is built from (siderolabs/omni go.mod, go.etcd.io/etcd/server/v3). */
export const EMBEDDED_ETCD: Readonly<Record<string, string>> = { "v1.10.4": "v3.7.1" };

/**
 * The tools image: the official etcd release image is distroless (etcd-io/etcd v3.7.1 Dockerfile: no shell), so the
 * backup image is built from it and a small pinned Alpine (sh, sqlite3, curl, gnupg); see hubBackupDockerfile.
 */
export const HUB_BACKUP_IMAGES = {
    etcd: "gcr.io/etcd-development/etcd:v3.7.1",
    base: "alpine:3.23.0",
} as const;

/** Paths inside the backup container. Omni's data volume is mounted where Omni mounts it, read-only. */
export const hubBackupPaths = {
    target: "/backup",
    script: "/usr/local/bin/omni-hub-backup",
    s3Credentials: "/etc/omni-hub-backup/s3.curlrc",
    /** The etcd key's public part: every set is encrypted to it. */
    publicKey: "/etc/omni-hub-backup/etcd-public.asc",
} as const;

/** Labels of the backup container: what the policy pack and the restore command read. */
export const HUB_BACKUP_LABELS = {
    fingerprint: "omni-scale.hub-backup.etcd-key-fingerprint",
    s3: "omni-scale.hub-backup.s3",
} as const;
export const HUB_BACKUP_ROLE = "hub-backup";

/**
 * Names of the files of one backup set (a directory `omni-hub-<UTC timestamp>`): the etcd snapshot and the SQLite
 * copy, each encrypted (`<name>.gpg`), the manifest and the checksums (both plain: sizes, revision, fingerprints,
 * account id; nothing Omni keeps secret). Sets taken before encryption (or by a HubBackup given no public key) hold
 * the plain files; restore reads both.
 */
export const BACKUP_SET_PREFIX = "omni-hub-";
export const BACKUP_FILES = {
    etcd: "etcd.snapshot",
    sqlite: "omni.db",
    manifest: "manifest",
    sums: "SHA256SUMS",
} as const;
export const ENCRYPTED_SUFFIX = ".gpg";
/** The files of a set as OmniHub's backup writes them (encrypted). */
export const BACKUP_SET_FILES = [
    `${BACKUP_FILES.etcd}${ENCRYPTED_SUFFIX}`,
    `${BACKUP_FILES.sqlite}${ENCRYPTED_SUFFIX}`,
    BACKUP_FILES.manifest,
    BACKUP_FILES.sums,
] as const;

/** Seconds of a Go duration, or NaN. */
export function durationSeconds(value: string): number {
    const ms = parseGoDuration(value);
    return ms === undefined ? NaN : ms / 1000;
}

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

/** Why the etcd tools image cannot read and restore this Omni's snapshots, or undefined (also when the Omni version is not in EMBEDDED_ETCD). */
export function etcdToolsProblem(omniVersion: string, etcdImage: string): string | undefined {
    const embedded = EMBEDDED_ETCD[omniVersion];
    const tools = tagVersion(etcdImage);
    if (!embedded || !tools) return undefined;
    if (semver.major(tools) === semver.major(embedded) && semver.minor(tools) === semver.minor(embedded))
        return undefined;
    return `Omni ${omniVersion} embeds etcd ${embedded}, but the image has etcd v${tools}: use the same minor version, e.g. gcr.io/etcd-development/etcd:${embedded}`;
}

export const HubBackupSettingsSchema = z.strictObject({
    interval: goDuration()
        .default("6h")
        .refine(
            (v) => durationSeconds(v) >= 60 && Number.isInteger(durationSeconds(v)),
            "must be whole seconds and at least 1m, e.g. 6h",
        )
        .describe(
            "How often a set is taken (a Go duration); the container turns unhealthy when the last success is older than twice this",
        ),
    keep: z
        .number()
        .int()
        .min(1, "keep at least one set")
        .default(28)
        .describe("How many sets stay in targetDir (S3 keeps what its lifecycle rules keep)"),
    targetDir: absoluteHostPath("/mnt/nas/omni-hub-backups")
        .superRefine(refineWith((dir) => backupTargetProblem(dir)))
        .describe(
            "A directory on the Docker host, ideally another disk or a NAS mount; never inside Docker's data root",
        ),
    /** Upload each set to S3-compatible storage (path-style URLs); credentials are the secrets hubBackupS3AccessKeyId / hubBackupS3SecretAccessKey. */
    s3: z
        .strictObject({
            bucket: z
                .string()
                .regex(
                    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
                    "must be an S3 bucket name: 3-63 lowercase letters, digits, dots and dashes",
                ),
            prefix: z
                .string()
                .regex(
                    /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/,
                    "must be a key prefix without leading or trailing slash, e.g. omni/quantum",
                )
                .default("omni-hub"),
            endpoint: z
                .url({
                    protocol: /^https$/,
                    error: "must be the https URL of the S3 API without a path, e.g. https://s3.eu-central-1.amazonaws.com",
                })
                .refine(
                    (u) => new URL(u).pathname === "/" && !new URL(u).search,
                    "must have no path or query; the bucket is added to it",
                )
                // It is shown in a Docker label and a stack output: credentials belong in the secret keys.
                .refine(
                    (u) => !new URL(u).username && !new URL(u).password && !u.includes("#"),
                    "must have no user:password@ or #fragment: the keys are the secrets hubBackupS3AccessKeyId and hubBackupS3SecretAccessKey",
                ),
            region: z
                .string()
                .regex(/^[a-z0-9-]+$/, "must be a region name such as us-east-1 (what the SigV4 signature uses)")
                .default("us-east-1"),
        })
        .optional()
        .describe(
            "Upload each set to S3-compatible storage: bucket, prefix, endpoint (https, no path), region; the keys are the secrets hubBackupS3AccessKeyId and hubBackupS3SecretAccessKey",
        ),
    etcdImage: PinnedImageSchema.default(HUB_BACKUP_IMAGES.etcd).describe(
        "Where etcdctl and etcdutl come from: the embedded etcd's minor version, pinned",
    ),
    baseImage: PinnedImageSchema.default(HUB_BACKUP_IMAGES.base).describe(
        "The backup image's base (sh, sqlite3, curl and gnupg from apk), pinned",
    ),
});
export type HubBackupSettings = z.output<typeof HubBackupSettingsSchema>;
/** What a user writes for the hub backup (defaults may be left out). */
export type HubBackupSettingsInput = z.input<typeof HubBackupSettingsSchema>;

/**
 * The backup image: sh, sqlite3, curl and gnupg from the pinned base; etcdctl and etcdutl copied from the pinned etcd
 * release image (static binaries). Built on the Docker host, so nothing is installed when the container runs.
 */
export function hubBackupDockerfile(images: { etcdImage: string; baseImage: string }): string {
    return [
        `FROM ${images.etcdImage} AS etcd`,
        `FROM ${images.baseImage}`,
        "RUN apk add --no-cache sqlite curl gnupg",
        "COPY --from=etcd /usr/local/bin/etcdctl /usr/local/bin/etcdutl /usr/local/bin/",
        "",
    ].join("\n");
}

/** A local tag that changes whenever the Dockerfile does (so a new pin means a new image and a new container). */
export function hubBackupImageTag(dockerfile: string, etcdImage: string): string {
    const hash = createHash("sha256").update(dockerfile).digest("hex").slice(0, 12);
    return `omni-scale/hub-backup:etcd-${parseImageRef(etcdImage).tag ?? "digest"}-${hash}`;
}

/** Builds the image on the Docker host with its own docker CLI, the Dockerfile on stdin (no build context). */
export function hubBackupBuildScript(dockerfile: string, tag: string): string {
    return [
        `docker build --tag ${shQuote(tag)} - <<'OMNI_HUB_BACKUP_DOCKERFILE'`,
        dockerfile.trimEnd(),
        "OMNI_HUB_BACKUP_DOCKERFILE",
    ].join("\n");
}

/** The curl config holding the S3 credentials (read with `curl --config`, so they never appear in a process list). */
export function s3CurlConfig(accessKeyId: string, secretAccessKey: string): string {
    const quote = (v: string) => `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
    if (/[:\n]/.test(accessKeyId) || /\n/.test(secretAccessKey))
        throw new Error("S3 credentials must not contain newlines, and the access key id no colon");
    return `user = ${quote(`${accessKeyId}:${secretAccessKey}`)}\n`;
}

/** The S3 URL a set's files go under: path-style `<endpoint>/<bucket>/<prefix>`. */
export function s3BaseUrl(s3: NonNullable<HubBackupSettings["s3"]>): string {
    return `${s3.endpoint.replace(/\/+$/, "")}/${s3.bucket}/${s3.prefix}`;
}

/** Shell function for the offline snapshot commands: etcdutl since etcd 3.5; older etcdctl (e.g. Debian 12's 3.4) still has them. */
const ETCD_OFFLINE = `etcd_offline() {
  if command -v etcdutl >/dev/null 2>&1; then etcdutl "$@"; else etcdctl "$@"; fi
}`;

/**
 * Shell function listing the complete sets under a directory, oldest first, by the manifest's `sequence` (one more
 * than the highest before it, so a clock that jumps back cannot reorder them) and then its `epoch` (sets taken
 * before sequences were recorded count as 0). Never by the timestamp in the name: after the clock jumped back (or
 * was ahead before NTP fixed it), names sort the newest set first, retention would prune it and `latest` would
 * pick a stale one.
 */
const SETS_IN_ORDER = `sets_in_order() {
  for m in "$1"/"$PREFIX"*/${BACKUP_FILES.manifest}; do
    [ -f "$m" ] || continue
    d=\${m%/*}; seq=$(sed -n 's/^sequence=//p' "$m"); epoch=$(sed -n 's/^epoch=//p' "$m")
    echo "\${seq:-0} \${epoch:-0} \${d##*/}"
  done | sort -k1,1n -k2,2n | cut -d' ' -f3
}`;

export interface HubBackupScriptParams {
    etcdEndpoint: string;
    /** Omni's SQLite database, opened read-only. */
    sqlitePath: string;
    /** Where sets, `last-success` and `last-failure` are written. */
    targetDir: string;
    intervalSeconds: number;
    keep: number;
    /** Fingerprint of the etcd GPG key: Omni encrypts etcd values with it and every set is encrypted to it. */
    keyFingerprint: string;
    /** The etcd key's public part (an armored file): what each set is encrypted to. Without it the set is plain. */
    publicKeyFile?: string;
    /** Omni's `--account-id`, recorded in every manifest (a restore into an Omni with another one is refused). */
    accountId?: string;
    s3?: { url: string; region: string; credentialsFile: string };
    /** Seconds to wait after a failed run (less than the interval, so a transient failure heals fast). */
    retrySeconds?: number;
    /** Seconds one step (etcd snapshot, SQLite copy, encryption, one upload) may take before it is killed. */
    stepTimeoutSeconds?: number;
}

/** The default bound of one backup step: a quarter of the interval, between 1 and 30 minutes. */
export function backupStepTimeout(intervalSeconds: number): number {
    return Math.max(60, Math.min(1800, Math.floor(intervalSeconds / 4)));
}

/**
 * The backup script: `run` (forever: a set, then sleep the interval; after a failure, the retry delay), `once`,
 * and `health` (fails when the last success is older than twice the interval). POSIX sh for busybox and dash.
 * Every run writes `last-success` or `last-failure` in the target and one `omni-hub-backup:` line to the log.
 *
 * What Omni encrypts is only the etcd *values* (with the etcd GPG key); etcd keys (resource ids, cluster and machine
 * names) and the whole SQLite database (machine logs, audit log, discovery state) are plain. So the script encrypts
 * each file with gpg to the etcd key's public part before anything reaches the target directory or S3, staging the
 * plain copies in the container's own temporary directory. That key, rather than a new one or S3 server-side
 * encryption: a restore needs it anyway, so it adds no key to keep safe; and it protects the NAS copy too, which
 * server-side encryption would not (the storage operator would still read the data).
 */
export function hubBackupScript(p: HubBackupScriptParams): string {
    const retry = p.retrySeconds ?? Math.min(300, p.intervalSeconds);
    const stepTimeout = p.stepTimeoutSeconds ?? backupStepTimeout(p.intervalSeconds);
    return `#!/bin/sh
# omni-hub-backup, rendered by omni-scale (components/hub/backup-render.ts): backs up the Omni hub's embedded
# etcd and SQLite database, ${p.publicKeyFile ? `each set encrypted with gpg to the etcd key ${p.keyFingerprint}` : `sets NOT encrypted (no public key given; Omni encrypts only etcd values, with ${p.keyFingerprint})`}
# (restoring one needs the etcd secret key).
set -u
ETCD_ENDPOINT=${shQuote(p.etcdEndpoint)}
SQLITE_DB=${shQuote(p.sqlitePath)}
TARGET=${shQuote(p.targetDir)}
INTERVAL=${p.intervalSeconds}
KEEP=${p.keep}
RETRY=${retry}
STEP_TIMEOUT=${stepTimeout}
KEY_FINGERPRINT=${shQuote(p.keyFingerprint)}
PUBLIC_KEY=${shQuote(p.publicKeyFile ?? "")}
ACCOUNT_ID=${shQuote(p.accountId ?? "")}
S3_URL=${shQuote(p.s3?.url ?? "")}
S3_REGION=${shQuote(p.s3?.region ?? "")}
S3_CREDENTIALS=${shQuote(p.s3?.credentialsFile ?? "")}
PREFIX=${shQuote(BACKUP_SET_PREFIX)}
WORK=

log() { echo "omni-hub-backup: $*"; }

${ETCD_OFFLINE}

${SETS_IN_ORDER}

# Every step that talks to something or copies data is bounded: a stuck step fails the run (and is retried)
# instead of silently stopping all backups until the health check notices.
bounded() { timeout "$STEP_TIMEOUT" "$@"; }

cleanup() { [ -z "$WORK" ] || rm -rf "$WORK"; WORK=; rm -rf "$TARGET"/.partial-*; }

failed() {
  step=$1
  cleanup
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  printf 'time=%s\\nepoch=%s\\nstep=%s\\n' "$now" "$(date +%s)" "$step" > "$TARGET/last-failure.tmp" && mv "$TARGET/last-failure.tmp" "$TARGET/last-failure"
  echo "omni-hub-backup: FAILED at $step ($now); the last good set is named in $TARGET/last-success" >&2
  return 1
}

upload() {
  bounded curl --fail --silent --show-error --config "$S3_CREDENTIALS" --aws-sigv4 "aws:amz:$S3_REGION:s3" \\
    --header 'x-amz-content-sha256: UNSIGNED-PAYLOAD' --upload-file "$1" "$S3_URL/$2"
}

encrypt() {
  bounded gpg --batch --quiet --no-tty --trust-model always --recipient "$KEY_FINGERPRINT" --output "$2" --encrypt "$1"
}

backup_once() {
  mkdir -p "$TARGET" || { failed "creating $TARGET"; return 1; }
  cleanup
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  while [ -e "$TARGET/$PREFIX$stamp" ]; do sleep 1; stamp=$(date -u +%Y%m%dT%H%M%SZ); done
  set_name="$PREFIX$stamp"
  stage="$TARGET/.partial-$set_name"
  mkdir "$stage" || { failed "creating $stage"; return 1; }
  # Plain copies stay in the container's own temporary directory; only encrypted files reach the target.
  WORK=$(mktemp -d) || { failed "creating a temporary directory"; return 1; }
  GNUPGHOME="$WORK/gnupg"; export GNUPGHOME
  if [ -n "$PUBLIC_KEY" ]; then
    mkdir -m 700 "$GNUPGHOME" && gpg --batch --quiet --no-tty --import "$PUBLIC_KEY" 2> "$WORK/gpg.log" ||
      { cat "$WORK/gpg.log" >&2; failed "importing the etcd public key $PUBLIC_KEY"; return 1; }
  fi

  # A consistent point-in-time copy over the client API (what Omni documents for its embedded etcd). The health
  # probe fails fast when Omni is down; the snapshot's own timeout must allow for a large database.
  if ! etcdctl --endpoints "$ETCD_ENDPOINT" --dial-timeout 5s --command-timeout 10s endpoint health > "$WORK/etcdctl.log" 2>&1 ||
    ! bounded etcdctl --endpoints "$ETCD_ENDPOINT" --dial-timeout 10s --command-timeout "\${STEP_TIMEOUT}s" snapshot save "$WORK/${BACKUP_FILES.etcd}" > "$WORK/etcdctl.log" 2>&1; then
    cat "$WORK/etcdctl.log" >&2; failed "etcd snapshot from $ETCD_ENDPOINT (limit \${STEP_TIMEOUT}s)"; return 1
  fi
  status=$(etcd_offline snapshot status --write-out json "$WORK/${BACKUP_FILES.etcd}" 2>/dev/null)
  revision=$(printf '%s' "$status" | sed -n 's/.*"revision":\\([0-9]*\\).*/\\1/p')
  [ -n "$revision" ] || { failed "verifying the etcd snapshot (snapshot status: $status)"; return 1; }

  # VACUUM INTO copies the database in one read transaction, so Omni's commits (one per machine log line) never
  # restart it, unlike the online backup API (.backup), which restarts on every commit by another connection.
  # Read-only: it never writes Omni's files.
  if ! bounded sqlite3 -bail -readonly -cmd '.timeout 60000' "$SQLITE_DB" "VACUUM INTO '$WORK/${BACKUP_FILES.sqlite}'"; then
    failed "SQLite copy (VACUUM INTO) of $SQLITE_DB (limit \${STEP_TIMEOUT}s)"; return 1
  fi
  # One self-contained file (no -wal beside it), checked before it counts.
  check=$(sqlite3 "$WORK/${BACKUP_FILES.sqlite}" 'PRAGMA journal_mode=DELETE; PRAGMA integrity_check;' | tail -n 1)
  [ "$check" = ok ] || { failed "SQLite integrity check of the copy ($check)"; return 1; }

  etcd_bytes=$(wc -c < "$WORK/${BACKUP_FILES.etcd}" | tr -d ' ')
  sqlite_bytes=$(wc -c < "$WORK/${BACKUP_FILES.sqlite}" | tr -d ' ')
  for f in ${BACKUP_FILES.etcd} ${BACKUP_FILES.sqlite}; do
    if [ -z "$PUBLIC_KEY" ]; then mv "$WORK/$f" "$stage/$f" || { failed "staging $f"; return 1; }
    else encrypt "$WORK/$f" "$stage/$f${ENCRYPTED_SUFFIX}" || { failed "encrypting $f to $KEY_FINGERPRINT"; return 1; }; fi
  done
  last=$(sed -n 's/^sequence=//p' "$TARGET"/"$PREFIX"*/${BACKUP_FILES.manifest} 2>/dev/null | sort -n | tail -n 1)
  {
    echo "set=$set_name"
    echo "sequence=$(( \${last:-0} + 1 ))"
    echo "time=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "epoch=$(date +%s)"
    echo "accountId=$ACCOUNT_ID"
    echo "etcdRevision=$revision"
    echo "etcdBytes=$etcd_bytes"
    echo "sqliteBytes=$sqlite_bytes"
    echo "keyFingerprint=$KEY_FINGERPRINT"
    [ -z "$PUBLIC_KEY" ] || echo "encryptedTo=$KEY_FINGERPRINT"
  } > "$stage/${BACKUP_FILES.manifest}"
  (cd "$stage" && sha256sum ${BACKUP_FILES.etcd}* ${BACKUP_FILES.sqlite}* ${BACKUP_FILES.manifest} > ${BACKUP_FILES.sums}) || { failed "checksums"; return 1; }
  mv "$stage" "$TARGET/$set_name" || { failed "publishing $set_name"; return 1; }
  rm -rf "$WORK"; WORK=

  s3=off
  if [ -n "$S3_URL" ]; then
    for f in $(cd "$TARGET/$set_name" && ls); do
      upload "$TARGET/$set_name/$f" "$set_name/$f" || { failed "S3 upload of $set_name/$f to $S3_URL (limit \${STEP_TIMEOUT}s; the set is kept in $TARGET)"; return 1; }
    done
    s3=uploaded
  fi

  # Retention: the oldest by the manifests' order go first (sets_in_order).
  excess=$(( $(sets_in_order "$TARGET" | wc -l) - KEEP ))
  if [ "$excess" -gt 0 ]; then
    sets_in_order "$TARGET" | head -n "$excess" | while read -r old; do rm -rf "\${TARGET:?}/$old"; done
  fi

  { cat "$TARGET/$set_name/${BACKUP_FILES.manifest}"; echo "s3=$s3"; } > "$TARGET/last-success.tmp" && mv "$TARGET/last-success.tmp" "$TARGET/last-success"
  rm -f "$TARGET/last-failure"
  log "ok set=$set_name etcdRevision=$revision etcdBytes=$etcd_bytes sqliteBytes=$sqlite_bytes s3=$s3 keyFingerprint=$KEY_FINGERPRINT"
}

health() {
  if [ ! -f "$TARGET/last-success" ]; then echo "no backup has succeeded yet (see docker logs)"; return 1; fi
  last=$(sed -n 's/^epoch=//p' "$TARGET/last-success")
  age=$(( $(date +%s) - \${last:-0} ))
  if [ "$age" -gt $((2 * INTERVAL)) ]; then
    echo "the last successful backup is \${age}s old, more than twice the interval (\${INTERVAL}s)"; return 1
  fi
  echo "ok: last successful backup \${age}s ago"
}

case "\${1:-run}" in
  once) backup_once ;;
  health) health ;;
  run)
    # sleep in the background so docker stop's SIGTERM ends the loop at once.
    trap 'exit 0' TERM INT
    while :; do
      if backup_once; then pause=$INTERVAL; else pause=$RETRY; fi
      sleep "$pause" & wait $!
    done ;;
  *) echo "usage: $0 [run|once|health]" >&2; exit 2 ;;
esac
`;
}

export interface HubRestoreScriptParams {
    /** Omni's data directory (the data volume), holding `etcdDir` and `sqlitePath`. */
    dataDir: string;
    etcdDir: string;
    sqlitePath: string;
    /** Where the sets are (read-only is enough). */
    setsDir: string;
}

/**
 * Restores one set into Omni's data directory:
 * `sh -c <script> omni-hub-restore check|restore <set|latest> <expected fingerprint> <Omni's account id>`, with the
 * etcd secret key (armored) on stdin to decrypt the set. `check` verifies the set (key fingerprint, account id,
 * checksums, decryption, snapshot status) and changes nothing. `restore` also rebuilds etcd from the snapshot into a
 * fresh directory (`snapshot restore` with the member name and peer URL Omni's embedded etcd uses: embed.NewConfig
 * defaults), restores the SQLite copy, and only then moves the old etcd directory and SQLite files aside into
 * `pre-restore-<timestamp>` (never deleted). Omni must be stopped.
 */
export function hubRestoreScript(p: HubRestoreScriptParams): string {
    const etcdDir = p.etcdDir.replace(/\/+$/, "");
    return `#!/bin/sh
# omni-hub-restore, rendered by omni-scale (components/hub/backup-render.ts).
set -eu
DATA=${shQuote(p.dataDir)}
ETCD_DIR=${shQuote(etcdDir)}
SQLITE_DB=${shQuote(p.sqlitePath)}
SETS=${shQuote(p.setsDir)}
PREFIX=${shQuote(BACKUP_SET_PREFIX)}
MODE=\${1:?usage: restore.sh check|restore <set|latest> <expected key fingerprint> <account id> (secret key on stdin)}
WANT=\${2:?name the set, or latest}
EXPECTED=\${3:-}
ACCOUNT=\${4:-}

${ETCD_OFFLINE}

${SETS_IN_ORDER}

normalize() { printf '%s' "$1" | tr -d ' :' | tr 'abcdef' 'ABCDEF'; }

if [ "$WANT" = latest ]; then
  SET=$(sets_in_order "$SETS" | tail -n 1)
  [ -n "$SET" ] || { echo "omni-hub-restore: no backup set in $SETS" >&2; exit 2; }
else
  SET=$WANT
fi
DIR="$SETS/$SET"
SUFFIX=${ENCRYPTED_SUFFIX}
# Sets taken before encryption hold the plain files.
[ -f "$DIR/${BACKUP_FILES.etcd}$SUFFIX" ] || SUFFIX=
for f in ${BACKUP_FILES.etcd}$SUFFIX ${BACKUP_FILES.sqlite}$SUFFIX ${BACKUP_FILES.manifest} ${BACKUP_FILES.sums}; do
  [ -f "$DIR/$f" ] || { echo "omni-hub-restore: $DIR/$f is missing: not a complete set" >&2; exit 2; }
done

# Omni encrypts its etcd data with the GPG key: a snapshot taken under another key cannot be read by this Omni.
TAKEN_WITH=$(sed -n 's/^keyFingerprint=//p' "$DIR/${BACKUP_FILES.manifest}")
if [ -z "$EXPECTED" ] || [ "$(normalize "$TAKEN_WITH")" != "$(normalize "$EXPECTED")" ]; then
  echo "omni-hub-restore: refusing: set $SET was taken with etcd key \${TAKEN_WITH:-unknown}, but the configured key is \${EXPECTED:-unknown}." >&2
  echo "  Deploy the hub with the key $TAKEN_WITH (config etcdGpgKey) first, or pick a set taken with the configured key." >&2
  exit 3
fi
# Omni keeps its state under its account id: restored into an Omni with another --account-id it starts empty.
TAKEN_FOR=$(sed -n 's/^accountId=//p' "$DIR/${BACKUP_FILES.manifest}")
if [ -z "$TAKEN_FOR" ]; then
  echo "omni-hub-restore: warning: set $SET predates recorded account ids; check that it comes from the Omni with --account-id \${ACCOUNT:-unknown}" >&2
elif [ "$TAKEN_FOR" != "$ACCOUNT" ]; then
  echo "omni-hub-restore: refusing: set $SET was taken from the Omni with account id $TAKEN_FOR, but the Omni to restore runs with --account-id \${ACCOUNT:-unknown}." >&2
  echo "  Omni would start on it as if empty. Set hub.accountId to $TAKEN_FOR and run pulumi up first, or pick a set of this Omni." >&2
  exit 3
fi
(cd "$DIR" && sha256sum -c ${BACKUP_FILES.sums} >/dev/null) || { echo "omni-hub-restore: checksums of $SET do not match: the set is damaged" >&2; exit 4; }

# Decrypted copies live in a private temporary directory, removed on exit.
WORK=$(mktemp -d)
GNUPGHOME="$WORK/gnupg"; export GNUPGHOME
trap 'gpgconf --kill gpg-agent >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
mkdir -m 700 "$GNUPGHOME"
if [ -n "$SUFFIX" ]; then
  gpg --batch --quiet --no-tty --import 2> "$WORK/gpg.log" || { cat "$WORK/gpg.log" >&2; echo "omni-hub-restore: could not read the etcd secret key (given on stdin)" >&2; exit 4; }
  for f in ${BACKUP_FILES.etcd} ${BACKUP_FILES.sqlite}; do
    gpg --batch --quiet --no-tty --output "$WORK/$f" --decrypt "$DIR/$f$SUFFIX" 2> "$WORK/gpg.log" ||
      { cat "$WORK/gpg.log" >&2; echo "omni-hub-restore: could not decrypt $f of $SET with the etcd key $EXPECTED" >&2; exit 4; }
  done
else
  cp "$DIR/${BACKUP_FILES.etcd}" "$DIR/${BACKUP_FILES.sqlite}" "$WORK/"
fi
REVISION=$(sed -n 's/^etcdRevision=//p' "$DIR/${BACKUP_FILES.manifest}")
etcd_offline snapshot status "$WORK/${BACKUP_FILES.etcd}" >/dev/null 2>&1 || { echo "omni-hub-restore: the etcd snapshot of $SET is unreadable" >&2; exit 4; }
echo "omni-hub-restore: set $SET is complete (etcd revision $REVISION, key $TAKEN_WITH, account \${TAKEN_FOR:-unrecorded})"
[ "$MODE" = restore ] || exit 0

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
ASIDE="$DATA/pre-restore-$STAMP"
NEW_ETCD="$DATA/.restore-$STAMP-etcd"
NEW_DB="$DATA/.restore-$STAMP-omni.db"
# Omni's embedded etcd is a single member named "default" advertising http://localhost:2380 (embed.NewConfig defaults).
etcd_offline snapshot restore "$WORK/${BACKUP_FILES.etcd}" --data-dir "$NEW_ETCD" --name default \\
  --initial-cluster default=http://localhost:2380 --initial-advertise-peer-urls http://localhost:2380 >/dev/null 2>&1 \\
  || { echo "omni-hub-restore: etcd snapshot restore failed; nothing was changed" >&2; rm -rf "$NEW_ETCD"; exit 5; }
cp "$WORK/${BACKUP_FILES.sqlite}" "$NEW_DB"
[ "$(sqlite3 "$NEW_DB" 'PRAGMA integrity_check;')" = ok ] || { echo "omni-hub-restore: the SQLite copy fails its integrity check; nothing was changed" >&2; exit 5; }

mkdir -p "$ASIDE"
[ ! -e "$ETCD_DIR" ] || mv "$ETCD_DIR" "$ASIDE/"
for f in "$SQLITE_DB" "$SQLITE_DB-wal" "$SQLITE_DB-shm"; do [ ! -e "$f" ] || mv "$f" "$ASIDE/"; done
mv "$NEW_ETCD" "$ETCD_DIR"
mv "$NEW_DB" "$SQLITE_DB"
echo "omni-hub-restore: restored $SET (etcd revision $REVISION) into $DATA; the previous data is kept in $ASIDE"
`;
}

/** Names on the Docker host for an Omni account: the same OmniHub and HubBackup register (a test holds them together). */
export function hubContainerNames(accountName: string) {
    return { omni: accountName, backup: `${accountName}-backup`, dataVolume: `${accountName}-data` };
}

/** What `docker inspect <container>` prints, as far as the restore reads it (moby api/types/container). */
const DockerInspectSchema = z
    .array(
        z.object({
            Name: z.string(),
            Args: z.array(z.string()).nullish(),
            Mounts: z
                .array(z.object({ Type: z.string(), Name: z.string().optional(), Destination: z.string() }))
                .nullish(),
        }),
    )
    .length(1);

/** What the restore needs to know about the Omni container that runs on the host. */
export interface OmniContainerFacts {
    /** The Docker volume mounted at Omni's data path. */
    dataVolume: string;
    /** Its `--account-id`. */
    accountId: string;
}

/**
 * The data volume and account id of the running Omni, from `docker inspect` of its container, or the reasons they
 * cannot be used: the volume must be the configured one (`hub.adopt.omniDataVolume`, else `<accountName>-data`).
 */
export function omniContainerFacts(
    inspectJson: string,
    want: { container: string; dataPath: string; dataVolume: string },
): OmniContainerFacts {
    let parsed;
    try {
        parsed = DockerInspectSchema.parse(JSON.parse(inspectJson));
    } catch (e) {
        throw new Error(`docker inspect ${want.container} printed no container description: ${(e as Error).message}`);
    }
    const c = parsed[0];
    const mount = (c.Mounts ?? []).find((m) => m.Destination.replace(/\/+$/, "") === want.dataPath);
    if (!mount || mount.Type !== "volume" || !mount.Name)
        throw new Error(
            `container ${want.container} mounts no Docker volume at ${want.dataPath} (${mount ? `a ${mount.Type} mount` : "nothing"}): ` +
                "it is not the Omni this stack deploys; check hub.accountName and hub.dockerHost",
        );
    if (mount.Name !== want.dataVolume)
        throw new Error(
            `container ${want.container} keeps its data in volume ${mount.Name}, but the stack configures ${want.dataVolume}: ` +
                `set hub.adopt.omniDataVolume to ${mount.Name} (or run pulumi up first), so the restore and Omni use the same volume`,
        );
    const args = c.Args ?? [];
    const at = args.findIndex((a) => a === "--account-id" || a.startsWith("--account-id="));
    const accountId = at < 0 ? undefined : args[at].includes("=") ? args[at].split("=")[1] : args[at + 1];
    if (!accountId)
        throw new Error(
            // Not its arguments: an Omni's command line may hold secrets (older deployments passed the OIDC client secret).
            `container ${want.container} runs without --account-id (${args.length} other arguments, not shown): it is not an Omni this stack deploys`,
        );
    return { dataVolume: mount.Name, accountId };
}

export interface HubRestoreHostParams {
    omniContainer: string;
    backupContainer: string;
    /** The target directory on the Docker host. */
    targetDir: string;
    /** Omni's data directory inside its container (where the data volume is mounted), its etcd and SQLite paths, and its etcd key file. */
    omniPaths: { data: string; etcd: string; sqlite: string; gpgKey: string };
}

/**
 * What `npm run restore` runs on the Docker host (only docker commands; the file work happens in a one-off
 * container of the backup image, which has etcdutl, sqlite3 and gpg):
 * `sh -c <script> omni-hub-restore check|restore <set> <fingerprint> <data volume> <account id>`, the volume and
 * account id read beforehand from `docker inspect` of the Omni container (omniContainerFacts). The expected key
 * fingerprint defaults to the one the deployed backup container carries (the configured key); the secret key that
 * decrypts the set is read from the Omni container (`docker cp`, which works while it is stopped) and never written
 * to the host's disk.
 */
export function hubRestoreHostScript(p: HubRestoreHostParams): string {
    const inner = hubRestoreScript({
        dataDir: p.omniPaths.data,
        etcdDir: p.omniPaths.etcd,
        sqlitePath: p.omniPaths.sqlite,
        setsDir: hubBackupPaths.target,
    });
    return `set -eu
MODE=\${1:?check or restore}
SET=\${2:-latest}
EXPECTED=\${3:-}
VOLUME=\${4:?the data volume}
ACCOUNT=\${5:?the account id}
OMNI=${shQuote(p.omniContainer)}
BACKUP=${shQuote(p.backupContainer)}
if ! docker volume inspect "$VOLUME" >/dev/null 2>&1; then
  echo "omni-hub-restore: refusing: Docker volume $VOLUME, which $OMNI mounts at ${p.omniPaths.data}, does not exist on this host; nothing was changed" >&2
  exit 2
fi
IMAGE=$(docker inspect --format '{{.Config.Image}}' "$BACKUP")
if [ -z "$EXPECTED" ]; then
  EXPECTED=$(docker inspect --format '{{index .Config.Labels "${HUB_BACKUP_LABELS.fingerprint}"}}' "$BACKUP")
fi
INNER=$(cat <<'OMNI_HUB_RESTORE_EOF'
${inner.trimEnd()}
OMNI_HUB_RESTORE_EOF
)
inner() {
  docker cp "$OMNI:${p.omniPaths.gpgKey}" - | tar -xO |
    docker run --rm -i --network none --volume "$VOLUME:${p.omniPaths.data}" \\
      --volume ${shQuote(`${p.targetDir}:${hubBackupPaths.target}:ro`)} "$IMAGE" sh -c "$INNER" omni-hub-restore "$1" "$SET" "$EXPECTED" "$ACCOUNT"
}
echo "omni-hub-restore: $OMNI (account $ACCOUNT) keeps its data in volume $VOLUME"
inner check
[ "$MODE" = restore ] || exit 0
echo "omni-hub-restore: stopping $BACKUP and $OMNI"
docker stop --time 60 "$BACKUP" "$OMNI" >/dev/null
if ! inner restore; then
  echo "omni-hub-restore: the restore failed; $OMNI stays stopped (its data is unchanged unless the message above says otherwise). Start it with: docker start $OMNI $BACKUP" >&2
  exit 1
fi
docker start "$OMNI" >/dev/null
docker start "$BACKUP" >/dev/null
echo "omni-hub-restore: $OMNI started on the restored data"
`;
}

/** Health check: unhealthy when the last success is older than twice the interval (the script's `health`). */
export function hubBackupHealthcheck(intervalSeconds: number) {
    return {
        tests: ["CMD", hubBackupPaths.script, "health"],
        interval: "5m",
        timeout: "30s",
        retries: 1,
        // The first set is taken at start; a large etcd takes a while.
        startPeriod: `${Math.min(intervalSeconds, 1800)}s`,
    };
}

/** Plan warnings about the hub backup (quantum logs them). */
export function hubBackupWarnings(
    hub: { omniVersion: string; backup?: HubBackupSettings },
    etcdKeyConfigured: boolean,
): string[] {
    if (!hub.backup) return [];
    const warnings: string[] = [];
    if (!etcdKeyConfigured) {
        warnings.push(
            "hub.backup is on, but every backup set is encrypted with an etcd key that this stack generated and that exists only in its state " +
                "and on the hub: export it now and keep it apart from the backups (`pulumi stack output etcdKeyArmored --show-secrets > omni.asc`); " +
                "without it no set can be restored (output hubBackup.keyFingerprint names the key)",
        );
    }
    if (!EMBEDDED_ETCD[hub.omniVersion]) {
        warnings.push(
            `the etcd version embedded in Omni ${hub.omniVersion} is not recorded in components/hub/backup-render.ts (EMBEDDED_ETCD): ` +
                `check go.etcd.io/etcd/server/v3 in that release's go.mod and set hub.backup.etcdImage to the same minor version`,
        );
    }
    return warnings;
}

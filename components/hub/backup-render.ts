import { createHash } from "node:crypto";
import * as semver from "semver";
import { z } from "zod";
import { parseImageRef, PinnedImageSchema, tagVersion } from "../core/images";
import { shellQuote as shQuote } from "../core/shell";
import { absoluteHostPath, goDuration, parseGoDuration, refineWith } from "../core/validation";
import { backupTargetProblem, HUB_BACKUP_LABELS, hubBackupPaths } from "./backup-rules";

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

/**
 * Names of the files of one backup set (a directory `omni-hub-<UTC timestamp>`): the etcd snapshot and the SQLite
 * copy, each encrypted (`<name>.gpg`), the manifest and the checksums (both plain: sizes, revision, fingerprints,
 * account id; nothing Omni keeps secret), and a detached signature of the checksums by the backup's signing key,
 * which is what tells a set of this stack from one planted in the target. Sets taken before encryption or signing
 * (or by a HubBackup given no keys) lack the `.gpg` files or the signature: restore takes them only when told to.
 */
export const BACKUP_SET_PREFIX = "omni-hub-";
export const BACKUP_FILES = {
    etcd: "etcd.snapshot",
    sqlite: "omni.db",
    manifest: "manifest",
    sums: "SHA256SUMS",
    signature: "SHA256SUMS.sig",
} as const;
export const ENCRYPTED_SUFFIX = ".gpg";
/** The files of a set as OmniHub's backup writes them (encrypted and signed). */
export const BACKUP_SET_FILES = [
    `${BACKUP_FILES.etcd}${ENCRYPTED_SUFFIX}`,
    `${BACKUP_FILES.sqlite}${ENCRYPTED_SUFFIX}`,
    BACKUP_FILES.manifest,
    BACKUP_FILES.sums,
    BACKUP_FILES.signature,
] as const;
/**
 * Marker files in a set's directory, never part of the set (not uploaded, not checksummed): an upload still to do,
 * an operator's release of a set kept for a drop, and the claim of a set still being written.
 */
export const SET_MARKERS = { uploadPending: "upload-pending", dropReleased: "drop-released", claim: ".claim" } as const;
/** Written by a restore into Omni's data directory: the set restored, which releases the drops it recovers from. */
export const RESTORE_RECORD = "omni-hub-restored";

/** Seconds of a Go duration, or NaN. */
export function durationSeconds(value: string): number {
    const ms = parseGoDuration(value);
    return ms === undefined ? NaN : ms / 1000;
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
        .describe(
            "How many sets of this Omni stay in targetDir, S3 down or not (plus any set kept for a drop in etcd revision or size); S3 keeps what its lifecycle rules keep",
        ),
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
    paused: z
        .boolean()
        .default(false)
        .describe(
            "Take no sets (the container stays, reports unhealthy and serves the restore): set it while rebuilding a hub, until its data is restored",
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

/**
 * Shell functions both scripts use, written to start as few processes as they can: the backup runs every few hours
 * and its health check every five minutes, for as long as the hub lives. `ETCD_OFFLINE`: the offline snapshot
 * command (etcdutl since etcd 3.5; older etcdctl, e.g. Debian 12's 3.4, still has it). `fields FILE KEY...`: sets
 * `f_KEY` to each KEY's value in the file (its first KEY= line, empty without one), read by the shell itself.
 * Manifest values as numbers come from one awk (MANIFEST_AWK), not a process per value: `$(awk "$NUMBERS" FILE
 * KEY...)` prints them on one line (`bytes` is etcdBytes plus sqliteBytes), and `sets_table DIR ACCOUNT` reads every
 * set in one pass (below). Its `num` is the rule for a number the shell can add, whatever the manifest holds: not
 * digits, 0; leading zeros dropped, which `$(( ))` would read as octal; more than 15 digits, the largest (so a planted
 * set with a huge sequence still counts as the newest and fails its checks). Its values are read as `fields` reads
 * them (the first KEY= line), compared as strings (awk would compare numeric-looking ones as numbers), file names
 * never given to awk as operands (one with "=" would be an assignment), and ENVIRON rather than -v (which reads
 * backslash escapes).
 *
 * `sets_table DIR ACCOUNT` sets TABLE to the complete sets of one Omni (the manifest's `accountId`; hubs sharing a
 * target never see each other's sets), oldest first, one line each: "sequence etcdRevision bytes name" (`row LINE`
 * splits one into r_seq, r_rev, r_bytes and r_name, the rest of the line). Ordered by the manifest's `sequence` (one
 * more than the highest before it, so a clock that jumps back cannot reorder them), then its `epoch`, then the name
 * (byte order, as `sort -k1,1n -k2,2n` orders ties in the C locale). Never by the timestamp in the name: after the
 * clock jumped back (or was ahead before NTP fixed it), names sort the newest set first, retention would prune it and
 * `latest` would pick a stale one.
 */
const SHARED_FUNCTIONS = `if command -v etcdutl >/dev/null 2>&1; then ETCD_OFFLINE=etcdutl; else ETCD_OFFLINE=etcdctl; fi
NL='
'
DEFAULT_IFS=$IFS

fields() {
  fields_file=$1; shift
  for fields_key; do eval "f_$fields_key="; done
  # Through \`command\`, a file that cannot be opened fails the call rather than ending the script.
  command exec 3< "$fields_file" || return
  fields_seen=' '
  while IFS= read -r fields_line <&3 || [ -n "$fields_line" ]; do
    fields_key=\${fields_line%%=*}
    [ "$fields_key" != "$fields_line" ] || continue
    case $fields_seen in *" $fields_key "*) continue ;; esac
    for fields_want; do
      if [ "$fields_key" = "$fields_want" ]; then fields_seen="$fields_seen$fields_key "; eval "f_$fields_key=\\\${fields_line#*=}"; fi
    done
  done
  exec 3<&-
}

MANIFEST_AWK='
function num(v) {
  if (v !~ /^[0-9]+$/) return 0
  sub(/^0+/, "", v)
  if (length(v) > 15) return "999999999999999"
  return v == "" ? 0 : v
}
function load(f,  line, i, k) {
  split("", val)
  while ((getline line < f) > 0) {
    i = index(line, "=")
    if (i < 2) continue
    k = substr(line, 1, i - 1)
    if (!(k in val)) val[k] = substr(line, i + 1)
  }
  close(f)
}
function get(k) { return k == "bytes" ? sprintf("%.0f", num(val["etcdBytes"]) + num(val["sqliteBytes"])) : num(val[k]) }
'
NUMBERS="$MANIFEST_AWK"'BEGIN { load(ARGV[1]); s = ""; for (i = 2; i < ARGC; i++) s = s (i > 2 ? " " : "") get(ARGV[i]); print s }'
SETS_AWK="$MANIFEST_AWK"'
function before(a, b) {
  if (seq[a] != seq[b]) return seq[a] < seq[b]
  if (ep[a] != ep[b]) return ep[a] < ep[b]
  return name[a] < name[b]
}
BEGIN {
  n = 0
  for (i = 1; i < ARGC; i++) {
    load(ARGV[i])
    if (("" val["accountId"]) != ("" ENVIRON["SETS_ACCOUNT"])) continue
    d = ARGV[i]; sub(/\\/[^\\/]*$/, "", d); sub(/.*\\//, "", d)
    n++; seq[n] = get("sequence") + 0; ep[n] = get("epoch") + 0; name[n] = d
    line[n] = get("sequence") " " get("etcdRevision") " " get("bytes") " " d
    for (j = n; j > 1 && before(j, j - 1); j--) {
      t = seq[j]; seq[j] = seq[j - 1]; seq[j - 1] = t
      t = ep[j]; ep[j] = ep[j - 1]; ep[j - 1] = t
      t = name[j]; name[j] = name[j - 1]; name[j - 1] = t
      t = line[j]; line[j] = line[j - 1]; line[j - 1] = t
    }
  }
  for (j = 1; j <= n; j++) print line[j]
}'

sets_table() {
  sets_dir=$1; sets_account=$2
  set --
  for m in "$sets_dir"/"$PREFIX"*/${BACKUP_FILES.manifest}; do
    if [ -f "$m" ]; then set -- "$@" "$m"; fi
  done
  TABLE=$(SETS_ACCOUNT=$sets_account awk "$SETS_AWK" "$@")
}

row() { r_seq=\${1%% *}; r_name=\${1#* }; r_rev=\${r_name%% *}; r_name=\${r_name#* }; r_bytes=\${r_name%% *}; r_name=\${r_name#* }; }`;

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
    /** The backup's signing key (an armored secret key file) and its fingerprint. Without them sets are unsigned. */
    signingKeyFile?: string;
    signingFingerprint?: string;
    /** Omni's `--account-id`, recorded in every manifest (a restore into an Omni with another one is refused). */
    accountId?: string;
    s3?: { url: string; region: string; credentialsFile: string };
    /** Seconds to wait after a failed run (less than the interval, so a transient failure heals fast). */
    retrySeconds?: number;
    /** Seconds one step (etcd snapshot, SQLite copy, encryption, one upload) may take before it is killed. */
    stepTimeoutSeconds?: number;
    /** A directory of the container's own (not the target): the run lock and the plain copies. */
    localDir?: string;
    /** The restore's record in Omni's data directory (RESTORE_RECORD): a restored set releases the drops before it. */
    restoreRecord?: string;
    /** Take no sets: `run` idles and `health` says why. */
    paused?: boolean;
}

/**
 * What the status files' names carry of the account id: each byte but letters, digits, ".", "_" and "-" as "_" (as
 * `tr -c` would make it, rendered here so that no run, health checks included, starts a process for it).
 */
function statusTag(accountId: string): string {
    return Buffer.from(accountId, "utf8")
        .toString("latin1")
        .replace(/[^A-Za-z0-9._-]/g, "_");
}

/** The default bound of one backup step: a quarter of the interval, between 1 and 30 minutes. */
export function backupStepTimeout(intervalSeconds: number): number {
    return Math.max(60, Math.min(1800, Math.floor(intervalSeconds / 4)));
}

/** What a set's upload sends (the files of encrypted and of plain sets; markers never). */
const UPLOADED = [...BACKUP_SET_FILES, BACKUP_FILES.etcd, BACKUP_FILES.sqlite];

/** Seconds between the TERM a step gets at its limit and the KILL that ends it if TERM did not. */
export const STEP_KILL_AFTER = 30;

/**
 * The backup script: `run` (forever: a set every interval; in between, pending S3 uploads are retried every retry
 * delay, and a failed set is retried after it), `once` (one set and the pending uploads), `upload` (only the pending
 * uploads), `health` (fails when the last success is older than twice the interval, when a set is kept for a drop, or
 * when an upload has been pending that long) and `release <set>` (lets retention prune a set kept for a drop).
 * POSIX sh for busybox and dash. Every run writes `last-success-<account>` or `last-failure-<account>` in the target
 * and one `omni-hub-backup:` line to the log.
 *
 * What Omni encrypts is only the etcd *values* (with the etcd GPG key); etcd keys (resource ids, cluster and machine
 * names) and the whole SQLite database (machine logs, audit log, discovery state) are plain. So the script encrypts
 * each file with gpg to the etcd key's public part before anything reaches the target directory or S3, staging the
 * plain copies in a directory of the container's own. That key, rather than a new one or S3 server-side encryption: a
 * restore needs it anyway, so it adds no key to keep safe; and it protects the NAS copy too, which server-side
 * encryption would not (the storage operator would still read the data). Encryption to a public key proves nothing
 * about who made a set, so each set's checksums are also signed with a key of the backup's own.
 *
 * Retention keeps the newest `keep` sets of this Omni and, whatever `keep` says, every set taken just before a drop in
 * etcd revision (which never decreases in one etcd: a lower one means Omni started on other data, e.g. empty after a
 * rebuild) or in size (to less than half); until a restore of it (or a later set) or a `release`, `health` fails and
 * says why.
 */
export function hubBackupScript(p: HubBackupScriptParams): string {
    const retry = p.retrySeconds ?? Math.min(300, p.intervalSeconds);
    const stepTimeout = p.stepTimeoutSeconds ?? backupStepTimeout(p.intervalSeconds);
    const m = SET_MARKERS;
    const signed = Boolean(p.signingKeyFile && p.signingFingerprint);
    return `#!/bin/sh
# omni-hub-backup, rendered by omni-scale (components/hub/backup-render.ts): backs up the Omni hub's embedded
# etcd and SQLite database, ${p.publicKeyFile ? `each set encrypted with gpg to the etcd key ${p.keyFingerprint}` : `sets NOT encrypted (no public key given; Omni encrypts only etcd values, with ${p.keyFingerprint})`}
# (restoring one needs the etcd secret key), ${signed ? `its checksums signed with ${p.signingFingerprint}` : "sets NOT signed (no signing key given)"}.
set -u
ETCD_ENDPOINT=${shQuote(p.etcdEndpoint)}
SQLITE_DB=${shQuote(p.sqlitePath)}
TARGET=${shQuote(p.targetDir)}
INTERVAL=${p.intervalSeconds}
KEEP=${p.keep}
RETRY=${retry}
STEP_TIMEOUT=${stepTimeout}
KILL_AFTER=${STEP_KILL_AFTER}
KEY_FINGERPRINT=${shQuote(p.keyFingerprint)}
PUBLIC_KEY=${shQuote(p.publicKeyFile ?? "")}
SIGNING_KEY=${shQuote(signed ? p.signingKeyFile! : "")}
SIGNING_FINGERPRINT=${shQuote(signed ? p.signingFingerprint! : "")}
ACCOUNT_ID=${shQuote(p.accountId ?? "")}
S3_URL=${shQuote(p.s3?.url ?? "")}
S3_REGION=${shQuote(p.s3?.region ?? "")}
S3_CREDENTIALS=${shQuote(p.s3?.credentialsFile ?? "")}
LOCAL=${shQuote(p.localDir ?? hubBackupPaths.local)}
RESTORE_RECORD=${shQuote(p.restoreRecord ?? "")}
PAUSED=${p.paused ? 1 : 0}
PREFIX=${shQuote(BACKUP_SET_PREFIX)}
# Status files are this Omni's own: hubs that share a target do not overwrite each other's.
TAG=${shQuote(statusTag(p.accountId ?? ""))}
LAST_SUCCESS="$TARGET/last-success\${TAG:+-$TAG}"
LAST_FAILURE="$TARGET/last-failure\${TAG:+-$TAG}"
exec 8>&2
WORK=
CLAIM=
STEP=
child=

log() { echo "omni-hub-backup: $*"; }

${SHARED_FUNCTIONS}

# TABLE: this Omni's sets (sets_table).
mine() { sets_table "$TARGET" "$ACCOUNT_ID"; }

# Runs one step in the background, so that a signal's trap runs at once (and kills it); bounded: TERM at the step
# limit, KILL if that did not end it. The run lock (fd 9) is not inherited: nothing a step leaves running holds it.
step() {
  timeout -k "$KILL_AFTER" "$STEP_TIMEOUT" "$@" 9>&- &
  STEP=$!
  rc=0; wait "$STEP" || rc=$?
  STEP=
  return "$rc"
}

# What a run leaves unless it ends well: the plain copies, and the directory of a set it had not finished.
abandon() {
  if [ -n "$WORK" ]; then GNUPGHOME="$WORK/gnupg" gpgconf --kill gpg-agent >/dev/null 2>&1; rm -rf "$WORK"; fi
  WORK=
  if [ -n "$CLAIM" ] && [ ! -f "$CLAIM/${BACKUP_FILES.manifest}" ]; then rm -rf "$CLAIM"; fi
  CLAIM=
}

# docker stop (and the restore) send TERM: kill the running step, remove the plain copies, then exit. It says so on
# the script's own stderr (fd 8): the step it interrupts may have redirected stderr to a log about to be removed.
on_signal() {
  if [ -n "$STEP" ]; then kill -TERM "$STEP" 2>/dev/null; wait "$STEP" 2>/dev/null; fi
  abandon
  echo "omni-hub-backup: stopped by a signal; the plain copies of this run are removed" >&8
  exit 143
}

# Also run by the loop's own shell (attempt, after a crash): its names are its own, not the loop's \`now\`.
failed() {
  abandon
  failed_at=$(date -u '+%Y-%m-%dT%H:%M:%SZ %s')
  failed_epoch=\${failed_at#* }; failed_at=\${failed_at% *}
  printf 'time=%s\\nepoch=%s\\nstep=%s\\n' "$failed_at" "$failed_epoch" "$1" > "$LAST_FAILURE.tmp" && mv "$LAST_FAILURE.tmp" "$LAST_FAILURE"
  echo "omni-hub-backup: FAILED at $1 ($failed_at); the last good set is named in $LAST_SUCCESS" >&2
  return 1
}

# One run at a time: the lock is released when the run's shell exits, however it ends (flock on fd 9). The holder
# then removes what killed runs left: plain copies in LOCAL, and unfinished sets this Omni claimed in the target.
lock() {
  { [ -d "$LOCAL" ] || mkdir -p "$LOCAL"; } && chmod 700 "$LOCAL" && exec 9> "$LOCAL/lock" || { failed "creating the lock in $LOCAL"; return 1; }
  if ! flock -n 9; then
    echo "omni-hub-backup: another run holds $LOCAL/lock; this one does not start" >&2
    return 75
  fi
  # One rm for what is there, none when nothing is.
  for r in "$LOCAL"/run.*; do
    if [ -e "$r" ] || [ -L "$r" ]; then rm -rf "$LOCAL"/run.*; fi
    break
  done
  for c in "$TARGET"/"$PREFIX"*/${m.claim}; do
    [ -f "$c" ] || continue
    d=\${c%/*}
    if [ ! -f "$d/${BACKUP_FILES.manifest}" ] && [ "$(cat "$c")" = "$ACCOUNT_ID" ]; then rm -rf "$d"; fi
  done
  return 0
}

# The sequence of the last set a restore put back into this Omni (it releases the drops up to it), or 0.
restored_sequence() {
  restored=0
  if [ -n "$RESTORE_RECORD" ] && [ -f "$RESTORE_RECORD" ]; then
    fields "$RESTORE_RECORD" accountId
    if [ "$f_accountId" = "$ACCOUNT_ID" ]; then restored=$(awk "$NUMBERS" "$RESTORE_RECORD" sequence); fi
  fi
}

# The sets of TABLE kept whatever KEEP says: the last before a drop in etcd revision or in size (to less than half),
# not released by a restore or by 'release'. DROPS: one line each, set revision bytes next-set next-revision
# next-bytes; KEPT: the names of the sets kept, a line each.
drops() {
  restored_sequence
  DROPS=; KEPT=
  p=; pr=0; pb=0; ps=0
  IFS=$NL; set -f
  for line in $TABLE; do
    row "$line"
    if [ -n "$p" ] && { [ "$r_rev" -lt "$pr" ] || [ $((r_bytes * 2)) -lt "$pb" ]; } && [ ! -e "$TARGET/$p/${m.dropReleased}" ] && [ "$ps" -gt "$restored" ]; then
      DROPS="$DROPS$p $pr $pb $r_name $r_rev $r_bytes$NL"; KEPT="$KEPT$p$NL"
    fi
    p=$r_name; pr=$r_rev; pb=$r_bytes; ps=$r_seq
  done
  IFS=$DEFAULT_IFS; set +f
}

# Says why each set of DROPS is kept, each line starting with $1.
drop_messages() {
  [ -n "$DROPS" ] || return 0
  drops_text=\${DROPS%"$NL"}
  while read -r a b c d e f; do
    echo "$1set $a is kept whatever keep says: the next set, $d, fell from etcd revision $b to $e and from $c to $f bytes." \\
      "Omni may have lost its data (started empty after a rebuild?). Restore $a (npx omni-scale restore --set $a --yes)," \\
      "or, if the drop was expected, let retention prune it: $0 release $a"
  done <<EOF_DROPS
$drops_text
EOF_DROPS
}

# Removes the oldest sets beyond KEEP (not those kept for a drop); TABLE keeps the sets still there.
prune() {
  drops
  excess=-$KEEP
  IFS=$NL; set -f
  for line in $TABLE; do excess=$((excess + 1)); done
  if [ "$excess" -gt 0 ]; then
    left=
    for line in $TABLE; do
      row "$line"
      if [ "$excess" -gt 0 ]; then
        excess=$((excess - 1))
        case $NL$KEPT in
          *"$NL$r_name$NL"*) ;;
          *)
            [ ! -f "$TARGET/$r_name/${m.uploadPending}" ] || log "pruning $r_name before its S3 upload (keep=$KEEP)"
            rm -rf "\${TARGET:?}/$r_name"
            [ -f "$TARGET/$r_name/${BACKUP_FILES.manifest}" ] || continue ;;
        esac
      fi
      left="$left$line$NL"
    done
    TABLE=\${left%"$NL"}
  fi
  IFS=$DEFAULT_IFS; set +f
}

# NEWEST: the names of TABLE's sets, newest first, a line each.
newest_first() {
  NEWEST=
  IFS=$NL; set -f
  for line in $TABLE; do NEWEST="\${line#* * * }$NL$NEWEST"; done
  IFS=$DEFAULT_IFS; set +f
}

# Uploads every set of TABLE (read first when given "read") still marked ${m.uploadPending}, newest first; stops at
# the first failure (S3 down).
upload_pending() {
  [ -n "$S3_URL" ] || return 0
  [ "\${1:-}" != read ] || mine
  newest_first
  IFS=$NL; set -f
  for s in $NEWEST; do
    marker="$TARGET/$s/${m.uploadPending}"
    [ -f "$marker" ] || continue
    for f in ${UPLOADED.join(" ")}; do
      [ -f "$TARGET/$s/$f" ] || continue
      rc=0
      step curl --fail --silent --show-error --config "$S3_CREDENTIALS" --aws-sigv4 "aws:amz:$S3_REGION:s3" \\
        --header 'x-amz-content-sha256: UNSIGNED-PAYLOAD' --upload-file "$TARGET/$s/$f" "$S3_URL/$s/$f" 2> "$LOCAL/curl.log" || rc=$?
      [ "$rc" -ne 0 ] || continue
      if [ "$rc" -ge 124 ]; then why="no answer within \${STEP_TIMEOUT}s"; else why=$(tail -n 1 "$LOCAL/curl.log"); fi
      fields "$marker" since
      printf 'since=%s\\nerror=%s\\n' "$f_since" "S3 upload of $s/$f: $why" > "$marker.tmp" && mv "$marker.tmp" "$marker"
      echo "omni-hub-backup: S3 upload of $s/$f to $S3_URL failed ($why); the set is kept in $TARGET, the upload retried in \${RETRY}s" >&2
      IFS=$DEFAULT_IFS; set +f
      return 1
    done
    rm -f "$marker"
    log "uploaded $s to $S3_URL"
  done
  IFS=$DEFAULT_IFS; set +f
  return 0
}

# Exit codes: 0 a set (and every pending upload), 3 a set but uploads still pending, 1 failed, 75 another run.
backup_once() {
  trap on_signal TERM INT HUP
  [ -d "$TARGET" ] || mkdir -p "$TARGET" || { failed "creating $TARGET"; return 1; }
  lock || return $?
  WORK=$(mktemp -d "$LOCAL/run.XXXXXX") || { failed "creating a temporary directory in $LOCAL"; return 1; }
  GNUPGHOME="$WORK/gnupg"; export GNUPGHOME
  mkdir -m 700 "$GNUPGHOME" || { failed "creating $GNUPGHOME"; return 1; }
  for key in "$PUBLIC_KEY" "$SIGNING_KEY"; do
    [ -n "$key" ] || continue
    step gpg --batch --quiet --no-tty --import "$key" 2> "$WORK/gpg.log" ||
      { cat "$WORK/gpg.log" >&2; failed "importing the key $key"; return 1; }
  done

  # A consistent point-in-time copy over the client API (what Omni documents for its embedded etcd). The health
  # probe fails fast when Omni is down; the snapshot's own timeout must allow for a large database.
  if ! step etcdctl --endpoints "$ETCD_ENDPOINT" --dial-timeout 5s --command-timeout 10s endpoint health > "$WORK/etcdctl.log" 2>&1 ||
    ! step etcdctl --endpoints "$ETCD_ENDPOINT" --dial-timeout 10s --command-timeout "\${STEP_TIMEOUT}s" snapshot save "$WORK/${BACKUP_FILES.etcd}" > "$WORK/etcdctl.log" 2>&1; then
    cat "$WORK/etcdctl.log" >&2; failed "etcd snapshot from $ETCD_ENDPOINT (limit \${STEP_TIMEOUT}s)"; return 1
  fi
  status=$($ETCD_OFFLINE snapshot status --write-out json "$WORK/${BACKUP_FILES.etcd}" 2>/dev/null)
  # The digits after the last "revision": (none without one).
  case $status in *'"revision":'*) revision=\${status##*'"revision":'}; revision=\${revision%%[!0123456789]*} ;; *) revision= ;; esac
  [ -n "$revision" ] || { failed "verifying the etcd snapshot (snapshot status: $status)"; return 1; }

  # VACUUM INTO copies the database in one read transaction, so Omni's commits (one per machine log line) never
  # restart it, unlike the online backup API (.backup), which restarts on every commit by another connection.
  # Read-only: it never writes Omni's files.
  if ! step sqlite3 -bail -readonly -cmd '.timeout 60000' "$SQLITE_DB" "VACUUM INTO '$WORK/${BACKUP_FILES.sqlite}'"; then
    failed "SQLite copy (VACUUM INTO) of $SQLITE_DB (limit \${STEP_TIMEOUT}s)"; return 1
  fi
  # One self-contained file (no -wal beside it), checked before it counts.
  check=$(sqlite3 "$WORK/${BACKUP_FILES.sqlite}" 'PRAGMA journal_mode=DELETE; PRAGMA integrity_check;')
  check=\${check##*"$NL"}
  [ "$check" = ok ] || { failed "SQLite integrity check of the copy ($check)"; return 1; }
  # One wc for both sizes; read drops the blanks some wc put before a number.
  { read -r etcd_bytes _; read -r sqlite_bytes _; } <<EOF_SIZES
$(wc -c "$WORK/${BACKUP_FILES.etcd}" "$WORK/${BACKUP_FILES.sqlite}")
EOF_SIZES

  # The set's name is claimed with mkdir, which fails if it exists: also against a hub sharing the target. Until its
  # manifest is in place the set does not count, and .claim says whose it is.
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  until mkdir "$TARGET/$PREFIX$stamp" 2>/dev/null; do
    [ -e "$TARGET/$PREFIX$stamp" ] || { failed "creating a set directory in $TARGET"; return 1; }
    sleep 1; stamp=$(date -u +%Y%m%dT%H%M%SZ)
  done
  set_name=$PREFIX$stamp
  CLAIM="$TARGET/$set_name"
  printf '%s' "$ACCOUNT_ID" > "$CLAIM/${m.claim}" || { failed "writing $CLAIM"; return 1; }
  # Only encrypted files reach the target; each plain copy goes as soon as it is encrypted.
  for f in ${BACKUP_FILES.etcd} ${BACKUP_FILES.sqlite}; do
    if [ -z "$PUBLIC_KEY" ]; then step cp "$WORK/$f" "$CLAIM/$f" || { failed "writing $f"; return 1; }
    else step gpg --batch --quiet --no-tty --trust-model always --recipient "$KEY_FINGERPRINT" --output "$CLAIM/$f${ENCRYPTED_SUFFIX}" --encrypt "$WORK/$f" ||
      { failed "encrypting $f to $KEY_FINGERPRINT"; return 1; }; fi
    rm -f "$WORK/$f"
  done
  # The newest set's sequence: the first word of TABLE's last line.
  mine
  last=\${TABLE##*"$NL"}; last=\${last%% *}; last=\${last:-0}
  now=$(date -u '+%Y-%m-%dT%H:%M:%SZ %s')
  manifest="set=$set_name
sequence=$((last + 1))
time=\${now% *}
epoch=\${now#* }
accountId=$ACCOUNT_ID
etcdRevision=$revision
etcdBytes=$etcd_bytes
sqliteBytes=$sqlite_bytes
keyFingerprint=$KEY_FINGERPRINT"
  [ -z "$PUBLIC_KEY" ] || manifest="$manifest
encryptedTo=$KEY_FINGERPRINT"
  [ -z "$SIGNING_KEY" ] || manifest="$manifest
signedBy=$SIGNING_FINGERPRINT"
  printf '%s\\n' "$manifest" > "$WORK/${BACKUP_FILES.manifest}"
  # One sha256sum: the manifest (still only in WORK) on stdin, its line named as the file is.
  sums=$(exec < "$WORK/${BACKUP_FILES.manifest}"; cd "$CLAIM" && sha256sum ${BACKUP_FILES.etcd}* ${BACKUP_FILES.sqlite}* -) &&
    printf '%s  ${BACKUP_FILES.manifest}\\n' "\${sums%  -}" > "$CLAIM/${BACKUP_FILES.sums}" ||
    { failed "checksums"; return 1; }
  if [ -n "$SIGNING_KEY" ]; then
    step gpg --batch --quiet --no-tty --local-user "$SIGNING_FINGERPRINT!" --output "$CLAIM/${BACKUP_FILES.signature}" --detach-sign "$CLAIM/${BACKUP_FILES.sums}" 2> "$WORK/gpg.log" ||
      { cat "$WORK/gpg.log" >&2; failed "signing the set with $SIGNING_FINGERPRINT"; return 1; }
  fi
  [ -z "$S3_URL" ] || printf 'since=%s\\n' "$(date +%s)" > "$CLAIM/${m.uploadPending}"
  # The manifest goes in last, by rename: from then on the set is complete.
  printf '%s\\n' "$manifest" > "$CLAIM/${BACKUP_FILES.manifest}.tmp" && mv "$CLAIM/${BACKUP_FILES.manifest}.tmp" "$CLAIM/${BACKUP_FILES.manifest}" ||
    { failed "publishing $set_name"; return 1; }
  rm -f "$CLAIM/${m.claim}"
  CLAIM=
  abandon

  # Local sets count whether or not S3 has them: an S3 outage never fills the target.
  mine
  prune
  s3=off; rc=0
  if [ -n "$S3_URL" ]; then if upload_pending; then s3=uploaded; else s3=pending; rc=3; fi; fi
  printf '%s\\ns3=%s\\n' "$manifest" "$s3" > "$LAST_SUCCESS.tmp" && mv "$LAST_SUCCESS.tmp" "$LAST_SUCCESS"
  if [ -e "$LAST_FAILURE" ] || [ -L "$LAST_FAILURE" ]; then rm -f "$LAST_FAILURE"; fi
  log "ok set=$set_name etcdRevision=$revision etcdBytes=$etcd_bytes sqliteBytes=$sqlite_bytes s3=$s3 keyFingerprint=$KEY_FINGERPRINT"
  drops
  drop_messages "omni-hub-backup: WARNING: "
  return "$rc"
}

upload_only() {
  trap on_signal TERM INT HUP
  lock || return $?
  upload_pending read || return 3
}

health() {
  if [ "$PAUSED" = 1 ]; then echo "paused (hub.backup.paused): no sets are taken; set paused to false once the hub's data is restored"; return 1; fi
  rc=0; now=
  if [ ! -f "$LAST_SUCCESS" ]; then
    echo "no backup has succeeded yet (see docker logs)"; rc=1
  else
    now=$(date +%s)
    age=$(( now - $(awk "$NUMBERS" "$LAST_SUCCESS" epoch) ))
    if [ "$age" -gt $((2 * INTERVAL)) ]; then
      echo "the last successful backup is \${age}s old, more than twice the interval (\${INTERVAL}s)"; rc=1
    else
      echo "ok: last successful backup \${age}s ago"
    fi
  fi
  mine
  drops
  if [ -n "$DROPS" ]; then
    rc=1
    drop_messages ""
  fi
  newest_first
  for s in $NEWEST; do
    marker="$TARGET/$s/${m.uploadPending}"
    [ -f "$marker" ] || continue
    [ -n "$now" ] || now=$(date +%s)
    waited=$(( now - $(awk "$NUMBERS" "$marker" since) ))
    fields "$marker" error
    echo "set $s waits for its S3 upload since \${waited}s ago: $f_error"
    [ "$waited" -le $((2 * INTERVAL)) ] || rc=1
  done
  return "$rc"
}

release() {
  case \${1:-} in ''|*/*|.*) echo "usage: $0 release <set>" >&2; return 2 ;; esac
  mine
  drops
  case $NL$KEPT in *"$NL$1$NL"*) ;; *) echo "omni-hub-backup: $1 is not a set kept for a drop" >&2; return 2 ;; esac
  : > "$TARGET/$1/${m.dropReleased}" && log "released $1: retention may prune it"
}

# Runs backup_once or upload_only in a subshell: whatever the input, a crash there is recorded and the loop goes on
# (a crash of PID 1 would restart the container into the same crash).
attempt() {
  ( "$1" ) & child=$!
  rc=0; wait "$child" || rc=$?
  child=
  case $rc in
    0|1|3|75) ;;
    *) ( lock ) >/dev/null 2>&1; failed "an unexpected error in $1 (exit $rc; see the lines above)" ;;
  esac
  return "$rc"
}

# The signal ends the run in progress (its own trap cleans up), then the script: \`docker stop\` ends \`run\` cleanly (0).
stop() {
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; fi
  exit "$1"
}

if [ "$PAUSED" = 1 ] && [ "\${1:-run}" != health ]; then
  log "paused (hub.backup.paused): no sets are taken"
  [ "\${1:-run}" = run ] || exit 1
  trap 'exit 0' TERM INT
  while :; do sleep 3600 & wait $!; done
fi
if [ "\${1:-run}" = run ]; then trap 'stop 0' TERM INT HUP; else trap 'stop 143' TERM INT HUP; fi
case "\${1:-run}" in
  once) attempt backup_once ;;
  upload) attempt upload_only ;;
  health) health ;;
  release) release "\${2:-}" ;;
  run)
    next=0
    while :; do
      now=$(date +%s)
      if [ "$now" -ge "$next" ]; then
        rc=0; attempt backup_once || rc=$?
        # After a set, the next one in INTERVAL; after a failure, a set again in RETRY.
        case $rc in 0|3) next=$((now + INTERVAL)) ;; *) next=$((now + RETRY)) ;; esac
      else
        rc=0; attempt upload_only || rc=$?
      fi
      pause=$((next - $(date +%s)))
      # Pending uploads are retried every RETRY, without a new set.
      if [ "$rc" = 3 ] && [ "$pause" -gt "$RETRY" ]; then pause=$RETRY; fi
      [ "$pause" -ge 1 ] || pause=1
      sleep "$pause" & child=$!
      wait "$child"; child=
    done ;;
  *) echo "usage: $0 [run|once|upload|health|release <set>]" >&2; exit 2 ;;
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

/** The restore script's last argument that makes it take a set that is not encrypted or not signed by this stack. */
export const ALLOW_PLAIN = "allow-plain";

/**
 * Restores one set into Omni's data directory:
 * `sh -c <script> omni-hub-restore check|restore <set|latest> <etcd key fingerprint> <Omni's account id>
 * [<signing key fingerprint> [allow-plain]]`, with the etcd secret key and the signing key's public part (armored)
 * on stdin. `latest` is the newest set of that account id. `check` verifies the set (the signature of its checksums
 * by the signing key, the checksums, the manifest's set name, key fingerprint and account id, decryption, snapshot
 * status) and changes nothing; a set not signed by that key, or not encrypted, is refused unless `allow-plain` is
 * given. `restore` also rebuilds etcd from the snapshot into a fresh directory (`snapshot restore` with the member
 * name and peer URL Omni's embedded etcd uses: embed.NewConfig defaults), restores the SQLite copy, and only then
 * moves the old etcd directory and SQLite files aside into `pre-restore-<timestamp>` (never deleted), and records the
 * set in RESTORE_RECORD. Omni must be stopped.
 */
export function hubRestoreScript(p: HubRestoreScriptParams): string {
    const etcdDir = p.etcdDir.replace(/\/+$/, "");
    const f = BACKUP_FILES;
    return `#!/bin/sh
# omni-hub-restore, rendered by omni-scale (components/hub/backup-render.ts).
set -eu
DATA=${shQuote(p.dataDir)}
ETCD_DIR=${shQuote(etcdDir)}
SQLITE_DB=${shQuote(p.sqlitePath)}
SETS=${shQuote(p.setsDir)}
PREFIX=${shQuote(BACKUP_SET_PREFIX)}
MODE=\${1:?usage: restore.sh check|restore <set|latest> <etcd key fingerprint> <account id> [<signing key fingerprint> [${ALLOW_PLAIN}]] (keys on stdin)}
WANT=\${2:?name the set, or latest}
EXPECTED=\${3:-}
ACCOUNT=\${4:-}
SIGNER=\${5:-}
ALLOW=\${6:-}

${SHARED_FUNCTIONS}

# norm: $1 without blanks and colons, a-f in capitals (a fingerprint as gpg prints it stays as it is).
normalized() {
  case $1 in
    *[!0123456789ABCDEF]*) norm=$(printf '%s' "$1" | tr -d ' :' | tr 'abcdef' 'ABCDEF') ;;
    *) norm=$1 ;;
  esac
}
refuse() { echo "omni-hub-restore: refusing: $1" >&2; shift; for line in "$@"; do echo "  $line" >&2; done; exit 3; }
# Warns instead of refusing when the operator allowed sets that are not encrypted or not signed by this stack.
unless_allowed() {
  if [ "$ALLOW" = ${ALLOW_PLAIN} ]; then echo "omni-hub-restore: warning (${ALLOW_PLAIN}): $1" >&2; else refuse "$@"; fi
}

# Decrypted copies live in a private temporary directory (made once the set is found), removed on exit, also on TERM
# (docker stop) or Ctrl-C.
WORK=
trap 'if [ -n "$WORK" ]; then gpgconf --kill gpg-agent >/dev/null 2>&1 || true; rm -rf "$WORK"; fi' EXIT
trap 'exit 143' TERM INT HUP

case $WANT in */*|.*) echo "omni-hub-restore: $WANT is not a set name" >&2; exit 2 ;; esac
if [ "$WANT" = latest ]; then
  sets_table "$SETS" "$ACCOUNT"
  row "\${TABLE##*"$NL"}"
  SET=$r_name
  [ -n "$SET" ] || { echo "omni-hub-restore: no backup set of account \${ACCOUNT:-unknown} in $SETS (sets taken before account ids were recorded must be named)" >&2; exit 2; }
else
  SET=$WANT
fi
DIR="$SETS/$SET"
M="$DIR/${f.manifest}"
for x in ${f.manifest} ${f.sums}; do
  [ -f "$DIR/$x" ] || { echo "omni-hub-restore: $DIR/$x is missing: not a complete set" >&2; exit 2; }
done

WORK=$(mktemp -d)
GNUPGHOME="$WORK/gnupg"; export GNUPGHOME
mkdir -m 700 "$GNUPGHOME"
# The keys: the etcd secret key (to decrypt) and the signing key's public part (to verify).
cat > "$WORK/keys.asc"
if [ -s "$WORK/keys.asc" ]; then
  gpg --batch --quiet --no-tty --import "$WORK/keys.asc" 2> "$WORK/gpg.log" || { cat "$WORK/gpg.log" >&2; echo "omni-hub-restore: could not read the keys given on stdin" >&2; exit 4; }
fi

# Who made the set: only the signature of its checksums by this stack's signing key tells a set of ours from one
# that anyone able to write to the target (or to S3) could plant, with a copied account id and key fingerprint.
if [ ! -f "$DIR/${f.signature}" ]; then
  unless_allowed "set $SET is not signed (taken before backups were signed, or planted): nothing shows it comes from this hub." \\
    "Check where it comes from; to restore it anyway, add --allow-plain."
elif [ -z "$SIGNER" ]; then
  unless_allowed "set $SET is signed, but this hub's backup container names no signing key to verify it with." \\
    "Run pulumi up (the backup gets its signing key), or add --allow-plain to take the set unverified."
else
  BY=$(gpg --batch --no-tty --status-fd 1 --verify "$DIR/${f.signature}" "$DIR/${f.sums}" 2> "$WORK/gpg.log" | awk '$2 == "VALIDSIG" { print $NF }')
  BY=\${BY%%"$NL"*}
  normalized "$BY"; BY_NORM=$norm; normalized "$SIGNER"
  if [ "$BY_NORM" != "$norm" ]; then
    WHO=\${BY:+signed by $BY}
    unless_allowed "set $SET is not signed by this hub's backup signing key $SIGNER (\${WHO:-no valid signature})." \\
      "Anyone who can write to the backup target could have made it. If the stack's signing key was replaced (state lost), check the set's origin and add --allow-plain."
  fi
fi
# Every file the restore uses must be listed in the (signed) checksums.
fields "$M" encryptedTo
if [ -n "$f_encryptedTo" ]; then SUFFIX=${ENCRYPTED_SUFFIX}; else
  SUFFIX=
  unless_allowed "set $SET is not encrypted (its manifest names no encryptedTo key)." "To restore it anyway, add --allow-plain."
fi
for x in ${f.etcd}$SUFFIX ${f.sqlite}$SUFFIX ${f.manifest}; do
  [ -f "$DIR/$x" ] || { echo "omni-hub-restore: $DIR/$x is missing: not a complete set" >&2; exit 2; }
  grep -q "^[0-9a-f]\\{64\\}  $x\\$" "$DIR/${f.sums}" || { echo "omni-hub-restore: $x is not in the checksums of $SET: the set is damaged or was altered" >&2; exit 4; }
done
(cd "$DIR" && sha256sum -c ${f.sums} >/dev/null) || { echo "omni-hub-restore: checksums of $SET do not match: the set is damaged or was altered" >&2; exit 4; }
# What the manifest says, read once its checksum matched.
fields "$M" set keyFingerprint accountId sequence
NAMED=$f_set
[ -z "$NAMED" ] || [ "$NAMED" = "$SET" ] ||
  refuse "the manifest of $SET names the set $NAMED: it was copied or renamed, so its order among the sets cannot be trusted."

# Omni encrypts its etcd data with the GPG key: a snapshot taken under another key cannot be read by this Omni.
TAKEN_WITH=$f_keyFingerprint
normalized "$TAKEN_WITH"; TAKEN_NORM=$norm; normalized "$EXPECTED"
if [ -z "$EXPECTED" ] || [ "$TAKEN_NORM" != "$norm" ]; then
  refuse "set $SET was taken with etcd key \${TAKEN_WITH:-unknown}, but the configured key is \${EXPECTED:-unknown}." \\
    "Deploy the hub with the key $TAKEN_WITH (config etcdGpgKey) first, or pick a set taken with the configured key."
fi
# Omni keeps its state under its account id: restored into an Omni with another --account-id it starts empty.
TAKEN_FOR=$f_accountId
if [ -z "$TAKEN_FOR" ]; then
  echo "omni-hub-restore: warning: set $SET predates recorded account ids; check that it comes from the Omni with --account-id \${ACCOUNT:-unknown}" >&2
elif [ "$TAKEN_FOR" != "$ACCOUNT" ]; then
  refuse "set $SET was taken from the Omni with account id $TAKEN_FOR, but the Omni to restore runs with --account-id \${ACCOUNT:-unknown}." \\
    "Omni would start on it as if empty. Set hub.accountId to $TAKEN_FOR and run pulumi up first, or pick a set of this Omni."
fi
VALUES=$(awk "$NUMBERS" "$M" etcdRevision bytes)
REVISION=\${VALUES% *}
BYTES=\${VALUES#* }
# A latest set smaller than an older one was probably taken of an Omni that had lost its data.
if [ "$WANT" = latest ]; then
  LARGER=; br=-1
  IFS=$NL; set -f
  for line in $TABLE; do
    row "$line"
    [ "$r_name" != "$SET" ] || continue
    if { [ "$r_rev" -gt "$REVISION" ] || [ $((BYTES * 2)) -lt "$r_bytes" ]; } && [ "$r_rev" -gt "$br" ]; then LARGER="$r_name $r_rev $r_bytes"; br=$r_rev; fi
  done
  IFS=$DEFAULT_IFS; set +f
  if [ -n "$LARGER" ]; then
    set -- $LARGER
    echo "omni-hub-restore: warning: latest set $SET (etcd revision $REVISION, $BYTES bytes) is smaller than the older set $1 (revision $2, $3 bytes):" \\
      "it may have been taken of an Omni that had lost its data. To restore the older one: --set $1" >&2
  fi
fi

if [ -n "$SUFFIX" ]; then
  gpg --batch --quiet --no-tty --list-secret-keys "$EXPECTED" >/dev/null 2>&1 || { echo "omni-hub-restore: could not read the etcd secret key (given on stdin)" >&2; exit 4; }
  for x in ${f.etcd} ${f.sqlite}; do
    gpg --batch --quiet --no-tty --output "$WORK/$x" --decrypt "$DIR/$x$SUFFIX" 2> "$WORK/gpg.log" ||
      { cat "$WORK/gpg.log" >&2; echo "omni-hub-restore: could not decrypt $x of $SET with the etcd key $EXPECTED" >&2; exit 4; }
  done
else
  cp "$DIR/${f.etcd}" "$DIR/${f.sqlite}" "$WORK/"
fi
$ETCD_OFFLINE snapshot status "$WORK/${f.etcd}" >/dev/null 2>&1 || { echo "omni-hub-restore: the etcd snapshot of $SET is unreadable" >&2; exit 4; }
echo "omni-hub-restore: set $SET is complete (etcd revision $REVISION, key $TAKEN_WITH, account \${TAKEN_FOR:-unrecorded}\${BY:+, signed by $BY})"
[ "$MODE" = restore ] || exit 0

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
ASIDE="$DATA/pre-restore-$STAMP"
NEW_ETCD="$DATA/.restore-$STAMP-etcd"
NEW_DB="$DATA/.restore-$STAMP-omni.db"
# Omni's embedded etcd is a single member named "default" advertising http://localhost:2380 (embed.NewConfig defaults).
$ETCD_OFFLINE snapshot restore "$WORK/${f.etcd}" --data-dir "$NEW_ETCD" --name default \\
  --initial-cluster default=http://localhost:2380 --initial-advertise-peer-urls http://localhost:2380 >/dev/null 2>&1 \\
  || { echo "omni-hub-restore: etcd snapshot restore failed; nothing was changed" >&2; rm -rf "$NEW_ETCD"; exit 5; }
cp "$WORK/${f.sqlite}" "$NEW_DB"
[ "$(sqlite3 "$NEW_DB" 'PRAGMA integrity_check;')" = ok ] || { echo "omni-hub-restore: the SQLite copy fails its integrity check; nothing was changed" >&2; exit 5; }

mkdir -p "$ASIDE"
[ ! -e "$ETCD_DIR" ] || mv "$ETCD_DIR" "$ASIDE/"
for x in "$SQLITE_DB" "$SQLITE_DB-wal" "$SQLITE_DB-shm"; do [ ! -e "$x" ] || mv "$x" "$ASIDE/"; done
mv "$NEW_ETCD" "$ETCD_DIR"
mv "$NEW_DB" "$SQLITE_DB"
# The backup reads this (Omni's data, mounted read-only there): the drops up to this set are recovered from.
printf 'set=%s\\nsequence=%s\\naccountId=%s\\ntime=%s\\n' "$SET" "$f_sequence" "$TAKEN_FOR" "$STAMP" > "$DATA/${RESTORE_RECORD}.tmp"
mv "$DATA/${RESTORE_RECORD}.tmp" "$DATA/${RESTORE_RECORD}"
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
    /** Seconds a docker call may take (RESTORE_LIMITS by default). */
    limits?: { call: number; stop: number; run: number };
}

/**
 * Bounds of the restore's docker calls, in seconds: each short call (inspect, cp, start), `docker stop` (which waits
 * 60 s for each container to stop), and the one-off container that checks or restores a set (decrypting and
 * restoring a large etcd takes minutes).
 */
export const RESTORE_LIMITS = { call: 60, stop: 120, run: 3600 } as const;

/**
 * Shell prelude of the restore's scripts on the Docker host: `dk <seconds> <docker args>` runs docker with a time
 * limit, so a daemon that hangs, or a tcp:// address that accepts and never answers, ends the restore with a message
 * instead of hanging it. `timeout` kills the docker CLI itself (busybox's runs it as its own process, coreutils' kills
 * its process group), KILL 10 s after TERM. Without a `timeout` that takes -k (e.g. macOS with a tcp:// host), the
 * calls run unbounded, with a warning.
 */
export function restoreDockerPrelude(callSeconds: number): string {
    return `if timeout -k 1 5 true 2>/dev/null; then
  bounded() { timeout -k 10 "$@"; }
else
  echo "omni-hub-restore: warning: no timeout command (coreutils or busybox) where this runs: docker calls are not time-limited" >&2
  bounded() { shift; "$@"; }
fi
dk() {
  limit=$1; shift
  rc=0; bounded "$limit" docker "$@" || rc=$?
  case $rc in
    124|137|143) echo "omni-hub-restore: docker $1 did not finish within \${limit}s: is the Docker daemon at \${DOCKER_HOST:-this host} answering?" >&2 ;;
  esac
  return "$rc"
}
CALL_LIMIT=${callSeconds}`;
}

/**
 * What `npm run restore` runs on the Docker host (only docker commands, each bounded; the file work happens in a
 * one-off container of the backup image, which has etcdutl, sqlite3 and gpg):
 * `sh -c <script> omni-hub-restore check|restore <set> <fingerprint> <data volume> <account id> [allow-plain]`, the
 * volume and account id read beforehand from `docker inspect` of the Omni container (omniContainerFacts). The
 * expected etcd key fingerprint defaults to the one the deployed backup container carries (the configured key), and
 * the signing key is the one it holds; the secret key that decrypts the set is read from the Omni container
 * (`docker cp`, which works while it is stopped) and never written to the host's disk.
 */
export function hubRestoreHostScript(p: HubRestoreHostParams): string {
    const limits = p.limits ?? RESTORE_LIMITS;
    const inner = hubRestoreScript({
        dataDir: p.omniPaths.data,
        etcdDir: p.omniPaths.etcd,
        sqlitePath: p.omniPaths.sqlite,
        setsDir: hubBackupPaths.target,
    });
    const label = (name: string) => `'{{index .Config.Labels "${name}"}}'`;
    return `set -eu
MODE=\${1:?check or restore}
SET=\${2:-latest}
EXPECTED=\${3:-}
VOLUME=\${4:?the data volume}
ACCOUNT=\${5:?the account id}
ALLOW=\${6:-}
OMNI=${shQuote(p.omniContainer)}
BACKUP=${shQuote(p.backupContainer)}
${restoreDockerPrelude(limits.call)}
rc=0; dk "$CALL_LIMIT" volume inspect "$VOLUME" >/dev/null || rc=$?
case $rc in
  0) ;;
  124|137|143) exit 2 ;;
  *) echo "omni-hub-restore: refusing: Docker volume $VOLUME, which $OMNI mounts at ${p.omniPaths.data}, does not exist on this host; nothing was changed" >&2
     exit 2 ;;
esac
# What the deployed backup container holds: its image (etcdutl, sqlite3, gpg), the etcd key's fingerprint and its signing key.
backup_facts() {
  IMAGE=$(dk "$CALL_LIMIT" inspect --format '{{.Config.Image}}' "$BACKUP") &&
    DEPLOYED=$(dk "$CALL_LIMIT" inspect --format ${label(HUB_BACKUP_LABELS.fingerprint)} "$BACKUP") &&
    SIGNER=$(dk "$CALL_LIMIT" inspect --format ${label(HUB_BACKUP_LABELS.signingFingerprint)} "$BACKUP")
}
backup_facts || { echo "omni-hub-restore: could not read the backup container $BACKUP (docker inspect): it must exist on this host (run pulumi up)" >&2; exit 2; }
# A label the container lacks reads as "<no value>".
[ "$SIGNER" != "<no value>" ] || SIGNER=
[ -n "$EXPECTED" ] || [ "$DEPLOYED" = "<no value>" ] || EXPECTED=$DEPLOYED
INNER=$(cat <<'OMNI_HUB_RESTORE_EOF'
${inner.trimEnd()}
OMNI_HUB_RESTORE_EOF
)
# The keys go on the one-off container's stdin (held in memory, never on the host's disk): the etcd secret key from
# Omni, the signing key's public part from the backup.
keys() {
  dk "$CALL_LIMIT" cp "$OMNI:${p.omniPaths.gpgKey}" - | tar -xO &&
    { [ -z "$SIGNER" ] || dk "$CALL_LIMIT" cp "$BACKUP:${hubBackupPaths.signingPublicKey}" - | tar -xO; }
}
inner() {
  KEYS=$(keys) || { echo "omni-hub-restore: could not read the keys from $OMNI and $BACKUP (docker cp)" >&2; return 2; }
  printf '%s\\n' "$KEYS" | dk ${limits.run} run --rm -i --network none --volume "$VOLUME:${p.omniPaths.data}" \\
    --volume ${shQuote(`${p.targetDir}:${hubBackupPaths.target}:ro`)} "$IMAGE" sh -c "$INNER" omni-hub-restore "$1" "$SET" "$EXPECTED" "$ACCOUNT" "$SIGNER" "$ALLOW"
}
echo "omni-hub-restore: $OMNI (account $ACCOUNT) keeps its data in volume $VOLUME"
inner check
[ "$MODE" = restore ] || exit 0
echo "omni-hub-restore: stopping $BACKUP and $OMNI"
dk ${limits.stop} stop --time 60 "$BACKUP" "$OMNI" >/dev/null
if ! inner restore; then
  echo "omni-hub-restore: the restore failed; $OMNI stays stopped (its data is unchanged unless the message above says otherwise). Start it with: docker start $OMNI $BACKUP" >&2
  exit 1
fi
dk "$CALL_LIMIT" start "$OMNI" >/dev/null
dk "$CALL_LIMIT" start "$BACKUP" >/dev/null
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

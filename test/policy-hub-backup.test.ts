import { strict as assert } from "node:assert";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { hubBackupBuildScript, hubBackupDockerfile, s3CurlConfig } from "../components/hub/backup-render";
import { HUB_BACKUP_LABELS, HUB_BACKUP_ROLE, hubBackupPaths } from "../components/hub/backup-rules";
import { STATE_ROLE_LABEL } from "../components/core/state-volumes";
import { dockerfileBaseImages } from "../policy/hub-backup";
import { assertNoViolation, assertViolation } from "./policy-helpers";

const IMAGE = "omni-scale/hub-backup:etcd-v3.7.1-0123456789ab";
const role = { label: STATE_ROLE_LABEL, value: HUB_BACKUP_ROLE };
const s3Label = { label: HUB_BACKUP_LABELS.s3, value: "s3://omni-backups/hub at https://s3.example.com" };
const script = { file: hubBackupPaths.script, content: "#!/bin/sh\n", permissions: "0555" };
const publicKey = {
    file: hubBackupPaths.publicKey,
    content: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nofflineExample\n-----END PGP PUBLIC KEY BLOCK-----\n",
    permissions: "0444",
};
const SECRET_KEY = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nofflineSigning\n-----END PGP PRIVATE KEY BLOCK-----\n";
/** The backup's own signing key: the one secret key it may hold. */
const signingKey = { file: hubBackupPaths.signingKey, content: pulumi.secret(SECRET_KEY), permissions: "0400" };
const credentials = {
    file: hubBackupPaths.s3Credentials,
    content: pulumi.secret(s3CurlConfig("AKIAOFFLINE", "offline-secret")),
    permissions: "0400",
};

/** A hub backup container as the component registers it; `args` overrides. */
const backup =
    (args: Partial<docker.ContainerArgs> = {}) =>
    () => {
        new docker.Container("hub-backup", {
            image: IMAGE,
            networkMode: "container:0123abcd",
            labels: [role],
            volumes: [
                { volumeName: "omni-data", containerPath: "/_out", readOnly: true },
                { hostPath: "/mnt/nas/omni-hub-backups", containerPath: hubBackupPaths.target },
            ],
            uploads: [script, publicKey, signingKey],
            command: [hubBackupPaths.script, "run"],
            ...args,
        });
    };

describe("policy: hub backup", () => {
    describe("hub-backup-image-pinned", () => {
        const build = (etcdImage: string, baseImage: string) => () => {
            new command.remote.Command("hub-backup-image", {
                connection: { host: "192.168.10.20", user: "ansible" },
                create: hubBackupBuildScript(hubBackupDockerfile({ etcdImage, baseImage }), IMAGE),
            });
        };

        it("passes the component's build (pinned FROM images) and container", async () => {
            await assertNoViolation(
                "hub-backup-image-pinned",
                build("gcr.io/etcd-development/etcd:v3.7.1", "alpine:3.23.0"),
            );
            await assertNoViolation("hub-backup-image-pinned", backup());
        });

        it("rejects a build FROM a floating image, and a backup container on latest", async () => {
            await assertViolation(
                "hub-backup-image-pinned",
                "hub-backup-image",
                build("gcr.io/etcd-development/etcd:v3.7.1", "alpine"),
                /docker build FROM alpine: .*no tag/,
            );
            await assertViolation(
                "hub-backup-image-pinned",
                "hub-backup",
                backup({ image: "omni-scale/hub-backup:latest" }),
                /the hub backup container: .*"latest"/,
            );
        });

        it("reads base images, not build stages, from a docker build script", () => {
            assert.deepEqual(
                dockerfileBaseImages(
                    "docker build -t x - <<'EOF'\nFROM a:1 AS tools\nFROM --platform=linux/amd64 b:2\nCOPY --from=tools /x /x\nFROM tools\nEOF",
                ),
                ["a:1", "b:2"],
            );
            assert.deepEqual(dockerfileBaseImages("echo FROM nothing"), []);
        });
    });

    describe("hub-backup-target-outside-data", () => {
        it("passes a target on another disk", async () => {
            await assertNoViolation("hub-backup-target-outside-data", backup());
        });

        it("rejects a target inside the Omni data volume, naming it", async () => {
            const volumes = [
                { volumeName: "omni-data", containerPath: "/_out", readOnly: true },
                { hostPath: "/var/lib/docker/volumes/omni-data/_data/backups", containerPath: hubBackupPaths.target },
            ];
            await assertViolation(
                "hub-backup-target-outside-data",
                "hub-backup",
                backup({ volumes }),
                /inside the Omni data volume omni-data/,
            );
        });

        it("rejects a Docker volume or no mount at all as the target", async () => {
            const volume = [
                { volumeName: "omni-data", containerPath: "/_out" },
                { volumeName: "backups", containerPath: hubBackupPaths.target },
            ];
            await assertViolation(
                "hub-backup-target-outside-data",
                "hub-backup",
                backup({ volumes: volume }),
                /is a Docker volume/,
            );
            await assertViolation(
                "hub-backup-target-outside-data",
                "hub-backup",
                backup({ volumes: [] }),
                /mounts nothing at \/backup/,
            );
        });

        it("leaves other containers alone", async () => {
            await assertNoViolation("hub-backup-target-outside-data", () => {
                new docker.Container("other", {
                    image: "nginx:1.27.0",
                    volumes: [{ hostPath: "/var/lib/docker/volumes/x/_data", containerPath: "/backup" }],
                });
            });
        });
    });

    describe("hub-backup-s3-credentials-secret", () => {
        it("passes credentials uploaded as a 0400 file (a secret input, seen as plaintext by the policy)", async () => {
            await assertNoViolation(
                "hub-backup-s3-credentials-secret",
                backup({ labels: [role, s3Label], uploads: [script, publicKey, credentials] }),
            );
        });

        it("rejects credentials in the environment or on the command line", async () => {
            await assertViolation(
                "hub-backup-s3-credentials-secret",
                "hub-backup",
                backup({ envs: ["AWS_SECRET_ACCESS_KEY=offline-secret"] }),
                /AWS_SECRET_ACCESS_KEY carries S3 credentials/,
            );
            await assertViolation(
                "hub-backup-s3-credentials-secret",
                "hub-backup",
                backup({
                    command: ["sh", "-c", "curl --user AKIAOFFLINE:offline-secret -T x https://s3.example.com/b/x"],
                }),
                /command line carries S3 credentials/,
            );
        });

        it("rejects S3 upload without the credentials file, or with a readable one", async () => {
            await assertViolation(
                "hub-backup-s3-credentials-secret",
                "hub-backup",
                backup({ labels: [role, s3Label] }),
                /no credentials file is uploaded/,
            );
            await assertViolation(
                "hub-backup-s3-credentials-secret",
                "hub-backup",
                backup({
                    labels: [role, s3Label],
                    uploads: [script, publicKey, { ...credentials, permissions: "0644" }],
                }),
                /mode 0644; upload it with 0400/,
            );
        });
    });

    describe("hub-backup-encrypted", () => {
        it("passes a backup that holds the etcd key's public part and its own signing key", async () => {
            await assertNoViolation("hub-backup-encrypted", backup());
        });

        it("rejects a backup with no key to encrypt to or sign with, or with the etcd secret key", async () => {
            await assertViolation(
                "hub-backup-encrypted",
                "hub-backup",
                backup({ uploads: [script, signingKey] }),
                /no public key is uploaded .*SQLite database and etcd keys in plain text/,
            );
            await assertViolation(
                "hub-backup-encrypted",
                "hub-backup",
                backup({ uploads: [script, publicKey] }),
                /no signing key is uploaded .*cannot be told from sets planted in the target/,
            );
            const fingerprint = "0123456789ABCDEF0123456789ABCDEF01234567";
            await assertViolation(
                "hub-backup-encrypted",
                "hub-backup",
                backup({
                    labels: [
                        role,
                        { label: HUB_BACKUP_LABELS.fingerprint, value: fingerprint },
                        { label: HUB_BACKUP_LABELS.signingFingerprint, value: fingerprint },
                    ],
                }),
                /the signing key is the etcd key 0123456789ABCDEF0123456789ABCDEF01234567/,
            );
            const secret = {
                ...publicKey,
                content: "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nx\n-----END PGP PRIVATE KEY BLOCK-----\n",
            };
            await assertViolation(
                "hub-backup-encrypted",
                "hub-backup",
                backup({ uploads: [script, secret, signingKey] }),
                /etcd-public\.asc holds an OpenPGP SECRET key/,
            );
            // The secret key under any other name, beside the public part.
            await assertViolation(
                "hub-backup-encrypted",
                "hub-backup",
                backup({
                    uploads: [script, publicKey, signingKey, { ...secret, file: "/etc/omni-hub-backup/omni.asc" }],
                }),
                /\/etc\/omni-hub-backup\/omni\.asc holds an OpenPGP SECRET key/,
            );
        });
    });
});

import { strict as assert } from "node:assert";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { hubBackupDockerfile, hubBackupImageTag, hubContainerNames } from "../components/hub/backup-render";
import { HUB_BACKUP_LABELS, hubBackupPaths } from "../components/hub/backup-rules";
import { OmniHubSettingsInput, OmniHubSettingsSchema } from "../components/hub/settings";
import { OmniHub, OmniHubArgs } from "../components/hub/omni-hub";
import { ConfigError, parseOrThrow } from "../components/core/validation";
import { publicKeyOf } from "../components/hub/etcd-key-rules";
import { CapturedResource, RunResult, isSecret, maskSecrets, runProgram, unwrapSecrets } from "../src/plan/capture";
import { planStack } from "../src/plan/plan";
import { GENERATED_AT_UP } from "../src/plan/mocks";
import { hubSettings } from "./fixtures/settings";
import { eccKey } from "./keys";

const tls = {
    mode: "hostFiles",
    certPath: "/etc/letsencrypt/live/omni.example.com/fullchain.pem",
    keyPath: "/etc/letsencrypt/live/omni.example.com/privkey.pem",
} as const;
const s3 = {
    bucket: "omni-backups",
    prefix: "hub/quantum",
    endpoint: "https://s3.eu-central-1.amazonaws.com",
    region: "eu-central-1",
};
const fakeCredentials = {
    accessKeyId: pulumi.secret("AKIAOFFLINEEXAMPLE"),
    secretAccessKey: pulumi.secret("offline-example-secret"),
};

function runHub(backup: OmniHubSettingsInput["backup"], args: Partial<OmniHubArgs> = {}): Promise<RunResult> {
    return runProgram(
        () => {
            const hub = new OmniHub("hub", {
                settings: parseOrThrow(OmniHubSettingsSchema, { ...hubSettings, tls, backup }, "hub"),
                ...args,
            });
            return { hubBackup: hub.hubBackup, etcdKeyArmored: hub.etcdKeyArmored, accountId: hub.accountId };
        },
        { stack: "quantum" },
    );
}

const byName = (run: RunResult, name: string): CapturedResource => {
    const found = run.resources.find((r) => r.name === name);
    assert.ok(found, `no resource ${name}; have ${run.resources.map((r) => r.name).join(", ")}`);
    return found;
};

describe("hub-backup: HubBackup under mocks", () => {
    let run: RunResult;
    before(async () => {
        run = await runHub(
            { targetDir: "/mnt/nas/omni-hub-backups", interval: "4h", keep: 10, s3 },
            { hubBackupS3: fakeCredentials },
        );
    });

    it("joins Omni's network namespace (the sidecar's, by id) where the embedded etcd listens", () => {
        const backup = byName(run, "hub-backup-container").inputs;
        const omni = byName(run, "hub-omni").inputs;
        assert.match(String(backup.networkMode), /^container:[0-9a-f]{64}$/);
        assert.equal(backup.networkMode, omni.networkMode);
    });

    it("uses the names the restore command expects (Omni, its data volume, the backup container)", () => {
        const names = hubContainerNames("omni");
        assert.equal(byName(run, "hub-omni").inputs.name, names.omni);
        assert.equal(byName(run, "hub-omni-data").inputs.name, names.dataVolume);
        assert.equal(byName(run, "hub-backup-container").inputs.name, names.backup);
    });

    it("runs the image built on the host from the pinned etcd and base images, after the build", () => {
        const backup = byName(run, "hub-backup-container");
        const build = byName(run, "hub-backup-image");
        assert.equal(build.type, "command:remote:Command");
        const dockerfile = hubBackupDockerfile({
            etcdImage: "gcr.io/etcd-development/etcd:v3.7.1",
            baseImage: "alpine:3.23.0",
        });
        assert.equal(backup.inputs.image, hubBackupImageTag(dockerfile, "gcr.io/etcd-development/etcd:v3.7.1"));
        assert.ok(String(build.inputs.create).includes(dockerfile.trim()));
        assert.ok(backup.dependsOn.includes(build.urn));
        for (const name of ["hub-backup-etcd-image", "hub-backup-base-image"])
            assert.ok(build.dependsOn.includes(byName(run, name).urn));
        // It starts after Omni (the first set is taken at start).
        assert.ok(
            run.resources
                .find((r) => r.type === "omni-scale:omni:HubBackup")!
                .dependsOn.includes(byName(run, "hub-omni").urn),
        );
    });

    it("mounts Omni's data read-only where Omni has it and the target read-write; renders the schedule and retention", () => {
        const inputs = unwrapSecrets(byName(run, "hub-backup-container").inputs);
        assert.deepEqual(inputs.volumes, [
            { volumeName: "omni-data", containerPath: "/_out", readOnly: true },
            { hostPath: "/mnt/nas/omni-hub-backups", containerPath: hubBackupPaths.target },
        ]);
        const script = inputs.uploads.find((u: { file: string }) => u.file === hubBackupPaths.script);
        assert.equal(script.permissions, "0555");
        assert.match(script.content, /^INTERVAL=14400$/m);
        assert.match(script.content, /^KEEP=10$/m);
        // Each step bounded by a quarter of the interval (4h), at most 30 minutes.
        assert.match(script.content, /^STEP_TIMEOUT=1800$/m);
        assert.match(script.content, /^ETCD_ENDPOINT='http:\/\/localhost:2379'$/m);
        assert.match(script.content, /^SQLITE_DB='\/_out\/omni\.db'$/m);
        assert.match(
            script.content,
            /^S3_URL='https:\/\/s3\.eu-central-1\.amazonaws\.com\/omni-backups\/hub\/quantum'$/m,
        );
        assert.deepEqual(inputs.command, [hubBackupPaths.script, "run"]);
        assert.deepEqual(inputs.healthcheck.tests, ["CMD", hubBackupPaths.script, "health"]);
    });

    it("encrypts each set to the public part of the very key Omni runs with, and records Omni's account id", async () => {
        // A supplied key: the generated one exists only at `pulumi up` (the offline mocks show it as such).
        const run = await runHub(
            { targetDir: "/mnt/nas/omni-hub-backups", interval: "4h", keep: 10, s3 },
            { hubBackupS3: fakeCredentials, etcdKey: await eccKey() },
        );
        const inputs = unwrapSecrets(byName(run, "hub-backup-container").inputs);
        const upload = inputs.uploads.find((u: { file: string }) => u.file === hubBackupPaths.publicKey);
        assert.equal(upload.permissions, "0444");
        const omni = unwrapSecrets(byName(run, "hub-omni").inputs);
        const secret = omni.uploads.find((u: { file: string }) => u.file === "/omni.asc").content;
        assert.equal(upload.content, await publicKeyOf(secret));
        assert.ok(!upload.content.includes("PRIVATE KEY"));
        const script = inputs.uploads.find((u: { file: string }) => u.file === hubBackupPaths.script).content;
        assert.match(script, new RegExp(`^PUBLIC_KEY='${hubBackupPaths.publicKey}'$`, "m"));
        assert.match(script, new RegExp(`^ACCOUNT_ID='${run.outputs.accountId}'$`, "m"));
        assert.match(String(omni.command), new RegExp(`--account-id=${run.outputs.accountId}`));
    });

    it("labels every set's key: the fingerprint of the etcd key Omni uses, also in the output", () => {
        const labels = unwrapSecrets(byName(run, "hub-backup-container").inputs.labels) as {
            label: string;
            value: string;
        }[];
        const fingerprint = labels.find((l) => l.label === HUB_BACKUP_LABELS.fingerprint)!.value;
        // The generated key's fingerprint, which the offline mocks show as made at `pulumi up`.
        assert.equal(fingerprint, GENERATED_AT_UP);
        const summary = run.outputs.hubBackup as Record<string, string>;
        assert.equal(summary.keyFingerprint, fingerprint);
        assert.ok(
            summary.note.includes(
                `encrypted with gpg to the etcd key ${fingerprint} (Omni itself encrypts only etcd values`,
            ),
            summary.note,
        );
        assert.match(summary.networkMode, /^container:[0-9a-f]{64} \(Omni's; etcd at http:\/\/localhost:2379\)$/);
        assert.equal(summary.s3, "s3://omni-backups/hub/quantum at https://s3.eu-central-1.amazonaws.com");
    });

    it("uploads the S3 credentials as a secret 0400 file, masked in the plan", () => {
        const uploads = byName(run, "hub-backup-container").inputs.uploads as unknown[];
        const credentials = uploads
            .map((u) => (isSecret(u) ? (u.value as Record<string, unknown>) : (u as Record<string, unknown>)))
            .find((u) => u.file === hubBackupPaths.s3Credentials)!;
        assert.equal(credentials.permissions, "0400");
        assert.ok(isSecret(credentials.content) || isSecret(uploads[1]), "the credentials are secret");
        const masked = JSON.stringify(maskSecrets(byName(run, "hub-backup-container").inputs));
        assert.ok(!masked.includes("offline-example-secret") && !masked.includes("AKIAOFFLINEEXAMPLE"));
    });

    it("adds nothing without hub.backup", async () => {
        const off = await runHub(undefined);
        assert.ok(!off.resources.some((r) => r.name.startsWith("hub-backup")));
    });

    it("refuses S3 without credentials, credentials without S3, and etcd tools of another minor version", async () => {
        await assert.rejects(
            runHub({ targetDir: "/srv/b", s3 }),
            (e: unknown) =>
                e instanceof ConfigError &&
                /hubBackupS3\.accessKeyId\/hubBackupS3\.secretAccessKey: hub\.settings\.backup\.s3 is set/.test(
                    e.message,
                ),
        );
        await assert.rejects(
            runHub({ targetDir: "/srv/b" }, { hubBackupS3: fakeCredentials }),
            (e: unknown) => e instanceof ConfigError && /hub\.settings\.backup\.s3 is not/.test(e.message),
        );
        await assert.rejects(
            runHub({ targetDir: "/srv/b", etcdImage: "gcr.io/etcd-development/etcd:v3.6.5" }),
            (e: unknown) => e instanceof ConfigError && /hub\.backup\.etcdImage.*embeds etcd v3\.7\.1/.test(e.message),
        );
    });
});

describe("hub-backup: the quantum example plan", () => {
    it("shows the backup container in Omni's namespace with its pinned image, schedule, retention and target", async () => {
        const plan = await planStack({
            stack: "quantum",
            configFile: path.join(__dirname, "..", "Pulumi.quantum.yaml"),
            skipPolicies: true,
        });
        const backup = plan.resources.find(
            (r) => r.type === "docker:index/container:Container" && r.inputs.name === "omni-backup",
        );
        assert.ok(backup, "the quantum example enables hub.backup");
        const omni = plan.resources.find(
            (r) => r.type === "docker:index/container:Container" && r.inputs.name === "omni",
        )!;
        assert.equal(backup.inputs.networkMode, omni.inputs.networkMode);
        const summary = plan.outputs.hubBackup as Record<string, unknown>;
        assert.match(String(summary.image), /^omni-scale\/hub-backup:etcd-v3\.7\.1-[0-9a-f]{12}$/);
        assert.equal(
            summary.schedule,
            "every 6h; unhealthy when the last success is older than 43200s, or a set is kept for a drop in etcd revision or size",
        );
        assert.equal(summary.keep, 28);
        assert.equal(summary.target, "/mnt/nas/omni-hub-backups");
    });
});

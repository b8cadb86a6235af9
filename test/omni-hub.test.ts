import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { OmniHubSettingsInput, OmniHubSettingsSchema } from "../components/hub/settings";
import { OmniHub, OmniHubArgs } from "../components/hub/omni-hub";
import {
    automationAccountScript,
    infraProviderKeyScript,
    readInitialKeyScript,
    serviceAccountKeyFromOutput,
} from "../components/hub/scripts";
import { parseOrThrow } from "../components/core/validation";
import { SSH_BOUND_OPTIONS } from "../components/core/ssh";
import { CapturedResource, RunResult, isSecret, runProgram, unwrapSecrets } from "../src/plan/capture";
import { GENERATED_AT_UP } from "../src/plan/mocks";
import { hubSettings } from "./fixtures/settings";
import { eccKey, selfSigned } from "./keys";
import { requireTools } from "./tools";

const baseSettings: OmniHubSettingsInput = {
    ...hubSettings,
    dockerHost: "ssh://ansible@192.168.10.20:2222",
    infraProviders: ["matrix-cluster"],
};

let tls: { cert: string; key: string; otherCert: string };

/** Runs one OmniHub under the offline mocks. */
function runHub(settings: Partial<OmniHubSettingsInput> = {}, args: Partial<OmniHubArgs> = {}): Promise<RunResult> {
    return runProgram(
        () => {
            const hub = new OmniHub("hub", {
                settings: parseOrThrow(OmniHubSettingsSchema, { ...baseSettings, ...settings }, "hub"),
                tlsCertificate: pulumi.secret(tls.cert),
                tlsPrivateKey: pulumi.secret(tls.key),
                ...args,
            });
            return {
                apiUrl: hub.apiUrl,
                machineApiUrl: hub.machineApiUrl,
                k8sProxyUrl: hub.k8sProxyUrl,
                wireguardEndpoint: hub.wireguardEndpoint,
                tailscaleHostname: hub.tailscaleHostname,
                accountId: hub.accountId,
                etcdKeyArmored: hub.etcdKeyArmored,
                // Without the initial service account there is no automation key to read.
                ...(settings.initialServiceAccount?.enabled === false ? {} : { automationKey: hub.automationKey }),
                infraProviderKeys: hub.infraProviderKeys,
                flags: hub.flags,
            };
        },
        { stack: "quantum" },
    );
}

function byName(run: RunResult, name: string): CapturedResource {
    const found = run.resources.find((r) => r.name === name);
    assert.ok(found, `no resource named ${name}; have ${run.resources.map((r) => r.name).join(", ")}`);
    return found;
}

describe("omni-hub: OmniHub under mocks", () => {
    let run: RunResult;
    let tmp: string;

    before(async function () {
        requireTools(this, ["openssl"], "OmniHub with real certificates");
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "omni-hub-"));
        const omni = selfSigned(tmp, "omni", "omni.example.com", "DNS:omni.example.com");
        tls = { ...omni, otherCert: selfSigned(tmp, "other", "other.example.com", "DNS:other.example.com").cert };
        run = await runHub();
    });
    after(() => tmp && fs.rmSync(tmp, { recursive: true, force: true }));

    it("registers its children under the component, named after it", () => {
        const hub = byName(run, "hub");
        assert.equal(hub.type, "omni-scale:omni:OmniHub");
        const expected: [string, string][] = [
            ["hub-docker", "pulumi:providers:docker"],
            ["hub-account-id", "random:index/randomUuid:RandomUuid"],
            ["hub-etcd-key", "omni-scale:omni:OmniEtcdKey"],
            ["hub-omni-image", "docker:index/remoteImage:RemoteImage"],
            ["hub-tailscale-image", "docker:index/remoteImage:RemoteImage"],
            ["hub-tailscale-key", "tailscale:index/tailnetKey:TailnetKey"],
            ["hub-tailscale-state", "docker:index/volume:Volume"],
            ["hub-omni-data", "docker:index/volume:Volume"],
            ["hub-tailscale", "docker:index/container:Container"],
            ["hub-omni", "docker:index/container:Container"],
            ["hub-initial-key", "command:remote:Command"],
            ["hub-automation-account", "command:local:Command"],
            ["hub-infra-provider-matrix-cluster", "command:local:Command"],
        ];
        for (const [name, type] of expected) {
            const r = byName(run, name);
            assert.equal(r.type, type, name);
            assert.equal(r.parent, hub.urn, `${name} must be a child of the hub`);
        }
        assert.equal(byName(run, "hub-etcd-key-generated").parent, byName(run, "hub-etcd-key").urn);
        const children = run.resources
            .filter((r) => r.parent === hub.urn)
            .map((r) => r.name)
            .sort();
        assert.deepEqual(children, expected.map(([n]) => n).sort(), "no unexpected children");
    });

    it("talks to the configured Docker host over SSH with its options", async () => {
        const dockerProvider = byName(run, "hub-docker");
        assert.equal(dockerProvider.inputs.host, "ssh://ansible@192.168.10.20:2222");
        const withOpts = await runHub({ dockerSshOpts: ["-o", "StrictHostKeyChecking=yes"] });
        // The user's options, then the bounds (components/core/ssh.ts): a hung host must not hold `up` forever.
        assert.equal(
            byName(withOpts, "hub-docker").inputs.sshOpts,
            JSON.stringify(["-o", "StrictHostKeyChecking=yes", ...SSH_BOUND_OPTIONS]),
        );
        for (const name of [
            "hub-omni-image",
            "hub-tailscale-image",
            "hub-tailscale-state",
            "hub-omni-data",
            "hub-tailscale",
            "hub-omni",
        ]) {
            assert.ok(
                byName(run, name).provider?.startsWith(dockerProvider.urn),
                `${name} must use the hub's Docker provider`,
            );
        }
    });

    it("protects the state volumes and the account id against replacement and deletion", () => {
        for (const name of ["hub-tailscale-state", "hub-omni-data"]) {
            const v = byName(run, name);
            assert.equal(v.protect, true, name);
            assert.equal(v.retainOnDelete, true, name);
        }
        assert.equal(byName(run, "hub-tailscale-state").inputs.name, "omni-tailscale-state");
        assert.equal(byName(run, "hub-omni-data").inputs.name, "omni-data");
        const account = byName(run, "hub-account-id");
        assert.equal(account.protect, true);
        assert.deepEqual(account.ignoreChanges, ["keepers"]);
        const key = byName(run, "hub-etcd-key-generated");
        assert.equal(key.protect, true);
        assert.equal(key.retainOnDelete, true);
    });

    it("pulls the pinned images", () => {
        assert.equal(byName(run, "hub-omni-image").inputs.name, "ghcr.io/siderolabs/omni:v1.10.4");
        assert.equal(byName(run, "hub-tailscale-image").inputs.name, "tailscale/tailscale:v1.94.2");
        assert.equal(byName(run, "hub-omni").inputs.image, byName(run, "hub-omni-image").state.imageId);
        assert.equal(byName(run, "hub-tailscale").inputs.image, byName(run, "hub-tailscale-image").state.imageId);
    });

    it("makes a tagged, preauthorized, single-use Tailscale key that expires", () => {
        const key = byName(run, "hub-tailscale-key").inputs;
        assert.equal(key.reusable, false);
        assert.equal(key.ephemeral, false);
        assert.equal(key.preauthorized, true);
        assert.deepEqual(key.tags, ["tag:omni"]);
        assert.equal(key.expiry, 86400);
        assert.equal(key.recreateIfInvalid, "never");
    });

    it("runs the sidecar in kernel mode with persistent state, a real health check and Omni's ports on the LAN IP", () => {
        const sidecar = byName(run, "hub-tailscale").inputs as any;
        const envs: unknown[] = sidecar.envs;
        const authKey = envs.find((e) => isSecret(e));
        assert.ok(authKey, "TS_AUTHKEY must be a secret env entry");
        assert.match(String((authKey as { value: string }).value), /^TS_AUTHKEY=tskey-auth-/);
        assert.ok(!envs.some((e) => typeof e === "string" && e.startsWith("TS_AUTHKEY")), "no plaintext TS_AUTHKEY");
        for (const env of [
            "TS_HOSTNAME=omni",
            "TS_STATE_DIR=/var/lib/tailscale",
            "TS_USERSPACE=false",
            "TS_AUTH_ONCE=true",
            "TS_ENABLE_HEALTH_CHECK=true",
        ]) {
            assert.ok(envs.includes(env), env);
        }
        assert.deepEqual(sidecar.volumes, [
            { volumeName: "omni-tailscale-state", containerPath: "/var/lib/tailscale" },
        ]);
        assert.deepEqual(sidecar.devices, [{ hostPath: "/dev/net/tun", containerPath: "/dev/net/tun" }]);
        assert.deepEqual(sidecar.capabilities.adds, ["NET_ADMIN"]);
        assert.equal(sidecar.restart, "unless-stopped");
        assert.equal(sidecar.wait, true);
        assert.match(sidecar.healthcheck.tests.join(" "), /healthz.*getent hosts/);
        assert.deepEqual(
            sidecar.ports.map((p: any) => `${p.ip}:${p.external}->${p.internal}/${p.protocol}`).sort(),
            [
                "192.168.10.20:443->443/tcp",
                "192.168.10.20:8090->8090/tcp",
                "192.168.10.20:8100->8100/tcp",
                "192.168.10.20:50180->50180/udp",
            ].sort(),
        );
    });

    it("runs Omni in the sidecar's namespace, after the sidecar is healthy", () => {
        const sidecar = byName(run, "hub-tailscale");
        const omni = byName(run, "hub-omni");
        const inputs = omni.inputs as any;
        // The sidecar's id (not its name), so a replaced sidecar replaces Omni too.
        assert.match(inputs.networkMode, /^container:[0-9a-f]{64}$/);
        assert.deepEqual(omni.propertyDependencies.networkMode, [sidecar.urn]);
        assert.ok(omni.dependsOn.includes(sidecar.urn), "Omni must depend on the sidecar");
        assert.equal(inputs.ports, undefined, "Omni publishes nothing itself");
        assert.deepEqual(inputs.devices, [{ hostPath: "/dev/net/tun", containerPath: "/dev/net/tun" }]);
        assert.deepEqual(inputs.capabilities.adds, ["NET_ADMIN"]);
        assert.deepEqual(inputs.volumes, [{ volumeName: "omni-data", containerPath: "/_out" }]);
    });

    it("uploads the GPG key and TLS files read-only, keeping the keys secret", () => {
        const uploads = (byName(run, "hub-omni").inputs as any).uploads as any[];
        const upload = (file: string) => uploads.find((u) => u.file === file);
        assert.ok(isSecret(upload("/omni.asc").content), "GPG key upload must be secret");
        // The generated key, which the offline mocks show as made at `pulumi up`.
        assert.equal(unwrapSecrets(upload("/omni.asc").content), GENERATED_AT_UP);
        assert.equal(upload("/omni.asc").permissions, "0400");
        assert.ok(isSecret(upload("/tls.key").content), "TLS key upload must be secret");
        assert.equal(unwrapSecrets(upload("/tls.key").content), tls.key);
        assert.equal(upload("/tls.key").permissions, "0400");
        assert.equal(unwrapSecrets(upload("/tls.crt").content), tls.cert);
        assert.equal(upload("/tls.crt").permissions, "0444");
    });

    it("starts Omni with the rendered flags", () => {
        const command = unwrapSecrets((byName(run, "hub-omni").inputs as any).command) as string[];
        const accountId = byName(run, "hub-account-id").state.result;
        assert.ok(command.includes(`--account-id=${accountId}`));
        assert.ok(command.includes("--siderolink-wireguard-advertised-addr=192.168.10.20:50180"));
        assert.ok(command.includes("--initial-service-account-key-path=/_out/initial-service-account-key"));
        assert.deepEqual(run.outputs.flags, command);
    });

    it("exports the endpoints, and the keys as secrets", () => {
        assert.equal(run.outputs.apiUrl, "https://omni.example.com");
        assert.equal(run.outputs.machineApiUrl, "https://omni.example.com:8090");
        assert.equal(run.outputs.k8sProxyUrl, "https://omni.example.com:8100");
        assert.equal(run.outputs.wireguardEndpoint, "192.168.10.20:50180");
        assert.equal(run.outputs.tailscaleHostname, "omni");
        assert.equal(run.outputs.accountId, byName(run, "hub-account-id").state.result);
        for (const key of ["etcdKeyArmored", "automationKey", "infraProviderKeys"]) {
            assert.ok(isSecret(run.outputs[key]), `${key} must be secret`);
        }
        const providerKeys = unwrapSecrets(run.outputs.infraProviderKeys);
        assert.deepEqual(Object.keys(providerKeys), ["matrix-cluster"]);
        assert.ok(!String(providerKeys["matrix-cluster"]).includes("OMNI_"), "only the key, not omnictl's output");
    });

    it("reads the initial key over SSH, then runs omnictl with OMNI_ENDPOINT and OMNI_SERVICE_ACCOUNT_KEY", () => {
        const readKey = byName(run, "hub-initial-key");
        const connection = unwrapSecrets((readKey.inputs as any).connection);
        assert.equal(connection.host, "192.168.10.20");
        assert.equal(connection.user, "ansible");
        assert.equal(connection.port, 2222);
        assert.equal(connection.privateKey, undefined, "the SSH agent authenticates");
        assert.match(
            String(readKey.inputs.create),
            /docker cp 'omni:\/_out\/initial-service-account-key' - .*\| tar -xOf -/,
        );
        assert.ok(readKey.dependsOn.includes(byName(run, "hub-omni").urn));

        const automation = byName(run, "hub-automation-account");
        const provider = byName(run, "hub-infra-provider-matrix-cluster");
        const initialKey = String(readKey.state.stdout).trim();
        const automationKey = serviceAccountKeyFromOutput(String(automation.state.stdout));
        for (const [cmd, key] of [
            [automation, initialKey],
            [provider, automationKey],
        ] as const) {
            const env = (cmd.inputs as any).environment;
            assert.deepEqual(Object.keys(env).sort(), ["OMNI_ENDPOINT", "OMNI_SERVICE_ACCOUNT_KEY"], cmd.name);
            assert.equal(env.OMNI_ENDPOINT, "https://omni.example.com");
            assert.ok(isSecret(env.OMNI_SERVICE_ACCOUNT_KEY), `${cmd.name}: the key must be secret`);
            assert.equal(unwrapSecrets(env.OMNI_SERVICE_ACCOUNT_KEY), key, `${cmd.name} uses the previous step's key`);
        }
        assert.match(
            String(automation.inputs.create),
            /omnictl serviceaccount create 'pulumi-automation' --role='Admin'/,
        );
        assert.match(String(provider.inputs.create), /omnictl infraprovider create 'matrix-cluster'/);
        assert.deepEqual(provider.inputs.triggers, [0]);
    });

    it("runs each bootstrap command once: stdout secret and not logged, environment changes ignored", () => {
        for (const name of ["hub-initial-key", "hub-automation-account", "hub-infra-provider-matrix-cluster"]) {
            const cmd = byName(run, name);
            assert.ok(cmd.additionalSecretOutputs.includes("stdout"), name);
            assert.equal(cmd.inputs.logging, "stderr", name);
            assert.equal(cmd.inputs.update, undefined, name);
        }
        for (const name of ["hub-automation-account", "hub-infra-provider-matrix-cluster"]) {
            assert.deepEqual(byName(run, name).ignoreChanges, ["environment"], name);
        }
    });

    it("renews provider keys when infraProviderKeyRotation changes", async () => {
        const rotated = await runHub({ infraProviderKeyRotation: 3 });
        assert.deepEqual(byName(rotated, "hub-infra-provider-matrix-cluster").inputs.triggers, [3]);
    });

    it("puts the OIDC client secret in a read-only config file Omni loads, never on its command line", async () => {
        const oidc = await runHub(
            { auth: { oidc: { providerUrl: "https://idp.example.com/", clientId: "omni" } } },
            { oidcClientSecret: pulumi.secret("s3cret") },
        );
        const inputs = byName(oidc, "hub-omni").inputs as any;
        assert.ok(!isSecret(inputs.command), "the command holds no secret");
        assert.ok(!JSON.stringify(unwrapSecrets(inputs.command)).includes("s3cret"));
        assert.ok((inputs.command as string[]).includes("--config-path=/omni-secrets.yaml"));
        const file = (unwrapSecrets(inputs.uploads) as any[]).find((u) => u.file === "/omni-secrets.yaml");
        assert.equal(file.permissions, "0400");
        assert.equal(file.content, "auth:\n  oidc:\n    clientSecret: s3cret\n");
        const upload = (inputs.uploads as any[]).find((u) => unwrapSecrets(u).file === "/omni-secrets.yaml");
        assert.ok(isSecret(upload) || isSecret(upload.content), "the file's content is secret");
        assert.ok(
            !(byName(run, "hub-omni").inputs as any).command.includes("--config-path=/omni-secrets.yaml"),
            "no file without a secret",
        );
    });

    it("bind-mounts host certificate files read-only in hostFiles mode", async () => {
        const hostFiles = await runHub(
            {
                tls: {
                    mode: "hostFiles",
                    certPath: "/etc/letsencrypt/live/omni/fullchain.pem",
                    keyPath: "/etc/letsencrypt/live/omni/privkey.pem",
                },
                etcdBackup: { localPath: "/srv/omni-backup" },
            },
            { tlsCertificate: undefined, tlsPrivateKey: undefined },
        );
        const inputs = byName(hostFiles, "hub-omni").inputs as any;
        assert.deepEqual(inputs.volumes, [
            { volumeName: "omni-data", containerPath: "/_out" },
            { hostPath: "/etc/letsencrypt/live/omni/fullchain.pem", containerPath: "/tls.crt", readOnly: true },
            { hostPath: "/etc/letsencrypt/live/omni/privkey.pem", containerPath: "/tls.key", readOnly: true },
            { hostPath: "/srv/omni-backup", containerPath: "/etcd-backup" },
        ]);
        assert.deepEqual(
            inputs.uploads.map((u: any) => u.file),
            ["/omni.asc"],
        );
    });

    it("refuses missing or misplaced TLS inputs", async () => {
        await assert.rejects(runHub({}, { tlsCertificate: undefined }), /tls\.mode is config: set both/);
        await assert.rejects(
            runHub({ tls: { mode: "hostFiles", certPath: "/c.pem", keyPath: "/k.pem" } }),
            /tls\.mode is hostFiles, so these would be ignored/,
        );
    });

    it("fails with a ConfigError when the certificate does not cover the Omni domain", async () => {
        await assert.rejects(
            runHub({}, { tlsCertificate: pulumi.secret(tls.otherCert) }),
            /tlsCertificate: the certificate covers DNS:other\.example\.com, not omni\.example\.com/,
        );
    });

    it("uses a supplied etcd key instead of generating one", async () => {
        const armored = await eccKey();
        const supplied = await runHub({}, { etcdKey: pulumi.secret(armored) });
        assert.ok(!supplied.resources.some((r) => r.type === "pulumi-nodejs:dynamic:Resource"));
        assert.equal(unwrapSecrets(supplied.outputs.etcdKeyArmored), armored);
    });

    it("adopts an existing account id without generating one", async () => {
        // An existing Omni's id comes with its data volume and its etcd key (see test/import-adopt.test.ts).
        const etcdKey = pulumi.secret(await eccKey());
        const adopted = await runHub(
            { accountId: "5f0d5b0e-3b9a-4c1e-9a4e-0d2a1c3b4e5f", adopt: { omniDataVolume: "omni-data" } },
            { etcdKey },
        );
        assert.ok(!adopted.resources.some((r) => r.type === "random:index/randomUuid:RandomUuid"));
        assert.equal(adopted.outputs.accountId, "5f0d5b0e-3b9a-4c1e-9a4e-0d2a1c3b4e5f");
    });

    it("reads the key with the local Docker CLI for a non-SSH Docker host, and skips bootstrap when disabled", async () => {
        const local = await runHub({ dockerHost: "unix:///var/run/docker.sock" });
        const readKey = byName(local, "hub-initial-key");
        assert.equal(readKey.type, "command:local:Command");
        assert.deepEqual((readKey.inputs as any).environment, { DOCKER_HOST: "unix:///var/run/docker.sock" });

        const off = await runHub({ initialServiceAccount: { enabled: false }, infraProviders: [] });
        assert.ok(!off.resources.some((r) => r.type.startsWith("command:")));
        assert.equal(off.outputs.automationKey, undefined);
        assert.deepEqual(off.outputs.infraProviderKeys, {});
    });
});

describe("omni-hub: bootstrap scripts", () => {
    it("extracts the key from omnictl's output", () => {
        const out = [
            'Your infra provider "matrix-cluster" is ready to use',
            "",
            "Set the following environment variables to use the service account:",
            "OMNI_ENDPOINT=https://omni.example.com",
            "OMNI_SERVICE_ACCOUNT_KEY=eyJuYW1lIjoibWF0cml4In0=",
            "",
            "Note: Store the service account key securely, it will not be displayed again",
        ].join("\n");
        assert.equal(serviceAccountKeyFromOutput(out), "eyJuYW1lIjoibWF0cml4In0=");
        assert.throws(
            () => serviceAccountKeyFromOutput("error: permission denied"),
            /no OMNI_SERVICE_ACCOUNT_KEY line/,
        );
    });

    it("quotes ids and renews instead of failing when a provider already exists", () => {
        const script = infraProviderKeyScript("matrix-cluster");
        assert.match(
            script,
            /if omnictl get infraproviders 'matrix-cluster' >\/dev\/null 2>&1; then\n  omnictl infraprovider renewkey 'matrix-cluster'\nelse\n  omnictl infraprovider create 'matrix-cluster'\nfi/,
        );
        assert.equal(
            automationAccountScript("Admin"),
            "omnictl serviceaccount create 'pulumi-automation' --role='Admin' --use-user-role=false",
        );
    });

    it("waits for Omni to write the initial key and fails with a hint when it never does", () => {
        const script = readInitialKeyScript("omni", "/_out/initial-service-account-key");
        assert.match(script, /for i in \$\(seq 1 60\)/);
        assert.match(
            script,
            /docker cp 'omni:\/_out\/initial-service-account-key' - 2>\/dev\/null \| tar -xOf - 2>\/dev\/null && exit 0/,
        );
        assert.match(script, /docker logs omni.*\nexit 1$/);
    });
});

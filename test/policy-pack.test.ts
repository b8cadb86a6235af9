import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as tailscale from "@pulumi/tailscale";
import { analyzeWithPack } from "../src/plan/analyze";
import { runProgram } from "../src/plan/capture";
import { packArgs } from "../policy/pack";
import * as providers from "../policy/providers";

const PACK_DIR = path.join(__dirname, "..", "policy");

const POLICIES: Record<string, string> = {
    "omni-gpg-key-no-passphrase": "mandatory",
    "auth0-domain-bare-host": "mandatory",
    "proxmox-dns-local-only": "mandatory",
    "proxmox-provider-patched-tag": "mandatory",
    "images-pinned": "mandatory",
    "stateful-volumes-protected": "mandatory",
    "omni-single-auth-method": "mandatory",
    "omni-eula-accepted": "mandatory",
    "wireguard-advertised-ip": "mandatory",
    "machine-class-provider-data": "mandatory",
    "no-node-role-labels": "mandatory",
    "cluster-template-valid": "mandatory",
    "talos-config-patches-valid": "mandatory",
    "talos-config-patches-plain": "advisory",
    "provider-id-consistent": "mandatory",
    "tailnet-key-hygiene": "advisory",
    "hub-backup-image-pinned": "mandatory",
    "hub-backup-target-outside-data": "mandatory",
    "hub-backup-s3-credentials-secret": "mandatory",
    "hub-backup-encrypted": "mandatory",
    "ssh-connections-agent-auth": "mandatory",
    "omni-certificate-covers-domain": "mandatory",
    "omni-cluster-classes-present": "mandatory",
    "omni-cluster-protected": "mandatory",
    "cloudflare-tailnet-record-dns-only": "mandatory",
};

describe("policy pack", () => {
    it("declares every policy with a description, severity and remediation steps", () => {
        assert.deepEqual(packArgs.policies.map((p) => p.name).sort(), Object.keys(POLICIES).sort());
        for (const p of packArgs.policies) {
            assert.ok(
                p.description && p.severity && p.remediationSteps,
                `${p.name} lacks description, severity or remediationSteps`,
            );
        }
    });

    it("loads each provider class it checks from the class's own file: the same classes, without the providers' indexes, yaml or the hub's renderers", () => {
        assert.equal(providers.docker.Container, docker.Container);
        assert.equal(providers.docker.RemoteImage, docker.RemoteImage);
        assert.equal(providers.docker.Volume, docker.Volume);
        assert.equal(providers.command.local.Command, command.local.Command);
        assert.equal(providers.command.remote.Command, command.remote.Command);
        assert.equal(providers.proxmoxve.ContainerLegacy, proxmoxve.ContainerLegacy);
        assert.equal(providers.proxmoxve.DnsLegacy, proxmoxve.DnsLegacy);
        assert.equal(providers.tailscale.TailnetKey, tailscale.TailnetKey);
        // What a fresh pack process has loaded once its policies are defined.
        const root = path.join(__dirname, "..");
        const unloaded = [
            "@muhlba91/pulumi-proxmoxve",
            "@pulumi/command",
            "@pulumi/docker",
            "@pulumi/tailscale",
            "yaml",
            // The hub's settings and backup scripts (and the ACME and Cloudflare renderers they import).
            path.join(root, "components", "hub", "settings.ts"),
            path.join(root, "components", "hub", "backup-render.ts"),
        ];
        const run = spawnSync(
            process.execPath,
            [
                "-r",
                path.join(root, "src", "plan", "register.js"),
                "-e",
                `require(${JSON.stringify(path.join(root, "policy", "pack.ts"))});
                 const loaded = ${JSON.stringify(unloaded)}.filter((m) => require.cache[require.resolve(m)]);
                 console.log(JSON.stringify({ loaded, zod: !!require.cache[require.resolve("zod")] }));`,
            ],
            { cwd: root, encoding: "utf8" },
        );
        assert.equal(run.status, 0, run.stderr);
        // zod stays: the machine class policy judges provider data with the class's schema.
        assert.deepEqual(JSON.parse(run.stdout), { loaded: [], zod: true });
    });

    it("runs as its own process, lists its policies, and honours policy config", async () => {
        // A site resolver outside RFC 1918 and a differently named patched build: both fail with the defaults.
        const { resources } = await runProgram(
            () => {
                new proxmoxve.DnsLegacy("pve1-dns", {
                    nodeName: "pve1",
                    domain: "lan",
                    servers: ["192.168.10.1", "203.0.113.53"],
                });
                new docker.RemoteImage("provider-image", {
                    name: "ghcr.io/siderolabs/omni-infra-provider-proxmox:hostname-fix",
                });
                new docker.RemoteImage("old-provider-image", {
                    name: "ghcr.io/siderolabs/omni-infra-provider-proxmox:v0.2.0",
                });
            },
            { stack: "policy-test" },
        );
        const failing = (result: Awaited<ReturnType<typeof analyzeWithPack>>) =>
            result.violations.map((v) => `${v.policy}/${v.resourceName}/${v.enforcementLevel}`).sort();

        const defaults = await analyzeWithPack(PACK_DIR, resources);
        assert.deepEqual(Object.fromEntries(defaults.policies.map((p) => [p.name, p.enforcementLevel])), POLICIES);
        assert.deepEqual(failing(defaults), [
            "proxmox-dns-local-only/pve1-dns/mandatory",
            "proxmox-provider-patched-tag/provider-image/mandatory",
        ]);

        const configured = await analyzeWithPack(PACK_DIR, resources, {
            "proxmox-dns-local-only": { allowedResolvers: ["203.0.113.0/24"] },
            "proxmox-provider-patched-tag": { patchedTags: ["hostname-fix"], minimumVersion: "v0.3.0" },
        });
        assert.deepEqual(failing(configured), ["proxmox-provider-patched-tag/old-provider-image/mandatory"]);
        assert.match(configured.violations[0].message, /predates v0\.3\.0/);
    });
});

import { strict as assert } from "node:assert";
import * as YAML from "yaml";
import {
    defaultProviderPrivileges,
    dockerInstallCommand,
    dockerInstallScript,
    providerCommand,
    ProxmoxInfraProviderSettings,
    ProxmoxInfraProviderSettingsSchema,
    renderProviderConfig,
    splitTokenValue,
    vmGuardScript,
} from "../components/proxmox/provider-render";
import { tailscaleEnvs } from "../components/tailscale/sidecar-render";
import { ConfigError, ConfigIssue, parseOrThrow } from "../components/core/validation";
import { images } from "../components/core/versions";
import { providerSettings } from "./fixtures/settings";

const KEY = "omni-scale:infraProvider";

const goodSettings: ProxmoxInfraProviderSettings = providerSettings;

/** Issues of a settings object that must fail, keyed by config key. */
function issuesOf(settings: unknown): ConfigIssue[] {
    try {
        parseOrThrow(ProxmoxInfraProviderSettingsSchema, settings, KEY);
    } catch (e) {
        assert.ok(e instanceof ConfigError);
        return e.issues;
    }
    assert.fail("settings were accepted");
}

const withImage = (image: string) => ({ ...goodSettings, image });
const withLxc = (lxc: object) => ({ ...goodSettings, lxc: { ...goodSettings.lxc, ...lxc } });

describe("proxmox provider rendering", () => {
    describe("settings", () => {
        it("fills defaults: provider id, pinned image, least privilege on with the documented privileges", () => {
            const s = ProxmoxInfraProviderSettingsSchema.parse(goodSettings);
            assert.equal(s.providerId, "proxmox");
            assert.equal(s.image, images.proxmoxProvider);
            assert.equal(s.tailscale.image, images.tailscale);
            assert.equal(s.proxmox.insecureSkipVerify, false);
            assert.equal(s.omniInsecureSkipVerify, false);
            assert.equal(s.lxc.sshUser, "root");
            assert.equal(s.leastPrivilege.enabled, true);
            assert.equal(s.leastPrivilege.userId, "omni-provider@pve");
            assert.equal(s.leastPrivilege.path, "/");
            for (const p of [
                "VM.Allocate",
                "VM.Config.Disk",
                "VM.Config.CPU",
                "VM.Config.Memory",
                "VM.Config.Network",
                "VM.Config.Options",
                "VM.Config.HWType",
                "VM.PowerMgmt",
                "Datastore.AllocateSpace",
                "Datastore.Audit",
            ]) {
                assert.ok(s.leastPrivilege.privileges.includes(p), p);
            }
            assert.deepEqual(s.leastPrivilege.privileges, defaultProviderPrivileges);
        });

        it("rejects a public resolver for the LXC", () => {
            const issues = issuesOf(
                withLxc({ dns: { domain: "spaceships.work", servers: ["192.168.3.1", "8.8.8.8"] } }),
            );
            assert.equal(issues.length, 1);
            assert.equal(issues[0].key, `${KEY}.lxc.dns.servers[1]`);
            assert.match(issues[0].message, /public resolver/);
        });

        it("rejects latest, untagged and pre-v0.1.0 provider images", () => {
            assert.match(
                issuesOf(withImage("ghcr.io/siderolabs/omni-infra-provider-proxmox:latest"))[0].message,
                /uses "latest"/,
            );
            assert.match(
                issuesOf(withImage("ghcr.io/siderolabs/omni-infra-provider-proxmox"))[0].message,
                /has no tag/,
            );
            const old = issuesOf(withImage("ghcr.io/siderolabs/omni-infra-provider-proxmox:v0.0.9"));
            assert.equal(old[0].key, `${KEY}.image`);
            assert.match(old[0].message, /predates v0\.1\.0/);
        });

        it("accepts the patched build, and another patched tag when it is declared", () => {
            ProxmoxInfraProviderSettingsSchema.parse(
                withImage("ghcr.io/siderolabs/omni-infra-provider-proxmox:local-fix"),
            );
            assert.match(
                issuesOf(withImage("ghcr.io/siderolabs/omni-infra-provider-proxmox:local-20251219"))[0].message,
                /neither a patched tag/,
            );
            ProxmoxInfraProviderSettingsSchema.parse({
                ...withImage("ghcr.io/siderolabs/omni-infra-provider-proxmox:local-20251219"),
                patchedImageTags: ["local-20251219"],
            });
        });

        it("rejects a provider id with upper case, saying ids are case-sensitive", () => {
            const issues = issuesOf({ ...goodSettings, providerId: "Proxmox" });
            assert.equal(issues[0].key, `${KEY}.providerId`);
            assert.match(issues[0].message, /case-sensitive/);
        });

        it("rejects an unpinned Tailscale image", () => {
            const issues = issuesOf({
                ...goodSettings,
                tailscale: { ...goodSettings.tailscale, image: "tailscale/tailscale:latest" },
            });
            assert.equal(issues[0].key, `${KEY}.tailscale.image`);
        });

        it("checks the LXC network: gateway inside the subnet, none with DHCP", () => {
            assert.match(issuesOf(withLxc({ gateway: "192.168.10.1" }))[0].message, /inside 192\.168\.3\.10\/24/);
            assert.match(issuesOf(withLxc({ gateway: undefined }))[0].message, /needs a gateway/);
            assert.match(issuesOf(withLxc({ ipv4: "dhcp" }))[0].message, /leave gateway out/);
            ProxmoxInfraProviderSettingsSchema.parse(withLxc({ ipv4: "dhcp", gateway: undefined }));
            assert.match(issuesOf(withLxc({ ipv4: "192.168.3.10" }))[0].message, /CIDR/);
        });

        it("names every problem at once, including unknown keys", () => {
            const issues = issuesOf({
                ...goodSettings,
                providerId: "Matrix",
                image: "ghcr.io/siderolabs/omni-infra-provider-proxmox:latest",
                proxmox: { url: "https://192.168.3.5:8006/" },
                lxc: { ...goodSettings.lxc, sshPublicKeys: [], vmid: 200 },
                tailscale: { ...goodSettings.tailscale, tags: ["omni"] },
            });
            assert.deepEqual(
                issues.map((i) => i.key).sort(),
                [
                    `${KEY}.image`,
                    `${KEY}.lxc.sshPublicKeys`,
                    `${KEY}.lxc.vmid`,
                    `${KEY}.providerId`,
                    `${KEY}.proxmox.url`,
                    `${KEY}.tailscale.tags[0]`,
                ].sort(),
            );
        });
    });

    describe("provider config file", () => {
        it("renders the proxmox block the provider reads", () => {
            const doc = YAML.parse(
                renderProviderConfig({
                    url: "https://192.168.3.5:8006/api2/json",
                    tokenId: "omni-provider@pve!omni-provider",
                    tokenSecret: "s3cret",
                    insecureSkipVerify: true,
                }),
            );
            assert.deepEqual(doc, {
                proxmox: {
                    url: "https://192.168.3.5:8006/api2/json",
                    tokenID: "omni-provider@pve!omni-provider",
                    tokenSecret: "s3cret",
                    insecureSkipVerify: true,
                },
            });
        });

        it("splits a full token value, and takes a bare one as the secret", () => {
            assert.deepEqual(splitTokenValue("omni-provider@pve!omni-provider=0b6e-42", "x@pve!y"), {
                tokenId: "omni-provider@pve!omni-provider",
                tokenSecret: "0b6e-42",
            });
            assert.deepEqual(splitTokenValue("0b6e-42", "omni-provider@pve!omni-provider"), {
                tokenId: "omni-provider@pve!omni-provider",
                tokenSecret: "0b6e-42",
            });
        });
    });

    describe("provider command", () => {
        const base = {
            providerId: "matrix-cluster",
            omniApiEndpoint: "https://omni.spaceships.work/",
            omniInsecureSkipVerify: false,
        };

        it("passes id, endpoint and config file, and never the key", () => {
            const args = providerCommand(base);
            assert.deepEqual(args, [
                "--id=matrix-cluster",
                "--omni-api-endpoint=https://omni.spaceships.work/",
                "--config-file=/config.yaml",
            ]);
            assert.ok(!args.some((a) => a.includes("service-account-key")));
        });

        it("skips Omni's TLS verification only when asked", () => {
            assert.ok(providerCommand({ ...base, omniInsecureSkipVerify: true }).includes("--insecure-skip-verify"));
        });

        it("rejects an endpoint that is not a URL", () => {
            assert.throws(
                () => providerCommand({ ...base, omniApiEndpoint: "omni.spaceships.work" }),
                (e: unknown) => e instanceof ConfigError && e.issues[0].key === "omniApiEndpoint",
            );
        });
    });

    describe("sidecar and scripts", () => {
        it("runs Tailscale in kernel mode with persistent state and a single login", () => {
            const env = tailscaleEnvs({ hostname: "proxmox-worker-matrix", tags: ["tag:omni-provider", "tag:matrix"] });
            for (const e of [
                "TS_USERSPACE=false",
                "TS_AUTH_ONCE=true",
                "TS_STATE_DIR=/var/lib/tailscale",
                "TS_HOSTNAME=proxmox-worker-matrix",
                "TS_EXTRA_ARGS=--advertise-tags=tag:omni-provider,tag:matrix",
            ]) {
                assert.ok(env.includes(e), e);
            }
            assert.ok(
                !env.some((e) => e.startsWith("TS_AUTHKEY=")),
                "the auth key is added by the component, as a secret",
            );
        });

        it("installs Docker only when missing, with sudo for a non-root user", () => {
            assert.match(dockerInstallScript, /if ! command -v docker/);
            assert.match(dockerInstallScript, /-c \/dev\/net\/tun/);
            assert.equal(dockerInstallCommand("root"), "sh -s");
            assert.equal(dockerInstallCommand("ops"), "sudo -n sh -s");
        });

        it("guards destroy on VMs tagged by the provider, with TLS checks unless told otherwise", () => {
            const script = vmGuardScript({ insecureSkipVerify: false, waitSeconds: 600 });
            assert.match(script, /cluster\/resources\?type=vm/);
            assert.match(script, /machine-request\\\./);
            assert.match(script, /exit 1/);
            assert.ok(!script.includes(" -k "));
            assert.match(vmGuardScript({ insecureSkipVerify: true, waitSeconds: 600 }), /curl -fsS [^|]* -k -H @-/);
        });
    });
});

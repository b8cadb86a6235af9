import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as docker from "@pulumi/docker";
import { assertNoViolation, assertViolation } from "./policy-helpers";

const dns =
    (...servers: string[]) =>
    () => {
        new proxmoxve.DnsLegacy("pve1-dns", { nodeName: "pve1", domain: "lan", servers });
    };

const PROVIDER = "ghcr.io/siderolabs/omni-infra-provider-proxmox";
const providerImage = (name: string) => () => {
    new docker.RemoteImage("provider-image", { name });
};

describe("policy: Proxmox", () => {
    describe("proxmox-dns-local-only", () => {
        it("passes RFC 1918, ULA, loopback and link-local resolvers", async () => {
            await assertNoViolation("proxmox-dns-local-only", dns("192.168.10.1", "fd00::53", "127.0.0.1"));
            await assertNoViolation("proxmox-dns-local-only", dns("10.0.0.53", "fe80::1"));
        });

        for (const publicResolver of ["1.1.1.1", "8.8.8.8", "9.9.9.9"]) {
            it(`rejects ${publicResolver}, naming the fix`, async () => {
                await assertViolation(
                    "proxmox-dns-local-only",
                    "pve1-dns",
                    dns("192.168.10.1", publicResolver),
                    new RegExp(`${publicResolver.replace(/\./g, "\\.")} is a public resolver`),
                    /allowedResolvers/,
                );
            });
        }

        it("rejects the tailnet's MagicDNS resolver (it answers with the tailnet address)", async () => {
            await assertViolation(
                "proxmox-dns-local-only",
                "pve1-dns",
                dns("100.100.100.100"),
                /is a Tailscale address \(MagicDNS answers the Omni name with its tailnet IP/,
            );
        });

        it("checks the resolvers an LXC sets for itself", async () => {
            const lxc = (servers?: string[]) => () => {
                new proxmoxve.ContainerLegacy("provider-lxc", {
                    nodeName: "pve1",
                    initialization: { hostname: "provider", dns: servers && { servers } },
                });
            };
            await assertNoViolation("proxmox-dns-local-only", lxc(["192.168.10.1"]));
            await assertNoViolation("proxmox-dns-local-only", lxc());
            await assertViolation(
                "proxmox-dns-local-only",
                "provider-lxc",
                lxc(["8.8.8.8"]),
                /^Proxmox nodes.*\nLXC provider-lxc: 8\.8\.8\.8 is a public resolver/,
            );
        });

        it("rejects a node with no servers and a server that is not an IP", async () => {
            await assertViolation("proxmox-dns-local-only", "pve1-dns", dns(), /no DNS servers/);
            await assertViolation(
                "proxmox-dns-local-only",
                "pve1-dns",
                dns("dns.lan"),
                /"dns\.lan" is not an IP address/,
            );
        });
    });

    describe("proxmox-provider-patched-tag", () => {
        for (const tag of ["local-fix", "v0.1.0", "v0.3.0"]) {
            it(`passes ${tag}`, async () => {
                await assertNoViolation("proxmox-provider-patched-tag", providerImage(`${PROVIDER}:${tag}`));
            });
        }

        it("passes a digest", async () => {
            await assertNoViolation(
                "proxmox-provider-patched-tag",
                providerImage(`${PROVIDER}@sha256:${"a".repeat(64)}`),
            );
        });

        it("rejects latest, no tag, a pre-release commit tag and a container image reference", async () => {
            await assertViolation(
                "proxmox-provider-patched-tag",
                "provider-image",
                providerImage(`${PROVIDER}:latest`),
                /latest/,
            );
            await assertViolation("proxmox-provider-patched-tag", "provider-image", providerImage(PROVIDER), /no tag/);
            await assertViolation(
                "proxmox-provider-patched-tag",
                "provider-image",
                providerImage(`${PROVIDER}:0d9fd58`),
                /neither a patched tag \(local-fix\)/,
                /v0\.1\.0 or later/,
            );
            await assertViolation(
                "proxmox-provider-patched-tag",
                "provider",
                () => {
                    new docker.Container("provider", { image: `${PROVIDER}:v0.0.9`, command: ["--id=proxmox"] });
                },
                /predates v0\.1\.0/,
            );
        });

        it("ignores other images", async () => {
            await assertNoViolation("proxmox-provider-patched-tag", providerImage("ghcr.io/siderolabs/omni:v1.10.4"));
        });
    });
});

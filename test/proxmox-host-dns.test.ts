import { strict as assert } from "node:assert";
import { ProxmoxHostDnsSettingsSchema, resolverProblem } from "../components/proxmox/dns-rules";
import { ProxmoxHostDns } from "../components/proxmox/host-dns";
import { ConfigError, parseOrThrow } from "../components/core/validation";
import { runProgram } from "../src/plan/capture";

const DNS_TYPE = "proxmoxve:index/dnsLegacy:DnsLegacy";
const settings = {
    domain: "spaceships.work",
    servers: ["192.168.3.1", "fd00:3::53"],
    nodes: ["foxtrot", "golf", "hotel"],
};

describe("proxmox host DNS", () => {
    describe("resolverProblem", () => {
        for (const local of [
            "192.168.3.1",
            "10.0.0.53",
            "172.16.0.1",
            "127.0.0.53",
            "169.254.1.1",
            "fd00::53",
            "fe80::1",
            "::1",
            "::ffff:192.168.3.1",
        ]) {
            it(`accepts the local resolver ${local}`, () => assert.equal(resolverProblem(local), undefined));
        }

        for (const pub of [
            "1.1.1.1",
            "8.8.8.8",
            "9.9.9.9",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
        ]) {
            it(`rejects the public resolver ${pub} and explains split-horizon DNS`, () => {
                const problem = resolverProblem(pub);
                assert.match(problem ?? "", /is a public resolver/);
                assert.match(problem ?? "", /Talos VMs .* LAN IP .*split-horizon/);
            });
        }

        it("rejects Tailscale's MagicDNS and other tailnet addresses, which answer with tailnet IPs", () => {
            for (const ts of ["100.100.100.100", "100.90.1.2", "fd7a:115c:a1e0::53"]) {
                assert.match(
                    resolverProblem(ts) ?? "",
                    /is a Tailscale address \(MagicDNS answers the Omni name with its tailnet IP/,
                    ts,
                );
            }
            assert.match(
                resolverProblem("100.63.255.255") ?? "",
                /is a public resolver/,
                "just below the tailnet range",
            );
        });

        it("rejects a name or garbage instead of an address", () => {
            assert.match(resolverProblem("dns.spaceships.work") ?? "", /not an IP address/);
            assert.match(resolverProblem("192.168.3") ?? "", /not an IP address/);
        });

        it("admits addresses and CIDRs on the allow-list, and nothing for an unparsable entry", () => {
            assert.equal(resolverProblem("203.0.113.53", ["203.0.113.53"]), undefined);
            assert.equal(resolverProblem("203.0.113.54", ["203.0.113.0/24"]), undefined);
            assert.equal(resolverProblem("2001:db8::53", ["2001:db8::/32"]), undefined);
            assert.ok(resolverProblem("203.0.113.54", ["203.0.113.53", "2001:db8::/32", "not-an-ip"]));
        });
    });

    describe("settings", () => {
        it("names every bad server and node at once, by key", () => {
            const bad = {
                domain: "spaceships.work",
                servers: ["8.8.8.8", "192.168.3.1", "1.1.1.1"],
                nodes: ["foxtrot", "foxtrot"],
            };
            let error: ConfigError | undefined;
            try {
                parseOrThrow(ProxmoxHostDnsSettingsSchema, bad, "omni-scale:hostDns");
            } catch (e) {
                error = e as ConfigError;
            }
            assert.ok(error instanceof ConfigError);
            assert.deepEqual(error.issues.map((i) => i.key).sort(), [
                "omni-scale:hostDns.nodes[1]",
                "omni-scale:hostDns.servers[0]",
                "omni-scale:hostDns.servers[2]",
            ]);
            assert.equal(error.issues.find((i) => i.key.endsWith("servers[0]"))?.value, "8.8.8.8");
        });

        it("keeps to Proxmox's three servers and rejects unknown keys", () => {
            const result = ProxmoxHostDnsSettingsSchema.safeParse({
                ...settings,
                servers: ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"],
                server: "10.0.0.1",
            });
            assert.ok(!result.success);
            const messages = result.error.issues.map((i) => i.message).join("\n");
            assert.match(messages, /at most 3 DNS servers/);
            assert.match(messages, /server/);
        });

        it("accepts an allow-listed resolver", () => {
            const parsed = ProxmoxHostDnsSettingsSchema.parse({
                ...settings,
                servers: ["203.0.113.53"],
                allowedResolvers: ["203.0.113.0/24"],
            });
            assert.deepEqual(parsed.servers, ["203.0.113.53"]);
        });
    });

    describe("component", () => {
        it("sets the local resolvers on every node", async () => {
            const { resources } = await runProgram(
                () => {
                    new ProxmoxHostDns("proxmox-dns", { settings });
                },
                { stack: "matrix" },
            );
            const component = resources.find((r) => r.type === "omni-scale:proxmox:ProxmoxHostDns")!;
            const records = resources.filter((r) => r.type === DNS_TYPE);
            assert.deepEqual(
                records.map((r) => r.name),
                ["proxmox-dns-foxtrot", "proxmox-dns-golf", "proxmox-dns-hotel"],
            );
            for (const r of records) {
                assert.equal(r.parent, component.urn);
                assert.deepEqual(r.inputs.servers, settings.servers);
                assert.equal(r.inputs.domain, "spaceships.work");
            }
            assert.deepEqual(
                records.map((r) => r.inputs.nodeName),
                settings.nodes,
            );
        });

        it("rejects a public resolver before registering anything", async () => {
            let error: unknown;
            const { resources } = await runProgram(
                () => {
                    try {
                        new ProxmoxHostDns("proxmox-dns", {
                            settings: { ...settings, servers: ["192.168.3.1", "1.1.1.1"] },
                        });
                    } catch (e) {
                        error = e;
                    }
                },
                { stack: "matrix" },
            );
            assert.ok(error instanceof ConfigError);
            // Keyed by the component's own args; a stack names its config key instead.
            assert.equal(error.issues[0].key, "proxmox-dns.settings.servers[1]");
            assert.throws(
                () =>
                    new ProxmoxHostDns("x", {
                        settings: { ...settings, servers: ["1.1.1.1"] },
                        keyPrefix: "omni-scale:hostDns",
                    }),
                (e: ConfigError) => e.issues[0].key === "omni-scale:hostDns.servers[0]",
            );
            assert.match(error.message, /1\.1\.1\.1.*public resolver/);
            assert.deepEqual(
                resources.filter((r) => r.type !== "pulumi:pulumi:Stack"),
                [],
            );
        });
    });
});

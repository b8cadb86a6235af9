import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ipaddr from "ipaddr.js";
import { auth0DomainProblem, lanIpProblem, parseDockerHost, wireguardAddrProblem } from "../components/core/addresses";
import { renderOmniFlags } from "../components/hub/omni-flags";
import { images, versions } from "../components/core/versions";
import { hubSettingsProblems as problems, parsedHubSettings as settings } from "./fixtures/settings";

const ACCOUNT = "5f0d5b0e-3b9a-4c1e-9a4e-0d2a1c3b4e5f";

describe("hub settings: schema", () => {
    it("fills defaults from the version pins", () => {
        const s = settings();
        assert.equal(s.omniVersion, versions.omni);
        assert.equal(s.omniImage, images.omni);
        assert.equal(s.tailscaleImage, images.tailscale);
        assert.deepEqual(s.ports, { api: 443, machineApi: 8090, k8sProxy: 8100, wireguard: 50180 });
        assert.deepEqual(s.tailscale.tags, ["tag:omni"]);
        assert.deepEqual(s.initialServiceAccount, { enabled: true, lifetime: "1h", role: "Admin" });
        assert.deepEqual(s.tls, { mode: "config" });
        assert.equal(s.accountName, "omni");
    });

    it("derives the Omni image from omniVersion and rejects a mismatching tag", () => {
        assert.equal(settings({ omniVersion: "v1.9.3" }).omniImage, "ghcr.io/siderolabs/omni:v1.9.3");
        const msg = problems({ omniVersion: "v1.9.3", omniImage: "ghcr.io/siderolabs/omni:v1.10.4" });
        assert.match(msg, /hub\.omniImage.*does not match omniVersion v1\.9\.3/);
    });

    it("refuses Omni before v1.4.0 and non-versions", () => {
        assert.match(
            problems({ omniVersion: "v1.3.2" }),
            /hub\.omniVersion.*predates v1\.4\.0.*one minor at a time to v1\.4\.x/,
        );
        assert.match(problems({ omniVersion: "latest" }), /hub\.omniVersion.*not an Omni release tag/);
        assert.throws(
            () => renderOmniFlags({ settings: { ...settings(), omniVersion: "v1.3.0" }, accountId: ACCOUNT }),
            /no --sqlite-storage-path/,
        );
    });

    it("rejects latest and untagged images", () => {
        assert.match(problems({ tailscaleImage: "tailscale/tailscale:latest" }), /hub\.tailscaleImage.*uses "latest"/);
        assert.match(problems({ omniImage: "ghcr.io/siderolabs/omni" }), /hub\.omniImage.*no tag/);
        assert.equal(
            settings({ tailscaleImage: `tailscale/tailscale@sha256:${"a".repeat(64)}` }).tailscaleImage.includes(
                "@sha256:",
            ),
            true,
        );
    });

    it("rejects an Auth0 domain with a scheme, a path or a port, naming the fix", () => {
        for (const bad of [
            "https://dev-xyz.us.auth0.com",
            "dev-xyz.us.auth0.com/",
            "https://dev-xyz.us.auth0.com/authorize",
            "dev-xyz.us.auth0.com:443",
        ]) {
            const msg = problems({ auth: { auth0: { domain: bad, clientId: "x" } } });
            assert.match(msg, /hub\.auth\.auth0\.domain/);
            assert.match(msg, /bare host/);
            assert.match(msg, /use "dev-xyz\.us\.auth0\.com"/);
        }
        assert.equal(auth0DomainProblem("dev-xyz.us.auth0.com"), undefined);
        assert.match(auth0DomainProblem("https://")!, /e\.g\. dev-xyz\.us\.auth0\.com/);
    });

    it("requires exactly one auth method", () => {
        const two = problems({
            auth: {
                auth0: { domain: "dev-xyz.us.auth0.com", clientId: "x" },
                oidc: { providerUrl: "https://idp.example.com/", clientId: "y" },
            },
        });
        assert.match(two, /hub\.auth.*exactly one auth method.*got auth0 and oidc/);
        assert.match(problems({ auth: {} }), /hub\.auth.*exactly one auth method.*got none/);
        assert.match(
            problems({ auth: { saml: { url: "https://idp.example.com/saml", metadata: "/m.xml" } } }),
            /hub\.auth\.saml.*exactly one of url or metadata/,
        );
    });

    it("rejects bad emails, an empty user list, and a LAN IP that is not an IP", () => {
        assert.match(
            problems({ initialUsers: ["admin@example.com", "not-an-email"] }),
            /hub\.initialUsers\[1\].*email/,
        );
        assert.match(problems({ initialUsers: [] }), /hub\.initialUsers.*at least one admin/);
        assert.match(problems({ lanIp: "omni.lan" }), /hub\.lanIp.*not an IP address/);
        assert.match(problems({ lanIp: "0.0.0.0" }), /hub\.lanIp.*unspecified/);
        assert.match(
            problems({ omniDomain: "https://omni.example.com/" }),
            /hub\.omniDomain.*use "omni\.example\.com"/,
        );
    });

    it("checks the WireGuard advertised address is IP:port, never a name", () => {
        assert.equal(wireguardAddrProblem("192.168.10.20:50180"), undefined);
        assert.equal(wireguardAddrProblem("[fd00::20]:50180"), undefined);
        assert.match(wireguardAddrProblem("omni.example.com:50180")!, /names a host.*must be an IP/);
        assert.match(wireguardAddrProblem("192.168.10.20")!, /not IP:port/);
        assert.match(wireguardAddrProblem("192.168.10.20:70000")!, /not IP:port/);
    });

    it("parses Docker host addresses", () => {
        assert.deepEqual(parseDockerHost("ssh://ansible@10.0.0.5:2222"), {
            scheme: "ssh",
            user: "ansible",
            host: "10.0.0.5",
            port: 2222,
        });
        assert.deepEqual(parseDockerHost("unix:///var/run/docker.sock"), {
            scheme: "unix",
            path: "/var/run/docker.sock",
        });
        assert.deepEqual(parseDockerHost("tcp://docker.lan:2376"), { scheme: "tcp", host: "docker.lan", port: 2376 });
        assert.match(problems({ dockerHost: "ssh://10.0.0.5" }), /hub\.dockerHost.*ssh:\/\/user@host/);
        assert.match(problems({ dockerHost: "10.0.0.5" }), /hub\.dockerHost.*not a Docker host address/);
    });

    it("rejects mutually exclusive backup targets, unknown keys, bad provider ids", () => {
        assert.match(
            problems({ etcdBackup: { localPath: "/srv/backup", s3: true } }),
            /hub\.etcdBackup.*mutually exclusive/,
        );
        assert.match(problems({ etcdBackup: {} }), /hub\.etcdBackup.*set localPath/);
        assert.match(problems({ ports: { api: 443, apiPort: 1 } }), /hub\.ports\.apiPort.*unknown key/);
        assert.match(problems({ infraProviders: ["Matrix"] }), /hub\.infraProviders\[0\].*lowercase/);
        assert.match(
            problems({ infraProviders: ["matrix"], initialServiceAccount: { enabled: false } }),
            /hub\.infraProviders.*initialServiceAccount\.enabled: true/,
        );
    });

    it("reports every problem at once", () => {
        const msg = problems({ lanIp: "x", initialUsers: ["y"], auth: {} });
        assert.match(msg, /hub\.lanIp/);
        assert.match(msg, /hub\.initialUsers\[0\]/);
        assert.match(msg, /hub\.auth/);
    });
});

describe("hub settings: EULA acceptance (omni v1.10.4 internal/pkg/auth/interceptor/eula.go)", () => {
    const schema = JSON.parse(
        fs.readFileSync(path.join(__dirname, "fixtures/upstream/omni-config.schema.v1.10.4.json"), "utf8"),
    );

    it("renders both flags Omni's schema names, together", () => {
        const eula = schema.definitions.EulaAccept;
        assert.deepEqual(eula.dependentRequired, { name: ["email"], email: ["name"] }, "Omni takes both or neither");
        const flags = renderOmniFlags({
            settings: settings({ eula: { name: "Jane Admin", email: "jane@example.com" } }),
            accountId: ACCOUNT,
        });
        assert.ok(flags.includes(`--${eula.properties.name["x-cli-flag"]}=Jane Admin`), flags.join(" "));
        assert.ok(flags.includes(`--${eula.properties.email["x-cli-flag"]}=jane@example.com`), flags.join(" "));
    });

    it("is required for the browserless bootstrap, saying why and who accepts what", () => {
        const msg = problems({ eula: undefined });
        assert.match(
            msg,
            /hub\.eula: set eula\.name and eula\.email: Omni v1\.7\+ refuses every API call until its EULA is accepted/,
        );
        assert.match(msg, /accepts the Sidero Labs EULA .*on behalf of this Omni instance/);
        assert.doesNotThrow(() => settings({ eula: undefined, initialServiceAccount: { enabled: false } }));
        assert.match(problems({ eula: { name: "Jane", email: "not-an-email" } }), /hub\.eula\.email/);
        assert.match(problems({ eula: { name: " ", email: "jane@example.com" } }), /hub\.eula\.name/);
    });
});

describe("hub settings: addresses a booting Talos VM must reach", () => {
    it("refuses tailnet, loopback and unspecified LAN IPs and WireGuard endpoints", () => {
        for (const ip of [
            "100.64.0.1",
            "100.101.102.103",
            "100.127.255.254",
            "fd7a:115c:a1e0::1",
            "127.0.0.1",
            "0.0.0.0",
            "::1",
        ]) {
            assert.match(problems({ lanIp: ip }), /hub\.lanIp.*(Tailscale address|loopback|unspecified)/, ip);
            assert.match(
                wireguardAddrProblem(`${ip.includes(":") ? `[${ip}]` : ip}:50180`) ?? "",
                /Tailscale address|loopback|unspecified/,
                ip,
            );
        }
        for (const ip of ["192.168.10.20", "10.0.0.5", "100.63.255.255", "100.128.0.1"])
            assert.equal(lanIpProblem(ip), undefined, ip);
    });

    it("takes as an IP what ipaddr.js's checks take: dotted decimal and IPv6 text, nothing else", () => {
        const ipaddrTakes = (v: string) => ipaddr.IPv4.isValidFourPartDecimal(v) || ipaddr.IPv6.isValid(v);
        const cases = ["192.168.10.20", "01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4.", "0x7f.0.0.1", "1e3"];
        cases.push("fd00::20", "fe80::1%vmbr0", "::ffff:192.168.10.20", "1::2::3", "a:b", "omni.example.com", "", ":");
        for (const v of cases) {
            const notIp = lanIpProblem(v)?.includes("is not an IP address") ?? false;
            assert.equal(notIp, !ipaddrTakes(v), JSON.stringify(v));
        }
        assert.ok(cases.filter(ipaddrTakes).length >= 4 && cases.filter((v) => !ipaddrTakes(v)).length >= 8);
    });

    it("refuses a MagicDNS domain, which booting machines cannot resolve", () => {
        assert.match(problems({ omniDomain: "omni.tail1234.ts.net" }), /hub\.omniDomain.*MagicDNS name/);
    });

    it("refuses an etcd backup minInterval above maxInterval", () => {
        assert.match(
            problems({ etcdBackup: { localPath: "/srv/b", minInterval: "6h", maxInterval: "2h" } }),
            /hub\.etcdBackup\.minInterval.*must not exceed maxInterval \(2h\)/,
        );
        assert.match(
            problems({ etcdBackup: { localPath: "/srv/b", minInterval: "48h" } }),
            /must not exceed maxInterval \(24h\)/,
        );
    });
});

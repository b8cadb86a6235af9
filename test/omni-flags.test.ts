import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import {
    OmniHubSettings,
    OmniHubSettingsInput,
    OmniHubSettingsSchema,
    auth0DomainProblem,
    hubEndpoints,
    lanIpProblem,
    parseDockerHost,
    renderOmniFlags,
    renderedOmniFlags,
    wireguardAddrProblem,
} from "../components/omni-flags";
import { ConfigError, parseOrThrow } from "../components/validation";
import { images, versions } from "../components/versions";
import { hubSettings } from "./fixtures/settings";

const ACCOUNT = "5f0d5b0e-3b9a-4c1e-9a4e-0d2a1c3b4e5f";

const base: OmniHubSettingsInput = hubSettings;

function settings(over: Partial<OmniHubSettingsInput> = {}): OmniHubSettings {
    return parseOrThrow(OmniHubSettingsSchema, { ...base, ...over }, "hub");
}

/** The ConfigError message for bad settings (fails the test if they are accepted). */
function problems(over: Record<string, unknown>): string {
    try {
        settings(over as Partial<OmniHubSettingsInput>);
    } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        return e.message;
    }
    assert.fail(`accepted ${JSON.stringify(over)}`);
}

/** `--name=value` pairs as a map of arrays (a flag may repeat). */
function flagMap(flags: string[]): Map<string, string[]> {
    const map = new Map<string, string[]>();
    for (const f of flags) {
        const m = /^--([a-z0-9-]+)=(.*)$/s.exec(f);
        assert.ok(m, `flag not in --name=value form: ${f}`);
        map.set(m[1], [...(map.get(m[1]) ?? []), m[2]]);
    }
    return map;
}

function render(over: Partial<OmniHubSettingsInput> = {}, oidcClientSecret?: string) {
    return flagMap(renderOmniFlags({ settings: settings(over), accountId: ACCOUNT, oidcClientSecret }));
}

describe("omni-flags: settings schema", () => {
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
        assert.match(problems({ omniVersion: "v1.3.2" }), /hub\.omniVersion.*predates v1\.4\.0.*one minor at a time to v1\.4\.x/);
        assert.match(problems({ omniVersion: "latest" }), /hub\.omniVersion.*not an Omni release tag/);
        assert.throws(
            () => renderOmniFlags({ settings: { ...settings(), omniVersion: "v1.3.0" }, accountId: ACCOUNT }),
            /no --sqlite-storage-path/,
        );
    });

    it("rejects latest and untagged images", () => {
        assert.match(problems({ tailscaleImage: "tailscale/tailscale:latest" }), /hub\.tailscaleImage.*uses "latest"/);
        assert.match(problems({ omniImage: "ghcr.io/siderolabs/omni" }), /hub\.omniImage.*no tag/);
        assert.equal(settings({ tailscaleImage: `tailscale/tailscale@sha256:${"a".repeat(64)}` }).tailscaleImage.includes("@sha256:"), true);
    });

    it("rejects an Auth0 domain with a scheme, a path or a port, naming the fix", () => {
        for (const bad of ["https://dev-xyz.us.auth0.com", "dev-xyz.us.auth0.com/", "https://dev-xyz.us.auth0.com/authorize", "dev-xyz.us.auth0.com:443"]) {
            const msg = problems({ auth: { auth0: { domain: bad, clientId: "x" } } });
            assert.match(msg, /hub\.auth\.auth0\.domain/);
            assert.match(msg, /bare host/);
            assert.match(msg, /use "dev-xyz\.us\.auth0\.com"/);
        }
        assert.equal(auth0DomainProblem("dev-xyz.us.auth0.com"), undefined);
        assert.match(auth0DomainProblem("https://")!, /e\.g\. dev-xyz\.us\.auth0\.com/);
    });

    it("requires exactly one auth method", () => {
        const two = problems({ auth: { auth0: { domain: "dev-xyz.us.auth0.com", clientId: "x" }, oidc: { providerUrl: "https://idp.example.com/", clientId: "y" } } });
        assert.match(two, /hub\.auth.*exactly one auth method.*got auth0 and oidc/);
        assert.match(problems({ auth: {} }), /hub\.auth.*exactly one auth method.*got none/);
        assert.match(problems({ auth: { saml: { url: "https://idp.example.com/saml", metadata: "/m.xml" } } }), /hub\.auth\.saml.*exactly one of url or metadata/);
    });

    it("rejects bad emails, an empty user list, and a LAN IP that is not an IP", () => {
        assert.match(problems({ initialUsers: ["admin@example.com", "not-an-email"] }), /hub\.initialUsers\[1\].*email/);
        assert.match(problems({ initialUsers: [] }), /hub\.initialUsers.*at least one admin/);
        assert.match(problems({ lanIp: "omni.lan" }), /hub\.lanIp.*not an IP address/);
        assert.match(problems({ lanIp: "0.0.0.0" }), /hub\.lanIp.*unspecified/);
        assert.match(problems({ omniDomain: "https://omni.example.com/" }), /hub\.omniDomain.*use "omni\.example\.com"/);
    });

    it("checks the WireGuard advertised address is IP:port, never a name", () => {
        assert.equal(wireguardAddrProblem("192.168.10.20:50180"), undefined);
        assert.equal(wireguardAddrProblem("[fd00::20]:50180"), undefined);
        assert.match(wireguardAddrProblem("omni.example.com:50180")!, /names a host.*must be an IP/);
        assert.match(wireguardAddrProblem("192.168.10.20")!, /not IP:port/);
        assert.match(wireguardAddrProblem("192.168.10.20:70000")!, /not IP:port/);
    });

    it("parses Docker host addresses", () => {
        assert.deepEqual(parseDockerHost("ssh://ansible@10.0.0.5:2222"), { scheme: "ssh", user: "ansible", host: "10.0.0.5", port: 2222 });
        assert.deepEqual(parseDockerHost("unix:///var/run/docker.sock"), { scheme: "unix", path: "/var/run/docker.sock" });
        assert.deepEqual(parseDockerHost("tcp://docker.lan:2376"), { scheme: "tcp", host: "docker.lan", port: 2376 });
        assert.match(problems({ dockerHost: "ssh://10.0.0.5" }), /hub\.dockerHost.*ssh:\/\/user@host/);
        assert.match(problems({ dockerHost: "10.0.0.5" }), /hub\.dockerHost.*not a Docker host address/);
    });

    it("rejects mutually exclusive backup targets, unknown keys, bad provider ids", () => {
        assert.match(problems({ etcdBackup: { localPath: "/srv/backup", s3: true } }), /hub\.etcdBackup.*mutually exclusive/);
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

describe("omni-flags: renderOmniFlags", () => {
    it("renders identity, storage and key flags", () => {
        const f = render();
        assert.deepEqual(f.get("account-id"), [ACCOUNT]);
        assert.deepEqual(f.get("name"), ["omni"]);
        assert.deepEqual(f.get("private-key-source"), ["file:///omni.asc"]);
        assert.deepEqual(f.get("sqlite-storage-path"), ["/_out/omni.db"]);
        assert.deepEqual(f.get("etcd-embedded-db-path"), ["/_out/etcd/"]);
        assert.deepEqual(f.get("cert"), ["/tls.crt"]);
        assert.deepEqual(f.get("key"), ["/tls.key"]);
        assert.deepEqual(f.get("machine-api-cert"), ["/tls.crt"]);
        assert.deepEqual(f.get("machine-api-key"), ["/tls.key"]);
    });

    it("binds the configured ports and advertises the Omni domain and the LAN IP", () => {
        const f = render();
        assert.deepEqual(f.get("bind-addr"), ["0.0.0.0:443"]);
        assert.deepEqual(f.get("machine-api-bind-addr"), ["0.0.0.0:8090"]);
        assert.deepEqual(f.get("k8s-proxy-bind-addr"), ["0.0.0.0:8100"]);
        assert.deepEqual(f.get("siderolink-wireguard-bind-addr"), ["0.0.0.0:50180"]);
        assert.deepEqual(f.get("advertised-api-url"), ["https://omni.example.com"]);
        assert.deepEqual(f.get("machine-api-advertised-url"), ["https://omni.example.com:8090"]);
        assert.deepEqual(f.get("advertised-kubernetes-proxy-url"), ["https://omni.example.com:8100"]);
        assert.deepEqual(f.get("siderolink-wireguard-advertised-addr"), ["192.168.10.20:50180"]);
        assert.equal(wireguardAddrProblem(f.get("siderolink-wireguard-advertised-addr")![0]), undefined);
        assert.deepEqual(f.get("metrics-bind-addr"), ["127.0.0.1:2122"]);
        assert.deepEqual(f.get("debug-server-endpoint"), ["127.0.0.1:9988"]);

        const custom = render({ ports: { api: 8443, machineApi: 9090, k8sProxy: 9100, wireguard: 51820 } });
        assert.deepEqual(custom.get("bind-addr"), ["0.0.0.0:8443"]);
        assert.deepEqual(custom.get("advertised-api-url"), ["https://omni.example.com:8443"]);
        assert.deepEqual(custom.get("siderolink-wireguard-advertised-addr"), ["192.168.10.20:51820"]);
        assert.deepEqual(hubEndpoints(settings({ lanIp: "fd00::20" })).wireguardEndpoint, "[fd00::20]:50180");
    });

    it("renders the initial users and only the chosen auth method", () => {
        const auth0 = render({ initialUsers: ["a@example.com", "b@example.com"] });
        assert.deepEqual(auth0.get("initial-users"), ["a@example.com,b@example.com"]);
        assert.deepEqual(auth0.get("auth-auth0-enabled"), ["true"]);
        assert.deepEqual(auth0.get("auth-auth0-domain"), ["dev-xyz.us.auth0.com"]);
        assert.deepEqual(auth0.get("auth-auth0-client-id"), ["abc123"]);
        assert.ok(![...auth0.keys()].some((k) => k.startsWith("auth-oidc") || k.startsWith("auth-saml")));

        const oidc = render(
            {
                auth: {
                    oidc: {
                        providerUrl: "https://idp.example.com/",
                        clientId: "omni",
                        scopes: ["openid", "profile", "email"],
                        logoutUrl: "https://idp.example.com/logout",
                        allowUnverifiedEmail: true,
                    },
                },
            },
            "s3cret",
        );
        assert.deepEqual(oidc.get("auth-oidc-enabled"), ["true"]);
        assert.deepEqual(oidc.get("auth-oidc-provider-url"), ["https://idp.example.com/"]);
        assert.deepEqual(oidc.get("auth-oidc-client-id"), ["omni"]);
        assert.deepEqual(oidc.get("auth-oidc-client-secret"), ["s3cret"]);
        assert.deepEqual(oidc.get("auth-oidc-scopes"), ["openid", "profile", "email"]);
        assert.deepEqual(oidc.get("auth-oidc-logout-url"), ["https://idp.example.com/logout"]);
        assert.deepEqual(oidc.get("auth-oidc-allow-unverified-email"), ["true"]);
        assert.ok(![...oidc.keys()].some((k) => k.startsWith("auth-auth0")));

        const saml = render({ auth: { saml: { url: "https://idp.example.com/saml/metadata" } } });
        assert.deepEqual(saml.get("auth-saml-enabled"), ["true"]);
        assert.deepEqual(saml.get("auth-saml-url"), ["https://idp.example.com/saml/metadata"]);
        assert.equal(saml.get("auth-saml-metadata"), undefined);
    });

    it("renders the initial service account on the data volume, or nothing when disabled", () => {
        const f = render({ initialServiceAccount: { lifetime: "30m" } });
        assert.deepEqual(f.get("create-initial-service-account"), ["true"]);
        assert.deepEqual(f.get("initial-service-account-key-path"), ["/_out/initial-service-account-key"]);
        assert.deepEqual(f.get("initial-service-account-lifetime"), ["30m"]);
        assert.deepEqual(f.get("initial-service-account-role"), ["Admin"]);
        const off = render({ initialServiceAccount: { enabled: false } });
        assert.ok(![...off.keys()].some((k) => k.includes("initial-service-account")));
    });

    it("renders etcd backup and log level flags only when configured", () => {
        const local = render({ etcdBackup: { localPath: "/srv/omni-backup", minInterval: "1h", maxInterval: "24h" }, logLevel: "warn" });
        assert.deepEqual(local.get("etcd-backup-local-path"), ["/etcd-backup"]);
        assert.deepEqual(local.get("etcd-backup-min-interval"), ["1h"]);
        assert.deepEqual(local.get("etcd-backup-max-interval"), ["24h"]);
        assert.equal(local.get("etcd-backup-s3"), undefined);
        assert.deepEqual(local.get("log-level"), ["warn"]);
        const s3 = render({ etcdBackup: { s3: true } });
        assert.deepEqual(s3.get("etcd-backup-s3"), ["true"]);
        assert.equal(s3.get("etcd-backup-local-path"), undefined);
        const none = render();
        assert.ok(![...none.keys()].some((k) => k.startsWith("etcd-backup") || k === "log-level"));
    });

    it("never renders deprecated aliases or flags removed in v1.6", () => {
        const removed = ["audit-log-dir", "secondary-storage-path", "machine-log-storage-path", "log-storage-path", "embedded-discovery-service-snapshot-path"];
        for (const name of renderedOmniFlags) {
            assert.ok(!name.startsWith("siderolink-api-"), name);
            assert.ok(!removed.includes(name) && !name.startsWith("machine-log-buffer"), name);
        }
    });
});

describe("omni-flags: flag table against Omni's config schema", () => {
    /** Every setting's x-cli-flag in an Omni config schema. */
    function schemaFlags(version: string): Set<string> {
        const file = path.join(__dirname, `fixtures/upstream/omni-config.schema.${version}.json`);
        const found = new Set<string>();
        const walk = (node: unknown): void => {
            if (Array.isArray(node)) node.forEach(walk);
            else if (node && typeof node === "object") {
                const flag = (node as Record<string, unknown>)["x-cli-flag"];
                if (typeof flag === "string") found.add(flag);
                Object.values(node).forEach(walk);
            }
        };
        walk(JSON.parse(fs.readFileSync(file, "utf8")));
        return found;
    }

    /** Settings that together switch on every optional flag. */
    const everything: Partial<OmniHubSettingsInput>[] = [
        { etcdBackup: { localPath: "/srv/b", minInterval: "1h", maxInterval: "2h" }, logLevel: "info", eventSinkPort: 8091 },
        { etcdBackup: { s3: true }, auth: { oidc: { providerUrl: "https://i.example.com/", clientId: "c", scopes: ["openid"], logoutUrl: "https://i.example.com/o", allowUnverifiedEmail: true } } },
        { auth: { saml: { url: "https://i.example.com/saml" } } },
        { auth: { saml: { metadata: "/saml.xml" } } },
    ];

    it("lists exactly the flags the renderer can produce", () => {
        const produced = new Set<string>();
        for (const over of [{}, ...everything]) {
            for (const name of render(over, "secret").keys()) produced.add(name);
        }
        assert.deepEqual([...produced].sort(), [...renderedOmniFlags].sort());
    });

    for (const version of [versions.omni, "v1.9.3"]) {
        it(`uses only x-cli-flag names of Omni ${version} (siderolabs/omni internal/pkg/config/schema.json at ${version})`, function () {
            const known = schemaFlags(version);
            const unknown = renderedOmniFlags.filter((f) => !known.has(f));
            assert.deepEqual(unknown, [], `not flags of Omni ${version}: ${unknown.join(", ")}`);
        });
    }
});

describe("omni-flags: EULA acceptance (omni v1.10.4 internal/pkg/auth/interceptor/eula.go)", () => {
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/upstream/omni-config.schema.v1.10.4.json"), "utf8"));

    it("renders both flags Omni's schema names, together", () => {
        const eula = schema.definitions.EulaAccept;
        assert.deepEqual(eula.dependentRequired, { name: ["email"], email: ["name"] }, "Omni takes both or neither");
        const flags = renderOmniFlags({ settings: settings({ eula: { name: "Jane Admin", email: "jane@example.com" } }), accountId: ACCOUNT });
        assert.ok(flags.includes(`--${eula.properties.name["x-cli-flag"]}=Jane Admin`), flags.join(" "));
        assert.ok(flags.includes(`--${eula.properties.email["x-cli-flag"]}=jane@example.com`), flags.join(" "));
    });

    it("is required for the browserless bootstrap, saying why and who accepts what", () => {
        const msg = problems({ eula: undefined });
        assert.match(msg, /hub\.eula: set eula\.name and eula\.email: Omni v1\.7\+ refuses every API call until its EULA is accepted/);
        assert.match(msg, /accepts the Sidero Labs EULA .*on behalf of this Omni instance/);
        assert.doesNotThrow(() => settings({ eula: undefined, initialServiceAccount: { enabled: false } }));
        assert.match(problems({ eula: { name: "Jane", email: "not-an-email" } }), /hub\.eula\.email/);
        assert.match(problems({ eula: { name: " ", email: "jane@example.com" } }), /hub\.eula\.name/);
    });
});

describe("omni-flags: addresses a booting Talos VM must reach", () => {
    it("refuses tailnet, loopback and unspecified LAN IPs and WireGuard endpoints", () => {
        for (const ip of ["100.64.0.1", "100.101.102.103", "100.127.255.254", "fd7a:115c:a1e0::1", "127.0.0.1", "0.0.0.0", "::1"]) {
            assert.match(problems({ lanIp: ip }), /hub\.lanIp.*(Tailscale address|loopback|unspecified)/, ip);
            assert.match(wireguardAddrProblem(`${ip.includes(":") ? `[${ip}]` : ip}:50180`) ?? "", /Tailscale address|loopback|unspecified/, ip);
        }
        for (const ip of ["192.168.10.20", "10.0.0.5", "100.63.255.255", "100.128.0.1"]) assert.equal(lanIpProblem(ip), undefined, ip);
    });

    it("refuses a MagicDNS domain, which booting machines cannot resolve", () => {
        assert.match(problems({ omniDomain: "omni.tail1234.ts.net" }), /hub\.omniDomain.*MagicDNS name/);
    });

    it("refuses an etcd backup minInterval above maxInterval", () => {
        assert.match(problems({ etcdBackup: { localPath: "/srv/b", minInterval: "6h", maxInterval: "2h" } }), /hub\.etcdBackup\.minInterval.*must not exceed maxInterval \(2h\)/);
        assert.match(problems({ etcdBackup: { localPath: "/srv/b", minInterval: "48h" } }), /must not exceed maxInterval \(24h\)/);
    });
});

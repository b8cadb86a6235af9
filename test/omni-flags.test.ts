import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { wireguardAddrProblem } from "../components/core/addresses";
import { OmniHubSettingsInput } from "../components/hub/settings";
import * as YAML from "yaml";
import { omniContainerFacts } from "../components/hub/backup-render";
import { hubEndpoints, renderOmniFlags, renderedOmniFlags, renderOmniSecretConfig } from "../components/hub/omni-flags";
import { versions } from "../components/core/versions";
import { parsedHubSettings as settings } from "./fixtures/settings";

const ACCOUNT = "5f0d5b0e-3b9a-4c1e-9a4e-0d2a1c3b4e5f";

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

function render(over: Partial<OmniHubSettingsInput> = {}, secretConfig?: boolean) {
    return flagMap(renderOmniFlags({ settings: settings(over), accountId: ACCOUNT, secretConfig }));
}

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
            true,
        );
        assert.deepEqual(oidc.get("auth-oidc-enabled"), ["true"]);
        assert.deepEqual(oidc.get("auth-oidc-provider-url"), ["https://idp.example.com/"]);
        assert.deepEqual(oidc.get("auth-oidc-client-id"), ["omni"]);
        // The client secret is read from the secret config file, never a flag (`docker inspect` and `ps` show flags).
        assert.equal(oidc.get("auth-oidc-client-secret"), undefined);
        assert.deepEqual(oidc.get("config-path"), ["/omni-secrets.yaml"]);
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
        const local = render({
            etcdBackup: { localPath: "/srv/omni-backup", minInterval: "1h", maxInterval: "24h" },
            logLevel: "warn",
        });
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
        const removed = [
            "audit-log-dir",
            "secondary-storage-path",
            "machine-log-storage-path",
            "log-storage-path",
            "embedded-discovery-service-snapshot-path",
        ];
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
        {
            etcdBackup: { localPath: "/srv/b", minInterval: "1h", maxInterval: "2h" },
            logLevel: "info",
            eventSinkPort: 8091,
            siderolinkGrpcTunnel: true,
        },
        {
            etcdBackup: { s3: true },
            auth: {
                oidc: {
                    providerUrl: "https://i.example.com/",
                    clientId: "c",
                    scopes: ["openid"],
                    logoutUrl: "https://i.example.com/o",
                    allowUnverifiedEmail: true,
                },
            },
        },
        { auth: { saml: { url: "https://i.example.com/saml" } } },
        { auth: { saml: { metadata: "/saml.xml" } } },
    ];

    it("lists exactly the flags the renderer can produce", () => {
        const produced = new Set<string>();
        for (const over of [{}, ...everything]) {
            for (const name of render(over, true).keys()) produced.add(name);
        }
        // --config-path is Omni's own command flag (siderolabs/omni cmd/omni/cmd/cmd.go at v1.9.3 and v1.10.4:
        // StringArrayVar "config-path", files "merged in order (flags have highest priority)"), not a schema setting.
        produced.delete("config-path");
        assert.deepEqual([...produced].sort(), [...renderedOmniFlags].sort());
    });

    it("renders the hub-wide gRPC tunnel as Omni's boolean siderolink-use-grpc-tunnel (services.siderolink.useGRPCTunnel)", () => {
        const schema = JSON.parse(
            fs.readFileSync(path.join(__dirname, `fixtures/upstream/omni-config.schema.${versions.omni}.json`), "utf8"),
        );
        const find = (node: any): any =>
            node && typeof node === "object"
                ? (node.useGRPCTunnel ??
                  Object.values(node)
                      .map(find)
                      .find((x) => x !== undefined))
                : undefined;
        const prop = find(schema);
        assert.equal(prop["x-cli-flag"], "siderolink-use-grpc-tunnel");
        assert.equal(prop.type, "boolean");
        assert.match(prop.description, /regardless of their individual configuration/);
        assert.deepEqual(render({ siderolinkGrpcTunnel: true }).get(prop["x-cli-flag"]), ["true"]);
        assert.deepEqual(render({ siderolinkGrpcTunnel: false }).get(prop["x-cli-flag"]), ["false"]);
        assert.equal(render().get(prop["x-cli-flag"]), undefined, "Omni's default (off) unless set");
    });

    for (const version of [versions.omni, "v1.9.3"]) {
        it(`uses only x-cli-flag names of Omni ${version} (siderolabs/omni internal/pkg/config/schema.json at ${version})`, function () {
            const known = schemaFlags(version);
            const unknown = renderedOmniFlags.filter((f) => !known.has(f));
            assert.deepEqual(unknown, [], `not flags of Omni ${version}: ${unknown.join(", ")}`);
        });
    }
});

describe("omni-flags: the secret config file (--config-path)", () => {
    it("holds the OIDC client secret at auth.oidc.clientSecret of Omni's config schema, whatever its characters", () => {
        // Omni reads the file with a strict YAML decoder into its config (internal/pkg/config/config.go at v1.10.4,
        // LoadFromFile): the path must be the schema's (auth → Auth.oidc → OIDC.clientSecret, x-cli-flag auth-oidc-client-secret).
        for (const version of [versions.omni, "v1.9.3"]) {
            const schema = JSON.parse(
                fs.readFileSync(path.join(__dirname, `fixtures/upstream/omni-config.schema.${version}.json`), "utf8"),
            );
            const ref = (node: any) => schema.definitions[node.$ref.split("/").pop()];
            const oidc = ref(ref(schema.properties.auth).properties.oidc);
            assert.equal(oidc.properties.clientSecret["x-cli-flag"], "auth-oidc-client-secret", version);
        }
        const hostile = "p#a: \"s's\n- x: [y]\u2028 {z}";
        const text = renderOmniSecretConfig({ oidcClientSecret: hostile })!;
        assert.deepEqual(YAML.parse(text), { auth: { oidc: { clientSecret: hostile } } });
        assert.equal(renderOmniSecretConfig({}), undefined, "no file without a secret");
    });

    it("never quotes Omni's arguments in an error: an older hub's command line held the client secret", () => {
        const inspect = JSON.stringify([
            {
                Name: "/omni",
                Args: ["--name=omni", "--auth-oidc-client-secret=leaked-client-secret"],
                Mounts: [{ Type: "volume", Name: "omni-data", Destination: "/_out" }],
            },
        ]);
        const want = { container: "omni", dataPath: "/_out", dataVolume: "omni-data" };
        assert.throws(
            () => omniContainerFacts(inspect, want),
            (e: Error) =>
                /runs without --account-id \(2 other arguments, not shown\)/.test(e.message) &&
                !e.message.includes("leaked"),
        );
    });
});

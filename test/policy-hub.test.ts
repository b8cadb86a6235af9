import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as tailscale from "@pulumi/tailscale";
import * as openpgp from "openpgp";
import { STATE_ROLE_LABEL } from "../components/core/state-volumes";
import { assertNoViolation, assertViolation, violationsOf } from "./policy-helpers";

const OMNI_IMAGE = "ghcr.io/siderolabs/omni:v1.10.4";

/** Flags of a working Omni with Auth0; `extra` replaces flags of the same name or adds new ones. */
function omniFlags(extra: string[] = []): string[] {
    const base = [
        "--private-key-source=file:///omni.asc",
        "--sqlite-storage-path=/_out/omni.db",
        "--siderolink-wireguard-advertised-addr=192.168.10.20:50180",
        "--auth-auth0-enabled=true",
        "--auth-auth0-domain=dev-xyz.us.auth0.com",
        "--auth-auth0-client-id=abc",
    ];
    const names = new Set(extra.map((f) => f.split("=")[0]));
    return [...base.filter((f) => !names.has(f.split("=")[0])), ...extra];
}

const omni =
    (command: string[], uploads: docker.types.input.ContainerUpload[] = []) =>
    () => {
        new docker.Container("omni", { image: OMNI_IMAGE, command, uploads });
    };

describe("policy: hub", () => {
    const keys: Record<"unlocked" | "locked" | "signOnly" | "publicOnly", string> = {
        unlocked: "",
        locked: "",
        signOnly: "",
        publicOnly: "",
    };

    before(async () => {
        // Real OpenPGP keys (ECC: fast). The etcd-key component's own tests cover the RSA-4096 generator.
        const userIDs = [{ name: "Omni policy test", email: "omni@example.invalid" }];
        const unlocked = await openpgp.generateKey({ type: "ecc", userIDs, format: "armored" });
        keys.unlocked = unlocked.privateKey;
        keys.publicOnly = unlocked.publicKey;
        keys.locked = (
            await openpgp.generateKey({ type: "ecc", userIDs, passphrase: "hunter2", format: "armored" })
        ).privateKey;
        // A primary key only: it can certify and sign, but nothing can encrypt to it.
        keys.signOnly = (
            await openpgp.generateKey({ type: "ecc", userIDs, subkeys: [], format: "armored" })
        ).privateKey;
    });

    describe("omni-gpg-key-no-passphrase", () => {
        const withKey = (key: string, file = "/omni.asc") => omni(omniFlags(), [{ file, content: pulumi.secret(key) }]);

        it("passes an unlocked secret key with an encryption subkey (secret input, seen as plaintext)", async () => {
            await assertNoViolation("omni-gpg-key-no-passphrase", withKey(keys.unlocked));
        });

        it("rejects a passphrase-protected key, naming the fix", async () => {
            await assertViolation(
                "omni-gpg-key-no-passphrase",
                "omni",
                withKey(keys.locked),
                /locked with a passphrase/,
                /remove the passphrase/,
            );
        });

        it("rejects a key without an encryption subkey", async () => {
            await assertViolation(
                "omni-gpg-key-no-passphrase",
                "omni",
                withKey(keys.signOnly),
                /no usable encryption subkey/,
                /quick-add-key/,
            );
        });

        it("rejects a public key", async () => {
            await assertViolation(
                "omni-gpg-key-no-passphrase",
                "omni",
                withKey(keys.publicOnly),
                /public key/,
                /export-secret-key/,
            );
        });

        it("reads base64 uploads and follows --private-key-source to the uploaded file", async () => {
            const program = omni(omniFlags(["--private-key-source=file:///keys/etcd.asc"]), [
                { file: "/omni.asc", content: keys.unlocked },
                { file: "/keys/etcd.asc", contentBase64: Buffer.from(keys.locked).toString("base64") },
            ]);
            await assertViolation(
                "omni-gpg-key-no-passphrase",
                "omni",
                program,
                /^The etcd encryption key.*\n\/keys\/etcd\.asc: .*locked/,
            );
        });
    });

    describe("auth0-domain-bare-host", () => {
        it("passes a bare tenant host", async () => {
            await assertNoViolation("auth0-domain-bare-host", omni(omniFlags()));
        });

        it("rejects a URL and names the bare host to use", async () => {
            const program = omni(omniFlags(["--auth-auth0-domain=https://dev-xyz.us.auth0.com/"]));
            const v = await assertViolation(
                "auth0-domain-bare-host",
                "omni",
                program,
                /bare host/,
                /use "dev-xyz\.us\.auth0\.com"/,
            );
            assert.equal(v.enforcementLevel, "mandatory");
        });

        it("reads the space-separated flag form too", async () => {
            const program = omni([
                ...omniFlags().filter((f) => !f.startsWith("--auth-auth0-domain")),
                "--auth-auth0-domain",
                "dev-xyz.us.auth0.com:443",
            ]);
            await assertViolation("auth0-domain-bare-host", "omni", program, /use "dev-xyz\.us\.auth0\.com"/);
        });
    });

    describe("omni-single-auth-method", () => {
        it("passes one method", async () => {
            await assertNoViolation("omni-single-auth-method", omni(omniFlags()));
        });

        it("rejects two methods", async () => {
            const program = omni(
                omniFlags(["--auth-oidc-enabled", "--auth-oidc-provider-url=https://idp.example.com/"]),
            );
            await assertViolation(
                "omni-single-auth-method",
                "omni",
                program,
                /auth0 and oidc are all enabled/,
                /keep exactly one/,
            );
        });

        it("rejects none", async () => {
            const program = omni(omniFlags().filter((f) => !f.startsWith("--auth-auth0-enabled")));
            await assertViolation("omni-single-auth-method", "omni", program, /no auth method is enabled/);
        });

        it("leaves containers that are not Omni alone", async () => {
            await assertNoViolation("omni-single-auth-method", () => {
                new docker.Container("sidecar", { image: "tailscale/tailscale:v1.94.2", envs: ["TS_USERSPACE=false"] });
            });
        });
    });

    describe("omni-eula-accepted (omni v1.10.4 internal/pkg/auth/interceptor/eula.go)", () => {
        const eula = ["--eula-accept-name=Jane Admin", "--eula-accept-email=jane@example.com"];
        const bootstrap = ["--create-initial-service-account=true"];

        it("passes a bootstrap with both flags, and an Omni without the bootstrap", async () => {
            await assertNoViolation("omni-eula-accepted", omni(omniFlags([...bootstrap, ...eula])));
            await assertNoViolation("omni-eula-accepted", omni(omniFlags()));
        });

        it("rejects a bootstrap without the EULA flags", async () => {
            await assertViolation(
                "omni-eula-accepted",
                "omni",
                omni(omniFlags(bootstrap)),
                /EULA has not been accepted/,
            );
        });

        it("rejects one flag without the other", async () => {
            await assertViolation(
                "omni-eula-accepted",
                "omni",
                omni(omniFlags([eula[0]])),
                /only --eula-accept-name is set/,
            );
        });
    });

    describe("wireguard-advertised-ip", () => {
        it("passes IP:port", async () => {
            await assertNoViolation("wireguard-advertised-ip", omni(omniFlags()));
        });

        it("rejects a host name", async () => {
            const program = omni(omniFlags(["--siderolink-wireguard-advertised-addr=omni.example.com:50180"]));
            await assertViolation(
                "wireguard-advertised-ip",
                "omni",
                program,
                /must be an IP/,
                /192\.168\.10\.20:50180/,
            );
        });

        it("rejects an address without a port", async () => {
            const program = omni(omniFlags(["--siderolink-wireguard-advertised-addr=192.168.10.20"]));
            await assertViolation("wireguard-advertised-ip", "omni", program, /not IP:port/);
        });
    });

    describe("stateful-volumes-protected", () => {
        const volume = (name: string, args: docker.VolumeArgs, protect: boolean) => () => {
            new docker.Volume(name, args, { protect, retainOnDelete: true });
        };
        const role = (value: string) => ({ labels: [{ label: STATE_ROLE_LABEL, value }] });

        it("passes protected state volumes and ignores other volumes", async () => {
            await assertNoViolation(
                "stateful-volumes-protected",
                volume("hub-tailscale-state", role("tailscale-state"), true),
            );
            await assertNoViolation("stateful-volumes-protected", volume("scratch", { name: "scratch" }, false));
            // The label decides over the name.
            await assertNoViolation("stateful-volumes-protected", volume("omni-data-cache", role("cache"), false));
        });

        it("rejects an unprotected volume labelled as Omni data", async () => {
            await assertViolation(
                "stateful-volumes-protected",
                "hub-data",
                volume("hub-data", role("omni-data"), false),
                /holds omni-data/,
                /protect: true/,
            );
        });

        it("recognises the seed's volume names without a label", async () => {
            await assertViolation(
                "stateful-volumes-protected",
                "hub-ts",
                volume("hub-ts", { name: "tailscale-state" }, false),
                /judging by its name.*not protected/,
            );
        });
    });

    describe("tailnet-key-hygiene (advisory)", () => {
        it("passes a single-use key with an expiry", async () => {
            await assertNoViolation("tailnet-key-hygiene", () => {
                new tailscale.TailnetKey("ts-key", {
                    reusable: false,
                    expiry: 86400,
                    preauthorized: true,
                    tags: ["tag:omni"],
                });
            });
        });

        it("advises against a reusable key without expiry", async () => {
            const found = await violationsOf("tailnet-key-hygiene", () => {
                new tailscale.TailnetKey("ts-key", { reusable: true, tags: ["tag:omni"] });
            });
            assert.deepEqual(
                found.map((v) => v.enforcementLevel),
                ["advisory", "advisory"],
            );
            assert.match(found[0].message, /reusable: false/);
            assert.match(found[1].message, /set expiry/);
        });
    });
});

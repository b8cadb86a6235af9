import { strict as assert } from "node:assert";
import { X509Certificate } from "node:crypto";
import {
    ACME_DIRECTORIES,
    CLOUDFLARE_OVERRIDING_ENV,
    CLOUDFLARE_TOKEN_PERMISSIONS,
    cloudflareDnsChallenge,
    cloudflareEnvOverride,
    fullChain,
} from "../components/edge/acme-certificate-render";
import { ConfigError } from "../components/core/validation";
import { packArgs } from "../policy/pack";
import { analyzeInProcess } from "../src/plan/analyze";
import { CapturedResource, isSecret, unwrapSecrets } from "../src/plan/capture";
import { offlineCertificate } from "../src/plan/offline-certificate";
import facts from "./fixtures/upstream/acme-cloudflare-facts.json";
import { FAKE_TOKEN, hubConfigIssues, runHub, withCloudflare } from "./hub-program";

const acme =
    (extra: Record<string, unknown> = {}) =>
    (hub: any) => {
        withCloudflare(hub);
        hub.tls = { mode: "acme", email: "admin@example.com", ...extra };
    };
const token = { cloudflareApiToken: FAKE_TOKEN };
const upload = (omni: CapturedResource, file: string) => (omni.inputs.uploads as any[]).find((u) => u.file === file);

describe("ACME certificate (hub tls.mode acme)", () => {
    it("registers a production account and a certificate for the Omni name by DNS-01 through Cloudflare, renewed at a third of its lifetime", async () => {
        const { find } = await runHub(acme(), token);
        const provider = find((r) => r.type === "pulumi:providers:acme", "the ACME provider");
        assert.equal(provider.inputs.serverUrl, facts.letsEncryptDirectories.production);
        const account = find((r) => r.type === "acme:index/registration:Registration", "the account");
        assert.equal(account.name, "omni-acme-account-production");
        assert.equal(account.inputs.emailAddress, "admin@example.com");
        assert.equal(account.protect, true, "the production account key is protected");
        assert.ok(account.additionalSecretOutputs.includes("accountKeyPem"));
        const cert = find((r) => r.type === "acme:index/certificate:Certificate", "the certificate");
        assert.equal(cert.inputs.commonName, "omni.example.com");
        assert.equal(cert.inputs.minDaysDynamic, true, "the window follows the lifetime (renewalDue)");
        assert.equal(cert.inputs.minDaysRemaining, undefined, "minDaysDynamic conflicts with minDaysRemaining");
        assert.ok(isSecret(cert.inputs.accountKeyPem), "the account key reaches the certificate as a secret");
        const challenge = unwrapSecrets(cert.inputs.dnsChallenges)[0];
        assert.deepEqual(challenge, {
            provider: "cloudflare",
            config: { [facts.legoCloudflareTokenEnv.value]: FAKE_TOKEN },
        });
        assert.ok(
            isSecret((cert.inputs.dnsChallenges as any[])[0].config[facts.legoCloudflareTokenEnv.value]),
            "the token stays secret",
        );
        assert.ok(cert.provider?.startsWith(provider.urn) && account.provider?.startsWith(provider.urn));
    });

    it("uploads the issued chain and key into Omni like tls.mode config, checked by the same TLS rules", async () => {
        const { find, outputs } = await runHub(acme(), token);
        const omni = find((r) => r.name === "omni-omni", "the Omni container");
        const issued = find((r) => r.type === "acme:index/certificate:Certificate", "the certificate").state;
        const cert = upload(omni, "/tls.crt");
        assert.equal(unwrapSecrets(cert.content), fullChain(String(issued.certificatePem), String(issued.issuerPem)));
        assert.equal(cert.permissions, "0444");
        const key = upload(omni, "/tls.key");
        assert.ok(isSecret(key.content));
        assert.equal(unwrapSecrets(key.content), unwrapSecrets(issued.privateKeyPem));
        assert.equal(key.permissions, "0400");
        // Not bind-mounted from the host.
        assert.ok(!(omni.inputs.volumes as any[]).some((v) => v.containerPath === "/tls.crt"));
        // The hub exports what the workload stacks' preflight compares against.
        const certificate = outputs.certificate as { names: string[]; fingerprint: string };
        assert.deepEqual(certificate.names, ["omni.example.com"]);
        assert.equal(certificate.fingerprint, new X509Certificate(String(issued.certificatePem)).fingerprint256);
    });

    it("passes the policy pack, whose certificate policy reads the issued certificate as a configured one", async () => {
        const { resources } = await runHub(acme(), token);
        const violations = await analyzeInProcess("omni-scale", packArgs, resources);
        assert.deepEqual(
            violations.filter((v) => v.enforcementLevel === "mandatory"),
            [],
        );
        assert.ok(packArgs.policies.some((p) => p.name === "omni-certificate-covers-domain"));
    });

    it("fails the Omni container when the issued certificate does not cover the Omni name", async () => {
        const wrong = offlineCertificate({
            names: ["other.example.com"],
            notBefore: new Date("2026-01-01"),
            notAfter: new Date("2099-01-01"),
        });
        await assert.rejects(
            runHub(acme(), token, (base) => ({
                ...base,
                newResource: async (args) =>
                    args.type === "acme:index/certificate:Certificate"
                        ? {
                              id: "c",
                              state: {
                                  ...args.inputs,
                                  certificatePem: wrong.certPem,
                                  issuerPem: "",
                                  privateKeyPem: wrong.keyPem,
                              },
                          }
                        : base.newResource(args),
            })),
            (e: unknown) =>
                e instanceof ConfigError &&
                /hub\.tls \(the issued certificate\): the certificate covers DNS:other\.example\.com, not omni\.example\.com/.test(
                    e.message,
                ),
        );
    });

    it("uses the staging directory and a renewal threshold when set; a staging account is not protected", async () => {
        const { find } = await runHub(acme({ directory: "staging", renewalDays: 14 }), token);
        assert.equal(
            find((r) => r.type === "pulumi:providers:acme", "provider").inputs.serverUrl,
            facts.letsEncryptDirectories.staging,
        );
        const account = find((r) => r.type === "acme:index/registration:Registration", "account");
        assert.equal(account.name, "omni-acme-account-staging", "accounts belong to one directory");
        assert.equal(account.protect, false);
        const cert = find((r) => r.type === "acme:index/certificate:Certificate", "certificate");
        assert.equal(cert.inputs.minDaysRemaining, 14);
        assert.equal(cert.inputs.minDaysDynamic, undefined);
    });

    it("mirrors Let's Encrypt's directories and lego's Cloudflare token variable (fixtures/upstream/acme-cloudflare-facts.json)", () => {
        assert.deepEqual(
            { ...ACME_DIRECTORIES },
            { production: facts.letsEncryptDirectories.production, staging: facts.letsEncryptDirectories.staging },
        );
        assert.deepEqual(Object.keys(cloudflareDnsChallenge("t").config), [facts.legoCloudflareTokenEnv.value]);
        assert.equal(fullChain("LEAF", "ISSUER\n"), "LEAF\nISSUER\n");
        assert.equal(fullChain("LEAF\n", ""), "LEAF\n");
    });

    it("refuses bad settings with the key and the fix", () => {
        const issues = (edit: (hub: any) => void, secrets: Record<string, string> = token) =>
            hubConfigIssues(edit, secrets);
        const noDns = issues((h) => {
            h.tls = { mode: "acme" };
        });
        assert.deepEqual(noDns, [
            "omni-scale:hub.tls.mode: acme answers the DNS-01 challenge through Cloudflare: set dns.cloudflare.zoneId (and the secret cloudflareApiToken, a token with Zone:Read and DNS:Edit (Zone > Zone > Read, Zone > DNS > Edit) on the zone), or use tls.mode config or hostFiles",
        ]);
        const bad = issues(acme({ directory: "prod", renewalDays: 90, email: "admin" }));
        assert.deepEqual(bad.map((i) => i.split(": ")[0]).sort(), [
            "omni-scale:hub.tls.directory",
            "omni-scale:hub.tls.email",
            "omni-scale:hub.tls.renewalDays",
        ]);
        assert.match(bad.join("\n"), /directory: use "production" \(trusted certificates\) or "staging"/);
        assert.match(bad.join("\n"), /renewalDays: at most 60/);
        const leftover = issues(acme({ certPath: "/etc/letsencrypt/live/omni/fullchain.pem" }));
        assert.match(leftover.join("\n"), /omni-scale:hub\.tls\.certPath: unknown key/);
    });

    it("warns that a Cloudflare email and global API key in the environment win over the token (lego v4.35.2 cloudflare.go)", () => {
        const [email, key] = facts.legoCloudflareCredentials.precedence;
        assert.deepEqual(
            CLOUDFLARE_OVERRIDING_ENV.map((names) => [...names]),
            [email, key],
        );
        for (const e of email)
            for (const k of key)
                assert.match(
                    cloudflareEnvOverride({ [e]: "admin@example.com", [k]: "offline-global-key" }) ?? "",
                    new RegExp(
                        `^${e} and ${k} are set in this environment: lego .* instead of the secret cloudflareApiToken`,
                    ),
                );
        assert.equal(
            cloudflareEnvOverride({ CLOUDFLARE_EMAIL: "admin@example.com" }),
            undefined,
            "an email alone is ignored",
        );
        assert.equal(cloudflareEnvOverride({ CF_DNS_API_TOKEN: "t" }), undefined);
        for (const permission of facts.legoCloudflareCredentials.tokenPermissions)
            assert.ok(CLOUDFLARE_TOKEN_PERMISSIONS.includes(permission), permission);
    });

    it("refuses a configured certificate next to an issued one", async () => {
        await assert.rejects(
            runHub(acme(), { ...token, tlsCertificate: "PEM", tlsPrivateKey: "PEM" }),
            /tlsCertificate\/tlsPrivateKey: tls\.mode is acme, so these would be ignored/,
        );
    });
});

import * as command from "@pulumi/command";
import type * as cloudflare from "@pulumi/cloudflare";
import * as docker from "@pulumi/docker";
import { offlineCertificate } from "../src/plan/offline-certificate";
import { assertNoViolation, assertViolation } from "./policy-helpers";

const day = 86_400_000;
/** A well-formed, obviously fake ed25519 host key (32 bytes of 0x11). */
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBERERERERERERERERERERERERERERERERERERERERER fake@pve2";
const cert = (names: string[], to = 60) =>
    offlineCertificate({ names, notBefore: new Date(Date.now() - day), notAfter: new Date(Date.now() + to * day) });

/** An Omni container as the hub registers it with an uploaded certificate. */
const omni = (pair: { certPem: string; keyPem: string }) => () => {
    new docker.Container("omni", {
        image: "ghcr.io/siderolabs/omni:v1.10.4",
        command: [
            "--advertised-api-url=https://omni.example.com",
            "--cert=/tls.crt",
            "--key=/tls.key",
            "--private-key-source=file:///omni.asc",
        ],
        uploads: [
            { file: "/tls.crt", content: pair.certPem },
            { file: "/tls.key", content: pair.keyPem },
        ],
    });
};

const ssh = (connection: Record<string, unknown>) => () => {
    new command.remote.Command("preflight-golf", { connection: connection as any, create: "bash -s" });
};

describe("policy: the Omni certificate, the public record, SSH", () => {
    describe("omni-certificate-covers-domain", () => {
        it("passes a certificate for the advertised domain, configured or issued", async () => {
            await assertNoViolation("omni-certificate-covers-domain", omni(cert(["omni.example.com"])));
        });

        it("rejects a certificate for another name, an expired one, and a key that does not belong to it", async () => {
            await assertViolation(
                "omni-certificate-covers-domain",
                "omni",
                omni(cert(["other.example.com"])),
                /\/tls\.crt: the certificate covers DNS:other\.example\.com, not omni\.example\.com/,
            );
            await assertViolation(
                "omni-certificate-covers-domain",
                "omni",
                omni(cert(["omni.example.com"], -1)),
                /expired on/,
            );
            const mismatched = {
                certPem: cert(["omni.example.com"]).certPem,
                keyPem: cert(["omni.example.com"], 30).keyPem,
            };
            await assertViolation(
                "omni-certificate-covers-domain",
                "omni",
                omni(mismatched),
                /private key does not belong to the certificate/,
            );
        });

        it("leaves host-file certificates to the preflight", async () => {
            await assertNoViolation("omni-certificate-covers-domain", () => {
                new docker.Container("omni", {
                    image: "ghcr.io/siderolabs/omni:v1.10.4",
                    command: ["--advertised-api-url=https://omni.example.com", "--cert=/tls.crt", "--key=/tls.key"],
                    volumes: [{ hostPath: "/etc/letsencrypt/live/omni/fullchain.pem", containerPath: "/tls.crt" }],
                });
            });
        });
    });

    describe("cloudflare-tailnet-record-dns-only", () => {
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const cf = () => require("@pulumi/cloudflare") as typeof cloudflare;
        const record = (args: Partial<cloudflare.DnsRecordArgs>) => () => {
            new (cf().DnsRecord)("omni-dns-record", {
                zoneId: "0123456789abcdef0123456789abcdef",
                name: "omni.example.com",
                type: "A",
                ttl: 60,
                ...args,
            });
        };

        it("passes a DNS-only record at the tailnet address with a short TTL, and ignores records elsewhere", async () => {
            await assertNoViolation(
                "cloudflare-tailnet-record-dns-only",
                record({ content: "100.101.102.103", proxied: false }),
            );
            await assertNoViolation(
                "cloudflare-tailnet-record-dns-only",
                record({ content: "203.0.113.10", proxied: true, ttl: 86400 }),
            );
        });

        it("rejects a proxied or long-lived record at a tailnet address", async () => {
            await assertViolation(
                "cloudflare-tailnet-record-dns-only",
                "omni-dns-record",
                record({ content: "100.101.102.103", proxied: true }),
                /omni\.example\.com → 100\.101\.102\.103 is proxied.*proxied: false/,
            );
            await assertViolation(
                "cloudflare-tailnet-record-dns-only",
                "omni-dns-record",
                record({ content: "100.101.102.103", proxied: false, ttl: 86400 }),
                /TTL 86400 s; keep it at most 3600 s/,
            );
        });
    });

    describe("ssh-connections-agent-auth", () => {
        it("passes a host name or IP, a login name and agent auth", async () => {
            await assertNoViolation("ssh-connections-agent-auth", ssh({ host: "192.168.3.6", user: "root" }));
            await assertNoViolation(
                "ssh-connections-agent-auth",
                ssh({ host: "pve2.example.com", user: "ansible", port: 2222 }),
            );
            await assertNoViolation(
                "ssh-connections-agent-auth",
                ssh({ host: "192.168.3.6", user: "root", hostKey: HOST_KEY }),
            );
        });

        it("rejects a URL as host, a bad user and key material in the program", async () => {
            await assertViolation(
                "ssh-connections-agent-auth",
                "preflight-golf",
                ssh({ host: "ssh://root@192.168.3.6", user: "root" }),
                /connection\.host .*use "192\.168\.3\.6"/,
            );
            await assertViolation(
                "ssh-connections-agent-auth",
                "preflight-golf",
                ssh({ host: "192.168.3.6", user: "Root User" }),
                /connection\.user "Root User" is not a Linux user name/,
            );
            await assertViolation(
                "ssh-connections-agent-auth",
                "preflight-golf",
                ssh({ host: "192.168.3.6", user: "root", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----fake" }),
                /connection\.privateKey puts SSH credentials in the program and state; remove it and authenticate with the SSH agent/,
            );
            await assertViolation(
                "ssh-connections-agent-auth",
                "preflight-golf",
                ssh({ host: "192.168.3.6", user: "root", hostKey: `192.168.3.6 ${HOST_KEY}` }),
                /connection\.hostKey starts with "192\.168\.3\.6" before the key type; drop it/,
            );
        });
    });
});

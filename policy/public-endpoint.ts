import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { isTailnetAddress } from "../components/core/addresses";
import { tlsProblems } from "../components/edge/tls";
import { commandFlags, flag, known } from "./props";
import { docker } from "./providers";

/** How clients reach Omni by name: the certificate it serves and the public record for its name. */

export const omniCertificateCoversDomain: ResourceValidationPolicy = {
    name: "omni-certificate-covers-domain",
    description:
        "The certificate and key uploaded into Omni (tls.mode config or acme) belong together, cover the advertised Omni domain and are " +
        'valid now: Talos checks them while joining and fails with "x509: certificate is valid for …".',
    severity: "critical",
    remediationSteps:
        "Issue the certificate for the Omni domain (tls.mode acme does), give the key issued with it, and renew before it expires.",
    validateResource: validateResourceOfType(docker.Container, (container, _args, report) => {
        const flags = commandFlags(container);
        const certPath = flag(flags, "cert");
        const keyPath = flag(flags, "key");
        const api = flag(flags, "advertised-api-url");
        if (!certPath || !keyPath || !api) return;
        // Only uploaded files can be read here; host files (tls.mode hostFiles) are checked by the preflight.
        const uploads = known(() => container.uploads) ?? [];
        const content = (path: string) => {
            const upload = uploads.find((u) => known(() => u.file) === path);
            return upload ? known(() => upload.content) : undefined;
        };
        const cert = content(certPath);
        const key = content(keyPath);
        if (typeof cert !== "string" || typeof key !== "string") return;
        const domain = new URL(api).hostname;
        for (const problem of tlsProblems(cert, key, domain)) report(`${certPath}: ${problem}`);
    }),
};

const DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord";

export const cloudflareTailnetRecordDnsOnly: ResourceValidationPolicy = {
    name: "cloudflare-tailnet-record-dns-only",
    description:
        "A Cloudflare record that points at a tailnet address is DNS only with a short TTL: Cloudflare's proxy cannot reach a tailnet " +
        "address and would answer with its own IPs, and a long TTL keeps a stale address after the hub's node registers anew.",
    severity: "high",
    remediationSteps: "Set proxied: false and a TTL of at most 3600 s (the hub's dns.cloudflare.ttl defaults to 60).",
    // By type token: the pack does not load @pulumi/cloudflare to recognise its records.
    validateResource: (args, report) => {
        if (args.type !== DNS_RECORD) return;
        const props = args.props as { content?: string; proxied?: boolean; ttl?: number; name?: string };
        const content = known(() => props.content);
        if (typeof content !== "string" || !isTailnetAddress(content)) return;
        if (known(() => props.proxied) === true) {
            report(
                `${props.name} → ${content} is proxied; tailnet clients need the address itself: set proxied: false`,
            );
        }
        const ttl = known(() => props.ttl);
        // 1 is Cloudflare's "automatic" (300 s).
        if (typeof ttl === "number" && ttl > 3600) {
            report(
                `${props.name} → ${content} has TTL ${ttl} s; keep it at most 3600 s so a new tailnet address takes effect soon`,
            );
        }
    },
};

export const publicEndpointPolicies = [omniCertificateCoversDomain, cloudflareTailnetRecordDnsOnly];

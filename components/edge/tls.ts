import * as crypto from "crypto";

/**
 * Why a TLS certificate and key cannot serve Omni on `domain` (empty when they can). The same pair serves
 * the API/UI and the machine API, so a certificate that does not cover the Omni domain is the seed's
 * `x509: certificate is valid for …` failure on every booting Talos machine (docs/TROUBLESHOOTING.md "x509: certificate is valid for …").
 */
export function tlsProblems(certPem: string, keyPem: string, domain: string, now: Date = new Date()): string[] {
    const problems: string[] = [];
    let cert: crypto.X509Certificate | undefined;
    let key: crypto.KeyObject | undefined;
    try {
        // With a full chain this is the first (leaf) certificate, the one that must match.
        cert = new crypto.X509Certificate(certPem);
    } catch (e) {
        problems.push(
            `the certificate is not PEM (${(e as Error).message}); use the full chain, e.g. certbot's fullchain.pem`,
        );
    }
    try {
        key = crypto.createPrivateKey(keyPem);
    } catch (e) {
        problems.push(
            `the private key is not an unencrypted PEM key (${(e as Error).message}); use e.g. certbot's privkey.pem`,
        );
    }
    if (!cert) return problems;

    if (key && !cert.checkPrivateKey(key)) {
        problems.push(
            `the private key does not belong to the certificate (${cert.subject.replace(/\n/g, ", ")}); use the key issued with it`,
        );
    }
    // Go clients (Talos, omnictl) ignore the subject CN, so only subjectAltName counts.
    if (!cert.checkHost(domain, { subject: "never" })) {
        problems.push(
            `the certificate covers ${cert.subjectAltName ?? "no subjectAltName"}, not ${domain}; Talos would fail with "x509: certificate is valid for …"; ` +
                `issue one for ${domain} (e.g. certbot DNS-01) or set omniDomain to a name it covers`,
        );
    }
    const validTo = new Date(cert.validTo);
    const validFrom = new Date(cert.validFrom);
    if (validTo < now) problems.push(`the certificate expired on ${validTo.toISOString()}; renew it`);
    if (validFrom > now)
        problems.push(
            `the certificate is not valid before ${validFrom.toISOString()}; check the clock or the certificate`,
        );
    return problems;
}

/** What the workload stack's preflight compares against: public facts of the served certificate (the leaf). */
export interface CertificateSummary {
    /** SHA-256 fingerprint, as OpenSSL prints it. */
    fingerprint: string;
    names: string[];
    /** Start of validity: with notAfter, the lifetime the renewal window is a share of (set by certificateSummary). */
    notBefore?: string;
    notAfter: string;
}

export function certificateSummary(certPem: string): CertificateSummary {
    const cert = new crypto.X509Certificate(certPem);
    return {
        fingerprint: cert.fingerprint256,
        names: (cert.subjectAltName ?? "")
            .split(", ")
            .filter(Boolean)
            .map((n) => n.replace(/^DNS:/, "")),
        notBefore: new Date(cert.validFrom).toISOString(),
        notAfter: new Date(cert.validTo).toISOString(),
    };
}

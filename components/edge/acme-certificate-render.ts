/**
 * Pure parts of the ACME certificate (`tls.mode: acme`): where to ask, how to answer the DNS-01 challenge, and the
 * PEM Omni is given. Upstream facts: test/fixtures/upstream/acme-facts.json.
 */

/** Let's Encrypt's ACME v2 directories (letsencrypt.org/docs/staging-environment, /docs/acme-protocol-updates). */
export const ACME_DIRECTORIES = {
    production: "https://acme-v02.api.letsencrypt.org/directory",
    /** Untrusted certificates and looser rate limits: for a first try, not for machines to join. */
    staging: "https://acme-staging-v02.api.letsencrypt.org/directory",
} as const;
export type AcmeDirectory = keyof typeof ACME_DIRECTORIES;

/**
 * Resolvers the ACME client checks the challenge record's propagation with. Not the local ones: a split-horizon
 * resolver that owns the Omni name locally answers the `_acme-challenge` TXT lookup with NXDOMAIN, and the
 * propagation check would wait until it times out.
 */
export const PROPAGATION_RESOLVERS = ["1.1.1.1:53", "1.0.0.1:53"];

/** The DNS-01 challenge through Cloudflare: lego's `cloudflare` provider reads the token from CF_DNS_API_TOKEN. */
export function cloudflareDnsChallenge<T>(apiToken: T) {
    return { provider: "cloudflare", config: { CF_DNS_API_TOKEN: apiToken } };
}

/** Leaf first, then the issuer chain: what Omni serves, like certbot's fullchain.pem. */
export function fullChain(certificatePem: string, issuerPem: string): string {
    const pem = (s: string) => (s.endsWith("\n") ? s : `${s}\n`);
    return issuerPem.trim() ? pem(certificatePem) + pem(issuerPem) : pem(certificatePem);
}

/**
 * Pure parts of the ACME certificate (`tls.mode: acme`): where to ask, how to answer the DNS-01 challenge, and the
 * PEM Omni is given. Upstream facts: test/fixtures/upstream/acme-cloudflare-facts.json.
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

/**
 * What the Cloudflare token must be allowed, on the zone of the Omni name: lego looks the zone id up by name
 * (`GET /zones?name=`, Zone:Read) before it writes the challenge record (DNS:Edit); the public record needs DNS:Edit.
 */
export const CLOUDFLARE_TOKEN_PERMISSIONS =
    "Zone:Read and DNS:Edit (Zone > Zone > Read, Zone > DNS > Edit) on the zone";

/**
 * Environment variables that make lego ignore the token: it tries an email and global API key first, and the ACME
 * provider's DNS plugin inherits the environment of `pulumi up` (the token is only added to it).
 */
export const CLOUDFLARE_OVERRIDING_ENV = [
    ["CLOUDFLARE_EMAIL", "CF_API_EMAIL"],
    ["CLOUDFLARE_API_KEY", "CF_API_KEY"],
] as const;

/** A warning when the environment holds a Cloudflare email and global API key, which lego uses instead of the token. */
export function cloudflareEnvOverride(env: Record<string, string | undefined>): string | undefined {
    const set = CLOUDFLARE_OVERRIDING_ENV.map((names) => names.find((n) => env[n]));
    if (set.some((n) => n === undefined)) return undefined;
    return (
        `${set.join(" and ")} are set in this environment: lego (the ACME DNS-01 challenge) authenticates with them ` +
        "instead of the secret cloudflareApiToken; unset them for `pulumi up`, or make sure that account can edit the zone"
    );
}

/**
 * When the ACME provider renews: with `renewalDays`, once that many whole days or fewer remain (minDaysRemaining);
 * without, once the whole days remaining are at most a third of the lifetime, or half for lifetimes of 10 days or
 * less (minDaysDynamic). Mirrors vancluever/terraform-provider-acme v2.48.1 resourceACMECertificateHasExpired.
 */
export function renewalDue(
    cert: { notBefore: string; notAfter: string },
    now: Date,
    renewalDays?: number,
): { due: boolean; daysRemaining: number; lifetimeDays: number; windowDays: number } {
    const notBefore = new Date(cert.notBefore).getTime();
    const notAfter = new Date(cert.notAfter).getTime();
    // Whole days remaining (truncated), lifetime rounded to the hour: as the provider computes them.
    const daysRemaining = Math.trunc((notAfter - now.getTime()) / 86_400_000);
    const lifetimeDays = Math.round((notAfter - notBefore) / 3_600_000) / 24;
    if (renewalDays !== undefined)
        return { due: daysRemaining <= renewalDays, daysRemaining, lifetimeDays, windowDays: renewalDays };
    const share = lifetimeDays <= 10 ? 1 / 2 : 1 / 3;
    return {
        due: daysRemaining / lifetimeDays <= share,
        daysRemaining,
        lifetimeDays,
        windowDays: lifetimeDays * share,
    };
}

/** Leaf first, then the issuer chain: what Omni serves, like certbot's fullchain.pem. */
export function fullChain(certificatePem: string, issuerPem: string): string {
    const pem = (s: string) => (s.endsWith("\n") ? s : `${s}\n`);
    return issuerPem.trim() ? pem(certificatePem) + pem(issuerPem) : pem(certificatePem);
}

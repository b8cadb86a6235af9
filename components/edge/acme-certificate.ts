import * as pulumi from "@pulumi/pulumi";
import type * as acme from "@pulumiverse/acme";
import {
    ACME_DIRECTORIES,
    AcmeDirectory,
    cloudflareDnsChallenge,
    fullChain,
    PROPAGATION_RESOLVERS,
} from "./acme-certificate-render";

export interface AcmeCertificateArgs {
    /** The name the certificate is for (the Omni domain). */
    domain: string;
    /** Contact address of the ACME account (optional for Let's Encrypt). */
    email?: string;
    /** Let's Encrypt's production directory (trusted certificates) unless set; staging for a first try. */
    directory?: AcmeDirectory;
    /** Renew on `pulumi up` once this few days remain; unset, once a third of the lifetime remains (renewalDue). */
    renewalDays?: number;
    /** A Cloudflare API token with Zone:Read and DNS:Edit on the domain's zone (secret): answers the DNS-01 challenge. */
    cloudflareApiToken: pulumi.Input<string>;
}

/**
 * An ACME account and a certificate for one name by DNS-01 through Cloudflare (nothing needs to reach the hub from
 * the internet). `pulumi up` renews it once it is inside its renewal window (renewalDue); only `pulumi up` does, so
 * a scheduled run keeps it fresh (.github/workflows/certificate.yml). Whoever uploads it sees a new PEM.
 */
export class AcmeCertificate extends pulumi.ComponentResource {
    /** Leaf and issuer chain, PEM. */
    public readonly certificatePem: pulumi.Output<string>;
    /** The certificate's key, PEM (secret). */
    public readonly privateKeyPem: pulumi.Output<string>;
    public readonly notAfter: pulumi.Output<string>;

    constructor(name: string, args: AcmeCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("omni-scale:acme:AcmeCertificate", name, {}, opts);
        const directory = args.directory ?? "production";
        // Loaded here, not at the top: only hubs with tls.mode acme need the ACME provider's SDK, so every other
        // plan and `pulumi up` starts without it.
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const sdk = require("@pulumiverse/acme") as typeof acme;
        const provider = new sdk.Provider(
            `${name}-${directory}`,
            { serverUrl: ACME_DIRECTORIES[directory] },
            { parent: this },
        );
        // Accounts belong to one directory, so each has its own. The provider generates the account key, which stays
        // in state as a secret; the production account is protected (its key owns the certificates), a staging one
        // can go once it served its test.
        const account = new sdk.Registration(
            `${name}-account-${directory}`,
            { emailAddress: args.email },
            {
                parent: this,
                provider,
                protect: directory === "production",
                additionalSecretOutputs: ["accountKeyPem"],
            },
        );
        const certificate = new sdk.Certificate(
            `${name}-certificate`,
            {
                accountKeyPem: account.accountKeyPem,
                commonName: args.domain,
                dnsChallenges: [cloudflareDnsChallenge(pulumi.secret(args.cloudflareApiToken))],
                recursiveNameservers: PROPAGATION_RESOLVERS,
                ...(args.renewalDays === undefined ? { minDaysDynamic: true } : { minDaysRemaining: args.renewalDays }),
                // ECDSA P-256: what Go clients (Talos, omnictl) and Omni handle best; smaller than the RSA default.
                keyType: "P256",
            },
            { parent: this, provider, additionalSecretOutputs: ["privateKeyPem"] },
        );
        this.certificatePem = pulumi
            .all([certificate.certificatePem, certificate.issuerPem])
            .apply(([cert, issuer]) => fullChain(cert, issuer ?? ""));
        this.privateKeyPem = pulumi.secret(certificate.privateKeyPem);
        this.notAfter = certificate.certificateNotAfter;
        this.registerOutputs({ certificatePem: this.certificatePem, notAfter: this.notAfter });
    }
}

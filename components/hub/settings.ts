import * as semver from "semver";
import { z } from "zod";
import { auth0DomainProblem, lanIpProblem, omniDomainProblem, parseDockerHost } from "../core/addresses";
import { etcdToolsProblem, HubBackupSettingsSchema } from "./backup-render";
import { parseImageRef, PinnedImageSchema as pinnedImage, tagVersion } from "../core/images";
import {
    absoluteHostPath,
    dnsLabel,
    goDuration as goDurationOf,
    InfraProviderIdSchema,
    parseGoDuration,
    refineWith as check,
    singleLineStrings,
    TailscaleTag,
    uniqueBy,
} from "../core/validation";
import { sshHostKeyProblem } from "../core/ssh";
import { images, minOmniVersion, omniVersionProblem, versions } from "../core/versions";
import { CLOUDFLARE_TOKEN_PERMISSIONS } from "../edge/acme-certificate-render";
import { DEFAULT_RECORD_TTL } from "../edge/cloudflare-record-render";

/**
 * Typed, non-secret settings of the Omni hub, validated once here and reused by config loading, the
 * renderer and the policy pack. Secrets (TLS key, etcd key, OIDC client secret) never live in here.
 */

const goDuration = goDurationOf();
const port = z.number().int().min(1).max(65535);
const absolutePath = absoluteHostPath("/etc/letsencrypt/live/omni.example.com/fullchain.pem");
/** Docker's volume name rule (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`). */
const dockerVolumeName = z
    .string()
    .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/, "a Docker volume name as `docker volume ls` shows it, e.g. omni-data");
const email = z.email(
    "must be an email address exactly as the identity provider reports it (case-sensitive), e.g. admin@example.com",
);

const AuthSchema = z
    .strictObject({
        auth0: z
            .strictObject({
                domain: z.string().superRefine(check(auth0DomainProblem)),
                clientId: z.string().min(1, "set the Auth0 application's client id"),
            })
            .optional()
            .describe("Auth0: domain (a bare host, e.g. dev-example.us.auth0.com) and the application's clientId"),
        oidc: z
            .strictObject({
                providerUrl: z.url({
                    protocol: /^https$/,
                    error: "must be the issuer URL, e.g. https://idp.example.com/",
                }),
                clientId: z.string().min(1, "set the OIDC client id"),
                scopes: z.array(z.string().min(1)).optional(),
                logoutUrl: z.url().optional(),
                allowUnverifiedEmail: z.boolean().optional(),
            })
            .optional()
            .describe(
                "OIDC: providerUrl (the https issuer), clientId, scopes, logoutUrl, allowUnverifiedEmail; the client secret is the secret oidcClientSecret",
            ),
        saml: z
            .strictObject({
                url: z.url().optional(),
                metadata: z.string().min(1).optional(),
            })
            .refine(
                (s) => (s.url === undefined) !== (s.metadata === undefined),
                "set exactly one of url or metadata (Omni treats them as mutually exclusive)",
            )
            .optional()
            .describe("SAML: exactly one of url (the IdP metadata URL) or metadata (the XML itself)"),
    })
    .superRefine((auth, ctx) => {
        const methods = authMethods(auth);
        if (methods.length !== 1) {
            const got = methods.length ? `got ${methods.join(" and ")}` : "got none";
            ctx.addIssue({
                code: "custom",
                input: auth,
                message: `set exactly one auth method (auth0, oidc or saml); ${got}: Omni refuses to start with several and nobody can log in with none`,
            });
        }
    });

function authMethods(auth: object): string[] {
    return Object.entries(auth)
        .filter(([, v]) => v !== undefined)
        .map(([k]) => k);
}

const TlsSchema = z.discriminatedUnion("mode", [
    /** Cert and key PEM come from secret stack config and are uploaded into the container. */
    z.strictObject({ mode: z.literal("config") }),
    /** Cert and key stay on the Docker host (e.g. certbot's files), bind-mounted read-only. */
    z.strictObject({
        mode: z.literal("hostFiles"),
        certPath: absolutePath.describe("hostFiles: the certificate chain on the Docker host, mounted read-only"),
        keyPath: absolutePath.describe("hostFiles: its private key on the Docker host, mounted read-only"),
    }),
    /** Issued by Let's Encrypt by DNS-01 through Cloudflare (needs dns.cloudflare), renewed by `pulumi up`, uploaded like `config`. */
    z.strictObject({
        mode: z.literal("acme"),
        email: z
            .email("must be an email address, e.g. admin@example.com (or leave it out)")
            .optional()
            .describe("acme: the ACME account's contact address"),
        directory: z
            .enum(["production", "staging"], {
                error: 'use "production" (trusted certificates) or "staging" (a first try: Talos will not trust its certificates)',
            })
            .default("production")
            .describe("acme: production (trusted certificates) or staging (a first try: Talos will not trust them)"),
        /**
         * Renew on `pulumi up` once this few days remain. Unset (the default): once a third of the certificate's
         * lifetime remains, half for lifetimes of 10 days or less (the ACME provider's minDaysDynamic), so shorter
         * lifetimes need no change here.
         */
        renewalDays: z
            .number()
            .int()
            .min(1, "at least 1 day")
            .max(
                60,
                "at most 60 (more would renew a 90-day certificate on almost every up); or leave it out to renew at a third of the lifetime",
            )
            .optional()
            .describe(
                "acme: renew on pulumi up once fewer days than this remain; unset, at a third of the certificate's lifetime (half for 10 days or less)",
            ),
    }),
]);

/** Optional public DNS for the Omni name; the API token is the secret config key cloudflareApiToken. */
const DnsSchema = z.strictObject({
    cloudflare: z
        .strictObject({
            zoneId: z
                .string()
                .regex(
                    /^[0-9a-f]{32}$/,
                    "the zone id: 32 hex digits, on the zone's overview page in the Cloudflare dashboard",
                ),
            record: z
                .boolean()
                .default(true)
                .describe(
                    "Publish omniDomain at the hub's tailnet address (false: the zone only answers ACME challenges)",
                ),
            ttl: z
                .number()
                .int()
                .min(60, "Cloudflare's minimum is 60 seconds")
                .max(3600, "keep it short (60-3600 s): the tailnet address changes when the hub's node registers anew")
                .default(DEFAULT_RECORD_TTL),
        })
        .optional()
        .describe("zoneId (32 hex digits), record, ttl (60–3600 s); the API token is the secret cloudflareApiToken"),
});

/** Omni's defaults for `--etcd-backup-min-interval` / `--etcd-backup-max-interval` (config schema at v1.10.4). */
export const ETCD_BACKUP_DEFAULTS = { minInterval: "1h", maxInterval: "24h" } as const;

/**
 * The range Omni accepts for a cluster's backup interval, in milliseconds: the hub's flags, or Omni's defaults
 * (omni v1.10.4 `internal/backend/runtime/omni/validations/cluster.go`).
 */
export function etcdBackupIntervalLimits(b?: { minInterval?: string; maxInterval?: string }): {
    min: number;
    max: number;
} {
    return {
        min: parseGoDuration(b?.minInterval ?? ETCD_BACKUP_DEFAULTS.minInterval) ?? NaN,
        max: parseGoDuration(b?.maxInterval ?? ETCD_BACKUP_DEFAULTS.maxInterval) ?? NaN,
    };
}

const EtcdBackupSchema = z
    .strictObject({
        localPath: absolutePath
            .optional()
            .describe("A directory on the Docker host (ideally another disk or a NAS mount), bind-mounted into Omni"),
        s3: z
            .boolean()
            .optional()
            .describe(
                "Back up to S3 instead; the bucket and credentials are an Omni resource set with omnictl after first start",
            ),
        minInterval: goDuration
            .optional()
            .describe("The shortest backupInterval a cluster may ask for (Omni's default 1h)"),
        maxInterval: goDuration
            .optional()
            .describe("The longest backupInterval a cluster may ask for (Omni's default 24h)"),
    })
    .superRefine((b, ctx) => {
        if (b.localPath !== undefined && b.s3) {
            ctx.addIssue({
                code: "custom",
                input: b,
                message: "localPath and s3 are mutually exclusive in Omni; keep one",
            });
        } else if (b.localPath === undefined && !b.s3) {
            ctx.addIssue({
                code: "custom",
                input: b,
                message: "set localPath (a host directory) or s3: true, or remove etcdBackup",
            });
        }
        const { min, max } = etcdBackupIntervalLimits(b);
        if (min > max) {
            ctx.addIssue({
                code: "custom",
                path: ["minInterval"],
                input: b.minInterval,
                message: `minInterval must not exceed maxInterval (${b.maxInterval ?? ETCD_BACKUP_DEFAULTS.maxInterval}): Omni would refuse every cluster backup interval`,
            });
        }
    });

export const OmniHubSettingsSchema = z
    .strictObject({
        omniVersion: z
            .string()
            .default(versions.omni)
            .superRefine(check(omniVersionProblem))
            .describe(`The Omni release to run, v${minOmniVersion} or later; the image tag unless omniImage is set`),
        omniImage: pinnedImage
            .optional()
            .describe(
                "The Omni image, a version tag or digest (never latest); ghcr.io/siderolabs/omni:<omniVersion> when unset",
            ),
        tailscaleImage: pinnedImage.default(images.tailscale).describe("The Tailscale sidecar image, pinned"),
        accountId: z
            .uuid("must be the existing Omni account UUID (it can never change)")
            .optional()
            .describe(
                "Only to adopt an existing Omni, with adopt: its account UUID (the seed's OMNI_ACCOUNT_UUID); generated once when unset, never changes",
            ),
        adopt: z
            .strictObject({
                omniDataVolume: dockerVolumeName.describe(
                    "The Docker volume with Omni's embedded etcd (etcd/) and SQLite database (omni.db), mounted at /_out",
                ),
                tailscaleStateVolume: dockerVolumeName
                    .optional()
                    .describe(
                        "The sidecar's node state (/var/lib/tailscale); without it the hub joins the tailnet as a new node",
                    ),
            })
            .optional()
            .describe(
                'Take over a running Omni (OPERATIONS.md, "Migrating an existing Omni"): its Docker volumes are imported instead of created',
            ),
        accountName: z
            .string()
            .regex(
                /^[a-z0-9][a-z0-9_.-]{0,62}$/,
                "use a Docker container name: lowercase letters, digits, '_', '.' and '-', starting with a letter or digit (it names containers and volumes and appears in rendered scripts)",
            )
            .default("omni")
            .describe("Names the containers (omni, omni-tailscale) and volumes (omni-data, omni-tailscale-state)"),
        omniDomain: z
            .string()
            .superRefine(check(omniDomainProblem))
            .describe("Omni's bare host name, e.g. omni.example.com; the certificate must cover it"),
        lanIp: z
            .string()
            .superRefine(check(lanIpProblem))
            .describe(
                "The Docker host's LAN IP: the sidecar publishes the ports there and Talos dials WireGuard on it",
            ),
        ports: z
            .strictObject({
                api: port.default(443).describe("Omni's API and UI (HTTPS)"),
                machineApi: port.default(8090).describe("The machine API Talos dials (SideroLink join)"),
                k8sProxy: port.default(8100).describe("Omni's Kubernetes API proxy"),
                wireguard: port.default(50180).describe("SideroLink WireGuard (UDP)"),
            })
            .refine(
                (p) => new Set([p.api, p.machineApi, p.k8sProxy]).size === 3,
                "api, machineApi and k8sProxy must be different TCP ports",
            )
            .prefault({})
            .describe(
                "The TCP ports published on lanIp (api, machineApi, k8sProxy must differ) and the WireGuard UDP port",
            ),
        eventSinkPort: port
            .optional()
            .describe(
                "Omni's --event-sink-port inside the SideroLink tunnel (Omni's default 8090); keep a running Omni's value",
            ),
        siderolinkGrpcTunnel: z
            .boolean()
            .optional()
            .describe(
                "Omni's --siderolink-use-grpc-tunnel: every machine sends SideroLink's WireGuard over gRPC on the machine API port (TCP) instead of UDP, whatever its class says; for networks that drop UDP",
            ),
        initialUsers: z
            .array(email)
            .min(1, "list at least one admin email, or nobody can log in")
            .describe("Admin emails, exactly as the identity provider reports them"),
        eula: z
            .strictObject({
                name: z
                    .string()
                    .trim()
                    .min(1, "the full name of the person accepting the EULA")
                    .describe("The full name of the person accepting the EULA"),
                email: email.describe("Their email address"),
            })
            .optional()
            .describe(
                "Whoever is named here accepts the Sidero Labs EULA for this Omni (--eula-accept-name, --eula-accept-email); " +
                    "required with initialServiceAccount, as Omni v1.7+ refuses every API call until it is accepted",
            ),
        auth: AuthSchema.describe("Exactly one of auth0 { domain, clientId }, oidc or saml { url | metadata }"),
        tailscale: z
            .strictObject({
                hostname: dnsLabel("must be a single DNS label, e.g. omni")
                    .default("omni")
                    .describe("The node's name in the tailnet (a -1 suffix means the old node still exists)"),
                tags: z
                    .array(TailscaleTag)
                    .min(1, "a tagged key needs at least one tag")
                    .default(["tag:omni"])
                    .describe("Tags of the auth key: tagged nodes do not expire"),
                keyExpirySeconds: z
                    .number()
                    .int()
                    .min(60)
                    .max(7776000)
                    .default(86400)
                    .describe("Used once, on the sidecar's first start; the node keeps its state afterwards"),
            })
            .prefault({})
            .describe("The sidecar's tailnet node: hostname, tags of its auth key, key expiry"),
        tls: TlsSchema.prefault({ mode: "config" }).describe(
            "config: tlsCertificate and tlsPrivateKey from secret config; hostFiles: certPath and keyPath on the Docker host; " +
                "acme: issued through Cloudflare DNS-01 (needs dns.cloudflare) with email, directory and renewalDays",
        ),
        initialServiceAccount: z
            .strictObject({
                enabled: z.boolean().default(true).describe("Create Omni's initial service account at first start"),
                lifetime: goDuration.default("1h").describe("Its key's lifetime (it is used once, at bootstrap)"),
                role: z
                    .enum(["Admin", "Operator", "Reader"])
                    .default("Admin")
                    .describe("Its role; registering infra providers needs Admin"),
            })
            .prefault({})
            .describe("The browserless bootstrap (automation account, infra-provider keys); matrix needs it"),
        etcdBackup: EtcdBackupSchema.optional().describe(
            "Where Omni stores the managed clusters' etcd backups (localPath or s3: true) and the interval range every cluster's backupInterval must lie in",
        ),
        dns: DnsSchema.optional().describe(
            "cloudflare { zoneId, record, ttl }: the public record for omniDomain at the hub's tailnet address (60–3600 s TTL); required by tls.mode acme",
        ),
        backup: HubBackupSettingsSchema.optional().describe(
            "Scheduled backups of the hub's own etcd and SQLite (not the managed clusters': that is etcdBackup), to targetDir and optionally S3",
        ),
        dockerHost: z
            .string()
            .superRefine((value, ctx) => {
                const parsed = parseDockerHost(value);
                if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed, input: value });
            })
            .describe("ssh://user@host, unix:///… or tcp://host:port"),
        dockerSshOpts: z.array(z.string()).optional().describe("Extra ssh options for an ssh:// dockerHost"),
        dockerHostKey: z
            .string()
            .superRefine(check(sshHostKeyProblem))
            .optional()
            .describe(
                "The ssh:// dockerHost's SSH host key (`ssh-ed25519 AAAA…`, its /etc/ssh/ssh_host_ed25519_key.pub): the Docker provider and the bootstrap's remote command accept only it; without it, your known_hosts decides (and the remote command accepts any key)",
            ),
        infraProviders: z
            .array(InfraProviderIdSchema)
            .superRefine(uniqueBy((id) => id, "list each provider id once"))
            .default([])
            .describe("Infra provider ids registered at bootstrap; each key becomes a secret output"),
        infraProviderKeyRotation: z
            .number()
            .int()
            .min(0)
            .default(0)
            .describe("Increase it to renew every infra provider key (omnictl infraprovider renewkey); never lower it"),
        automationKeyRotation: z
            .number()
            .int()
            .min(0)
            .default(0)
            .describe(
                "Increase it to renew the automation key (omnictl serviceaccount renew pulumi-automation) before it expires after 365 days; never lower it",
            ),
        logLevel: z.enum(["debug", "info", "warn", "error"]).optional().describe("Omni's log level"),
    })
    .superRefine((s, ctx) => {
        singleLineStrings(s, ctx);
        // An old account id with a fresh data volume is a new, empty Omni under an old identity; old data under a new id
        // is an Omni whose id changed, which Omni does not support.
        if (s.accountId && !s.adopt) {
            ctx.addIssue({
                code: "custom",
                path: ["adopt"],
                input: s.adopt,
                message:
                    `accountId ${s.accountId} names an existing Omni, but this hub would create a new, empty data volume: set adopt.omniDataVolume ` +
                    "(and adopt.tailscaleStateVolume) to the Docker volumes holding its state, or remove accountId to start a new Omni",
            });
        }
        if (s.adopt && !s.accountId) {
            ctx.addIssue({
                code: "custom",
                path: ["accountId"],
                input: s.accountId,
                message: `adopt.omniDataVolume ${s.adopt.omniDataVolume} holds an existing Omni: set accountId to its account UUID (--account-id, the seed's OMNI_ACCOUNT_UUID); Omni's account id never changes`,
            });
        }
        if (s.tls.mode === "acme" && !s.dns?.cloudflare) {
            ctx.addIssue({
                code: "custom",
                path: ["tls", "mode"],
                input: s.tls.mode,
                message: `acme answers the DNS-01 challenge through Cloudflare: set dns.cloudflare.zoneId (and the secret cloudflareApiToken, a token with ${CLOUDFLARE_TOKEN_PERMISSIONS}), or use tls.mode config or hostFiles`,
            });
        }
        const tag = s.omniImage && tagVersion(s.omniImage);
        if (tag && semver.clean(s.omniVersion) && tag !== semver.clean(s.omniVersion)) {
            ctx.addIssue({
                code: "custom",
                path: ["omniImage"],
                input: s.omniImage,
                message: `the image tag does not match omniVersion ${s.omniVersion}; use ghcr.io/siderolabs/omni:${s.omniVersion} or change omniVersion`,
            });
        }
        if (s.initialServiceAccount.enabled && !s.eula) {
            ctx.addIssue({
                code: "custom",
                path: ["eula"],
                input: s.eula,
                message:
                    "set eula.name and eula.email: Omni v1.7+ refuses every API call until its EULA is accepted, so the browserless bootstrap " +
                    "(initialServiceAccount) and the infra providers would fail on the first `pulumi up`. Setting them accepts the Sidero Labs EULA " +
                    `(shown at https://${s.omniDomain}/eula) on behalf of this Omni instance; or disable initialServiceAccount and accept it in the UI`,
            });
        }
        // Checked here, where omniVersion is known, so a stack names it with the other config errors.
        const toolsProblem = s.backup && etcdToolsProblem(s.omniVersion, s.backup.etcdImage);
        if (s.backup && toolsProblem) {
            ctx.addIssue({
                code: "custom",
                path: ["backup", "etcdImage"],
                input: s.backup.etcdImage,
                message: toolsProblem,
            });
        }
        if (s.infraProviders.length && !(s.initialServiceAccount.enabled && s.initialServiceAccount.role === "Admin")) {
            ctx.addIssue({
                code: "custom",
                path: ["infraProviders"],
                input: s.infraProviders,
                message:
                    "registering infra providers needs initialServiceAccount.enabled: true with role Admin (or register them by hand and remove this list)",
            });
        }
    })
    .transform((s) => ({
        ...s,
        omniImage: s.omniImage ?? `${parseImageRef(images.omni).repository}:${s.omniVersion}`,
    }));

export type OmniHubSettings = z.output<typeof OmniHubSettingsSchema>;
/** What an operator writes (defaults may be left out). */
export type OmniHubSettingsInput = z.input<typeof OmniHubSettingsSchema>;

import * as ipaddr from "ipaddr.js";
import * as semver from "semver";
import { z } from "zod";
import { imagePinProblem, parseImageRef, tagVersion } from "./images";
import { HubBackupSettingsSchema } from "./hub-backup-render";
import { goDuration as goDurationOf, parseGoDuration } from "./validation";
import { images, versions } from "./versions";

/**
 * Typed, non-secret settings of the Omni hub, validated once here and reused by config loading, the
 * renderer and the policy pack. Secrets (TLS key, etcd key, OIDC client secret) never live in here.
 */

/** First Omni release with `--sqlite-storage-path`; older ones cannot run with the flags rendered here. */
export const minOmniVersion = "1.4.0";

const hostnamePattern = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function isIp(value: string): boolean {
    return ipaddr.IPv4.isValidFourPartDecimal(value) || ipaddr.IPv6.isValid(value);
}

/** What is left of a URL-ish value once scheme, path, query and port are stripped: the fix to suggest. */
function bareHost(value: string): string {
    const noScheme = value.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
    return noScheme.split(/[/?#]/)[0].replace(/:\d*$/, "").replace(/\.$/, "");
}

/** Why a value is not a DNS host name (no scheme, path or port), or undefined. */
export function hostnameProblem(value: string): string | undefined {
    if (isIp(value)) return `"${value}" is an IP address; use the DNS name that the TLS certificate covers`;
    if (hostnamePattern.test(value)) return undefined;
    const bare = bareHost(value);
    const fix = bare && bare !== value && hostnamePattern.test(bare) ? `use "${bare}"` : "use a name such as omni.example.com";
    return `"${value}" is not a bare host name (no scheme, path or port); ${fix}`;
}

/** Why a value is neither an IP address nor a DNS host name (an SSH or API address), or undefined. */
export function hostOrIpProblem(value: string): string | undefined {
    if (isIp(value) || (hostnamePattern.test(value) && !/^[\d.]+$/.test(value))) return undefined;
    const bare = bareHost(value).replace(/^[^@]*@/, "");
    const fix = bare && bare !== value && (isIp(bare) || hostnamePattern.test(bare)) ? `use "${bare}"` : "use an IP address or a DNS name, e.g. 192.168.3.2 or pve1.example.com";
    return `"${value}" is not an IP address or a bare host name (no scheme, user, path or port); ${fix}`;
}

/**
 * Why an Auth0 domain is not the bare tenant host Omni expects, or undefined. Omni builds the issuer as
 * "https://" + domain + "/", so a scheme or path in the value gives "invalid jwt" at login (domain.md §4.6).
 */
export function auth0DomainProblem(domain: string): string | undefined {
    if (hostnamePattern.test(domain) && !isIp(domain)) return undefined;
    const bare = bareHost(domain);
    const fix = hostnamePattern.test(bare) && !isIp(bare) ? `use "${bare}"` : "use the tenant host";
    return `the Auth0 domain must be a bare host without scheme, path or port (Omni prepends https:// itself); ${fix}, e.g. dev-xyz.us.auth0.com`;
}

/** Split `host:port` / `[v6]:port`; undefined when there is no port. */
function splitHostPort(addr: string): { host: string; port: number } | undefined {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(addr) ?? /^([^:]*):(\d+)$/.exec(addr);
    return m ? { host: m[1], port: Number(m[2]) } : undefined;
}

/**
 * Why a SideroLink WireGuard advertised address is not `IP:port`, or undefined. Talos dials it before it
 * has any DNS for Omni, and Omni's docs say it must be an IP, never a name (domain.md §4.2, §6.2).
 */
export function wireguardAddrProblem(addr: string): string | undefined {
    const parts = splitHostPort(addr);
    if (!parts || parts.port < 1 || parts.port > 65535) {
        return `"${addr}" is not IP:port; advertise the hub's LAN IP and WireGuard port, e.g. 192.168.10.20:50180`;
    }
    if (!isIp(parts.host)) {
        return `"${addr}" names a host, but the WireGuard advertised address must be an IP (Talos cannot resolve names there); use the LAN IP, e.g. 192.168.10.20:${parts.port}`;
    }
    return bootReachableIpProblem(parts.host);
}

/** Tailscale's address ranges (tailscale.com/kb/1015/100.x-addresses; IPv6 ULA fd7a:115c:a1e0::/48). */
const TAILNET_RANGES = [ipaddr.parseCIDR("100.64.0.0/10"), ipaddr.parseCIDR("fd7a:115c:a1e0::/48")];

/** True for an address Tailscale assigns (a node's tailnet IP). */
export function isTailnetAddress(ip: string): boolean {
    if (!isIp(ip)) return false;
    const addr = ipaddr.process(ip);
    return TAILNET_RANGES.some((cidr) => addr.kind() === cidr[0].kind() && addr.match(cidr));
}

/**
 * Why an address is one a booting Talos VM cannot reach, or undefined. The VM is on the Proxmox LAN, not on the
 * tailnet, and has no loopback path to the Docker host: a tailnet, loopback or unspecified address would deploy
 * and then leave every machine unable to join.
 */
export function bootReachableIpProblem(ip: string): string | undefined {
    const addr = ipaddr.process(ip);
    if (isTailnetAddress(ip)) {
        return `"${ip}" is a Tailscale address; Talos machines boot on the LAN, not on the tailnet: use the Docker host's LAN address, e.g. 192.168.10.20`;
    }
    const range = addr.range();
    if (range === "unspecified" || range === "loopback") {
        return `"${ip}" is ${range}; Talos machines must reach Omni on the Docker host's LAN address, e.g. 192.168.10.20`;
    }
    return undefined;
}

/** Why a LAN IP cannot carry the hub's published ports, or undefined. */
export function lanIpProblem(ip: string): string | undefined {
    if (!isIp(ip)) return `"${ip}" is not an IP address; use the Docker host's LAN address, e.g. 192.168.10.20`;
    return bootReachableIpProblem(ip);
}

/**
 * Why an Omni domain cannot be advertised to booting machines, or undefined: MagicDNS names (`*.ts.net`) resolve
 * only on the tailnet, and Talos VMs resolve the machine API URL with the LAN resolver before they join anything.
 */
export function omniDomainProblem(domain: string): string | undefined {
    const hostProblem = hostnameProblem(domain);
    if (hostProblem) return hostProblem;
    if (/(^|\.)ts\.net\.?$/i.test(domain)) {
        return `"${domain}" is a Tailscale MagicDNS name, which booting Talos VMs cannot resolve: use a domain you own (e.g. omni.example.com) with a LAN DNS record for the hub's LAN IP`;
    }
    return undefined;
}

/** The parts of a Docker daemon address (`ssh://user@host[:port]`, `unix:///path`, `tcp://host:port`). */
export interface DockerHost {
    scheme: "ssh" | "unix" | "tcp";
    user?: string;
    host?: string;
    port?: number;
    path?: string;
}

/** Parse a Docker daemon address, or return a message saying what is wrong with it. */
export function parseDockerHost(value: string): DockerHost | string {
    const usage = "use ssh://user@host, unix:///var/run/docker.sock or tcp://host:2376";
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        return `"${value}" is not a Docker host address; ${usage}`;
    }
    const port = url.port ? Number(url.port) : undefined;
    const host = url.hostname.replace(/^\[|\]$/g, "");
    switch (url.protocol) {
        case "ssh:":
            if (!url.username || !host || (url.pathname && url.pathname !== "/")) {
                return `"${value}" must be ssh://user@host[:port] (the user is needed for the bootstrap commands too)`;
            }
            return { scheme: "ssh", user: decodeURIComponent(url.username), host, port };
        case "unix:":
            return url.pathname.startsWith("/") && !host ? { scheme: "unix", path: url.pathname } : `"${value}" must be unix:///absolute/path.sock`;
        case "tcp:":
            return host && port ? { scheme: "tcp", host, port } : `"${value}" must be tcp://host:port`;
        default:
            return `unsupported scheme in "${value}"; ${usage}`;
    }
}

/** Why an Omni version cannot be deployed by this library, or undefined. */
export function omniVersionProblem(version: string): string | undefined {
    const clean = semver.valid(semver.clean(version) ?? "");
    if (!clean) return `"${version}" is not an Omni release tag; use one such as ${versions.omni}`;
    if (semver.lt(clean, minOmniVersion)) {
        return `Omni ${version} predates v${minOmniVersion} and has no --sqlite-storage-path: upgrade it one minor at a time to v1.4.x with its own tooling first, then adopt it here`;
    }
    return undefined;
}

/** Adds a zod issue for each non-empty message from a `…Problem` function. */
function check(problem: (value: string) => string | undefined) {
    return (value: string, ctx: z.RefinementCtx) => {
        const message = problem(value);
        if (message) ctx.addIssue({ code: "custom", message, input: value });
    };
}

const hostname = z.string().superRefine(check(hostnameProblem));
const pinnedImage = z.string().superRefine(check(imagePinProblem));
const goDuration = goDurationOf();
const port = z.number().int().min(1).max(65535);
const absolutePath = z.string().regex(/^\/[^\0]*$/, "must be an absolute path on the Docker host, e.g. /etc/letsencrypt/live/omni.example.com/fullchain.pem");
/** Docker's volume name rule (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`). */
const dockerVolumeName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/, "a Docker volume name as `docker volume ls` shows it, e.g. omni-data");
const email = z.email("must be an email address exactly as the identity provider reports it (case-sensitive), e.g. admin@example.com");

/** Omni resource ids of infra providers: `--id` of the provider, `omnictl infraprovider create <id>` and every machine class's `providerid`. */
export const InfraProviderIdSchema = z
    .string()
    .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be lowercase letters, digits and dashes (the id is case-sensitive and must equal the provider's --id), e.g. matrix-cluster");

const AuthSchema = z
    .strictObject({
        auth0: z
            .strictObject({
                domain: z.string().superRefine(check(auth0DomainProblem)),
                clientId: z.string().min(1, "set the Auth0 application's client id"),
            })
            .optional(),
        oidc: z
            .strictObject({
                providerUrl: z.url({ protocol: /^https$/, error: "must be the issuer URL, e.g. https://idp.example.com/" }),
                clientId: z.string().min(1, "set the OIDC client id"),
                scopes: z.array(z.string().min(1)).optional(),
                logoutUrl: z.url().optional(),
                allowUnverifiedEmail: z.boolean().optional(),
            })
            .optional(),
        saml: z
            .strictObject({
                url: z.url().optional(),
                metadata: z.string().min(1).optional(),
            })
            .refine((s) => (s.url === undefined) !== (s.metadata === undefined), "set exactly one of url or metadata (Omni treats them as mutually exclusive)")
            .optional(),
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
    z.strictObject({ mode: z.literal("hostFiles"), certPath: absolutePath, keyPath: absolutePath }),
    /** Issued by Let's Encrypt by DNS-01 through Cloudflare (needs dns.cloudflare), renewed by `pulumi up`, uploaded like `config`. */
    z.strictObject({
        mode: z.literal("acme"),
        /** Contact address of the ACME account. */
        email: z.email("must be an email address, e.g. admin@example.com (or leave it out)").optional(),
        directory: z.enum(["production", "staging"], { error: 'use "production" (trusted certificates) or "staging" (a first try: Talos will not trust its certificates)' }).default("production"),
        /** Renew on `pulumi up` once fewer days than this remain (Let's Encrypt certificates last 90 days). */
        renewalDays: z.number().int().min(1, "at least 1 day").max(60, "at most 60 (certificates last 90 days; more would renew on almost every up)").default(30),
    }),
]);

/** Optional public DNS for the Omni name; the API token is the secret config key cloudflareApiToken. */
const DnsSchema = z.strictObject({
    cloudflare: z
        .strictObject({
            zoneId: z.string().regex(/^[0-9a-f]{32}$/, "the zone id: 32 hex digits, on the zone's overview page in the Cloudflare dashboard"),
            /** Publish omniDomain → the hub's tailnet address (false: the zone only answers ACME challenges). */
            record: z.boolean().default(true),
            ttl: z.number().int().min(60, "Cloudflare's minimum is 60 seconds").max(3600, "keep it short (60-3600 s): the tailnet address changes when the hub's node registers anew").default(60),
        })
        .optional(),
});

/** Omni's defaults for `--etcd-backup-min-interval` / `--etcd-backup-max-interval` (config schema at v1.10.4). */
export const ETCD_BACKUP_DEFAULTS = { minInterval: "1h", maxInterval: "24h" } as const;

/**
 * The range Omni accepts for a cluster's backup interval, in milliseconds: the hub's flags, or Omni's defaults
 * (omni v1.10.4 `internal/backend/runtime/omni/validations/cluster.go`).
 */
export function etcdBackupIntervalLimits(b?: { minInterval?: string; maxInterval?: string }): { min: number; max: number } {
    return {
        min: parseGoDuration(b?.minInterval ?? ETCD_BACKUP_DEFAULTS.minInterval) ?? NaN,
        max: parseGoDuration(b?.maxInterval ?? ETCD_BACKUP_DEFAULTS.maxInterval) ?? NaN,
    };
}

const EtcdBackupSchema = z
    .strictObject({
        /** A directory on the Docker host (ideally another disk or a NAS mount), bind-mounted into Omni. */
        localPath: absolutePath.optional(),
        /** Back up to S3; the bucket and credentials are an Omni resource set with omnictl after first start. */
        s3: z.boolean().optional(),
        minInterval: goDuration.optional(),
        maxInterval: goDuration.optional(),
    })
    .superRefine((b, ctx) => {
        if (b.localPath !== undefined && b.s3) {
            ctx.addIssue({ code: "custom", input: b, message: "localPath and s3 are mutually exclusive in Omni; keep one" });
        } else if (b.localPath === undefined && !b.s3) {
            ctx.addIssue({ code: "custom", input: b, message: "set localPath (a host directory) or s3: true, or remove etcdBackup" });
        }
        const { min, max } = etcdBackupIntervalLimits(b);
        if (min > max) {
            ctx.addIssue({ code: "custom", path: ["minInterval"], input: b.minInterval, message: `minInterval must not exceed maxInterval (${b.maxInterval ?? ETCD_BACKUP_DEFAULTS.maxInterval}): Omni would refuse every cluster backup interval` });
        }
    });

export const OmniHubSettingsSchema = z
    .strictObject({
        omniVersion: z.string().default(versions.omni).superRefine(check(omniVersionProblem)),
        /** Defaults to ghcr.io/siderolabs/omni:<omniVersion>. */
        omniImage: pinnedImage.optional(),
        tailscaleImage: pinnedImage.default(images.tailscale),
        /** Adopt the account id of an existing Omni (e.g. the seed's OMNI_ACCOUNT_UUID); generated once when absent. */
        accountId: z.uuid("must be the existing Omni account UUID (it can never change)").optional(),
        /**
         * Take over a running Omni (docs/OPERATIONS.md "Migrating an existing Omni"): Docker volumes that already hold
         * its state are imported (Pulumi's `import` option, the volume name is the id) instead of created.
         */
        adopt: z
            .strictObject({
                /** Omni's embedded etcd under etcd/ and its SQLite database omni.db (this hub mounts the volume at /_out). */
                omniDataVolume: dockerVolumeName,
                /** The sidecar's node state (/var/lib/tailscale); without it the hub joins the tailnet as a new node. */
                tailscaleStateVolume: dockerVolumeName.optional(),
            })
            .optional(),
        accountName: z.string().min(1).default("omni"),
        omniDomain: z.string().superRefine(check(omniDomainProblem)),
        lanIp: z.string().superRefine(check(lanIpProblem)),
        ports: z
            .strictObject({ api: port.default(443), machineApi: port.default(8090), k8sProxy: port.default(8100), wireguard: port.default(50180) })
            .refine((p) => new Set([p.api, p.machineApi, p.k8sProxy]).size === 3, "api, machineApi and k8sProxy must be different TCP ports")
            .prefault({}),
        /** Omni's `--event-sink-port` inside the SideroLink tunnel (Omni's default 8090); keep a running Omni's value. */
        eventSinkPort: port.optional(),
        initialUsers: z.array(email).min(1, "list at least one admin email, or nobody can log in"),
        /**
         * Whoever is named here accepts the Sidero Labs EULA on behalf of this Omni instance (`--eula-accept-name`,
         * `--eula-accept-email`). Omni v1.7+ refuses every API call until the EULA is accepted.
         */
        eula: z.strictObject({ name: z.string().trim().min(1, "the full name of the person accepting the EULA"), email }).optional(),
        auth: AuthSchema,
        tailscale: z
            .strictObject({
                hostname: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be a single DNS label, e.g. omni").default("omni"),
                tags: z.array(z.string().regex(/^tag:[a-zA-Z][a-zA-Z0-9-]*$/, "must look like tag:omni")).min(1, "a tagged key needs at least one tag").default(["tag:omni"]),
                /** The key is used once, on the sidecar's first start; the node keeps its state afterwards. */
                keyExpirySeconds: z.number().int().min(60).max(7776000).default(86400),
            })
            .prefault({}),
        tls: TlsSchema.prefault({ mode: "config" }),
        initialServiceAccount: z
            .strictObject({
                enabled: z.boolean().default(true),
                lifetime: goDuration.default("1h"),
                role: z.enum(["Admin", "Operator", "Reader"]).default("Admin"),
            })
            .prefault({}),
        etcdBackup: EtcdBackupSchema.optional(),
        dns: DnsSchema.optional(),
        /** Scheduled backups of the hub's own etcd and SQLite (not the managed clusters': that is etcdBackup). */
        backup: HubBackupSettingsSchema.optional(),
        dockerHost: z.string().superRefine((value, ctx) => {
            const parsed = parseDockerHost(value);
            if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed, input: value });
        }),
        dockerSshOpts: z.array(z.string()).optional(),
        /** Infra providers registered at bootstrap; their keys become secret outputs. */
        infraProviders: z
            .array(InfraProviderIdSchema)
            .refine((ids) => new Set(ids).size === ids.length, "list each provider id once")
            .default([]),
        /** Bump to renew every infra provider key (`omnictl infraprovider renewkey`); never lower it. */
        infraProviderKeyRotation: z.number().int().min(0).default(0),
        /** Bump to renew the automation account's key (`omnictl serviceaccount renew`) before it expires; never lower it. */
        automationKeyRotation: z.number().int().min(0).default(0),
        logLevel: z.enum(["debug", "info", "warn", "error"]).optional(),
    })
    .superRefine((s, ctx) => {
        // An old account id with a fresh data volume is a new, empty Omni under an old identity; old data under a new id
        // is an Omni whose id changed, which Omni does not support.
        if (s.accountId && !s.adopt) {
            ctx.addIssue({
                code: "custom", path: ["adopt"], input: s.adopt,
                message: `accountId ${s.accountId} names an existing Omni, but this hub would create a new, empty data volume: set adopt.omniDataVolume `
                    + "(and adopt.tailscaleStateVolume) to the Docker volumes holding its state, or remove accountId to start a new Omni",
            });
        }
        if (s.adopt && !s.accountId) {
            ctx.addIssue({
                code: "custom", path: ["accountId"], input: s.accountId,
                message: `adopt.omniDataVolume ${s.adopt.omniDataVolume} holds an existing Omni: set accountId to its account UUID (--account-id, the seed's OMNI_ACCOUNT_UUID); Omni's account id never changes`,
            });
        }
        if (s.tls.mode === "acme" && !s.dns?.cloudflare) {
            ctx.addIssue({
                code: "custom",
                path: ["tls", "mode"],
                input: s.tls.mode,
                message: "acme answers the DNS-01 challenge through Cloudflare: set dns.cloudflare.zoneId (and the secret cloudflareApiToken), or use tls.mode config or hostFiles",
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
                message: "set eula.name and eula.email: Omni v1.7+ refuses every API call until its EULA is accepted, so the browserless bootstrap "
                    + "(initialServiceAccount) and the infra providers would fail on the first `pulumi up`. Setting them accepts the Sidero Labs EULA "
                    + `(shown at https://${s.omniDomain}/eula) on behalf of this Omni instance; or disable initialServiceAccount and accept it in the UI`,
            });
        }
        if (s.infraProviders.length && !(s.initialServiceAccount.enabled && s.initialServiceAccount.role === "Admin")) {
            ctx.addIssue({
                code: "custom",
                path: ["infraProviders"],
                input: s.infraProviders,
                message: "registering infra providers needs initialServiceAccount.enabled: true with role Admin (or register them by hand and remove this list)",
            });
        }
    })
    .transform((s) => ({ ...s, omniImage: s.omniImage ?? `${parseImageRef(images.omni).repository}:${s.omniVersion}` }));

export type OmniHubSettings = z.output<typeof OmniHubSettingsSchema>;
/** What an operator writes (defaults may be left out). */
export type OmniHubSettingsInput = z.input<typeof OmniHubSettingsSchema>;

/** Where things live inside the Omni container. The data volume is mounted at `data`. */
export const omniContainerPaths = {
    gpgKey: "/omni.asc",
    tlsCert: "/tls.crt",
    tlsKey: "/tls.key",
    data: "/_out",
    etcd: "/_out/etcd/",
    sqlite: "/_out/omni.db",
    initialServiceAccountKey: "/_out/initial-service-account-key",
    etcdBackup: "/etcd-backup",
} as const;
export type OmniContainerPaths = { [K in keyof typeof omniContainerPaths]: string };

/** The URLs and address clients and Talos machines use to reach the hub. */
export interface HubEndpoints {
    apiUrl: string;
    machineApiUrl: string;
    k8sProxyUrl: string;
    wireguardEndpoint: string;
}

export function hubEndpoints(s: Pick<OmniHubSettings, "omniDomain" | "lanIp" | "ports">): HubEndpoints {
    const url = (port: number) => `https://${s.omniDomain}${port === 443 ? "" : `:${port}`}`;
    const ip = s.lanIp.includes(":") ? `[${s.lanIp}]` : s.lanIp;
    return {
        apiUrl: url(s.ports.api),
        machineApiUrl: url(s.ports.machineApi),
        k8sProxyUrl: url(s.ports.k8sProxy),
        wireguardEndpoint: `${ip}:${s.ports.wireguard}`,
    };
}

/**
 * Every flag the hub can render. Each must be an `x-cli-flag` of the pinned Omni's config schema
 * (tested); none is a deprecated `--siderolink-api-*` alias or a flag removed in v1.6.
 */
export const renderedOmniFlags = [
    "account-id",
    "name",
    "private-key-source",
    "etcd-embedded-db-path",
    "sqlite-storage-path",
    "bind-addr",
    "advertised-api-url",
    "cert",
    "key",
    "machine-api-bind-addr",
    "machine-api-advertised-url",
    "machine-api-cert",
    "machine-api-key",
    "k8s-proxy-bind-addr",
    "advertised-kubernetes-proxy-url",
    "siderolink-wireguard-bind-addr",
    "siderolink-wireguard-advertised-addr",
    "metrics-bind-addr",
    "debug-server-endpoint",
    "initial-users",
    "auth-auth0-enabled",
    "auth-auth0-domain",
    "auth-auth0-client-id",
    "auth-oidc-enabled",
    "auth-oidc-provider-url",
    "auth-oidc-client-id",
    "auth-oidc-client-secret",
    "auth-oidc-scopes",
    "auth-oidc-logout-url",
    "auth-oidc-allow-unverified-email",
    "auth-saml-enabled",
    "auth-saml-url",
    "auth-saml-metadata",
    "create-initial-service-account",
    "initial-service-account-key-path",
    "initial-service-account-lifetime",
    "initial-service-account-role",
    "etcd-backup-local-path",
    "etcd-backup-s3",
    "etcd-backup-min-interval",
    "etcd-backup-max-interval",
    "log-level",
    "event-sink-port",
    "eula-accept-name",
    "eula-accept-email",
] as const;
export type OmniFlag = (typeof renderedOmniFlags)[number];

export interface OmniFlagsInput {
    settings: OmniHubSettings;
    accountId: string;
    /** Container paths; defaults to omniContainerPaths. */
    paths?: OmniContainerPaths;
    /** Only with OIDC; kept out of settings because it is a secret. */
    oidcClientSecret?: string;
}

/** Omni's command line, rendered from validated settings (the container's `command`; the image's entrypoint is /omni). */
export function renderOmniFlags(input: OmniFlagsInput): string[] {
    const { settings: s, accountId } = input;
    const paths = input.paths ?? omniContainerPaths;
    // Settings normally come through the schema; the version gate is repeated because it guards the flag set itself.
    const versionProblem = omniVersionProblem(s.omniVersion);
    if (versionProblem) throw new Error(versionProblem);
    const endpoints = hubEndpoints(s);
    const flags: string[] = [];
    const flag = (name: OmniFlag, value: string | number | boolean | undefined) => {
        if (value !== undefined) flags.push(`--${name}=${value}`);
    };

    flag("account-id", accountId);
    flag("name", s.accountName);
    flag("private-key-source", `file://${paths.gpgKey}`);
    flag("etcd-embedded-db-path", paths.etcd);
    flag("sqlite-storage-path", paths.sqlite);

    // Omni listens on the same port numbers the sidecar publishes on the LAN IP.
    flag("bind-addr", `0.0.0.0:${s.ports.api}`);
    flag("advertised-api-url", endpoints.apiUrl);
    flag("cert", paths.tlsCert);
    flag("key", paths.tlsKey);
    flag("machine-api-bind-addr", `0.0.0.0:${s.ports.machineApi}`);
    flag("machine-api-advertised-url", endpoints.machineApiUrl);
    flag("machine-api-cert", paths.tlsCert);
    flag("machine-api-key", paths.tlsKey);
    flag("k8s-proxy-bind-addr", `0.0.0.0:${s.ports.k8sProxy}`);
    flag("advertised-kubernetes-proxy-url", endpoints.k8sProxyUrl);
    flag("siderolink-wireguard-bind-addr", `0.0.0.0:${s.ports.wireguard}`);
    flag("siderolink-wireguard-advertised-addr", endpoints.wireguardEndpoint);
    // The kernel-mode sidecar puts every 0.0.0.0 listener on the tailnet; keep the internal ones local (gotcha 20).
    flag("metrics-bind-addr", "127.0.0.1:2122");
    flag("debug-server-endpoint", "127.0.0.1:9988");

    flag("initial-users", s.initialUsers.join(","));
    if (s.auth.auth0) {
        flag("auth-auth0-enabled", true);
        flag("auth-auth0-domain", s.auth.auth0.domain);
        flag("auth-auth0-client-id", s.auth.auth0.clientId);
    } else if (s.auth.oidc) {
        flag("auth-oidc-enabled", true);
        flag("auth-oidc-provider-url", s.auth.oidc.providerUrl);
        flag("auth-oidc-client-id", s.auth.oidc.clientId);
        flag("auth-oidc-client-secret", input.oidcClientSecret);
        for (const scope of s.auth.oidc.scopes ?? []) flag("auth-oidc-scopes", scope);
        flag("auth-oidc-logout-url", s.auth.oidc.logoutUrl);
        flag("auth-oidc-allow-unverified-email", s.auth.oidc.allowUnverifiedEmail);
    } else if (s.auth.saml) {
        flag("auth-saml-enabled", true);
        flag("auth-saml-url", s.auth.saml.url);
        flag("auth-saml-metadata", s.auth.saml.metadata);
    }

    if (s.initialServiceAccount.enabled) {
        flag("create-initial-service-account", true);
        flag("initial-service-account-key-path", paths.initialServiceAccountKey);
        flag("initial-service-account-lifetime", s.initialServiceAccount.lifetime);
        flag("initial-service-account-role", s.initialServiceAccount.role);
    }

    if (s.etcdBackup) {
        flag("etcd-backup-local-path", s.etcdBackup.localPath === undefined ? undefined : paths.etcdBackup);
        flag("etcd-backup-s3", s.etcdBackup.s3 || undefined);
        flag("etcd-backup-min-interval", s.etcdBackup.minInterval);
        flag("etcd-backup-max-interval", s.etcdBackup.maxInterval);
    }
    flag("log-level", s.logLevel);
    flag("event-sink-port", s.eventSinkPort);
    flag("eula-accept-name", s.eula?.name);
    flag("eula-accept-email", s.eula?.email);
    return flags;
}

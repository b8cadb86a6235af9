import { isIP } from "node:net";
import { splitTokenValue } from "../../components/proxmox/provider-render";
import { Findings } from "./findings";
import { shellWords } from "./sources";

/**
 * Hub settings from an `omni.env`: the variables of Omni's own compose kit (siderolabs/omni v1.10.4
 * `deploy/compose/env.template`) and of the seed kit (basher83/Omni-Scale `omni/omni.env.example`, which adds HOST_IP
 * and OMNI_SQLITE_PATH). Provider settings from the provider's
 * `.env` and `config.yaml` (§1.5, §3.2, §3.3). Secret values are never copied: each becomes a FoundSecret (the
 * command that sets it) or, with no setting to take it, a note that says why it is not needed.
 */

type Doc = Record<string, unknown>;

/** Host and port of an advertised URL (`https://omni.example.com:8090/`), the scheme's port when none is given. */
function urlParts(value: string): { host: string; port: number } | undefined {
    try {
        const url = new URL(value);
        return { host: url.hostname, port: url.port ? Number(url.port) : url.protocol === "http:" ? 80 : 443 };
    } catch {
        return undefined;
    }
}

const portOf = (addr: string) => /:(\d+)$/.exec(addr)?.[1];

/** `--flag=value` and bare `--flag` words of a command line → flag → values (flags may repeat, e.g. `--auth-oidc-scopes`). */
function flagValues(words: string[]): Map<string, string[]> {
    const flags = new Map<string, string[]>();
    for (const w of words) {
        const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(w);
        if (m) flags.set(m[1], [...(flags.get(m[1]) ?? []), m[2] ?? "true"]);
    }
    return flags;
}

/** The seed's `AUTH` (Omni's auth flags in one variable) → `hub.auth`; the OIDC client secret becomes a secret to set. */
function authFrom(value: string, source: string, f: Findings): Doc {
    const flags = flagValues(shellWords(value));
    const one = (name: string) => {
        const v = flags.get(name);
        flags.delete(name);
        return v?.[v.length - 1];
    };
    const on = (method: string) => one(`auth-${method}-enabled`) === "true";
    const auth: Doc = {};
    if (on("auth0")) auth.auth0 = { domain: one("auth-auth0-domain"), clientId: one("auth-auth0-client-id") };
    if (on("oidc")) {
        const scopes = flags.get("auth-oidc-scopes");
        flags.delete("auth-oidc-scopes");
        const allowUnverified = one("auth-oidc-allow-unverified-email");
        auth.oidc = Object.fromEntries(
            Object.entries({
                providerUrl: one("auth-oidc-provider-url"),
                clientId: one("auth-oidc-client-id"),
                scopes,
                logoutUrl: one("auth-oidc-logout-url"),
                allowUnverifiedEmail: allowUnverified === undefined ? undefined : allowUnverified === "true",
            }).filter(([, v]) => v !== undefined),
        );
        if (one("auth-oidc-client-secret") !== undefined)
            f.secrets.push({ source, what: "AUTH --auth-oidc-client-secret", stack: "hub", key: "oidcClientSecret" });
    }
    if (on("saml"))
        auth.saml = Object.fromEntries(
            Object.entries({ url: one("auth-saml-url"), metadata: one("auth-saml-metadata") }).filter(
                ([, v]) => v !== undefined,
            ),
        );
    for (const flag of flags.keys())
        f.unexpressed.push({ source, message: `AUTH --${flag} has no hub setting: left out` });
    return auth;
}

export interface ImportedHub {
    /** `omni-scale:hub` settings found. */
    hub: Doc;
    /** Variables read, for the comparison with the provider's. */
    omniDomain?: string;
}

/** An `omni.env` → hub settings. The running Omni's identity and state are adopted, never created anew. */
export function hubFromOmniEnv(vars: Record<string, string>, source: string, f: Findings): ImportedHub {
    const used = new Set<string>();
    const get = (k: string) => {
        used.add(k);
        return vars[k] === "" ? undefined : vars[k];
    };
    const hub: Doc = {};
    const set = (key: string, value: unknown) => {
        if (value !== undefined) hub[key] = value;
    };
    const name = get("NAME");
    set("accountId", get("OMNI_ACCOUNT_UUID"));
    set("accountName", name);
    // The tag of ghcr.io/siderolabs/omni the compose file runs: the first deployment keeps that version.
    const version = get("OMNI_IMG_TAG");
    set("omniVersion", version);
    const wireguard = get("SIDEROLINK_WIREGUARD_ADVERTISED_ADDR");
    const wireguardHost = wireguard?.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
    // Omni's kit has no HOST_IP: machines dial WireGuard on the LAN address, which is this hub's lanIp.
    const lanIp = get("HOST_IP") ?? (wireguardHost && isIP(wireguardHost) ? wireguardHost : undefined);
    set("lanIp", lanIp);
    if (vars.HOST_IP === undefined && lanIp !== undefined) {
        f.notes.push({
            source,
            message: `lanIp is ${lanIp}, the address SIDEROLINK_WIREGUARD_ADVERTISED_ADDR advertises: check that it is the Docker host's LAN address`,
        });
    }
    const sink = get("EVENT_SINK_PORT");
    set("eventSinkPort", sink === undefined ? undefined : /^\d+$/.test(sink) ? Number(sink) : sink);

    // One domain carries every advertised URL here; the ports come from each URL (the sidecar publishes the same numbers).
    const ports: Doc = {};
    const advertised = (variable: string, port: string, bindVariable: string) => {
        const value = get(variable);
        const parts = value === undefined ? undefined : urlParts(value);
        if (value !== undefined && !parts)
            f.issues.push({
                key: `${source} ${variable}`,
                value,
                message: "not a URL: expected e.g. https://omni.example.com:8090/",
            });
        if (!parts) return undefined;
        ports[port] = parts.port;
        const bind = get(bindVariable);
        if (bind !== undefined && portOf(bind) !== String(parts.port)) {
            f.unexpressed.push({
                source,
                message: `${bindVariable}=${bind} listens on another port than ${variable} advertises (${parts.port}); this hub's Omni listens on the port it advertises and the sidecar publishes that port on the LAN IP: ports.${port} is ${parts.port}`,
            });
        }
        return parts.host;
    };
    const omniDomain = advertised("ADVERTISED_API_URL", "api", "BIND_ADDR");
    set("omniDomain", omniDomain);
    // Omni's kit builds its URLs from OMNI_DOMAIN_NAME; what Omni runs with are the URLs.
    const domainName = get("OMNI_DOMAIN_NAME");
    if (domainName !== undefined && omniDomain !== undefined && domainName !== omniDomain) {
        f.unexpressed.push({
            source,
            message: `OMNI_DOMAIN_NAME=${domainName}, but ADVERTISED_API_URL names ${omniDomain}: omniDomain is ${omniDomain}, the one Omni advertises`,
        });
    }
    for (const [variable, port, bindVariable] of [
        ["SIDEROLINK_ADVERTISED_API_URL", "machineApi", "MACHINE_API_BIND_ADDR"],
        ["ADVERTISED_K8S_PROXY_URL", "k8sProxy", "K8S_PROXY_BIND_ADDR"],
    ]) {
        const host = advertised(variable, port, bindVariable);
        if (host && omniDomain && host !== omniDomain) {
            f.unexpressed.push({
                source,
                message: `${variable} names ${host}, but this hub advertises every URL on one domain (${omniDomain}): ${host} is not carried over`,
            });
        }
    }
    if (wireguard !== undefined) {
        const port = portOf(wireguard);
        if (port) ports.wireguard = Number(port);
        if (lanIp && wireguardHost !== lanIp) {
            f.unexpressed.push({
                source,
                message: `SIDEROLINK_WIREGUARD_ADVERTISED_ADDR=${wireguard} is not on HOST_IP ${lanIp}; this hub advertises WireGuard on its LAN IP (lanIp), which running machines dial: check that lanIp is that address`,
            });
        }
    }
    if (Object.keys(ports).length > 0) hub.ports = ports;

    const users = get("INITIAL_USER_EMAILS");
    set(
        "initialUsers",
        users
            ?.split(",")
            .map((u) => u.trim())
            .filter(Boolean),
    );
    const auth = get("AUTH");
    if (auth !== undefined) hub.auth = authFrom(auth, source, f);

    const [cert, key] = [get("TLS_CERT"), get("TLS_KEY")];
    if (cert !== undefined || key !== undefined) hub.tls = { mode: "hostFiles", certPath: cert, keyPath: key };

    const gpgKey = get("ETCD_ENCRYPTION_KEY");
    if (gpgKey !== undefined)
        f.secrets.push({ source, what: "ETCD_ENCRYPTION_KEY", stack: "hub", key: "etcdGpgKey", file: gpgKey });

    // The state is adopted: the account id comes with the volumes that hold Omni's data and the sidecar's node.
    const account = name ?? "omni";
    if (hub.accountId === undefined) {
        f.unexpressed.push({
            source,
            message:
                "OMNI_ACCOUNT_UUID is not set, and without the running Omni's account id the hub would start a new, empty Omni: " +
                "set hub.accountId to its --account-id (docker inspect of its container shows it) and hub.adopt to the volumes that hold its state",
        });
    } else {
        // The seed kit runs a Tailscale sidecar (TS_AUTHKEY) whose node state is adopted too; Omni's own kit runs Omni
        // on the host network, without one: the hub's sidecar joins the tailnet as a new node.
        const sidecar = vars.TS_AUTHKEY !== undefined;
        hub.adopt = {
            omniDataVolume: `${account}-data`,
            ...(sidecar ? { tailscaleStateVolume: `${account}-tailscale-state` } : {}),
        };
        // The seed names the SQLite file, Omni's kit the host directory it mounts at /_out/secondary-storage (sqlite.db).
        const storage = get("SQLITE_STORAGE_PATH");
        const [etcdDir, sqlite] = [
            get("ETCD_VOLUME_PATH"),
            get("OMNI_SQLITE_PATH") ?? (storage && `${storage.replace(/\/$/, "")}/sqlite.db`),
        ];
        f.notes.push({
            source,
            message:
                `Omni's data is in ${etcdDir ? `the host directory ${etcdDir} (mounted at /_out/etcd)` : "the running Omni's data directory"}${sqlite ? `, its SQLite at ${sqlite}` : ""}` +
                `${sidecar ? ", and the sidecar's node state in its tailscale-state directory" : ""}. This hub adopts Docker volumes instead (hub.adopt): before the first \`pulumi up\`, ` +
                `copy the data into ${account}-data (etcd/ and the SQLite files as omni.db, omni.db-wal, omni.db-shm at its root)` +
                `${sidecar ? ` and the node state into ${account}-tailscale-state` : ""}, as docs/OPERATIONS.md "Migrating an existing Omni" shows`,
        });
        if (!sidecar) {
            f.notes.push({
                source,
                message: `no Tailscale sidecar here (no TS_AUTHKEY): the hub's sidecar joins the tailnet as a new node, so hub.adopt has no tailscaleStateVolume`,
            });
        }
    }
    if (version === undefined) {
        f.notes.push({
            source,
            message:
                "the running Omni's version is not in this file: set hub.omniVersion to it (the image tag in its compose file), or to the next minor at most, as Omni upgrades one minor at a time",
        });
    }
    if (get("TS_AUTHKEY") !== undefined) {
        f.notes.push({
            source,
            message:
                "TS_AUTHKEY (a secret) is not copied: the adopted node state keeps the hub on the tailnet, and the hub stack makes its own single-use key for a node without state",
        });
    }
    for (const variable of Object.keys(vars).filter((k) => !used.has(k))) {
        f.unexpressed.push({
            source,
            message: `${variable} is not a setting this import knows: left out (check whether your Omni depends on it)`,
        });
    }
    return { hub, omniDomain };
}

export interface ImportedProvider {
    /** `omni-scale:infraProvider` settings found. */
    infraProvider: Doc;
    proxmoxTokenId?: string;
    /** The provider's OMNI_API_ENDPOINT host, to compare with the hub's domain. */
    omniEndpointHost?: string;
}

/**
 * The provider's `.env` (compose variables and the provider's own PROXMOX_* variables) and `config.yaml` → provider
 * settings. An existing API token is kept (the provider's identity as it was); the least-privilege user the stack
 * can create instead is the default when none is found.
 */
export function providerFrom(
    env: { vars: Record<string, string>; source: string } | undefined,
    config: { doc: unknown; source: string } | undefined,
    f: Findings,
): ImportedProvider {
    const infraProvider: Doc = {};
    const out: ImportedProvider = { infraProvider };
    const proxmox: Doc = {};
    let token: { id?: string; secret?: { source: string; what: string } } = {};
    const login = (source: string, what: string) =>
        f.unexpressed.push({
            source,
            message:
                `${what}: the provider logs in to Proxmox with a user and password, this project gives it an API token. The password is not copied: let the stack create ` +
                "a least-privilege user and token (infraProvider.leastPrivilege.enabled: true, the default), or set proxmoxTokenId and the secret proxmoxTokenSecret",
        });

    if (env) {
        const { vars, source } = env;
        const used = new Set(["PROVIDER_ID", "OMNI_API_ENDPOINT", "OMNI_SERVICE_ACCOUNT_KEY", "TS_AUTHKEY"]);
        if (vars.PROVIDER_ID) infraProvider.providerId = vars.PROVIDER_ID;
        if (vars.OMNI_API_ENDPOINT) out.omniEndpointHost = urlParts(vars.OMNI_API_ENDPOINT)?.host;
        if (vars.OMNI_SERVICE_ACCOUNT_KEY) {
            f.notes.push({
                source,
                message:
                    "OMNI_SERVICE_ACCOUNT_KEY (a secret) is not copied: the hub stack registers the provider (hub.infraProviders) and hands this stack a new key",
            });
        }
        if (vars.TS_AUTHKEY)
            f.notes.push({
                source,
                message:
                    "TS_AUTHKEY (a secret) is not copied: the workload stack makes the provider sidecar's own single-use key",
            });
        const pv = (k: string) => {
            used.add(`PROXMOX_${k}`);
            return vars[`PROXMOX_${k}`] || undefined;
        };
        if (pv("URL")) proxmox.url = pv("URL");
        if (pv("INSECURE_SKIP_VERIFY")) proxmox.insecureSkipVerify = pv("INSECURE_SKIP_VERIFY") === "true";
        if (pv("TOKEN")) {
            token = {
                id: splitTokenValue(pv("TOKEN")!, "").tokenId || undefined,
                secret: { source, what: "PROXMOX_TOKEN (after the =)" },
            };
        } else if (pv("TOKEN_ID") || pv("TOKEN_SECRET")) {
            token = {
                id: pv("TOKEN_ID"),
                secret: pv("TOKEN_SECRET") ? { source, what: "PROXMOX_TOKEN_SECRET" } : undefined,
            };
        }
        if (pv("PASSWORD") || pv("USERNAME")) login(source, "PROXMOX_USERNAME/PROXMOX_PASSWORD");
        pv("REALM");
        for (const variable of Object.keys(vars).filter((k) => !used.has(k))) {
            f.unexpressed.push({
                source,
                message: `${variable} is not a provider setting this import knows: left out`,
            });
        }
    }

    if (config) {
        const { source } = config;
        const p = ((config.doc as { proxmox?: Doc } | null)?.proxmox ?? {}) as Doc;
        if (p.url !== undefined) proxmox.url = p.url;
        if (p.insecureSkipVerify !== undefined) proxmox.insecureSkipVerify = p.insecureSkipVerify;
        if (typeof p.token === "string") {
            token = {
                id: splitTokenValue(p.token, "").tokenId || undefined,
                secret: { source, what: "proxmox.token (after the =)" },
            };
        } else if (p.tokenID !== undefined || p.tokenSecret !== undefined) {
            token = {
                id: p.tokenID as string | undefined,
                secret: p.tokenSecret !== undefined ? { source, what: "proxmox.tokenSecret" } : undefined,
            };
        }
        if (p.password !== undefined || p.username !== undefined) login(source, "proxmox.username/password");
        for (const key of Object.keys(p).filter(
            (k) =>
                ![
                    "url",
                    "insecureSkipVerify",
                    "token",
                    "tokenID",
                    "tokenSecret",
                    "username",
                    "password",
                    "realm",
                ].includes(k),
        )) {
            f.unexpressed.push({
                source,
                message: `proxmox.${key} is not a provider setting this import knows: left out`,
            });
        }
    }

    if (Object.keys(proxmox).length > 0) infraProvider.proxmox = proxmox;
    if (token.id !== undefined || token.secret !== undefined) {
        // The provider keeps the token it has; without a token the stack's least-privilege user is the default.
        infraProvider.leastPrivilege = { enabled: false };
        out.proxmoxTokenId = token.id;
        if (token.secret) f.secrets.push({ ...token.secret, stack: "workloads", key: "proxmoxTokenSecret" });
        f.notes.push({
            source: token.secret?.source ?? config?.source ?? env!.source,
            message:
                "the provider keeps its existing Proxmox API token (infraProvider.leastPrivilege.enabled: false); remove that and proxmoxTokenId to let the stack create a least-privilege user and token instead",
        });
    }
    return out;
}

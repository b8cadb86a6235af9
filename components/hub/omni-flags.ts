import type { OmniHubSettings } from "./settings";
import { omniVersionProblem } from "../core/versions";
import { yamlPackage } from "../core/yaml-package";

/** Omni's command line and container layout, rendered from validated hub settings (components/hub/settings.ts). */

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
    secretConfig: "/omni-secrets.yaml",
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
    "siderolink-use-grpc-tunnel",
    "metrics-bind-addr",
    "debug-server-endpoint",
    "initial-users",
    "auth-auth0-enabled",
    "auth-auth0-domain",
    "auth-auth0-client-id",
    "auth-oidc-enabled",
    "auth-oidc-provider-url",
    "auth-oidc-client-id",
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
    /**
     * Load the secret config file (`renderOmniSecretConfig`) at paths.secretConfig: the hub uploads it when it holds a
     * secret. `--config-path` is Omni's own flag (siderolabs/omni cmd/omni/cmd/cmd.go), not a config schema setting.
     */
    secretConfig?: boolean;
}

/**
 * Omni's config file holding what must not be on its command line, where `docker inspect` and `ps` show every flag:
 * the OIDC client secret (`auth.oidc.clientSecret`, internal/pkg/config/schema.json). Omni merges the files named by
 * `--config-path` under its flags (cmd/omni/cmd/cmd.go: "flags have highest priority"; config.LoadFromFile reads YAML
 * strictly, so only schema keys).
 */
export function renderOmniSecretConfig(secrets: { oidcClientSecret?: string }): string | undefined {
    if (secrets.oidcClientSecret === undefined) return undefined;
    return yamlPackage().stringify({ auth: { oidc: { clientSecret: secrets.oidcClientSecret } } });
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
    flag("siderolink-use-grpc-tunnel", s.siderolinkGrpcTunnel);
    // The kernel-mode sidecar puts every 0.0.0.0 listener on the tailnet; keep the internal ones local (docs/OPERATIONS.md: what the tailnet can reach).
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
    if (input.secretConfig) flags.push(`--config-path=${paths.secretConfig}`);
    return flags;
}

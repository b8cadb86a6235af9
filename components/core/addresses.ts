import * as ipaddr from "ipaddr.js";

/**
 * Rules for the addresses the hub, the provider and the preflight deal in: host names, IPs, the SideroLink WireGuard
 * endpoint, tailnet addresses, Docker daemon addresses. Pure, shared by config validation, components and policies.
 */

const hostnamePattern = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function isIp(value: string): boolean {
    // ipaddr's checks throw and catch an Error for a non-address (about 30 µs): host names, most of what is checked,
    // are told apart by their characters first (dotted decimal holds only digits and dots, IPv6 text always a colon).
    return (
        (/^[\d.]+$/.test(value) && ipaddr.IPv4.isValidFourPartDecimal(value)) ||
        (value.includes(":") && ipaddr.IPv6.isValid(value))
    );
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
    const fix =
        bare && bare !== value && hostnamePattern.test(bare) ? `use "${bare}"` : "use a name such as omni.example.com";
    return `"${value}" is not a bare host name (no scheme, path or port); ${fix}`;
}

/** Why a value is neither an IP address nor a DNS host name (an SSH or API address), or undefined. */
export function hostOrIpProblem(value: string): string | undefined {
    if (isIp(value) || (hostnamePattern.test(value) && !/^[\d.]+$/.test(value))) return undefined;
    const bare = bareHost(value).replace(/^[^@]*@/, "");
    const fix =
        bare && bare !== value && (isIp(bare) || hostnamePattern.test(bare))
            ? `use "${bare}"`
            : "use an IP address or a DNS name, e.g. 192.168.3.2 or pve1.example.com";
    return `"${value}" is not an IP address or a bare host name (no scheme, user, path or port); ${fix}`;
}

/**
 * Why an Auth0 domain is not the bare tenant host Omni expects, or undefined. Omni builds the issuer as
 * "https://" + domain + "/", so a scheme or path in the value gives "invalid jwt" at login (siderolabs/omni `internal/pkg/auth/auth0/token.go`).
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
 * has any DNS for Omni, and Omni's docs say it must be an IP, never a name (Omni's config schema, `siderolink-wireguard-advertised-addr`).
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
export const TAILNET_CIDRS = ["100.64.0.0/10", "fd7a:115c:a1e0::/48"] as const;
const TAILNET_RANGES = TAILNET_CIDRS.map((cidr) => ipaddr.parseCIDR(cidr));

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
            {
                const user = decodeURIComponent(url.username);
                // ssh and its wrappers would read a leading '-' as an option (-oProxyCommand=… runs a command).
                if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(user) || host.startsWith("-"))
                    return `"${value}": the user must be a login name (letters, digits, '_', '.', '-', not first) and the host must not start with '-' (ssh would read them as options)`;
                return { scheme: "ssh", user, host, port };
            }
        case "unix:":
            return url.pathname.startsWith("/") && !host
                ? { scheme: "unix", path: url.pathname }
                : `"${value}" must be unix:///absolute/path.sock`;
        case "tcp:":
            return host && port ? { scheme: "tcp", host, port } : `"${value}" must be tcp://host:port`;
        default:
            return `unsupported scheme in "${value}"; ${usage}`;
    }
}

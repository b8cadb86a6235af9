/** Where a sidecar keeps its node state; it must persist or the node re-registers as `<hostname>-1`. */
export const TAILSCALE_STATE_DIR = "/var/lib/tailscale";
/** containerboot's /healthz, on loopback so it is not exposed on the tailnet (docs/OPERATIONS.md: what the tailnet can reach). */
export const TAILSCALE_HEALTH_ADDR = "127.0.0.1:9002";

/**
 * Sidecar environment (tailscale `cmd/containerboot/main.go`), for the hub and the provider alike; the component adds TS_AUTHKEY as a secret.
 */
export function tailscaleEnvs(o: { hostname: string; tags: string[] }): string[] {
    return [
        `TS_HOSTNAME=${o.hostname}`,
        `TS_STATE_DIR=${TAILSCALE_STATE_DIR}`,
        // Kernel networking: userspace mode breaks MagicDNS in the shared namespace and cannot create tailscale0 in an LXC.
        "TS_USERSPACE=false",
        // The key is single-use and expires; with persisted state, restarts must not log in again.
        "TS_AUTH_ONCE=true",
        // Needed when the auth key is an OAuth client secret; a tagged auth key carries the same tags.
        `TS_EXTRA_ARGS=--advertise-tags=${o.tags.join(",")}`,
        "TS_ENABLE_HEALTH_CHECK=true",
        `TS_LOCAL_ADDR_PORT=${TAILSCALE_HEALTH_ADDR}`,
    ];
}

/**
 * Healthy means a tailnet IP (/healthz) and working DNS: `tailscale status` alone passes too early (docs/TROUBLESHOOTING.md "Omni starts before the tailnet is up").
 * It lives on the sidecar because neither the Omni nor the provider image has a shell.
 */
export const tailscaleHealthcheck = {
    tests: [
        "CMD-SHELL",
        `wget -q -O /dev/null http://${TAILSCALE_HEALTH_ADDR}/healthz && getent hosts controlplane.tailscale.com >/dev/null`,
    ],
    interval: "10s",
    timeout: "5s",
    retries: 5,
    startPeriod: "30s",
};

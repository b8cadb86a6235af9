/**
 * Every version pin in one place: bump here, run the tests and the offline plan, then `pulumi up`.
 * omnictl must equal the Omni hub version (a newer client can send resources an older hub rejects).
 */
export const versions = {
    omni: "v1.10.4",
    omnictl: "v1.10.4",
    tailscale: "v1.94.2",
    /** Upstream release with the hostname-patch fix (domain.md §3.7); `local-fix` builds are also accepted. */
    proxmoxProvider: "v0.3.0",
    talos: "v1.13.6",
    kubernetes: "v1.36.2",
} as const;

export const images = {
    omni: `ghcr.io/siderolabs/omni:${versions.omni}`,
    tailscale: `tailscale/tailscale:${versions.tailscale}`,
    proxmoxProvider: `ghcr.io/siderolabs/omni-infra-provider-proxmox:${versions.proxmoxProvider}`,
} as const;

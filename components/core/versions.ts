import * as semver from "semver";

/**
 * Every version pin in one place: bump here, run the tests and the offline plan, then `pulumi up`.
 * omnictl must equal the Omni hub version (a newer client can send resources an older hub rejects).
 */
export const versions = {
    omni: "v1.10.4",
    omnictl: "v1.10.4",
    tailscale: "v1.94.2",
    /**
     * Upstream release with the hostname-patch fix; `local-fix` builds are also accepted. v0.3.0 is built against an
     * Omni client newer than v1.10.4: it asks Omni for the ISO with `GetBootAssetURL`, which v1.10.4 does not serve,
     * and on `Unimplemented` the client builds the same URL from Omni's FeaturesConfig and ImageFactoryAuth resources,
     * both of which v1.10.4 serves (omni `client/pkg/infra/infra.go`, `client/pkg/imagefactory/bootasset.go` at
     * b1ea5df). Its schematic call (`CreateSchematicFromRaw`) exists in v1.10.4. So v0.3.0 + Omni v1.10.4 is a
     * supported pairing, and the newest release; machine classes must keep to its provider data keys
     * (test/fixtures/upstream/provider-data.v0.3.0.json).
     */
    proxmoxProvider: "v0.3.0",
    talos: "v1.13.6",
    kubernetes: "v1.36.2",
} as const;

export const images = {
    omni: `ghcr.io/siderolabs/omni:${versions.omni}`,
    tailscale: `tailscale/tailscale:${versions.tailscale}`,
    proxmoxProvider: `ghcr.io/siderolabs/omni-infra-provider-proxmox:${versions.proxmoxProvider}`,
} as const;

/**
 * Kubernetes minors each Talos minor supports (Talos machinery `pkg/machinery/compatibility/talos1NN`:
 * MinimumKubernetesVersion .. MaximumKubernetesVersion, read for 1.11–1.13). Omni offers only these pairs
 * (omni v1.10.4 `validations/cluster.go` checks TalosVersion.compatibleKubernetesVersions, built with
 * machinery's `SupportedWith`) and refuses any other cluster.
 */
export const talosKubernetesSupport: Record<string, { min: string; max: string }> = {
    "1.11": { min: "1.29", max: "1.34" },
    "1.12": { min: "1.30", max: "1.35" },
    "1.13": { min: "1.31", max: "1.36" },
};

/** Why a Kubernetes version cannot run on a Talos version, or undefined (unknown Talos minors are not judged). */
export function kubernetesSupportProblem(talos: string, kubernetes: string): string | undefined {
    const t = semver.coerce(talos);
    const k = semver.coerce(kubernetes);
    const support = t && talosKubernetesSupport[`${t.major}.${t.minor}`];
    if (!support || !k) return undefined;
    const minor = `${k.major}.${k.minor}`;
    const inRange = semver.gte(`${minor}.0`, `${support.min}.0`) && semver.lte(`${minor}.0`, `${support.max}.0`);
    return inRange
        ? undefined
        : `Kubernetes ${kubernetes} does not run on Talos ${talos}, which supports Kubernetes ${support.min} to ${support.max}: pick a version in that range (or another Talos version)`;
}

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
 * The Talos versions the pinned Omni offers a cluster (omni v1.10.4, facts in
 * test/fixtures/upstream/talos-support.v1.10.4.json): none below `MinTalosVersion` (listed as deprecated, refused for a
 * new cluster), none beyond `LatestSupportedTalosVersion` (listed as unsupported, refused), never a denylisted release
 * (not listed at all). Refused by omni `internal/backend/runtime/omni/validations/version.go`.
 */
export const omniTalosSupport = {
    minimum: "1.9.0",
    latestMinor: "1.13",
    denylisted: ["1.13.1"],
} as const;

/**
 * The Kubernetes versions each Talos minor runs, from the Talos machinery Omni v1.10.4 is built with
 * (siderolabs/talos `pkg/machinery/compatibility/talos1NN` at pkg/machinery/v1.14.0-beta.1): `min` included, `max`
 * excluded (`kubernetes_version.go` SupportedWith). One entry per Talos minor Omni offers. Omni lists only these
 * pairs (TalosVersion.compatibleKubernetesVersions) and refuses any other cluster (validations/cluster.go).
 */
export const talosKubernetesSupport: Record<string, { min: string; max: string }> = {
    "1.9": { min: "1.27.0", max: "1.32.99" },
    "1.10": { min: "1.28.0", max: "1.33.99" },
    "1.11": { min: "1.29.0", max: "1.34.99" },
    "1.12": { min: "1.30.0", max: "1.35.99" },
    "1.13": { min: "1.31.0", max: "1.36.99" },
};

/** The Talos minors a cluster may run ("1.9" … "1.13"): the one list anything per-minor is keyed by. */
export const TALOS_MINORS: readonly string[] = Object.keys(talosKubernetesSupport);

const majorMinor = (v: semver.SemVer) => `${v.major}.${v.minor}`;

/** Why Omni would not offer this Talos version for a cluster, or undefined. */
export function talosVersionProblem(talos: string): string | undefined {
    const t = semver.coerce(talos);
    if (!t) return undefined;
    const { minimum, latestMinor, denylisted } = omniTalosSupport;
    const offers = `Omni ${versions.omni}, which offers Talos ${minimum} to ${latestMinor}.x: use one of those, e.g. ${versions.talos}`;
    if (semver.lt(t, minimum)) return `Talos ${talos} is no longer supported by ${offers}`;
    if (semver.gt(t, `${latestMinor}.999999`))
        return `Talos ${talos} is newer than supported by ${offers} (or upgrade Omni first)`;
    if ((denylisted as readonly string[]).includes(t.version))
        return `Talos ${talos} is withheld by Omni ${versions.omni} (a broken release it never lists): use another ${majorMinor(t)} patch release`;
    return undefined;
}

/** Why a Kubernetes version cannot run on a Talos version, or undefined (a Talos version Omni refuses is not judged). */
export function kubernetesSupportProblem(talos: string, kubernetes: string): string | undefined {
    const t = semver.coerce(talos);
    const k = semver.coerce(kubernetes);
    const support = t && talosKubernetesSupport[majorMinor(t)];
    if (!support || !k) return undefined;
    if (semver.gte(k, support.min) && semver.lt(k, support.max)) return undefined;
    const [min, max] = [support.min, support.max].map((v) => majorMinor(semver.parse(v)!));
    return `Kubernetes ${kubernetes} does not run on Talos ${talos}, which supports Kubernetes ${min} to ${max}: pick a version in that range (or another Talos version)`;
}

/** First Omni release with `--sqlite-storage-path`; older ones cannot run with the flags rendered here. */
export const minOmniVersion = "1.4.0";

/** Why an Omni version cannot be deployed by this library, or undefined. */
export function omniVersionProblem(version: string): string | undefined {
    const clean = semver.valid(semver.clean(version) ?? "");
    if (!clean) return `"${version}" is not an Omni release tag; use one such as ${versions.omni}`;
    if (semver.lt(clean, minOmniVersion)) {
        return `Omni ${version} predates v${minOmniVersion} and has no --sqlite-storage-path: upgrade it one minor at a time to v1.4.x with its own tooling first, then adopt it here`;
    }
    return undefined;
}

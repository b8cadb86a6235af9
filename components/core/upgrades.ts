import * as semver from "semver";

/**
 * Why going from the deployed Omni version to `to` is unsafe, or undefined. Omni's self-hosted upgrade guide
 * ("Upgrade Omni", docs.siderolabs.com) allows sequential minor upgrades only (v1.3 → v1.4 → v1.5; patch releases
 * freely within a minor) and no rollback: each minor carries the migrations the next one expects.
 */
export function omniUpgradeProblem(from: string | undefined, to: string): string | undefined {
    const prev = from ? semver.clean(from) : null;
    const next = semver.clean(to);
    if (!prev || !next) return undefined; // first deployment, or an unknown previous version
    if (semver.lt(next, prev)) {
        return `Omni ${to} is older than the deployed ${from}: Omni cannot roll back; restore a backup instead of downgrading`;
    }
    const [pMajor, pMinor, nMajor, nMinor] = [
        semver.major(prev),
        semver.minor(prev),
        semver.major(next),
        semver.minor(next),
    ];
    const oneStep = nMajor === pMajor ? nMinor - pMinor <= 1 : nMajor === pMajor + 1 && nMinor === 0;
    if (!oneStep) {
        return `Omni ${from} → ${to} skips a minor version; Omni upgrades one minor at a time: set omniVersion to the latest v${pMajor}.${pMinor + 1}.x, run \`pulumi up\`, then continue`;
    }
    return undefined;
}

export interface ClusterVersions {
    talos: string;
    kubernetes: string;
}

/**
 * Why a cluster's version change must be split, or undefined: Talos and Kubernetes upgrades roll machine by
 * machine and are done one at a time, so a single update may change only one of them, never downgrade,
 * and move Kubernetes by at most one minor version.
 */
export function clusterUpgradeProblem(
    cluster: string,
    from: ClusterVersions | undefined,
    to: ClusterVersions,
): string | undefined {
    if (!from) return undefined;
    const talosChanged = from.talos !== to.talos;
    const k8sChanged = from.kubernetes !== to.kubernetes;
    if (talosChanged && k8sChanged) {
        return `cluster ${cluster}: upgrade Talos (${from.talos} → ${to.talos}) and Kubernetes (${from.kubernetes} → ${to.kubernetes}) in separate updates; change one, \`pulumi up\`, then the other`;
    }
    for (const [what, a, b] of [
        ["Talos", from.talos, to.talos],
        ["Kubernetes", from.kubernetes, to.kubernetes],
    ] as const) {
        const prev = semver.clean(a);
        const next = semver.clean(b);
        if (prev && next && semver.lt(next, prev))
            return `cluster ${cluster}: ${what} ${b} is older than the running ${a}; downgrades are not supported`;
    }
    const prevK8s = semver.clean(from.kubernetes);
    const nextK8s = semver.clean(to.kubernetes);
    if (
        prevK8s &&
        nextK8s &&
        semver.major(prevK8s) === semver.major(nextK8s) &&
        semver.minor(nextK8s) - semver.minor(prevK8s) > 1
    ) {
        return `cluster ${cluster}: Kubernetes ${from.kubernetes} → ${to.kubernetes} skips a minor version; upgrade one minor version per update`;
    }
    return undefined;
}

/** What Talos machines keep from their first boot: changing any of it orphans them (siderolabs/omni#613). */
export const IMMUTABLE_HUB_OUTPUTS = ["accountId", "machineApiUrl", "wireguardEndpoint"] as const;

/** Why the hub's new endpoints would orphan running machines, per output whose value changed. */
export function hubEndpointProblems(previous: Record<string, unknown>, next: Record<string, unknown>): string[] {
    return IMMUTABLE_HUB_OUTPUTS.flatMap((k) =>
        previous[k] === undefined || previous[k] === next[k]
            ? []
            : [
                  `${k} would change from ${JSON.stringify(previous[k])} to ${JSON.stringify(next[k])}: Talos machines keep it from their first boot and would lose Omni; keep the old value (or rebuild every cluster)`,
              ],
    );
}

import { readYaml } from "../core/yaml-read";
import { ClusterState, ClusterStatus, describeStatus, isClusterReady, resources, version } from "./omni-state";

/**
 * When a synced cluster is ready, judged against the template that was synced (siderolabs/omni v1.10.4):
 * - Omni's own judgement, what `omnictl cluster template status` runs (`client/pkg/template/operations/status.go`
 *   `render`): the ClusterStatus RUNNING and ready, every MachineSetStatus of the cluster Running and ready, the
 *   KubernetesUpgradeStatus and TalosUpgradeStatus (when present) Done.
 * - The template's own numbers, because those statuses are written by controllers after `sync` returns
 *   (`controllers/omni/cluster_status.go`, `internal/machineset/status_handler.go`): right after a sync they still
 *   describe the cluster before it. A MachineSetStatus copies its set's machine allocation (class, count), a
 *   ClusterStatus copies the cluster's versions and sums its sets' requested machines, an upgrade status that is Done
 *   records the version it finished at (`LastUpgradeVersion`). Until all of them match the template, the status is
 *   an old one.
 * No Pulumi SDK here: the cluster provider and the tests share it.
 */

type Doc = Record<string, any>;

/** MachineSetPhase (omni.proto). */
const SET_PHASES = [
    "Unknown",
    "ScalingUp",
    "ScalingDown",
    "Running",
    "Destroying",
    "Failed",
    "Reconfiguring",
    "Upgrading",
];
/** TalosUpgradeStatusSpec.Phase; KubernetesUpgradeStatusSpec.Phase is the same up to Reverting (omni.proto). */
const UPGRADE_PHASES = ["Unknown", "Upgrading", "Done", "Failed", "Reverting", "UpdatingMachineSchematics"];
/** Omni's id of the control-plane set (`client/pkg/omni/resources/omni/machine_set.go`). */
const CONTROL_PLANES = "control-planes";

const phaseName = (names: string[], value: unknown) =>
    typeof value === "number" ? (names[value] ?? String(value)) : String(value ?? names[0]);

export interface MachineSetObserved {
    id: string;
    phase: string;
    ready: boolean;
    error: string;
    machines: { total: number; healthy: number; requested: number };
    /** Copied from the MachineSet: the class it allocates from and how many (undefined: machines listed by hand). */
    allocation?: { machineClass: string; size: number | "Unlimited" };
}

export interface UpgradeObserved {
    phase: string;
    lastUpgradeVersion: string;
    step: string;
    status: string;
    error: string;
}

/** What Omni reports for a cluster at one moment; undefined: Omni holds no such resource (yet). */
export interface ClusterObserved {
    cluster?: ClusterStatus;
    machineSets: MachineSetObserved[];
    talosUpgrade?: UpgradeObserved;
    kubernetesUpgrade?: UpgradeObserved;
}

/** `omnictl get machinesetstatuses -l omni.sidero.dev/cluster=<id> -o yaml`. */
export function parseMachineSetStatuses(text: string): MachineSetObserved[] {
    return resources(text).map((r) => {
        const s = r.spec ?? {};
        const a = s.machineallocation;
        return {
            id: String(r.metadata?.id ?? ""),
            phase: phaseName(SET_PHASES, s.phase),
            ready: s.ready === true,
            error: String(s.error ?? ""),
            machines: {
                total: Number(s.machines?.total ?? 0),
                healthy: Number(s.machines?.healthy ?? 0),
                requested: Number(s.machines?.requested ?? 0),
            },
            allocation: a
                ? {
                      machineClass: String(a.name ?? ""),
                      size: Number(a.allocationtype ?? 0) === 1 ? "Unlimited" : Number(a.machinecount ?? 0),
                  }
                : undefined,
        };
    });
}

/** `omnictl get talosupgradestatuses|kubernetesupgradestatuses <cluster> -o yaml`. */
export function parseUpgradeStatus(text: string): UpgradeObserved {
    const s = ((readYaml(text) as Doc | null)?.spec ?? {}) as Doc;
    return {
        phase: phaseName(UPGRADE_PHASES, s.phase),
        lastUpgradeVersion: version(s.lastupgradeversion),
        step: String(s.step ?? ""),
        status: String(s.status ?? ""),
        error: String(s.error ?? ""),
    };
}

/** The template's sets by Omni id (`<cluster>-control-planes`, `<cluster>-<name>`). */
function templateSets(state: ClusterState) {
    return new Map([
        [`${state.name}-${CONTROL_PLANES}`, state.controlPlane],
        ...Object.entries(state.workers).map(([name, set]) => [`${state.name}-${name}`, set] as const),
    ]);
}

function upgradeGap(what: string, u: UpgradeObserved | undefined, want: string): string[] {
    if (!u) return [];
    if (u.phase === "Done" && u.lastUpgradeVersion === want) return [];
    if (u.phase === "Done") return [`${what} upgrade status still records ${u.lastUpgradeVersion} (template: ${want})`];
    const detail = [u.step, u.status, u.error].filter(Boolean).join(": ");
    return [`${what} upgrade ${u.phase}${detail ? ` (${detail})` : ""}`];
}

/**
 * What still differs from a cluster ready as the template says; empty when it is ready. Each entry says what Omni
 * reports and what the template asks for, for the progress lines and the timeout error.
 */
export function readinessGaps(state: ClusterState, o: ClusterObserved): string[] {
    if (!o.cluster) return ["Omni reports no cluster status yet"];
    const c = o.cluster;
    const gaps: string[] = [];
    if (c.talosVersion !== state.talosVersion)
        gaps.push(`the cluster status still shows Talos ${c.talosVersion} (template: ${state.talosVersion})`);
    if (c.kubernetesVersion !== state.kubernetesVersion)
        gaps.push(
            `the cluster status still shows Kubernetes ${c.kubernetesVersion} (template: ${state.kubernetesVersion})`,
        );
    const sets = templateSets(state);
    const sizes = [...sets.values()].map((s) => s.size);
    if (sizes.every((s): s is number => typeof s === "number")) {
        const requested = sizes.reduce((a, b) => a + b, 0);
        if (c.machines.requested !== requested)
            gaps.push(
                `the cluster status still counts ${c.machines.requested} requested machines (template: ${requested})`,
            );
    }
    if (!isClusterReady(c)) gaps.push(`cluster ${describeStatus(c)}`);
    for (const [id, set] of sets) {
        const ms = o.machineSets.find((m) => m.id === id);
        if (!ms) {
            gaps.push(`machine set ${id} has no status yet`);
            continue;
        }
        const size = set.size === "Unlimited" ? "Unlimited" : Number(set.size);
        if (set.machineClass && ms.allocation)
            if (ms.allocation.machineClass !== set.machineClass || ms.allocation.size !== size)
                gaps.push(
                    `machine set ${id} still allocates ${ms.allocation.size} from ${ms.allocation.machineClass} (template: ${size} from ${set.machineClass})`,
                );
        if (ms.phase !== "Running" || !ms.ready)
            gaps.push(
                `machine set ${id} ${ms.phase}, ${ms.machines.healthy}/${ms.machines.requested} healthy${ms.error ? `: ${ms.error}` : ""}`,
            );
    }
    // status.go watches every set labelled with the cluster: a removed set counts until Omni has destroyed it.
    for (const ms of o.machineSets)
        if (!sets.has(ms.id)) gaps.push(`machine set ${ms.id} (no longer in the template) is still ${ms.phase}`);
    gaps.push(...upgradeGap("Talos", o.talosUpgrade, state.talosVersion));
    gaps.push(...upgradeGap("Kubernetes", o.kubernetesUpgrade, state.kubernetesVersion));
    return gaps;
}

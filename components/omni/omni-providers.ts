import * as fs from "node:fs/promises";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import type * as pulumi from "@pulumi/pulumi";
import { ClusterObserved, parseMachineSetStatuses, parseUpgradeStatus, readinessGaps } from "./cluster-readiness";
import {
    CALL_TIMEOUT_MS,
    OmniAccessProps,
    omnictl,
    omnictlFailure,
    omnictlOrThrow,
    omnictlUntil,
    Run,
    withTempDir,
} from "./omnictl-run";
import {
    applyArgs,
    changedFields,
    CLUSTER_KIND,
    ClusterState,
    ClusterStatus,
    clusterState,
    DEFAULT_READY_TIMEOUT,
    deleteClusterArgs,
    deleteMachineClassArgs,
    describeChanges,
    describeStatus,
    driftRefused,
    dryRunTeardowns,
    exportClusterArgs,
    getClusterStatusArgs,
    getInfraProviderStatusArgs,
    getKubernetesUpgradeStatusArgs,
    getMachineClassArgs,
    getMachineRequestStatusesArgs,
    getMachineSetStatusesArgs,
    getTalosUpgradeStatusArgs,
    isNotFound,
    KubeconfigOptions,
    kubeconfigArgs,
    MACHINE_CLASS_KIND,
    MachineClassState,
    machineClassState,
    omniReasons,
    parseClusterStatus,
    readinessAdvice,
    readyTimeoutMs,
    syncClusterArgs,
    syncDryRunArgs,
    talosconfigArgs,
    teardownOf,
    teardownRefused,
} from "./omni-state";

export type { OmniAccessProps } from "./omnictl-run";

/**
 * Dynamic providers for Omni machine classes and clusters, over omnictl run as a child process (omnictl-run.ts). The
 * providers are module objects that capture no values, so the serialized provider holds code only: the Omni endpoint
 * and the service-account key reach them as (secret) resource inputs, in the environment of each omnictl run, and
 * never on a command line or in a file.
 */

/**
 * The version of the providers' code, an input of every resource they hold. The engine runs refresh and destroy with
 * the provider stored in the state, and the SDK's diff ignores a changed provider (pulumi/pulumi#16826): a new
 * version makes the first `up` after an upgrade a no-op update that stores the new code. Raise it with every change
 * to the providers' code (test/omni-cluster-lifecycle.test.ts fails until it is raised).
 */
export const OMNI_PROVIDER_VERSION = 4;

interface Versioned {
    /** OMNI_PROVIDER_VERSION when the resource was last written; absent on resources written before it existed. */
    providerVersion?: number;
}

/** Progress goes to the provider's stdout, which the engine shows as info diagnostics for a dynamic provider. */
const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Names the fields an update puts back or changes in Omni, in the `up` output. */
function sayChanges(what: string, prior: object, next: object) {
    const changes = changedFields(prior, next, "state");
    if (Object.keys(changes).length > 0) say(`${what}: applying ${describeChanges(changes)}`);
}
/** Poll every 10 s, or 20 times over a shorter timeout. */
const pollMs = (timeoutMs: number) => Math.max(50, Math.min(10_000, timeoutMs / 20));
/** The deadline of a call that is no wait: transient failures are retried this long. */
const callDeadline = () => Date.now() + CALL_TIMEOUT_MS;
/** The engine's gRPC struct holds no `undefined`: leave such fields out of what is returned. */
const defined = <T extends object>(o: T): T =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

async function withFile<T>(content: string, fn: (file: string) => Promise<T>): Promise<T> {
    return withTempDir(async (dir) => {
        const file = path.join(dir, "resource.yaml");
        await fs.writeFile(file, content, { mode: 0o600 });
        return fn(file);
    });
}

/** A resource Omni may not hold: its text, undefined on NotFound, an error (with the fix for a refused key) otherwise. */
async function getOptional(args: string[], access: OmniAccessProps, deadline: number): Promise<string | undefined> {
    const run = await omnictlUntil(args, access, deadline, say);
    if (run.code === 0) return run.stdout;
    if (isNotFound(run.stderr)) return undefined;
    throw omnictlFailure(args, run);
}

/** What a resource that already exists in Omni but differs from the stack must not silently become. */
function adoptionRefused(what: string, changes: Record<string, unknown>, show: string): Error {
    return new Error(
        `${what} already exists in Omni and differs from the stack in ${describeChanges(changes as any)}. ` +
            `It is not overwritten on a first apply: make the stack file match what Omni holds (${show} shows it), ` +
            `run \`pulumi up\` to adopt it unchanged, then change it in a later \`up\`.`,
    );
}

/** A renewed automation key (or a moved endpoint) must reach the state: refresh and delete run with what it holds. */
const accessChanged = (olds: OmniAccessProps, news: OmniAccessProps) =>
    olds.omniEndpoint !== news.omniEndpoint || olds.serviceAccountKey !== news.serviceAccountKey;

// ---- machine classes ----

export interface MachineClassProps extends OmniAccessProps, Versioned {
    kind: typeof MACHINE_CLASS_KIND;
    /** The class id (`id` itself is reserved for the resource's id). */
    classId: string;
    providerId: string;
    yaml: string;
    state: MachineClassState;
    providerTimeoutSeconds: number;
}

async function readMachineClass(id: string, access: OmniAccessProps, deadline = callDeadline()) {
    const text = await getOptional(getMachineClassArgs(id), access, deadline);
    return text === undefined ? undefined : machineClassState(text);
}

/**
 * Omni refuses an auto-provision class until its provider has registered (omni v1.10.4
 * `internal/backend/runtime/omni/validations/machine_class.go`): wait for `InfraProviderStatuses/<id>`.
 */
async function waitForProvider(p: MachineClassProps): Promise<void> {
    const deadline = Date.now() + p.providerTimeoutSeconds * 1000;
    const args = getInfraProviderStatusArgs(p.providerId);
    for (let attempt = 0; ; attempt++) {
        const run = await omnictlUntil(args, p, deadline, say);
        if (run.code === 0) return;
        if (!isNotFound(run.stderr) && !(run.timedOut && Date.now() >= deadline)) throw omnictlFailure(args, run);
        if (attempt === 0)
            say(
                `machine class ${p.classId}: waiting up to ${p.providerTimeoutSeconds}s for infra provider ${p.providerId} to register with Omni`,
            );
        if (Date.now() >= deadline)
            throw new Error(
                `infra provider ${p.providerId} has not registered with Omni within ${p.providerTimeoutSeconds}s (no InfraProviderStatuses.omni.sidero.dev/${p.providerId}), and Omni refuses its machine classes until it does. ` +
                    `Check: the provider container runs and logs no error (docker logs on the provider LXC); its --id is ${p.providerId}; it reaches Omni's API URL; its key is the one \`omnictl infraprovider create ${p.providerId}\` printed. ` +
                    `omnictl said: ${run.stderr.trim()}`,
            );
        await sleep(Math.min(pollMs(p.providerTimeoutSeconds * 1000), Math.max(0, deadline - Date.now())));
    }
}

async function applyMachineClass(p: MachineClassProps) {
    await waitForProvider(p);
    await withFile(p.yaml, (file) => omnictlOrThrow(applyArgs(file), p, callDeadline(), say));
    const state = await readMachineClass(p.classId, p);
    if (!state) throw new Error(`machine class ${p.classId} was applied but Omni does not return it`);
    return { ...p, state };
}

export const machineClassProvider: pulumi.dynamic.ResourceProvider<MachineClassProps, MachineClassProps> = {
    /** An existing identical class is adopted without a write; a different one is refused (no silent overwrite). */
    async create(inputs) {
        const existing = await readMachineClass(inputs.classId, inputs);
        if (existing) {
            const changes = changedFields(existing, inputs.state, "state");
            if (Object.keys(changes).length > 0)
                throw adoptionRefused(
                    `machine class ${inputs.classId}`,
                    changes,
                    `omnictl get machineclasses ${inputs.classId} -o yaml`,
                );
            say(`machine class ${inputs.classId}: adopted as Omni holds it; nothing applied`);
            return { id: inputs.classId, outs: { ...inputs, state: existing } };
        }
        return { id: inputs.classId, outs: await applyMachineClass(inputs) };
    },
    /** `pulumi refresh`: Omni's version becomes the state and the inputs, so the next preview shows what `up` puts back. */
    async read(id, props) {
        if (!props) throw new Error(`machine class ${id}: nothing to read with (no inputs)`);
        const state = await readMachineClass(id, props);
        if (!state) return {};
        const next = { ...props, state };
        return { id, props: next, inputs: next };
    },
    async diff(_id, olds, news) {
        if (olds.classId !== news.classId) return { changes: true, replaces: ["classId"] };
        const changed =
            !isDeepStrictEqual(olds.state, news.state) ||
            olds.providerTimeoutSeconds !== news.providerTimeoutSeconds ||
            olds.providerVersion !== news.providerVersion ||
            accessChanged(olds, news);
        return { changes: changed };
    },
    async update(_id, olds, news) {
        // Only the access, the wait or the provider's code changed: keep them, apply nothing.
        if (isDeepStrictEqual(olds.state, news.state)) return { outs: { ...news, state: olds.state } };
        sayChanges(`machine class ${news.classId}`, olds.state, news.state);
        return { outs: await applyMachineClass(news) };
    },
    async delete(id, props) {
        const args = deleteMachineClassArgs(id);
        const run = await omnictlUntil(args, props, callDeadline(), say);
        if (run.code !== 0 && !isNotFound(run.stderr)) throw omnictlFailure(args, run);
    },
};

// ---- clusters ----

export interface ClusterProps extends OmniAccessProps, Versioned {
    kind: typeof CLUSTER_KIND;
    name: string;
    yaml: string;
    state: ClusterState;
    readyTimeout: string;
    kubeconfigOptions: KubeconfigOptions;
    /** Bump to issue a new kubeconfig (and talosconfig). */
    kubeconfigRotation: number;
    /** A sync may tear down machine sets, patches, manifests and healthchecks the template no longer lists. */
    allowRemovals?: boolean;
    /** Destroy passes `--destroy-disconnected-machines`. */
    destroyDisconnectedMachines?: boolean;
    status?: ClusterStatus;
    kubeconfig?: string;
    talosconfig?: string;
    /**
     * Why the last create or update did not finish after it synced (recorded with the state as a partial failure);
     * the next `up` waits again.
     */
    unfinished?: string;
}

/** Outputs only: never inputs for the next diff. */
const OUTPUT_ONLY = ["status", "kubeconfig", "talosconfig", "unfinished"] as const;

async function readCluster(name: string, access: OmniAccessProps, deadline = callDeadline()) {
    const text = await getOptional(exportClusterArgs(name), access, deadline);
    return text === undefined ? undefined : clusterState(text);
}

async function clusterStatus(name: string, access: OmniAccessProps): Promise<ClusterStatus> {
    return parseClusterStatus(await omnictlOrThrow(getClusterStatusArgs(name), access, callDeadline(), say));
}

/** Everything Omni's `cluster template status` looks at, read once (each call bounded by the deadline). */
async function observe(name: string, access: OmniAccessProps, deadline: number): Promise<ClusterObserved> {
    const cluster = await getOptional(getClusterStatusArgs(name), access, deadline);
    const sets = await getOptional(getMachineSetStatusesArgs(name), access, deadline);
    const talos = await getOptional(getTalosUpgradeStatusArgs(name), access, deadline);
    const kubernetes = await getOptional(getKubernetesUpgradeStatusArgs(name), access, deadline);
    return {
        cluster: cluster === undefined ? undefined : parseClusterStatus(cluster),
        machineSets: parseMachineSetStatuses(sets ?? ""),
        talosUpgrade: talos === undefined ? undefined : parseUpgradeStatus(talos),
        kubernetesUpgrade: kubernetes === undefined ? undefined : parseUpgradeStatus(kubernetes),
    };
}

/** One diagnostic read after a wait failed: a short, single attempt. */
async function diagnostic(args: string[], access: OmniAccessProps): Promise<string> {
    const run: Run = await omnictl(args, access, 15_000);
    return run.code === 0 ? run.stdout : "";
}

/**
 * Waits until the cluster is ready as the template `p.state` says (cluster-readiness.ts: Omni's own judgement and
 * the template's numbers, so a status from before the sync never counts), printing each change. On timeout it fails
 * with Omni's own reasons: the cluster's machine requests (the infra provider's errors) and machine-set errors.
 */
async function waitForCluster(p: ClusterProps, deadline: number): Promise<ClusterStatus> {
    let last = "";
    for (;;) {
        let observed: ClusterObserved;
        try {
            observed = await observe(p.name, p, deadline);
        } catch (e) {
            if (Date.now() < deadline) throw e;
            throw notReady(p, `${last || "nothing read yet"}; then ${(e as Error).message}`, []);
        }
        const gaps = readinessGaps(p.state, observed);
        const line =
            gaps.length === 0 ? `ready as the template says: ${describeStatus(observed.cluster!)}` : gaps.join("; ");
        if (line !== last) say(`cluster ${p.name}: ${line}`);
        last = line;
        if (gaps.length === 0) return observed.cluster!;
        if (Date.now() >= deadline) {
            const reasons = omniReasons(
                await diagnostic(getMachineRequestStatusesArgs(p.name), p),
                await diagnostic(getMachineSetStatusesArgs(p.name), p),
            );
            throw notReady(p, line, reasons);
        }
        await sleep(Math.min(pollMs(readyTimeoutMs(p.readyTimeout)), Math.max(0, deadline - Date.now())));
    }
}

function notReady(p: ClusterProps, line: string, reasons: string[]): Error {
    return new Error(
        `cluster ${p.name} is not ready after ${p.readyTimeout} (readyTimeout): ${line}. ` +
            (reasons.length > 0 ? `Omni says: ${reasons.join("; ")}. ` : "Omni reports no error. ") +
            `${readinessAdvice(reasons)}. The template is synced: \`pulumi up\` again waits again; raise readyTimeout for slow hardware.`,
    );
}

/** A service-account kubeconfig and the cluster's talosconfig, read from the files omnictl writes. */
async function clusterConfigs(p: ClusterProps): Promise<{ kubeconfig: string; talosconfig: string }> {
    return withTempDir(async (dir) => {
        const kube = path.join(dir, "kubeconfig");
        const talos = path.join(dir, "talosconfig");
        await omnictlOrThrow(kubeconfigArgs(p.name, kube, p.kubeconfigOptions), p, callDeadline(), say);
        await omnictlOrThrow(talosconfigArgs(p.name, talos), p, callDeadline(), say);
        return { kubeconfig: await fs.readFile(kube, "utf8"), talosconfig: await fs.readFile(talos, "utf8") };
    });
}

/**
 * An error the dynamic-provider host records as a partial failure (cmd/dynamic-provider `grpcResponseFromError`:
 * an error with `id` becomes ErrorResourceInitFailed with `properties` and `reasons`): the engine stores the resource
 * with these outputs and runs an update on the next `up` even without a change (step_generator.go, InitErrors).
 */
function partialFailure(p: ClusterProps, cause: unknown, recorded: Partial<ClusterProps>): Error {
    const message =
        `${(cause as Error).message ?? String(cause)} ` +
        `Pulumi recorded cluster ${p.name} as Omni holds it: the next \`pulumi up\` waits again and applies any change you make.`;
    // `p` carries the host's `__provider`, which refresh and destroy need from the stored properties.
    const properties = JSON.parse(JSON.stringify({ ...p, ...recorded, unfinished: message }));
    return Object.assign(new Error(message), { id: p.name, properties, reasons: [message] });
}

const kubeconfigSettingsChanged = (olds: ClusterProps, news: ClusterProps) =>
    olds.kubeconfigRotation !== news.kubeconfigRotation ||
    !isDeepStrictEqual(olds.kubeconfigOptions, news.kubeconfigOptions);

/** Syncs the template; a failed sync that left the cluster in Omni is recorded as Omni exports it. */
async function sync(p: ClusterProps, deadline: number, before: Partial<ClusterProps>): Promise<void> {
    try {
        await withFile(p.yaml, (file) => omnictlOrThrow(syncClusterArgs(file), p, deadline, say));
    } catch (e) {
        const held = await readCluster(p.name, p).catch(() => undefined);
        if (held) throw partialFailure(p, e, { ...before, state: held });
        throw e;
    }
}

/** After a sync (or to finish an earlier one): wait, read back, issue configs; a failure is recorded, not lost. */
async function finish(p: ClusterProps, deadline: number, before: Partial<ClusterProps>, configs: boolean) {
    let status = before.status;
    try {
        status = await waitForCluster(p, deadline);
        const state = await readCluster(p.name, p);
        if (!state) throw new Error(`cluster ${p.name} was synced but Omni does not export it.`);
        const issued = configs
            ? await clusterConfigs(p)
            : { kubeconfig: before.kubeconfig ?? "", talosconfig: before.talosconfig ?? "" };
        return defined({ ...p, state, status, ...issued, unfinished: undefined });
    } catch (e) {
        throw partialFailure(p, e, { ...before, state: p.state, status });
    }
}

/**
 * Before a sync replaces `olds`: Omni still holds what the state says (else a sync would undo or delete changes made
 * in Omni), and the sync tears down nothing unless the cluster allows removals (by the state, and by Omni's own dry run).
 */
async function guardSync(olds: ClusterProps, news: ClusterProps, deadline: number) {
    const held = await readCluster(news.name, news, deadline);
    if (!held)
        throw new Error(
            `cluster ${news.name} is in the state but no longer in Omni: run \`pulumi refresh\` (it drops the cluster from the state), then \`pulumi up\` creates it again.`,
        );
    const drift = changedFields(olds.state, held, "state");
    if (Object.keys(drift).length > 0) throw new Error(driftRefused(news.name, drift));
    if (news.allowRemovals) return;
    const dryRun = await withFile(news.yaml, (file) => omnictlOrThrow(syncDryRunArgs(file), news, deadline, say));
    const omniSays = dryRunTeardowns(dryRun);
    const removed = omniSays.length > 0 ? omniSays : teardownOf(olds.state, news.state);
    if (removed.length > 0) throw new Error(teardownRefused(news.name, removed));
}

export const clusterProvider: pulumi.dynamic.ResourceProvider<ClusterProps, ClusterProps> = {
    /** Refused at preview already: an update that would tear down sets, patches, manifests or healthchecks. */
    async check(olds, news) {
        const same = olds?.state && olds.name === news.name && !news.allowRemovals;
        const removed = same ? teardownOf(olds.state, news.state) : [];
        return {
            inputs: news,
            failures: removed.length > 0 ? [{ property: "state", reason: teardownRefused(news.name, removed) }] : [],
        };
    },
    async create(inputs) {
        const deadline = Date.now() + readyTimeoutMs(inputs.readyTimeout);
        const existing = await readCluster(inputs.name, inputs, deadline);
        if (existing) {
            const changes = changedFields(existing, inputs.state, "state");
            if (Object.keys(changes).length > 0)
                throw adoptionRefused(
                    `cluster ${inputs.name}`,
                    changes,
                    `omnictl cluster template export -c ${inputs.name}`,
                );
            say(`cluster ${inputs.name}: adopted as Omni holds it; nothing synced`);
        } else {
            await sync(inputs, deadline, {});
        }
        return { id: inputs.name, outs: await finish(inputs, deadline, {}, true) };
    },
    async read(id, props) {
        if (!props) throw new Error(`cluster ${id}: nothing to read with (no inputs)`);
        const state = await readCluster(id, props);
        if (!state) return {};
        const inputs: Partial<ClusterProps> = { ...props };
        for (const key of OUTPUT_ONLY) delete inputs[key];
        // A status Omni cannot give right now (e.g. a cluster being torn down) keeps the last one.
        const status = await clusterStatus(id, props).catch(() => props.status);
        return { id, props: defined({ ...props, state, status }), inputs: { ...(inputs as ClusterProps), state } };
    },
    async diff(_id, olds, news) {
        if (olds.name !== news.name) return { changes: true, replaces: ["name"] };
        const changed =
            !isDeepStrictEqual(olds.state, news.state) ||
            olds.readyTimeout !== news.readyTimeout ||
            olds.allowRemovals !== news.allowRemovals ||
            olds.destroyDisconnectedMachines !== news.destroyDisconnectedMachines ||
            olds.providerVersion !== news.providerVersion ||
            kubeconfigSettingsChanged(olds, news) ||
            accessChanged(olds, news);
        return { changes: changed };
    },
    async update(_id, olds, news) {
        const configs = kubeconfigSettingsChanged(olds, news) || !olds.kubeconfig;
        const before = { status: olds.status, kubeconfig: olds.kubeconfig, talosconfig: olds.talosconfig };
        const resync = !isDeepStrictEqual(olds.state, news.state);
        if (!resync && !olds.unfinished) {
            // Access, wait, kubeconfig settings or the provider's code: nothing to sync.
            const status = await clusterStatus(news.name, news);
            const issued = configs
                ? await clusterConfigs(news)
                : { kubeconfig: olds.kubeconfig!, talosconfig: olds.talosconfig ?? "" };
            return { outs: defined({ ...news, state: olds.state, status, ...issued }) };
        }
        const deadline = Date.now() + readyTimeoutMs(news.readyTimeout);
        if (resync) {
            await guardSync(olds, news, deadline);
            sayChanges(`cluster ${news.name}`, olds.state, news.state);
            await sync(news, deadline, before);
        } else say(`cluster ${news.name}: the last \`up\` did not finish (${olds.unfinished}); waiting again`);
        return { outs: await finish(news, deadline, before, configs) };
    },
    /**
     * Deletes what the last synced template created (its machines are released, the VMs deprovisioned), waiting at
     * most readyTimeout for Omni to tear it down.
     */
    async delete(_id, props) {
        const timeout = props.readyTimeout ?? DEFAULT_READY_TIMEOUT;
        const deadline = Date.now() + readyTimeoutMs(timeout);
        const run = await withFile(props.yaml, (file) =>
            omnictlUntil(deleteClusterArgs(file, props.destroyDisconnectedMachines === true), props, deadline, say),
        );
        if (run.code === 0 || isNotFound(run.stderr)) return;
        if (run.timedOut)
            throw new Error(
                `cluster ${props.name} is not torn down after ${timeout} (readyTimeout): Omni is still releasing its machines. ` +
                    "Run `pulumi destroy` again to wait again. A machine that is disconnected never finishes: set " +
                    "destroyDisconnectedMachines: true on the cluster, run `pulumi up` (it stores the option), then `pulumi destroy`.",
            );
        throw omnictlFailure(["cluster", "template", "delete"], run);
    },
};

import { execFile } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import type * as pulumi from "@pulumi/pulumi";
import {
    applyArgs,
    changedFields,
    CLUSTER_KIND,
    ClusterState,
    ClusterStatus,
    clusterState,
    deleteClusterArgs,
    deleteMachineClassArgs,
    describeChanges,
    describeStatus,
    exportClusterArgs,
    getClusterStatusArgs,
    getInfraProviderStatusArgs,
    getMachineClassArgs,
    getMachineRequestStatusesArgs,
    getMachineSetStatusesArgs,
    isClusterReady,
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
    talosconfigArgs,
} from "./omni-state";

/**
 * Dynamic providers for Omni machine classes and clusters, over omnictl run as a child process. The providers
 * are module objects that capture no values, so the serialized provider holds code only: the Omni endpoint and the
 * service-account key reach them as (secret) resource inputs, in the environment of each omnictl run, and never
 * on a command line or in a file.
 */

export interface OmniAccessProps {
    omniEndpoint: string;
    serviceAccountKey: string;
}

interface Run {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs omnictl with the access in its environment. A key in SIDERO_SERVICE_ACCOUNT_KEY would win over ours (go-api-signature serviceaccount.GetFromEnv). */
export function omnictl(args: string[], access: OmniAccessProps): Promise<Run> {
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        OMNI_ENDPOINT: access.omniEndpoint,
        OMNI_SERVICE_ACCOUNT_KEY: access.serviceAccountKey,
    };
    delete env.SIDERO_SERVICE_ACCOUNT_KEY;
    return new Promise((resolve) => {
        execFile("omnictl", args, { env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
            const code = error ? (typeof error.code === "number" ? error.code : 127) : 0;
            resolve({
                code,
                stdout: String(stdout),
                stderr: String(stderr || (error && code === 127 ? error.message : "")),
            });
        });
    });
}

async function omnictlOrThrow(args: string[], access: OmniAccessProps): Promise<string> {
    const run = await omnictl(args, access);
    if (run.code !== 0)
        throw new Error(`omnictl ${args.slice(0, 3).join(" ")} failed: ${run.stderr.trim() || run.stdout.trim()}`);
    return run.stdout;
}

/** Runs `fn` with a private temp dir (mode 0700), removed afterwards: omnictl reads templates and writes configs only as files. */
async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "omni-scale-"));
    try {
        return await fn(dir);
    } finally {
        await fs.rm(dir, { recursive: true, force: true });
    }
}

async function withFile<T>(content: string, fn: (file: string) => Promise<T>): Promise<T> {
    return withTempDir(async (dir) => {
        const file = path.join(dir, "resource.yaml");
        await fs.writeFile(file, content, { mode: 0o600 });
        return fn(file);
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Progress goes to the provider's stdout, which the engine shows as info diagnostics for a dynamic provider. */
const say = (line: string) => process.stdout.write(`${line}\n`);
/** Names the fields an update puts back or changes in Omni, in the `up` output. */
function sayChanges(what: string, prior: object, next: object) {
    const changes = changedFields(prior, next, "state");
    if (Object.keys(changes).length > 0) say(`${what}: applying ${describeChanges(changes)}`);
}
/** Poll every 10 s, or 20 times over a shorter timeout. */
const pollMs = (timeoutMs: number) => Math.max(50, Math.min(10_000, timeoutMs / 20));

// ---- machine classes ----

export interface MachineClassProps extends OmniAccessProps {
    kind: typeof MACHINE_CLASS_KIND;
    /** The class id (`id` itself is reserved for the resource's id). */
    classId: string;
    providerId: string;
    yaml: string;
    state: MachineClassState;
    providerTimeoutSeconds: number;
}

async function readMachineClass(id: string, access: OmniAccessProps) {
    const run = await omnictl(getMachineClassArgs(id), access);
    if (run.code !== 0) {
        if (isNotFound(run.stderr)) return undefined;
        throw new Error(`omnictl get machineclasses ${id} failed: ${run.stderr.trim()}`);
    }
    return machineClassState(run.stdout);
}

/**
 * Omni refuses an auto-provision class until its provider has registered (omni v1.10.4
 * `internal/backend/runtime/omni/validations/machine_class.go`): wait for `InfraProviderStatuses/<id>`.
 */
async function waitForProvider(p: MachineClassProps): Promise<void> {
    const deadline = Date.now() + p.providerTimeoutSeconds * 1000;
    for (let attempt = 0; ; attempt++) {
        const run = await omnictl(getInfraProviderStatusArgs(p.providerId), p);
        if (run.code === 0) return;
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
        await sleep(pollMs(p.providerTimeoutSeconds * 1000));
    }
}

async function applyMachineClass(p: MachineClassProps) {
    await waitForProvider(p);
    await withFile(p.yaml, (file) => omnictlOrThrow(applyArgs(file), p));
    const state = await readMachineClass(p.classId, p);
    if (!state) throw new Error(`machine class ${p.classId} was applied but Omni does not return it`);
    return { ...p, state };
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
            accessChanged(olds, news);
        return { changes: changed };
    },
    async update(_id, olds, news) {
        // Only the access (or the wait) changed: keep it, apply nothing.
        if (isDeepStrictEqual(olds.state, news.state)) return { outs: { ...news, state: olds.state } };
        sayChanges(`machine class ${news.classId}`, olds.state, news.state);
        return { outs: await applyMachineClass(news) };
    },
    async delete(id, props) {
        const run = await omnictl(deleteMachineClassArgs(id), props);
        if (run.code !== 0 && !isNotFound(run.stderr))
            throw new Error(`omnictl delete machineclasses ${id} failed: ${run.stderr.trim()}`);
    },
};

// ---- clusters ----

export interface ClusterProps extends OmniAccessProps {
    kind: typeof CLUSTER_KIND;
    name: string;
    yaml: string;
    state: ClusterState;
    readyTimeout: string;
    kubeconfigOptions: KubeconfigOptions;
    /** Bump to issue a new kubeconfig (and talosconfig). */
    kubeconfigRotation: number;
    status?: ClusterStatus;
    kubeconfig?: string;
    talosconfig?: string;
}

async function readCluster(name: string, access: OmniAccessProps) {
    const run = await omnictl(exportClusterArgs(name), access);
    if (run.code !== 0) {
        if (isNotFound(run.stderr)) return undefined;
        throw new Error(`omnictl cluster template export -c ${name} failed: ${run.stderr.trim()}`);
    }
    return clusterState(run.stdout);
}

export async function clusterStatus(name: string, access: OmniAccessProps): Promise<ClusterStatus> {
    return parseClusterStatus(await omnictlOrThrow(getClusterStatusArgs(name), access));
}

/**
 * Waits until Omni reports the cluster ready (ClusterStatus: phase RUNNING, ready, Kubernetes API ready, every
 * requested machine healthy), printing each change of status. On timeout it fails with Omni's own reasons: the
 * cluster's machine requests (the infra provider's errors) and machine-set errors.
 */
export async function waitForCluster(name: string, access: OmniAccessProps, timeout: string): Promise<ClusterStatus> {
    const timeoutMs = readyTimeoutMs(timeout);
    const deadline = Date.now() + timeoutMs;
    let last = "";
    for (;;) {
        // Right after a sync Omni may not have written the cluster's status yet.
        const run = await omnictl(getClusterStatusArgs(name), access);
        if (run.code !== 0 && !isNotFound(run.stderr))
            throw new Error(`omnictl get clusterstatuses ${name} failed: ${run.stderr.trim()}`);
        const status = run.code === 0 ? parseClusterStatus(run.stdout) : undefined;
        const line = status ? describeStatus(status) : "Omni reports no status yet";
        if (line !== last) say(`cluster ${name}: ${line}`);
        last = line;
        if (status && isClusterReady(status)) return status;
        if (Date.now() >= deadline) {
            const reasons = omniReasons(
                (await omnictl(getMachineRequestStatusesArgs(name), access)).stdout,
                (await omnictl(getMachineSetStatusesArgs(name), access)).stdout,
            );
            throw new Error(
                `cluster ${name} is not ready after ${timeout} (readyTimeout): ${line}. ` +
                    (reasons.length > 0 ? `Omni says: ${reasons.join("; ")}. ` : "Omni reports no error. ") +
                    `${readinessAdvice(reasons)}. The template is synced: \`pulumi up\` again waits again; raise readyTimeout for slow hardware.`,
            );
        }
        await sleep(pollMs(timeoutMs));
    }
}

/** A service-account kubeconfig and the cluster's talosconfig, read from the files omnictl writes. */
async function clusterConfigs(p: ClusterProps): Promise<{ kubeconfig: string; talosconfig: string }> {
    return withTempDir(async (dir) => {
        const kube = path.join(dir, "kubeconfig");
        const talos = path.join(dir, "talosconfig");
        await omnictlOrThrow(kubeconfigArgs(p.name, kube, p.kubeconfigOptions), p);
        await omnictlOrThrow(talosconfigArgs(p.name, talos), p);
        return { kubeconfig: await fs.readFile(kube, "utf8"), talosconfig: await fs.readFile(talos, "utf8") };
    });
}

async function syncAndWait(p: ClusterProps): Promise<ClusterProps> {
    await withFile(p.yaml, (file) => omnictlOrThrow(syncClusterArgs(file), p));
    const status = await waitForCluster(p.name, p, p.readyTimeout);
    const state = await readCluster(p.name, p);
    if (!state) throw new Error(`cluster ${p.name} was synced but Omni does not export it`);
    return { ...p, state, status };
}

const kubeconfigSettingsChanged = (olds: ClusterProps, news: ClusterProps) =>
    olds.kubeconfigRotation !== news.kubeconfigRotation ||
    !isDeepStrictEqual(olds.kubeconfigOptions, news.kubeconfigOptions);

export const clusterProvider: pulumi.dynamic.ResourceProvider<ClusterProps, ClusterProps> = {
    async create(inputs) {
        const existing = await readCluster(inputs.name, inputs);
        let outs: ClusterProps;
        if (existing) {
            const changes = changedFields(existing, inputs.state, "state");
            if (Object.keys(changes).length > 0)
                throw adoptionRefused(
                    `cluster ${inputs.name}`,
                    changes,
                    `omnictl cluster template export -c ${inputs.name}`,
                );
            say(`cluster ${inputs.name}: adopted as Omni holds it; nothing synced`);
            outs = {
                ...inputs,
                state: existing,
                status: await waitForCluster(inputs.name, inputs, inputs.readyTimeout),
            };
        } else {
            outs = await syncAndWait(inputs);
        }
        return { id: inputs.name, outs: { ...outs, ...(await clusterConfigs(outs)) } };
    },
    async read(id, props) {
        if (!props) throw new Error(`cluster ${id}: nothing to read with (no inputs)`);
        const state = await readCluster(id, props);
        if (!state) return {};
        const { kubeconfig, talosconfig, status: last, ...inputs } = props;
        // A status Omni cannot give right now (e.g. a cluster being torn down) keeps the last one.
        const status = await clusterStatus(id, props).catch(() => last);
        return { id, props: { ...props, state, status }, inputs: { ...inputs, state } };
    },
    async diff(_id, olds, news) {
        if (olds.name !== news.name) return { changes: true, replaces: ["name"] };
        const changed =
            !isDeepStrictEqual(olds.state, news.state) ||
            olds.readyTimeout !== news.readyTimeout ||
            kubeconfigSettingsChanged(olds, news) ||
            accessChanged(olds, news);
        return { changes: changed };
    },
    async update(_id, olds, news) {
        sayChanges(`cluster ${news.name}`, olds.state, news.state);
        const synced = isDeepStrictEqual(olds.state, news.state)
            ? { ...news, state: olds.state, status: await clusterStatus(news.name, news) }
            : await syncAndWait(news);
        const configs =
            kubeconfigSettingsChanged(olds, news) || !olds.kubeconfig
                ? await clusterConfigs(synced)
                : { kubeconfig: olds.kubeconfig, talosconfig: olds.talosconfig ?? "" };
        return { outs: { ...synced, ...configs } };
    },
    /** Deletes what the last synced template created (its machines are released, the VMs deprovisioned). */
    async delete(_id, props) {
        await withFile(props.yaml, (file) => omnictlOrThrow(deleteClusterArgs(file), props));
    },
};

import * as pulumi from "@pulumi/pulumi";
import { Mocks } from "@pulumi/pulumi/runtime";
import { offlineMocks, SimulatedValue, StackReferenceOutputs } from "./mocks";
import { trackPromisesUntagged } from "./promise-tags";

/** Wire signature the Pulumi SDK puts on secret values (`PUL/runtime/rpc.js`). */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** One registration the program made, as the engine would have received it. */
export interface CapturedResource {
    type: string;
    name: string;
    urn: string;
    /** Parent URN, absent for the root stack. */
    parent?: string;
    custom: boolean;
    /** Inputs in wire form: secrets are still wrapped (see `isSecret`, `unwrapSecrets`, `maskSecrets`). */
    inputs: Record<string, unknown>;
    /** Outputs the mock returned (wire form). */
    state: Record<string, unknown>;
    protect: boolean;
    retainOnDelete: boolean;
    /** URNs of explicit and implicit dependencies, as the SDK sends them. */
    dependsOn: string[];
    /** Per-property dependencies (property → URNs). */
    propertyDependencies: Record<string, string[]>;
    ignoreChanges: string[];
    /** URN of the resource whose deletion also deletes this one. */
    deletedWith?: string;
    deleteBeforeReplace: boolean;
    additionalSecretOutputs: string[];
    /** `urn::id` of the explicit provider, when one was given. */
    provider?: string;
    /** The `import` option: the id of an existing resource the engine adopts instead of creating one. */
    importId?: string;
    /** True for reads (StackReference), which the engine does not analyze. */
    read: boolean;
}

export interface RunOptions {
    project?: string;
    stack: string;
    /** Config as the CLI would pass it: `project:key` → string (objects JSON-encoded). */
    config?: Record<string, string>;
    secretKeys?: string[];
    /** Outputs to serve for StackReferences, keyed by the referenced stack name. */
    stackReferences?: Record<string, StackReferenceOutputs>;
    preview?: boolean;
    /** Replace the offline mocks (tests of the capture itself). */
    mocks?: Mocks;
    /** Called with each registration as it is captured (the plan analyzes it then, as the engine does). */
    onRegistered?: (r: CapturedResource) => void;
    /** Receives the program's `pulumi.log` messages instead of the console (where the SDK prints them under mocks). */
    onLog?: (severity: LogSeverity, message: string) => void;
}

export type LogSeverity = "debug" | "info" | "warn" | "error";

export interface RunResult {
    resources: CapturedResource[];
    outputs: Record<string, unknown>;
    /** What the offline mocks made up (empty under other mocks). */
    simulated: SimulatedValue[];
}

// The SDK's promises without the tags only its leak report under PULUMI_DEBUG_PROMISE_LEAKS reads (promise-tags.ts).
trackPromisesUntagged();

/**
 * The SDK takes a whole stack trace for every resource it registers (`Resource.callsites`, Error.stackTraceLimit
 * Infinity, every frame mapped to its TypeScript line) to send the engine the resource's source position. Mocks
 * receive it and nothing here reads it; taking them was about a tenth of a matrix plan's own time. Under these mocks a
 * resource has no source position.
 */
function skipUnreadSourcePositions(): void {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { Resource } = require("@pulumi/pulumi/resource") as { Resource: { callsites(): unknown[] } };
    Resource.callsites = () => [];
}
skipUnreadSourcePositions();

// The SDK keeps its runtime in module globals, so runs must not interleave.
let running: Promise<unknown> = Promise.resolve();

/**
 * Runs a stack program under `pulumi.runtime.setMocks` and captures every registration with its options.
 * The same function serves the offline plan, the stack tests and the benchmark.
 */
export function runProgram(
    program: () => Promise<Record<string, unknown> | void> | Record<string, unknown> | void,
    opts: RunOptions,
): Promise<RunResult> {
    const run = running.then(() => runExclusive(program, opts));
    running = run.catch(() => undefined);
    return run;
}

async function runExclusive(program: () => unknown, opts: RunOptions): Promise<RunResult> {
    const project = opts.project ?? "omni-scale";
    const simulated: SimulatedValue[] = [];
    await pulumi.runtime.setMocks(
        opts.mocks ?? offlineMocks(opts.stackReferences ?? {}, simulated),
        project,
        opts.stack,
        opts.preview ?? false,
        "organization",
    );
    pulumi.runtime.setAllConfig(opts.config ?? {}, opts.secretKeys ?? []);

    const resources: CapturedResource[] = [];
    const monitor = pulumi.runtime.getMonitor() as any;
    const capture = (method: "registerResource" | "readResource") => {
        const original = monitor[method].bind(monitor);
        monitor[method] = (req: any, callback: (err: unknown, resp?: any) => void) =>
            original(req, (err: unknown, resp?: any) => {
                if (!err && resp) {
                    const captured = toCaptured(req, resp, method === "readResource");
                    resources.push(captured);
                    opts.onRegistered?.(captured);
                }
                callback(err, resp);
            });
    };
    capture("registerResource");
    capture("readResource");

    // An error inside an apply (e.g. a missing StackReference output) fails `pulumi up`; under mocks it only
    // surfaces as an unhandled rejection, so collect those and fail the run with them.
    const failures: unknown[] = [];
    const onRejection = (reason: unknown) => {
        failures.push(reason);
    };
    process.on("unhandledRejection", onRejection);
    const restoreLog = opts.onLog ? redirectLog(opts.onLog) : () => undefined;
    try {
        await pulumi.runtime.runInPulumiStack(async () => program());
        await (pulumi.runtime as any).waitForRPCs();
    } catch (e) {
        failures.unshift(e);
        // What the program registered before it failed still completes (e.g. a component's outputs): let it, so it
        // reaches this run's monitor and not the next run's.
        await (pulumi.runtime as any).waitForRPCs().catch(() => undefined);
    }
    // Rejections are reported after the microtask queue drains; a failed program also leaves the stack's
    // own output promises rejected, which must not leak into the caller as unhandled.
    await new Promise((resolve) => setTimeout(resolve, 10));
    restoreLog();
    process.off("unhandledRejection", onRejection);
    if (failures.length > 0) throw failures[0];
    // The root stack's registered outputs, in wire form: unlike the resolved values, they keep secrets marked.
    const stack = monitor.getRegisteredResources().get(resources[0]?.urn)?.state;
    return { resources, outputs: stack?.toJavaScript?.() ?? {}, simulated };
}

/** Sends `pulumi.log` messages to `onLog` until the returned function is called. */
function redirectLog(onLog: (severity: LogSeverity, message: string) => void): () => void {
    const log = pulumi.log as unknown as Record<LogSeverity, (message: string) => Promise<void>>;
    const { debug, info, warn, error } = log;
    for (const severity of ["debug", "info", "warn", "error"] as const) {
        log[severity] = async (message) => onLog(severity, message);
    }
    return () => Object.assign(log, { debug, info, warn, error });
}

function toCaptured(req: any, resp: any, read: boolean): CapturedResource {
    const propDeps: Record<string, string[]> = {};
    if (!read) {
        req.getPropertydependenciesMap().forEach((v: any, k: string) => {
            propDeps[k] = v.getUrnsList();
        });
    }
    const state = resp.getObject ? resp.getObject()?.toJavaScript() : resp.getProperties()?.toJavaScript();
    return {
        type: req.getType(),
        name: req.getName(),
        urn: resp.getUrn(),
        parent: req.getParent() || undefined,
        custom: read ? true : req.getCustom(),
        inputs: (read ? req.getProperties() : req.getObject())?.toJavaScript() ?? {},
        state: state ?? {},
        protect: read ? false : Boolean(req.getProtect()),
        retainOnDelete: read ? false : Boolean(req.getRetainondelete()),
        dependsOn: req.getDependenciesList(),
        propertyDependencies: propDeps,
        ignoreChanges: read ? [] : req.getIgnorechangesList(),
        deletedWith: (!read && req.getDeletedwith()) || undefined,
        deleteBeforeReplace: !read && Boolean(req.getDeletebeforereplace()),
        additionalSecretOutputs: read ? [] : req.getAdditionalsecretoutputsList(),
        provider: req.getProvider() || undefined,
        importId: (!read && req.getImportid()) || undefined,
        read,
    };
}

export function isSecret(value: unknown): value is { value: unknown } {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** Deep copy with each secret replaced by `replace(secretValue)`. */
function mapSecrets(value: unknown, replace: (secret: unknown) => unknown): unknown {
    if (isSecret(value)) return replace(value.value);
    if (Array.isArray(value)) return value.map((v) => mapSecrets(v, replace));
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapSecrets(v, replace)]));
    }
    return value;
}

/** Plaintext view, as a CrossGuard policy sees inputs. */
export const unwrapSecrets = (value: unknown): any => mapSecrets(value, (v) => unwrapSecrets(v));

/** Printable view: every secret becomes "[secret]". */
export const maskSecrets = (value: unknown): any => mapSecrets(value, () => "[secret]");

import { withoutStackTrace } from "../../components/core/hot-paths";

let installed = false;

/**
 * The SDK tracks every promise it makes (`debuggablePromise`: four per output of every resource, one per awaited
 * input; about 3,800 in a matrix plan) so that it can report those still pending at exit, and tags each with an id,
 * its context and a stack trace (`new Error().stack`) that only that report prints, and only under
 * PULUMI_DEBUG_PROMISE_LEAKS (debuggable.js leakedPromises). Without that variable the tags are never read, and making
 * them was a third of running a program in process (the trace), then an eighth (the tags: 111 → 97 ms a matrix plan),
 * and a ninth of the quantum program's CPU under @pulumi/pulumi's run entry (`pulumi preview`, `up`). So they are left
 * off: each promise is still tracked as debuggable.js v3.270.0 tracks it (added to the store's leak candidates, removed
 * when it settles, a rejection's `promise` set, through the same `then` and `catch`), and the first goes through the
 * SDK's own function, which sets up the report at exit. Once per process: the in-process plan (capture.ts) and the
 * program's entry under the CLI (pulumi-program.js) call it.
 */
export function trackPromisesUntagged(): void {
    if (installed) return;
    installed = true;
    /* eslint-disable @typescript-eslint/no-var-requires */
    const debuggable = require("@pulumi/pulumi/runtime/debuggable") as {
        debugPromiseLeaks: boolean;
        debuggablePromise<T>(p: Promise<T>, ctx: unknown): Promise<T>;
    };
    const state = require("@pulumi/pulumi/runtime/state") as {
        getStore(): { leakCandidates: Set<Promise<unknown>> };
    };
    /* eslint-enable @typescript-eslint/no-var-requires */
    if (debuggable.debugPromiseLeaks) return;
    const sdk = debuggable.debuggablePromise;
    const untagged = <T>(p: Promise<T>): Promise<T> => {
        const store = state.getStore();
        store.leakCandidates.add(p);
        return p
            .then((val) => {
                store.leakCandidates.delete(p);
                return val;
            })
            .catch((err) => {
                store.leakCandidates.delete(p);
                err.promise = p;
                throw err;
            });
    };
    debuggable.debuggablePromise = (p, ctx) => {
        debuggable.debuggablePromise = untagged;
        return withoutStackTrace(() => sdk(p, ctx));
    };
}

import * as path from "node:path";
import { spawnOutput } from "./tools";

/**
 * npm test's setup (.mocharc's `require`). Mocha runs the global setup once, in its main process, before the workers
 * start; the root hook runs in each worker.
 *
 * Serializing the three dynamic providers is 1.25 s of CPU in each process that plans (src/plan/closure-cache.ts), and
 * the plan command keeps what it serializes in .build/closures. A worker must not keep its own: its tests patch what
 * it loads, the SDK's serializer among them. So a clean plan process, started as the workers start, serializes them
 * and keeps the texts, and the workers only read them (`write: false`): on a warm run they are all there already; one
 * that is not there yet when a worker plans, the worker serializes for itself.
 */

const ROOT = path.join(__dirname, "..");

let priming: ReturnType<typeof spawnOutput> | undefined;

export function mochaGlobalSetup(): void {
    // This file as a script (below), not `node -e`: the SDK serializes differently there (closure-cache.ts, evalGlobals).
    // Skipped when no source and nothing in .build/closures changed since it last ran (skip-unchanged.js).
    const prime = [process.execPath, "-r", path.join(ROOT, "src", "plan", "register.js"), __filename];
    priming = spawnOutput(
        process.execPath,
        [
            path.join(ROOT, "src", "plan", "skip-unchanged.js"),
            "closures",
            "--output",
            ".build/closures",
            "--",
            ...prime,
        ],
        { cwd: ROOT, stdin: "ignore" },
    ).catch((e: Error) => ({ status: null, signal: null, stdout: "", stderr: e.message }));
}

export async function mochaGlobalTeardown(): Promise<void> {
    const run = await priming;
    if (run && run.status !== 0)
        process.stderr.write(
            `test/setup.ts: the plan that serializes the dynamic providers for the workers failed (${run.status ?? run.signal}); each worker serialized its own:\n${run.stderr}\n`,
        );
}

// Loaded when used: mocha's main process, which only starts the priming plan, never plans.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const closureCache = () => require("../src/plan/closure-cache") as typeof import("../src/plan/closure-cache");

export const mochaHooks = {
    beforeAll(): void {
        closureCache().cacheProviders({ write: false });
    },
};

if (require.main === module) {
    closureCache().cacheProviders();
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { planStack } = require("../src/plan/plan") as typeof import("../src/plan/plan");
    (async () => {
        for (const stack of ["quantum", "matrix"]) await planStack({ stack, skipPolicies: true });
    })().catch((e) => {
        console.error(e);
        process.exit(1);
    });
}

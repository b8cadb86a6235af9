import * as path from "node:path";
import { spawnOutput } from "./tools";

/**
 * npm test's setup (.mocharc's `require`). Mocha runs the global setup once, in its main process, before the workers
 * start; the root hook runs in each worker.
 *
 * Serializing the three dynamic providers is 1.25 s of CPU in each process that plans (src/plan/closure-cache.ts), and
 * the plan command keeps what it serializes in .build/closures. A worker must not keep its own: its tests patch what
 * they load, and a text serialized there was once kept and broke a later run. So a clean plan process serializes them
 * first, and the workers read its texts (`write: false`); what it could not serialize, a worker serializes for itself.
 */

const ROOT = path.join(__dirname, "..");

export async function mochaGlobalSetup(): Promise<void> {
    const script = `require("./src/plan/closure-cache").cacheProviders();
        const { planStack } = require("./src/plan/plan");
        (async () => { for (const stack of ["quantum", "matrix"]) await planStack({ stack, skipPolicies: true }); })()
            .catch((e) => { console.error(e); process.exit(1); });`;
    const run = await spawnOutput(
        process.execPath,
        ["-r", path.join(ROOT, "src", "plan", "register.js"), "-e", script],
        { cwd: ROOT, stdin: "ignore" },
    );
    if (run.status !== 0)
        process.stderr.write(
            `test/setup.ts: the plan that serializes the dynamic providers for the workers failed (${run.status ?? run.signal}); each worker serializes its own:\n${run.stderr}\n`,
        );
}

export const mochaHooks = {
    beforeAll(): void {
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        (require("../src/plan/closure-cache") as typeof import("../src/plan/closure-cache")).cacheProviders({
            write: false,
        });
    },
};

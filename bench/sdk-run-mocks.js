// @ts-check
"use strict";
/**
 * Preloaded (`node -r`) into @pulumi/pulumi's run entry (`cmd/run`, what `pulumi preview` starts for a nodejs
 * program): the offline plan's mocks in place of the engine (`--monitor=mock`), so the program runs as under the
 * Pulumi CLI, loaded by the SDK's own ts-node setup, without a CLI. The mocks module is TypeScript: it is required at the
 * first registration, once the run entry has registered ts-node. Prints `registered N resources` to stderr on exit.
 */
const pulumi = require("@pulumi/pulumi");

const stack = (process.argv.find((a) => a.startsWith("--stack=")) ?? "--stack=stack").slice("--stack=".length);
/** @type {import("@pulumi/pulumi/runtime").Mocks | undefined} */
let offline;
const mocks = () =>
    (offline ??= require("../src/plan/mocks").offlineMocks({
        // The program reads its own previous outputs (upgrade rules): none, a first deployment.
        [`organization/omni-scale/${stack}`]: { outputs: {}, secretOutputNames: [] },
    }));
let registered = 0;
pulumi.runtime.setMocks(
    {
        newResource: (args) => {
            registered++;
            return mocks().newResource(args);
        },
        call: (args) => mocks().call(args),
    },
    "omni-scale",
    stack,
    true,
    "organization",
);
// The run entry signals the engine at exit; the SDK's mock monitor has no such call.
/** @type {any} */ (pulumi.runtime.getMonitor()).signalAndWaitForShutdown = (_req, done) => done(null, {});
process.on("exit", () => process.stderr.write(`registered ${registered} resources\n`));

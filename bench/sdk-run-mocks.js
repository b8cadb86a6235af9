// @ts-check
"use strict";
/**
 * Preloaded (`node -r`) into @pulumi/pulumi's run entry (`cmd/run`, what `pulumi preview` starts for a nodejs
 * program): the offline plan's mocks in place of the engine (`--monitor=mock`), so the program runs as under the
 * Pulumi CLI, loaded as Pulumi.yaml says, without a CLI. The mocks module is TypeScript: it is required at the program's
 * first registration, once the program's loader is in place; the run entry registers the stack before it loads the
 * program, and that registration is answered here. Prints `registered N resources` to stderr on exit, and writes every
 * registration (type, name, inputs) as JSON to the file SDK_RUN_RESOURCES names, if set.
 */
const fs = require("node:fs");
const pulumi = require("@pulumi/pulumi");

const stack = (process.argv.find((a) => a.startsWith("--stack=")) ?? "--stack=stack").slice("--stack=".length);
/** @type {import("@pulumi/pulumi/runtime").Mocks | undefined} */
let offline;
const mocks = () =>
    (offline ??= require("../src/plan/mocks").offlineMocks({
        // The program reads its own previous outputs (upgrade rules): none, a first deployment.
        [`organization/omni-scale/${stack}`]: { outputs: {}, secretOutputNames: [] },
    }));
/** @type {{ type: string, name: string, inputs: unknown }[]} */
const registered = [];
pulumi.runtime.setMocks(
    {
        newResource: (args) => {
            registered.push({ type: args.type, name: args.name, inputs: args.inputs });
            if (args.type === "pulumi:pulumi:Stack") return { id: undefined, state: {} };
            return mocks().newResource(args);
        },
        call: (args) => mocks().call(args),
    },
    "omni-scale",
    stack,
    process.argv.includes("--dry-run"),
    "organization",
);
// The run entry signals the engine at exit; the SDK's mock monitor has no such call.
/** @type {any} */ (pulumi.runtime.getMonitor()).signalAndWaitForShutdown = (_req, done) => done(null, {});
process.on("exit", () => {
    process.stderr.write(`registered ${registered.length} resources\n`);
    if (process.env.SDK_RUN_RESOURCES) fs.writeFileSync(process.env.SDK_RUN_RESOURCES, JSON.stringify(registered));
});

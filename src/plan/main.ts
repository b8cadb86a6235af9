// The plan CLI as a process (`omni-scale plan`, `npm run plan`). Ctrl-C or a kill ends the plan at once; exiting stops
// the policy pack (pack-process.ts), as every other way out does.
import { runCommand } from "../commands";
import { POLICY_DIR, startPack } from "./pack-process";

/** Runs the plan for `argv` in this process; resolves to its exit code, with which the caller ends the process. */
export function planProcess(argv: string[]): Promise<number> {
    process.once("SIGINT", () => process.exit(130));
    process.once("SIGTERM", () => process.exit(143));
    // The pack starts before this process loads the plan (the SDK, the program, zod): each takes about a second to
    // load, and they load side by side. A run that ends before it needs the pack (bad arguments or config, --help)
    // stops it on exit.
    const help = argv.includes("--help") || argv.includes("-h");
    const pack =
        !help && argv.some((a) => a === "--stack" || a.startsWith("--stack=")) ? startPack(POLICY_DIR) : undefined;

    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { main } = require("./cli") as typeof import("./cli");
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    (require("./closure-cache") as typeof import("./closure-cache")).cacheProviders();
    return main(argv, process.env, pack);
}

if (require.main === module) runCommand(() => planProcess(process.argv.slice(2)));

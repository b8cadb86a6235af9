/**
 * `omni-scale <command> [options]` (package.json `bin`, cli/omni-scale.js): the operator commands, from any directory.
 * Like `npm run`, it runs them in the project directory (yours: the nearest directory at or above the current one
 * with a Pulumi.yaml, where `pulumi up` resolves the stack file's paths too) with the caller's directory in INIT_CWD,
 * which the files you name are relative to. Only the command's own output reaches stdout. Usage: commands.ts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { commandArgs, COMMANDS, runCommand } from "./commands";
import { PACKAGE_ROOT, projectDirOf } from "./project";

/** Each command's entry: runs it in this process and resolves to its exit code. */
const ENTRIES: Record<string, (argv: string[]) => number | Promise<number>> = {
    plan: (argv) => (require("./plan/main") as typeof import("./plan/main")).planProcess(argv),
    import: (argv) => (require("./import/cli") as typeof import("./import/cli")).main(argv),
    restore: (argv) => (require("./hub-restore") as typeof import("./hub-restore")).main(argv),
    "certificate-due": (argv) =>
        (require("./certificate-renewal") as typeof import("./certificate-renewal")).main(argv),
    bench,
};

/** The benchmark measures a checkout (its bench/ and example stacks are not in the package), from its TypeScript. */
function bench(argv: string[]): Promise<number> | number {
    const entry = path.join(PACKAGE_ROOT, "bench", "plan.bench.ts");
    if (!fs.existsSync(entry)) {
        process.stderr.write("omni-scale bench measures a checkout of omni-scale: run `npm run bench` in one\n");
        return 2;
    }
    require(path.join(PACKAGE_ROOT, "src", "plan", "register.js"));
    return (require(entry) as { main(argv: string[]): Promise<number> }).main(argv);
}

const USAGE = `usage: omni-scale <command> [options]      (omni-scale <command> --help for its options)

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(16)} ${c.summary}`).join("\n")}

Exit codes: each command's own; 2 for an unknown command.`;

function dispatch(argv: string[]): number | Promise<number> {
    const [name, ...rest] = argv;
    if (name === "-h" || name === "--help" || name === "help") {
        process.stdout.write(`${USAGE}\n`);
        return 0;
    }
    const entry = name === undefined ? undefined : ENTRIES[name];
    const command = COMMANDS.find((c) => c.name === name);
    if (!entry || !command) {
        process.stderr.write(`${name === undefined ? "no command given" : `unknown command "${name}"`}\n${USAGE}\n`);
        return 2;
    }
    // --help and bad arguments are answered here, before the command's modules (the SDK, the plan engine) load.
    const parsed = commandArgs(command, rest);
    if (typeof parsed === "number") return parsed;
    const caller = process.cwd();
    process.env.INIT_CWD = caller;
    process.chdir(projectDirOf(caller) ?? caller);
    return entry(rest);
}

/** The `omni-scale` process: runs the command `argv` names and exits with its code once its output is out. */
export function run(argv: string[]): void {
    runCommand(() => dispatch(argv));
}

#!/usr/bin/env node
// @ts-check
"use strict";
/**
 * `omni-scale <command> [options]` (package.json `bin`): the operator commands, from any directory. Like `npm run`,
 * it runs them in the project directory (this package: Pulumi.yaml, its stack files, the policy pack; `pulumi up`
 * resolves `file:` paths there too) with the caller's directory in INIT_CWD, which the files you name are relative
 * to. Only the command's own output reaches stdout. Usage: src/commands.ts.
 */
const path = require("node:path");

process.env.INIT_CWD = process.cwd();
process.chdir(path.resolve(__dirname, ".."));
require("../src/plan/register");

/** @type {typeof import("../src/commands")} */
const { COMMANDS } = require("../src/commands");

/** Each command's entry: runs it in this process and resolves to its exit code. */
/** @type {Record<string, (argv: string[]) => number | Promise<number>>} */
const ENTRIES = {
    plan: (argv) => require("../src/plan/main").planProcess(argv),
    import: (argv) => require("../src/import/cli").main(argv),
    restore: (argv) => require("../src/hub-restore").main(argv),
    "certificate-due": (argv) => require("../src/certificate-renewal").main(argv),
    bench: (argv) => require("../bench/plan.bench").main(argv),
};

const USAGE = `usage: omni-scale <command> [options]      (omni-scale <command> --help for its options)

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(16)} ${c.summary}`).join("\n")}

Exit codes: each command's own; 2 for an unknown command.`;

/** @param {string[]} argv */
function run(argv) {
    const [name, ...rest] = argv;
    if (name === "-h" || name === "--help" || name === "help") {
        process.stdout.write(`${USAGE}\n`);
        return 0;
    }
    const entry = name === undefined ? undefined : ENTRIES[name];
    if (!entry) {
        process.stderr.write(`${name === undefined ? "no command given" : `unknown command "${name}"`}\n${USAGE}\n`);
        return 2;
    }
    return entry(rest);
}

Promise.resolve()
    .then(() => run(process.argv.slice(2)))
    .then(
        (code) => process.exit(code),
        (e) => {
            process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
            process.exit(1);
        },
    );

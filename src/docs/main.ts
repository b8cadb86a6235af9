// `npm run docs`: regenerates the configuration reference, the stack output tables, the policy table, the command
// reference (docs/COMMANDS.md)
// and the stack file schema from the code;
// `npm run docs -- --check` only says what is stale (exit 1), as the test does.
import * as path from "node:path";
import { exitAfterOutput } from "../commands";
import { FIX, staleFiles, writeGenerated } from "./generate";

const root = path.resolve(__dirname, "..", "..");
if (process.argv.includes("--check")) {
    const stale = staleFiles(root);
    for (const s of stale) process.stderr.write(`${s}: run \`${FIX}\`\n`);
    exitAfterOutput(stale.length ? 1 : 0);
} else {
    const written = writeGenerated(root);
    process.stdout.write(written.length ? `updated ${written.join(", ")}\n` : "up to date\n");
}

// @ts-check
"use strict";
/**
 * `node src/plan/skip-unchanged.js NAME [--inputs DIR,DIR…] [--output DIR] -- COMMAND ARGS…`: runs COMMAND unless
 * every file it reads is as it was at its last success, when the run is skipped. `npm test` type-checks and builds
 * bin/ with tsc, which reads the whole program (the providers' typings too) whatever changed: 6–7 s of CPU each, on
 * every run, beside the tests.
 *
 * What counts as read: every file under the project's TypeScript folders (what tsconfig.json includes, and the JSON
 * it imports), or under the folders `--inputs` names (bin/ is built from components, src and policy only: an edited
 * test does not build it again); the tsconfig files, the lockfile (which fixes node_modules and TypeScript itself),
 * the Node version and the command line; with `--output DIR`, also the names, sizes and times of the files in DIR, so
 * a removed or rewritten output runs the command again. The stamp is written only when the command exits 0, and holds
 * the inputs as they were before it ran (an edit made meanwhile runs it again).
 */
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { writeCacheFile } = require("../../components/core/cache-file");

// Where npm runs a package's scripts: its root.
const ROOT = process.cwd();
const FOLDERS = ["components", "src", "policy", "test", "bench", "examples"];

/** @param {string} dir @returns {string[]} every file under dir, sorted */
function filesUnder(dir) {
    if (!fs.existsSync(dir)) return [];
    return fs
        .readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.join(e.parentPath, e.name))
        .sort();
}

/** @param {string[]} command @param {string[]} folders */
function inputsKey(command, folders) {
    const hash = crypto.createHash("sha256").update(JSON.stringify([process.version, command]));
    const top = fs.readdirSync(ROOT).filter((f) => /^tsconfig.*\.json$/.test(f) || f === "package-lock.json");
    for (const file of [
        ...top.sort().map((f) => path.join(ROOT, f)),
        ...folders.flatMap((d) => filesUnder(path.join(ROOT, d))),
    ])
        hash.update(`${path.relative(ROOT, file)}\0`)
            .update(fs.readFileSync(file))
            .update("\0");
    return hash.digest("hex");
}

/** @param {string | undefined} dir */
function outputKey(dir) {
    if (!dir) return "";
    const listing = filesUnder(path.join(ROOT, dir)).map((f) => {
        const s = fs.statSync(f);
        return `${path.relative(ROOT, f)} ${s.size} ${s.mtimeMs}`;
    });
    return crypto.createHash("sha256").update(listing.join("\n")).digest("hex");
}

function main() {
    const argv = process.argv.slice(2);
    const dash = argv.indexOf("--");
    const [name, ...options] = argv.slice(0, dash);
    const command = argv.slice(dash + 1);
    /** @type {Record<string, string>} */
    const given = {};
    for (let i = 0; i < options.length; i += 2) given[options[i]] = options[i + 1];
    const known = options.every((o, i) => i % 2 === 1 || ((o === "--output" || o === "--inputs") && options[i + 1]));
    if (dash < 0 || !name || command.length === 0 || !known) {
        process.stderr.write(
            "usage: node src/plan/skip-unchanged.js NAME [--inputs DIR,DIR…] [--output DIR] -- COMMAND ARGS…\n",
        );
        return 2;
    }
    const output = given["--output"];
    const folders = given["--inputs"]?.split(",") ?? FOLDERS;
    const stamp = path.join(ROOT, ".build", "unchanged", `${name}.json`);
    const inputs = inputsKey(command, folders);
    let last;
    try {
        last = JSON.parse(fs.readFileSync(stamp, "utf8"));
    } catch {
        // Never succeeded here (or the stamp is unreadable): run.
    }
    if (last?.inputs === inputs && last.output === outputKey(output)) return 0;
    const run = spawnSync(command[0], command.slice(1), { cwd: ROOT, stdio: "inherit", shell: false });
    if (run.error) {
        // E.g. tsc outside npm, which puts node_modules/.bin on PATH.
        process.stderr.write(`skip-unchanged.js: cannot run ${command[0]}: ${run.error.message}\n`);
        return 127;
    }
    if (run.status === 0) writeCacheFile(stamp, JSON.stringify({ inputs, output: outputKey(output) }));
    return run.status ?? 1;
}

process.exitCode = main();

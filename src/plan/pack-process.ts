import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import { PACKAGE_ROOT } from "../project";

/**
 * The policy pack as its own process, as `pulumi preview --policy-pack` runs it. Kept free of heavy imports: the plan's
 * entry (main.ts) starts the pack before it loads the SDK, so both load side by side.
 */

/** The pack's directory (PulumiPolicy.yaml, package.json), in a checkout and installed alike. */
export const POLICY_DIR = path.join(PACKAGE_ROOT, "policy");

/** How long a pack may take to print its port (it may transpile its TypeScript first: about a second here). */
const PACK_START_TIMEOUT_MS = 120_000;

/** Preloaded into each pack process: it exits when the plan that started it is gone, however the plan ended. */
const PACK_GUARD = require.resolve("./pack-guard");
/** Preloaded into each pack process: compiles Talos schemas while the pack waits for the program (see warmTalosSchemas). */
const PACK_WARM = require.resolve("./pack-warm");
/**
 * How a pack runs beside this plan: from its TypeScript sources, through the transpile cache the plan uses too, when
 * the plan runs from its own (`npm run plan`); else as the Pulumi CLI runs it, from the pack directory's `main`
 * (the compiled pack of an installed package).
 */
const packEntry = (packDir: string) =>
    __filename.endsWith(".ts")
        ? ["-r", require.resolve("./register"), "-r", PACK_GUARD, "-r", PACK_WARM, path.join(packDir, "index.ts")]
        : ["-r", PACK_GUARD, "-r", PACK_WARM, packDir];

/**
 * Node flags of the plan, the bench and the pack processes (package.json's `plan` and `bench` scripts pass the same).
 * Node 24's V8 sizes the young generation by the machine's memory (up to 64 MB semi-spaces on 24 GB, Node 20: 16 MB),
 * which raised a fleet plan's peak memory from about 245 MB to 340 MB at the same speed; 16 MB brings it back.
 */
export const NODE_FLAGS = ["--max-semi-space-size=16"];

/** Pack processes this process started that are still running. */
const runningPacks = new Set<ChildProcess>();

/**
 * Stops every pack this process started. Runs on exit (errors, `process.exit`, the CLI's SIGINT/SIGTERM handlers);
 * a plan killed outright is covered by the pack guard.
 */
function stopPacks(): void {
    for (const child of runningPacks) child.kill();
}
process.on("exit", stopPacks);

export interface PackProcess {
    child: ChildProcess;
    /** The port the pack serves the analyzer protocol on, once it printed it. */
    port: Promise<string>;
}

/**
 * Has the pack compile the config schema of each Talos version now (pack-warm.ts), while it waits for the program: the
 * patch check of the first cluster template that uses it would compile it, and the cluster registers last.
 */
export function warmTalosSchemas(pack: PackProcess, talosVersions: string[]): void {
    if (!pack.child.stdin?.writable) return;
    for (const version of new Set(talosVersions)) pack.child.stdin.write(`talos ${version}\n`);
}

/** Starts the real pack in its own process, in its directory, as the CLI does. */
export function startPack(packDir: string): PackProcess {
    const child = spawn(process.execPath, [...NODE_FLAGS, ...packEntry(packDir)], {
        // stdin is the guard's pipe from this process: it closes when this process ends.
        cwd: packDir,
        stdio: ["pipe", "pipe", "pipe"],
    });
    runningPacks.add(child);
    child.once("exit", () => runningPacks.delete(child));
    const port = new Promise<string>((resolve, reject) => {
        let stderr = "";
        const timer = setTimeout(() => {
            child.kill();
            reject(new Error(`the policy pack did not start within ${PACK_START_TIMEOUT_MS / 1000} s: ${stderr}`));
        }, PACK_START_TIMEOUT_MS).unref();
        child.stderr!.on("data", (d) => {
            stderr += d;
        });
        child.stdout!.once("data", (d) => {
            clearTimeout(timer);
            resolve(String(d).trim().split("\n")[0]);
        });
        child.once("exit", (code, signal) => {
            clearTimeout(timer);
            reject(new Error(`the policy pack exited with ${code ?? signal}: ${stderr}`));
        });
        child.once("error", (e) => {
            clearTimeout(timer);
            reject(e);
        });
    });
    // A pack closed before anyone asked for its port is not an error.
    port.catch(() => undefined);
    return { child, port };
}

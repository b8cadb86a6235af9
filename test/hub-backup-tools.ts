import { execFileSync } from "node:child_process";

/**
 * The restore drill runs Debian's etcd and sqlite3 for real. Without them CI fails; a local run says loudly
 * what it skipped and how to install the tools (never a silent skip).
 */
export const DRILL_TOOLS = ["etcd", "etcdctl", "sqlite3", "curl", "sha256sum"] as const;
export const DRILL_INSTALL = "apt-get update && apt-get install -y --no-install-recommends etcd-server etcd-client sqlite3 curl";

export function missingTools(tools: readonly string[] = DRILL_TOOLS): string[] {
    return tools.filter((tool) => {
        try {
            execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
            return false;
        } catch {
            return true;
        }
    });
}

/** Call from a mocha `before`: fails under CI, skips loudly elsewhere. */
export function requireDrillTools(ctx: Mocha.Context, what: string): void {
    const missing = missingTools();
    if (!missing.length) return;
    const message = `${what} needs ${missing.join(", ")} (Debian: ${DRILL_INSTALL}; .ci/run installs them)`;
    if (process.env.CI) throw new Error(`${message}: CI must run the restore drill`);
    process.stderr.write(`\n  !!! SKIPPED: ${message}\n\n`);
    ctx.skip();
}

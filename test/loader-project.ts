import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.join(__dirname, "..");

export interface LoaderProject {
    dir: string;
    /**
     * Runs `file` (relative to the project) in node with the project's loader, as `npm run plan` runs main.ts. V8's
     * compiled code is the repository's (.build/v8, as NODE_COMPILE_CACHE): a new project then does not compile
     * TypeScript and the SDK afresh, which is not what these tests are about. `ownCompileCache`: the project's own
     * .build/v8, as the loader sets it when nothing else has.
     */
    run(
        file: string,
        options?: { ownCompileCache?: boolean },
    ): { status: number | null; stdout: string; stderr: string };
    /** The transpile cache's copies of `file`. */
    cached(file: string): string[];
}

/**
 * A project of its own, for tests of the plan's caches: the loader (src/plan/register.js and what it loads),
 * tsconfig.json and the lockfile copied, node_modules shared. Its caches live under its own .build.
 */
export function loaderProject(): LoaderProject {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-loader-"));
    for (const f of [
        "src/plan/register.js",
        "src/plan/preload.js",
        "src/plan/defer-sdk.js",
        "components/core/cache-file.js",
    ]) {
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.copyFileSync(path.join(root, f), path.join(dir, f));
    }
    for (const f of ["tsconfig.json", "package-lock.json"]) fs.copyFileSync(path.join(root, f), path.join(dir, f));
    fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"));
    return {
        dir,
        run: (file, { ownCompileCache = false } = {}) => {
            const env = { ...process.env };
            if (ownCompileCache) delete env.NODE_COMPILE_CACHE;
            else env.NODE_COMPILE_CACHE = path.join(root, ".build", "v8");
            return spawnSync(
                process.execPath,
                ["-r", path.join(dir, "src", "plan", "register.js"), path.join(dir, file)],
                {
                    cwd: dir,
                    env,
                    encoding: "utf8",
                },
            );
        },
        cached: (file) =>
            fs
                .readdirSync(path.join(dir, ".build", "ts", path.dirname(file)))
                .filter((f) => f.startsWith(`${path.basename(file)}.`)),
    };
}

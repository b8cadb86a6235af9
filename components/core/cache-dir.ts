import * as path from "node:path";

/**
 * Where the package keeps what it computes once for many processes (compiled Talos validators, serialized providers):
 * `OMNI_SCALE_CACHE`, else `.build` in the package (a checkout's, or the installed package's in node_modules). A place
 * that cannot be written only costs speed: each process computes again.
 */
export function cacheDir(name: string): string {
    const root =
        process.env.OMNI_SCALE_CACHE ?? path.join(path.dirname(require.resolve("omni-scale/package.json")), ".build");
    return path.join(root, name);
}

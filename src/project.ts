import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Where the commands find things: this package's own files (the policy pack, the example stack files) and the
 * caller's Pulumi project (its `Pulumi.<stack>.yaml` files). The same in a checkout (sources) and installed (bin/,
 * one level deeper), so neither is found from `__dirname`. Node's modules only: the plan's entry loads it first.
 */

/** This package's root: its own name resolves to its package.json from inside it (package.json `exports`). */
export const PACKAGE_ROOT = path.dirname(require.resolve("omni-scale/package.json"));

/** The caller's directory: INIT_CWD under `npm run` and npx (which may change to another directory), else the working directory. */
export const callerDir = (env: NodeJS.ProcessEnv = process.env) => env.INIT_CWD ?? process.cwd();

/** The Pulumi project `dir` is in: the nearest directory at or above it with a Pulumi.yaml, as the Pulumi CLI looks. */
export function projectDirOf(dir: string): string | undefined {
    for (let at = path.resolve(dir); ; at = path.dirname(at)) {
        if (["Pulumi.yaml", "Pulumi.yml"].some((f) => fs.existsSync(path.join(at, f)))) return at;
        if (path.dirname(at) === at) return undefined;
    }
}

/** `Pulumi.<stack>.yaml` of the caller's project, which `--stack NAME` names. */
export function stackFileOf(stack: string, env: NodeJS.ProcessEnv = process.env): string {
    const dir = projectDirOf(callerDir(env));
    if (dir === undefined)
        throw new Error(
            `--stack ${stack}: no Pulumi.yaml in ${callerDir(env)} or above: run this in your Pulumi project's directory, or name the stack file with --config`,
        );
    return path.join(dir, `Pulumi.${stack}.yaml`);
}

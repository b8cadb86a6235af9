import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { readStackFile, REPO_ROOT } from "../src/plan/plan";

/** @pulumi/pulumi's run entry: what the nodejs language host (pulumi-language-nodejs) starts for `preview` and `up`. */
export const SDK_RUN_ENTRY = path.join(REPO_ROOT, "node_modules", "@pulumi", "pulumi", "cmd", "run");

/** A project's `main` and nodejs runtime `options`, as Pulumi.yaml gives them. */
export interface ProjectRuntime {
    main: string;
    options: Record<string, unknown>;
}

/** This project's, from Pulumi.yaml. */
export function projectRuntime(): ProjectRuntime {
    const project = YAML.parse(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8"));
    return { main: project.main, options: project.runtime.options ?? {} };
}

export interface SdkRun {
    args: string[];
    env: NodeJS.ProcessEnv;
    /** The working directory the language host starts node in. */
    cwd: string;
}

/**
 * How `pulumi preview -s <stack>` (`up` with `dryRun: false`) starts this project's program, with the offline mocks in
 * place of the engine (bench/sdk-run-mocks.js). Upstream (pulumi/pulumi v3.259.0):
 * - pkg/engine/project.go getPwdMain: a `main` that is a file runs in its own directory (the plugin context's pwd,
 *   where the language host starts node, and the program directory) and is named by its base name;
 * - sdk/nodejs/cmd/pulumi-language-nodejs/main.go: parseOptions (`typescript` defaults to true), execRuntime
 *   (PULUMI_CONFIG, PULUMI_CONFIG_SECRET_KEYS, PULUMI_NODEJS_TYPESCRIPT=true, `tsconfig` as
 *   PULUMI_NODEJS_TSCONFIG_PATH as written, `nodeargs` before the run entry) and constructArguments (`--pwd` the
 *   program directory, `--dry-run` for a preview, the entry point last).
 * `env` is laid over the environment (e.g. PULUMI_NODEJS_TRANSPILE_ONLY, which a user may set).
 */
export function sdkRunInvocation(
    stack: string,
    {
        project = projectRuntime(),
        dryRun = true,
        env: extra = {},
    }: { project?: ProjectRuntime; dryRun?: boolean; env?: NodeJS.ProcessEnv } = {},
): SdkRun {
    const main = path.resolve(REPO_ROOT, project.main);
    const [pwd, entry] = fs.statSync(main).isDirectory() ? [main, "."] : [path.dirname(main), path.basename(main)];
    const { config, secret } = readStackFile(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`));
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of ["PULUMI_NODEJS_TYPESCRIPT", "PULUMI_NODEJS_TSCONFIG_PATH", "PULUMI_NODEJS_TRANSPILE_ONLY"]) {
        delete env[name];
    }
    env.PULUMI_CONFIG = JSON.stringify(config);
    env.PULUMI_CONFIG_SECRET_KEYS = JSON.stringify([...secret]);
    const { typescript = true, tsconfig, nodeargs = "" } = project.options;
    if (typescript) env.PULUMI_NODEJS_TYPESCRIPT = "true";
    if (typeof tsconfig === "string") env.PULUMI_NODEJS_TSCONFIG_PATH = tsconfig;
    // The host splits nodeargs as a shell would (shlex); plain words are all this bench passes on.
    if (/["'\\]/.test(String(nodeargs))) throw new Error(`nodeargs with quotes or escapes: ${nodeargs}`);
    const args = [
        ...String(nodeargs).split(/\s+/).filter(Boolean),
        "-r",
        path.join(__dirname, "sdk-run-mocks.js"),
        SDK_RUN_ENTRY,
        "--monitor=mock",
        "--organization=organization",
        "--project=omni-scale",
        `--root-directory=${REPO_ROOT}`,
        `--stack=${stack}`,
        `--pwd=${pwd}`,
        ...(dryRun ? ["--dry-run"] : []),
        entry,
    ];
    return { args, env: { ...env, ...extra }, cwd: pwd };
}

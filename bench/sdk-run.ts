import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { readStackFile, REPO_ROOT } from "../src/plan/plan";

/** @pulumi/pulumi's run entry: what the nodejs language host (pulumi-language-nodejs) starts for `preview` and `up`. */
export const SDK_RUN_ENTRY = path.join(REPO_ROOT, "node_modules", "@pulumi", "pulumi", "cmd", "run");

/**
 * How `pulumi preview -s <stack>` starts this project's program, with the offline mocks in place of the engine
 * (bench/sdk-run-mocks.js): the language host passes the stack's config in PULUMI_CONFIG, `typescript: true` as
 * PULUMI_NODEJS_TYPESCRIPT and Pulumi.yaml's `tsconfig` option as PULUMI_NODEJS_TSCONFIG_PATH (no option: the run
 * entry reads tsconfig.json). Run it with cwd REPO_ROOT.
 */
export function sdkRunInvocation(stack: string, tsconfig?: string): { args: string[]; env: NodeJS.ProcessEnv } {
    const { config, secret } = readStackFile(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`));
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        PULUMI_CONFIG: JSON.stringify(config),
        PULUMI_CONFIG_SECRET_KEYS: JSON.stringify([...secret]),
        PULUMI_NODEJS_TYPESCRIPT: "true",
    };
    delete env.PULUMI_NODEJS_TSCONFIG_PATH;
    delete env.PULUMI_NODEJS_TRANSPILE_ONLY;
    if (tsconfig) env.PULUMI_NODEJS_TSCONFIG_PATH = tsconfig;
    const args = [
        "-r",
        path.join(__dirname, "sdk-run-mocks.js"),
        SDK_RUN_ENTRY,
        "--monitor=mock",
        "--organization=organization",
        "--project=omni-scale",
        `--stack=${stack}`,
        "--dry-run",
        // The entry point: Pulumi.yaml's `main`.
        YAML.parse(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8")).main,
    ];
    return { args, env };
}

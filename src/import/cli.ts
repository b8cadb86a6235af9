import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, formatIssues } from "../../components/core/validation";
import { commandArgs, IMPORT, runCommand, usageError } from "../commands";
import { callerDir, projectDirOf } from "../project";
import { importExitCode, importReport, importStack, stackFragment } from "./import";
import { pathFrom } from "./sources";

const USAGE = IMPORT.usage;

/**
 * Runs the import CLI. Relative paths are the caller's: its working directory, or INIT_CWD under `npm run` (which
 * changes to the project directory) and npx.
 */
export function main(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
    const args = commandArgs(IMPORT, argv);
    if (typeof args === "number") return args;
    const caller = callerDir(env);
    // The Pulumi project the stack parts are for (npm run and the omni-scale command run in its directory); none for
    // a seed kit outside any project: then paths are absolute, valid wherever the YAML is pasted.
    const projectDir = projectDirOf(caller);
    const at = (p: string | undefined) => (p === undefined ? undefined : pathFrom(projectDir, path.resolve(caller, p)));
    const inputs = {
        machineClasses: args["machine-classes"]?.map((p) => at(p)!),
        clusters: args.clusters?.map((p) => at(p)!),
        omniEnv: at(args["omni-env"]),
        providerEnv: at(args["provider-env"]),
        providerConfig: at(args["provider-config"]),
    };
    if (!Object.values(inputs).some((v) => v !== undefined))
        return usageError(
            "import",
            "nothing to import: name machine classes, cluster templates, an omni.env or the provider's files",
        );
    try {
        const result = importStack({
            ...inputs,
            projectDir,
            stack: args.stack!,
            hubStack: args["hub-stack"]!,
            environment: env,
        });
        const parts = { workloads: stackFragment(result, "workloads"), hub: stackFragment(result, "hub") };
        const outs = { workloads: at(args.out), hub: at(args["hub-out"]) };
        const toStdout: string[] = [];
        for (const role of ["hub", "workloads"] as const) {
            if (parts[role] === undefined) continue;
            if (outs[role]) fs.writeFileSync(outs[role]!, parts[role]!);
            else toStdout.push(parts[role]!);
        }
        if (toStdout.length) process.stdout.write(toStdout.join("---\n"));
        process.stderr.write(`${importReport(result)}\n`);
        return importExitCode(result);
    } catch (e) {
        const missing =
            (e as NodeJS.ErrnoException).code === "ENOENT" ? `${(e as Error).message}\n${USAGE}` : undefined;
        process.stderr.write(
            `${e instanceof ConfigError ? formatIssues(e.issues) : (missing ?? `import failed: ${(e as Error).message}`)}\n`,
        );
        return 2;
    }
}

if (require.main === module) runCommand(() => main(process.argv.slice(2)));

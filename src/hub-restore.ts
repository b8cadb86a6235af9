import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import * as YAML from "yaml";
import { hubContainerNames, hubRestoreHostScript } from "../components/hub/backup-render";
import { OmniHubSettings, OmniHubSettingsSchema } from "../components/hub/settings";
import { omniContainerPaths } from "../components/hub/omni-flags";
import { parseDockerHost } from "../components/core/addresses";
import { shellQuote } from "../components/core/shell";
import { ConfigError, parseOrThrow } from "../components/core/validation";
import { usageOf } from "./commands";
import { PROJECT } from "./config";

/**
 * `omni-scale restore` (`npm run restore`): restores the hub from one of its backup sets, on the Docker host (over SSH
 * for ssh:// hosts). Without --yes it only checks the set (complete, undamaged, taken with the configured etcd key) and
 * changes nothing. Usage: src/commands.ts.
 */

const USAGE = usageOf("restore");

export interface RestoreOptions {
    set: string;
    /** Restore for real (stop Omni, restore, start it); otherwise check the set only. */
    yes: boolean;
    /** Overrides the fingerprint of the deployed key (read from the backup container on the host). */
    expectFingerprint?: string;
}

/** The hub settings of a stack file. Only plain settings are read, so encrypted secrets in the file do not matter. */
export function hubSettingsOf(file: string): OmniHubSettings {
    const doc = YAML.parse(fs.readFileSync(file, "utf8"), { merge: true }) ?? {};
    const key = `${PROJECT}:hub`;
    if (!doc.config?.[key])
        throw new ConfigError([
            { key, message: `${file} has no hub settings: restore works on a hub stack (role hub)` },
        ]);
    return parseOrThrow(OmniHubSettingsSchema, doc.config[key], key);
}

/** The process that runs the restore script where the Docker host's files and docker CLI are. */
export function restoreInvocation(
    s: OmniHubSettings,
    o: RestoreOptions,
): { command: string; args: string[]; env?: Record<string, string>; script: string; params: string[] } {
    if (!s.backup)
        throw new ConfigError([
            { key: `${PROJECT}:hub.backup`, message: "is not set: this hub takes no backups to restore from" },
        ]);
    const names = hubContainerNames(s.accountName);
    const script = hubRestoreHostScript({
        omniContainer: names.omni,
        backupContainer: names.backup,
        dataVolume: names.dataVolume,
        targetDir: s.backup.targetDir,
        omniPaths: { data: omniContainerPaths.data, etcd: omniContainerPaths.etcd, sqlite: omniContainerPaths.sqlite },
    });
    const params = [o.yes ? "restore" : "check", o.set, o.expectFingerprint ?? ""];
    const host = parseDockerHost(s.dockerHost);
    if (typeof host === "string")
        throw new ConfigError([{ key: `${PROJECT}:hub.dockerHost`, value: s.dockerHost, message: host }]);
    if (host.scheme === "ssh") {
        // ssh hands one command line to the remote shell: every word quoted once.
        const remote = ["sh", "-c", script, "omni-hub-restore", ...params].map(shellQuote).join(" ");
        const target = `${host.user}@${host.host}`;
        return {
            command: "ssh",
            args: [...(s.dockerSshOpts ?? []), ...(host.port ? ["-p", String(host.port)] : []), target, remote],
            script,
            params,
        };
    }
    // unix:// or tcp://: the script uses only docker commands, which DOCKER_HOST points at the host.
    return {
        command: "sh",
        args: ["-c", script, "omni-hub-restore", ...params],
        env: { DOCKER_HOST: s.dockerHost },
        script,
        params,
    };
}

/** Runs the restore CLI; a relative --config is the caller's: INIT_CWD under npm and npx, else the working directory. */
export function main(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
    let args;
    try {
        args = parseArgs({
            args: argv,
            options: {
                stack: { type: "string" },
                config: { type: "string" },
                set: { type: "string", default: "latest" },
                "expect-fingerprint": { type: "string" },
                yes: { type: "boolean", default: false },
                print: { type: "boolean", default: false },
                help: { type: "boolean", short: "h" },
            },
        }).values;
    } catch (e) {
        process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
        return 2;
    }
    if (args.help) {
        process.stdout.write(`${USAGE}\n`);
        return 0;
    }
    if (!args.stack && !args.config) {
        process.stderr.write(`--stack is required\n${USAGE}\n`);
        return 2;
    }
    try {
        const file = args.config
            ? path.resolve(env.INIT_CWD ?? process.cwd(), args.config)
            : path.resolve(__dirname, "..", `Pulumi.${args.stack}.yaml`);
        const settings = hubSettingsOf(file);
        const run = restoreInvocation(settings, {
            set: args.set!,
            yes: args.yes!,
            expectFingerprint: args["expect-fingerprint"],
        });
        if (args.print) {
            process.stdout.write(
                `# on ${settings.dockerHost}: sh -c "<this script>" omni-hub-restore ${run.params.map(shellQuote).join(" ")}\n${run.script}`,
            );
            return 0;
        }
        const result = spawnSync(run.command, run.args, { stdio: "inherit", env: { ...process.env, ...run.env } });
        if (result.error) throw result.error;
        if (!args.yes && result.status === 0)
            process.stdout.write(
                "Checked only; nothing changed. Add --yes to stop Omni, restore this set and start Omni again.\n",
            );
        return result.status ?? 1;
    } catch (e) {
        const err = e as Error;
        process.stderr.write(`${err instanceof ConfigError ? err.message : `restore failed: ${err.message}`}\n`);
        return 2;
    }
}

if (require.main === module) process.exit(main(process.argv.slice(2)));

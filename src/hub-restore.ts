import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { readYaml } from "../components/core/yaml-read";
import {
    ALLOW_PLAIN,
    hubContainerNames,
    hubRestoreHostScript,
    OmniContainerFacts,
    omniContainerFacts,
    RESTORE_LIMITS,
    restoreDockerPrelude,
} from "../components/hub/backup-render";
import { OmniHubSettings, OmniHubSettingsSchema } from "../components/hub/settings";
import { omniContainerPaths } from "../components/hub/omni-flags";
import { parseDockerHost } from "../components/core/addresses";
import { shellQuote } from "../components/core/shell";
import { ConfigError, parseOrThrow } from "../components/core/validation";
import { RESTORE, commandArgs, runCommand, usageError } from "./commands";
import { callerDir, stackFileOf } from "./project";
import { PROJECT } from "./config";

/**
 * `omni-scale restore` (`npm run restore`): restores the hub from one of its backup sets, on the Docker host (over SSH
 * for ssh:// hosts). Without --yes it only checks the set (complete, undamaged, taken with the configured etcd key and
 * from this Omni's account) and changes nothing. It restores into the volume the running Omni container mounts at its
 * data path (docker inspect), which must be the configured one. Usage: src/commands.ts.
 */

/** Seconds an SSH connection may take to answer (TCP and the SSH banner) before the restore gives up. */
export const SSH_CONNECT_TIMEOUT = 10;

export interface RestoreOptions {
    set: string;
    /** Restore for real (stop Omni, restore, start it); otherwise check the set only. */
    yes: boolean;
    /** Overrides the fingerprint of the deployed key (read from the backup container on the host). */
    expectFingerprint?: string;
    /** Seconds for an SSH connection to answer; SSH_CONNECT_TIMEOUT by default. */
    connectTimeoutSeconds?: number;
    /** Take a set that is not encrypted, or not signed by this stack's backup signing key (the operator checked it). */
    allowPlain?: boolean;
}

/** A process that runs a shell script where the Docker host's docker CLI works. */
export interface HostRun {
    command: string;
    args: string[];
    env?: Record<string, string>;
    /** What it connects to, for the operator. */
    target: string;
    /** For ssh:// hosts: what to run by hand when the host cannot be reached. */
    sshCheck?: string;
}

/** The hub settings of a stack file. Only plain settings are read, so encrypted secrets in the file do not matter. */
export function hubSettingsOf(file: string): OmniHubSettings {
    const doc = (readYaml(fs.readFileSync(file, "utf8")) as any) ?? {};
    const key = `${PROJECT}:hub`;
    if (!doc.config?.[key])
        throw new ConfigError([
            { key, message: `${file} has no hub settings: restore works on a hub stack (role hub)` },
        ]);
    return parseOrThrow(OmniHubSettingsSchema, doc.config[key], key);
}

/**
 * Runs `script` with `params` on the Docker host. Over SSH the connection is bounded (ConnectTimeout covers TCP and
 * the SSH banner; ServerAlive probes end a session whose host stops answering) after the hub's own SSH options,
 * which ssh lets win because the first value of an option counts.
 */
export function onDockerHost(s: OmniHubSettings, script: string, params: string[], connectTimeout: number): HostRun {
    const host = parseDockerHost(s.dockerHost);
    if (typeof host === "string")
        throw new ConfigError([{ key: `${PROJECT}:hub.dockerHost`, value: s.dockerHost, message: host }]);
    if (host.scheme === "ssh") {
        // ssh hands one command line to the remote shell: every word quoted once.
        const remote = ["sh", "-c", script, "omni-hub-restore", ...params].map(shellQuote).join(" ");
        const port = host.port ? ["-p", String(host.port)] : [];
        const login = `${host.user}@${host.host}`;
        // parseDockerHost refuses a user or host beginning with "-"; "--" also keeps ssh from reading it as an option.
        return {
            command: "ssh",
            args: [
                ...(s.dockerSshOpts ?? []),
                ...[
                    "-o",
                    `ConnectTimeout=${connectTimeout}`,
                    "-o",
                    "ServerAliveInterval=15",
                    "-o",
                    "ServerAliveCountMax=4",
                ],
                ...port,
                "--",
                login,
                remote,
            ],
            target: `${login}${host.port ? ` port ${host.port}` : ""} over SSH (giving up after ${connectTimeout}s without an answer)`,
            sshCheck: ["ssh", ...port, login, "docker", "version"].join(" "),
        };
    }
    // unix:// or tcp://: the script uses only docker commands, which DOCKER_HOST points at the host.
    return {
        command: "sh",
        args: ["-c", script, "omni-hub-restore", ...params],
        env: { DOCKER_HOST: s.dockerHost },
        target: s.dockerHost,
    };
}

/** The restore's two steps: read the Omni container (docker inspect), then run the host script with what it found. */
export function restoreInvocation(s: OmniHubSettings, o: RestoreOptions) {
    if (!s.backup)
        throw new ConfigError([
            { key: `${PROJECT}:hub.backup`, message: "is not set: this hub takes no backups to restore from" },
        ]);
    const names = hubContainerNames(s.accountName);
    const connectTimeout = o.connectTimeoutSeconds ?? SSH_CONNECT_TIMEOUT;
    const script = hubRestoreHostScript({
        omniContainer: names.omni,
        backupContainer: names.backup,
        targetDir: s.backup.targetDir,
        omniPaths: omniContainerPaths,
    });
    const params = (facts: OmniContainerFacts) => [
        o.yes ? "restore" : "check",
        o.set,
        o.expectFingerprint ?? "",
        facts.dataVolume,
        facts.accountId,
        ...(o.allowPlain ? [ALLOW_PLAIN] : []),
    ];
    return {
        script,
        params,
        inspect: onDockerHost(
            s,
            `${restoreDockerPrelude(RESTORE_LIMITS.call)}\ndk "$CALL_LIMIT" inspect "$1"`,
            [names.omni],
            connectTimeout,
        ),
        /** What Omni must mount at its data path: the adopted volume, or the one the hub creates. */
        want: {
            container: names.omni,
            dataPath: omniContainerPaths.data,
            dataVolume: s.adopt?.omniDataVolume ?? names.dataVolume,
        },
        restore: (facts: OmniContainerFacts) => onDockerHost(s, script, params(facts), connectTimeout),
    };
}

/** ssh exits 255 when it cannot connect or the connection drops; the remote command's own codes pass through. */
function unreachable(run: HostRun, status: number | null): string | undefined {
    if (!run.sshCheck || status !== 255) return undefined;
    return (
        `restore failed: could not reach the Docker host ${run.target}, or the connection dropped (ssh's message is above). ` +
        `Check that the host is up and reachable from here, that hub.dockerHost is right and that your SSH agent holds its key: ${run.sshCheck}`
    );
}

/** Runs the restore CLI; a relative --config is the caller's: INIT_CWD under npm and npx, else the working directory. */
export function main(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
    const args = commandArgs(RESTORE, argv);
    if (typeof args === "number") return args;
    if (!args.stack && !args.config) return usageError("restore", "--stack is required");
    // ssh's ConnectTimeout takes whole seconds only.
    const timeoutArg = args["connect-timeout"];
    if (timeoutArg !== undefined && !/^[1-9]\d*$/.test(timeoutArg))
        return usageError(
            "restore",
            `--connect-timeout must be a whole number of seconds, at least 1 (not ${timeoutArg})`,
        );
    const connectTimeout = timeoutArg === undefined ? undefined : Number(timeoutArg);
    try {
        const file = args.config ? path.resolve(callerDir(env), args.config) : stackFileOf(args.stack!, env);
        const settings = hubSettingsOf(file);
        const plan = restoreInvocation(settings, {
            set: args.set!,
            yes: args.yes!,
            expectFingerprint: args["expect-fingerprint"],
            connectTimeoutSeconds: connectTimeout,
            allowPlain: args["allow-plain"],
        });
        if (args.print) {
            const params = plan.params({ dataVolume: "<data volume>", accountId: "<account id>" });
            process.stdout.write(
                `# on ${settings.dockerHost}, with the data volume and account id of \`docker inspect ${plan.want.container}\`: ` +
                    `sh -c "<this script>" omni-hub-restore ${params.map(shellQuote).join(" ")}\n${plan.script}`,
            );
            return 0;
        }
        process.stderr.write(`omni-hub-restore: connecting to ${plan.inspect.target}\n`);
        const inspected = spawnSync(plan.inspect.command, plan.inspect.args, {
            stdio: ["ignore", "pipe", "inherit"],
            encoding: "utf8",
            env: { ...process.env, ...plan.inspect.env },
        });
        if (inspected.error) throw inspected.error;
        const lost = unreachable(plan.inspect, inspected.status);
        if (lost) throw new Error(lost);
        if (inspected.status !== 0)
            throw new Error(
                `docker inspect ${plan.want.container} failed on ${settings.dockerHost} (exit ${inspected.status}): the Omni container must exist there (run pulumi up first)`,
            );
        const facts = omniContainerFacts(inspected.stdout, plan.want);
        const run = plan.restore(facts);
        const result = spawnSync(run.command, run.args, { stdio: "inherit", env: { ...process.env, ...run.env } });
        if (result.error) throw result.error;
        const dropped = unreachable(run, result.status);
        if (dropped) throw new Error(dropped);
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

if (require.main === module) runCommand(() => main(process.argv.slice(2)));

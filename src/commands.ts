/**
 * The operator commands (`omni-scale <command>`, cli/omni-scale.js; `npm run <command> --` in this repository): each
 * one's usage, in one place. `--help` prints it, a bad argument prints it after the error, and the docs are generated
 * from it. Kept free of imports but Node's own: every command loads it before anything heavy.
 */
import { parseArgs, ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;
/** What node:util's parseArgs returns for these options. */
type Values<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O }>>["values"];

export interface Command<O extends Options = Options> {
    name: string;
    /** One line: what the command does. */
    summary: string;
    /** What `--help` prints: usage, every option, exit codes, an example. */
    usage: string;
    /** Its options, as node:util's parseArgs takes them (`-h`/`--help` is every command's). */
    options: O;
}

/** A command, its options' types kept for commandArgs. */
const command = <const O extends Options>(c: Command<O>): Command<O> => c;

export const PLAN = command({
    name: "plan",
    summary:
        "Offline plan of a stack: its config, the real program under mocks, the real policy pack; no cloud, no CLI",
    usage: `usage: omni-scale plan --stack NAME [--config FILE] [--policy-config FILE.json] [--json]
       (in this repository: npm run plan -- --stack NAME ...)

Validates the stack file with the code \`pulumi up\` uses, runs the stack program under Pulumi's mocks and the
policy pack over what it registers, and prints the resources, what they render, the outputs (secrets masked) and
the policy results.

Options:
  --stack NAME              the stack to plan (required): Pulumi.NAME.yaml of your project (the nearest
                            directory at or above the current one with a Pulumi.yaml)
  --config FILE             plan this stack file instead (relative to the current directory); a workload stack
                            reads its hub's Pulumi.<hub>.yaml beside it
  --policy-config FILE.json policy configuration, as \`pulumi preview --policy-pack-config\` takes it; unknown
                            policies and keys are refused
  --json                    print a JSON document instead of text (secrets as "[secret]")
  -h, --help                print this help

Environment: PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE decrypts the file's \`secure:\` values.

Exit codes:
  0  planned, no mandatory policy violated
  1  a mandatory policy is violated (listed)
  2  bad arguments, bad configuration or an error the program raises from it (message on stderr)

Example:
  omni-scale plan --stack matrix --json > plan.json`,
    options: {
        stack: { type: "string" },
        config: { type: "string" },
        "policy-config": { type: "string" },
        json: { type: "boolean" },
    },
});

export const IMPORT = command({
    name: "import",
    summary:
        "Stack config from a running Omni's files: machine classes, cluster templates, omni.env, the provider's files",
    usage: `usage: omni-scale import [--machine-classes PATH]... [--clusters PATH]... [--omni-env FILE]
                        [--provider-env FILE] [--provider-config FILE] [--stack NAME] [--hub-stack NAME]
                        [--out FILE] [--hub-out FILE]
       (in this repository: npm run -s import -- ...)

Writes the stack config for what you run today, checked as a stack file is, against Pulumi.<stack>.yaml of your
project (else this package's example of the same role). Secrets are never written: the report on stderr lists them as
\`pulumi config set --secret\` commands. Paths are relative to the current directory.

Options:
  --machine-classes PATH    MachineClass YAML (\`omnictl get machineclasses -o yaml\`): a file of one or several
                            documents, or a directory of them; repeatable
  --clusters PATH           cluster templates (\`omnictl cluster template sync\` input): file or directory; repeatable
  --omni-env FILE           the hub's omni.env (Omni's compose kit)
  --provider-env FILE       the Proxmox provider's .env
  --provider-config FILE    the Proxmox provider's config.yaml
  --stack NAME              the workload stack the classes, clusters and provider go into (default: matrix)
  --hub-stack NAME          the hub stack the omni.env settings go into (default: quantum)
  --out FILE                write the workload stack's part here instead of stdout
  --hub-out FILE            write the hub stack's part here instead of stdout
  -h, --help                print this help

Env files are read as \`docker compose --env-file\` reads them: set the variables their \${VAR} name in the
environment, as for compose.

Exit codes:
  0  everything carried over
  1  something cannot be expressed in the stack config (listed on stderr)
  2  something is refused, with the messages of \`pulumi up\`, or bad arguments

Example (in the seed kit's directory; stdout is only the YAML):
  npx omni-scale import --machine-classes machine-classes --clusters clusters --omni-env omni/omni.env > import.yaml`,
    options: {
        "machine-classes": { type: "string", multiple: true },
        clusters: { type: "string", multiple: true },
        "omni-env": { type: "string" },
        "provider-env": { type: "string" },
        "provider-config": { type: "string" },
        stack: { type: "string", default: "matrix" },
        "hub-stack": { type: "string", default: "quantum" },
        out: { type: "string" },
        "hub-out": { type: "string" },
    },
});

export const RESTORE = command({
    name: "restore",
    summary: "Check, then restore, the hub from one of its backup sets, on the Docker host",
    usage: `usage: omni-scale restore (--stack NAME | --config FILE) [--set NAME|latest] [--expect-fingerprint FPR]
                         [--connect-timeout SECONDS] [--allow-plain] [--yes] [--print]
       (in this repository: npm run restore -- ...)

Runs the restore script on the hub's Docker host (over SSH for an ssh:// host). Without --yes it only checks the
set: signed by this hub's backup signing key, complete, undamaged, taken with the etcd key deployed and from this
Omni's account id; it changes nothing. It
restores into the volume the Omni container mounts at its data path (docker inspect), which must be the configured
one (hub.adopt.omniDataVolume, else <accountName>-data).

Options:
  --stack NAME              the hub stack: Pulumi.NAME.yaml of your project (the nearest directory at or above
                            the current one with a Pulumi.yaml)
  --config FILE             the hub stack file instead (relative to the current directory)
  --set NAME|latest         the backup set to check or restore (default: latest)
  --expect-fingerprint FPR  the etcd key's fingerprint the set must be encrypted with (default: the deployed key's)
  --connect-timeout SECONDS how long an SSH connection to the Docker host may take to answer (default: 10)
  --allow-plain             take a set that is not encrypted or not signed by this hub's backup (older sets, or a
                            lost signing key): only after checking where it comes from
  --yes                     restore for real: stop Omni, restore the set, start Omni
  --print                   print the script and its arguments instead of running them
  -h, --help                print this help

Exit codes:
  0  the set checks out (and, with --yes, is restored)
  2  bad arguments or configuration (the stack has no hub.backup, ...), or the Docker host cannot be reached
     (the message names the host and the ssh command to try by hand)
  other: the restore script's own exit code (3: a set not signed by this hub, not encrypted, taken with another etcd
     key or from another account id; 4: a damaged set)

Example:
  omni-scale restore --stack quantum --set latest && omni-scale restore --stack quantum --set latest --yes`,
    options: {
        stack: { type: "string" },
        config: { type: "string" },
        set: { type: "string", default: "latest" },
        "expect-fingerprint": { type: "string" },
        "connect-timeout": { type: "string" },
        yes: { type: "boolean", default: false },
        "allow-plain": { type: "boolean", default: false },
        print: { type: "boolean", default: false },
    },
});

export const CERTIFICATE_DUE = command({
    name: "certificate-due",
    summary: "Whether the hub's ACME certificate is inside its renewal window (what the scheduled workflow runs)",
    usage: `usage: omni-scale certificate-due (--stack NAME | --config FILE) --certificate FILE|- [--now ISO-TIME]
       (in this repository: npm run -s certificate:due -- ...)

Nothing renews the certificate between two \`pulumi up\`s. This tells whether the next one would: the ACME
provider's rule with the stack's hub.tls.renewalDays, or, unset, a third of the certificate's lifetime (half for 10
days or less). .github/workflows/certificate.yml runs it every day.

Options:
  --stack NAME              the hub stack: Pulumi.NAME.yaml of your project (the nearest directory at or above
                            the current one with a Pulumi.yaml)
  --config FILE             the hub stack file instead (relative to the current directory)
  --certificate FILE|-      \`pulumi stack output certificate --json\`, or the PEM certificate (leaf first); - for stdin
  --now ISO-TIME            judge at this time instead of now
  -h, --help                print this help

Exit codes:
  0  not due yet, or the hub uses no ACME certificate
  1  due: run \`pulumi up\` on the hub stack
  2  bad arguments, configuration or certificate

Example:
  pulumi stack output certificate --json -s quantum | omni-scale certificate-due --stack quantum --certificate -`,
    options: {
        stack: { type: "string" },
        config: { type: "string" },
        certificate: { type: "string" },
        now: { type: "string" },
    },
});

export const BENCH = command({
    name: "bench",
    summary: "Benchmark of the offline plan and of the program as `pulumi preview` loads it, against a floor",
    usage: `usage: omni-scale bench [--runs N]
       (in this repository: npm run bench -- ...)

Runs the floor (node loading the SDK and providers), each plan scenario (the examples and generated fleets) and the
quantum program as \`pulumi preview\` loads it, in turn, N rounds; prints medians and what each plan costs inside.

Options:
  --runs N                  rounds (default: 7)
  -h, --help                print this help

Exit codes:
  0  measured
  1  a scenario failed (its error on stderr)
  2  bad arguments

Example:
  omni-scale bench --runs 3`,
    options: {
        runs: { type: "string", default: "7" },
        scenario: { type: "string" },
        file: { type: "string" },
        stack: { type: "string" },
    },
});

export const COMMANDS: Command[] = [PLAN, IMPORT, RESTORE, CERTIFICATE_DUE, BENCH];

/** The usage of `name` (a command of COMMANDS). */
function usageOf(name: string): string {
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw new Error(`no command ${name}`);
    return command.usage;
}

/** Prints what is wrong and the command's usage on stderr; the exit code of a bad argument. */
export function usageError(name: string, message: string): number {
    process.stderr.write(`${message}\n${usageOf(name)}\n`);
    return 2;
}

/**
 * A command's arguments, parsed as every command parses them: with `-h`/`--help`, which prints the usage on stdout;
 * a bad option prints the error and the usage on stderr. The values, or the exit code when the command is done.
 */
export function commandArgs<O extends Options>(command: Command<O>, argv: string[]): Values<O> | number {
    let values: Values<O> & { help?: boolean };
    try {
        values = parseArgs({ args: argv, options: { ...command.options, help: { type: "boolean", short: "h" } } })
            .values as Values<O> & { help?: boolean };
    } catch (e) {
        return usageError(command.name, (e as Error).message);
    }
    if (values.help) {
        process.stdout.write(`${command.usage}\n`);
        return 0;
    }
    return values;
}

/**
 * Ends the process with `code` once everything written to stdout and stderr has reached the reader: `process.exit`
 * alone drops what a pipe has not taken yet (a `--json` plan piped into `jq` got its first 64 KiB). Every command's
 * process ends here (cli/omni-scale.js and the `npm run` entries, through `runCommand`).
 */
export function exitAfterOutput(code: number): void {
    process.exitCode = code;
    let pending = 2;
    // A write's callback runs once it and every write before it are flushed (or the stream failed, e.g. EPIPE).
    const flushed = () => {
        if (--pending === 0) process.exit(code);
    };
    for (const stream of [process.stdout, process.stderr]) {
        if (stream.destroyed || stream.writableEnded) flushed();
        else stream.write("", flushed);
    }
}

/** Runs a command's entry as the process's main: its exit code, or 1 with the error on stderr when it throws. */
export function runCommand(entry: () => number | Promise<number>): void {
    Promise.resolve()
        .then(entry)
        .then(exitAfterOutput, (e: unknown) => {
            process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
            exitAfterOutput(1);
        });
}

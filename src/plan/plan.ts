import * as fs from "node:fs";
import * as path from "node:path";
import { readYaml } from "../../components/core/yaml-read";
import { currentStackConfig, loadStackConfig, PROJECT, RawConfig, StackConfig } from "../config";
import { selfReferenceName } from "../previous";
import { PACKAGE_ROOT } from "../project";
import { programFor } from "../programs";
import { ConfigError } from "../../components/core/validation";
import { CapturedResource, isSecret, runProgram } from "./capture";
import { openPack, PolicyConfig, Violation } from "./analyze";
import { SimulatedValue, StackReferenceOutputs } from "./mocks";
import { PackProcess, POLICY_DIR } from "./pack-process";
import { decryptKeys, hasSecureValue, stackDecrypter } from "../stack-secrets";

export const REPO_ROOT = PACKAGE_ROOT;
export { POLICY_DIR };

export interface StackFile {
    config: RawConfig;
    secret: Set<string>;
    /** The file as it was read. */
    text: string;
}

/**
 * Reads a `Pulumi.<stack>.yaml` the way the CLI hands it to a program: scalars as strings, objects JSON-encoded, and
 * `secure:` values of the program's own keys decrypted (see secrets.ts) and listed as secret keys. Provider
 * credentials (proxmoxve:*, tailscale:*) are never read under mocks, so they are neither decrypted nor passed on.
 */
export function readStackFile(file: string, env: NodeJS.ProcessEnv = process.env): StackFile {
    let doc: any;
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
        // Merge keys (`<<: *anchor`) as the CLI's YAML reader accepts them.
        doc = (readYaml(text) as any) ?? {};
    } catch (e) {
        throw new ConfigError([{ key: file, message: `cannot read stack file: ${(e as Error).message}` }]);
    }
    const config: RawConfig = {};
    const encrypted: Record<string, unknown> = {};
    for (const [k, v] of Object.entries<unknown>(doc.config ?? {})) {
        if (!hasSecureValue(v)) config[k] = typeof v === "string" ? v : JSON.stringify(v);
        else if (k.startsWith(`${PROJECT}:`)) encrypted[k] = v;
    }
    const secureKeys = Object.keys(encrypted);
    // The key derivation (PBKDF2, 1M rounds) runs only for a file with secure values of its own.
    if (secureKeys.length === 0) return { config, secret: new Set(), text };
    const { decrypted, issues } = decryptKeys(encrypted, stackDecrypter(doc, file, secureKeys, env));
    if (issues.length > 0) throw new ConfigError(issues);
    return { config: { ...config, ...decrypted }, secret: new Set(secureKeys), text };
}

export interface PlanOptions {
    stack: string;
    configFile?: string;
    policyConfig?: PolicyConfig;
    /** Outputs of the stack's previous deployment (upgrade rules compare against them); none by default. */
    previousOutputs?: StackReferenceOutputs;
    /** Skip the policy pack (the hub plan a workload plan needs only for its outputs). */
    skipPolicies?: boolean;
    /**
     * Drop the program's log messages: the hub plan a workload plan runs for its outputs warns about the hub stack,
     * which a preview of the workload stack does not print.
     */
    silent?: boolean;
    /** Where PULUMI_CONFIG_PASSPHRASE(_FILE) are read from; the process environment by default. */
    env?: NodeJS.ProcessEnv;
    /** The pack process, when the caller started it (the CLI does, before it loads the plan); the caller stops it. */
    pack?: PackProcess;
}

export interface PlanResult {
    stack: string;
    config: StackConfig;
    resources: CapturedResource[];
    outputs: Record<string, unknown>;
    violations: Violation[];
    /** What the offline mocks made up for this stack's resources. */
    simulated: SimulatedValue[];
}

/**
 * The hub plans behind workload plans in this process, by hub stack, stack file text and decrypted config: a plan is
 * deterministic (test/plan-cli.test.ts: byte-identical), and reads nothing else, so a process that plans several
 * workload stacks of one hub (a library caller, the tests) runs the hub's program once. A failed plan is not kept;
 * only the last few are.
 */
const hubPlans = new Map<string, Promise<StackReferenceOutputs>>();
const HUB_PLANS_KEPT = 8;

/** What a workload plan's StackReference to its hub serves: the outputs of a plan of the hub's stack file. */
async function hubReference(stack: string, file: string, env?: NodeJS.ProcessEnv): Promise<StackReferenceOutputs> {
    // Read and decrypted on every plan: an edited file, or a passphrase that opens it to other values, is another key.
    const read = readStackFile(file, env);
    const key = JSON.stringify([stack, read.text, read.config]);
    let planned = hubPlans.get(key);
    if (!planned) {
        const opts = { stack, configFile: file, skipPolicies: true, silent: true, env };
        planned = planStackFile(opts, file, read).then((hub) => asStackReference(hub.outputs));
        hubPlans.set(key, planned);
        planned.catch(() => hubPlans.delete(key));
        if (hubPlans.size > HUB_PLANS_KEPT) hubPlans.delete(hubPlans.keys().next().value!);
    }
    // Each workload program gets its own copy of the outputs.
    return structuredClone(await planned);
}

/** Secret-marked stack outputs → what a StackReference to that stack returns. */
function asStackReference(outputs: Record<string, unknown>): StackReferenceOutputs {
    const plain: Record<string, unknown> = {};
    const secretOutputNames: string[] = [];
    for (const [k, v] of Object.entries(outputs)) {
        if (isSecret(v)) secretOutputNames.push(k);
        plain[k] = isSecret(v) ? v.value : v;
    }
    return { outputs: plain, secretOutputNames };
}

/**
 * The offline plan: validate the stack's config with the code `pulumi up` uses, run the real program under
 * mocks, and run the real policy pack over what it registered. A workload stack's StackReference is served
 * with the outputs of an offline plan of the hub stack it names (from that stack's file beside this one).
 */
export async function planStack(opts: PlanOptions): Promise<PlanResult> {
    const file = opts.configFile ?? path.join(REPO_ROOT, `Pulumi.${opts.stack}.yaml`);
    return planStackFile(opts, file, readStackFile(file, opts.env));
}

async function planStackFile(opts: PlanOptions, file: string, { config: raw, secret }: StackFile): Promise<PlanResult> {
    const config = loadStackConfig(raw, secret);
    // The pack process starts while the program runs; every way out of this function stops it.
    const pack = opts.skipPolicies ? undefined : openPack(POLICY_DIR, opts.pack);
    // As in a preview, each resource is analyzed as it registers, beside the rest of the program.
    const analysis = pack?.begin(opts.policyConfig);
    if (config.role === "workloads") pack?.warmTalos(config.clusters.map((c) => c.talosVersion));
    try {
        // The program reads its own last outputs for upgrade rules; offline there is none: a first deployment.
        const stackReferences: Record<string, StackReferenceOutputs> = {
            [selfReferenceName("organization", PROJECT, opts.stack)]: opts.previousOutputs ?? {
                outputs: {},
                secretOutputNames: [],
            },
        };
        if (config.role === "workloads") {
            const hubStack = config.hubStack.split("/").pop()!;
            const hubFile = path.join(path.dirname(file), `Pulumi.${hubStack}.yaml`);
            if (!fs.existsSync(hubFile)) {
                throw new ConfigError([
                    {
                        key: `${PROJECT}:hubStack`,
                        value: config.hubStack,
                        message: `the offline plan reads the hub's outputs from a plan of its stack file, and there is no ${hubFile}: put the hub stack's Pulumi.${hubStack}.yaml beside ${path.basename(file)}, or name the hub stack whose file is there`,
                    },
                ]);
            }
            stackReferences[config.hubStack] = await hubReference(hubStack, hubFile, opts.env);
        }

        // The program reads its config as under `pulumi up`: from the runtime, secret keys as the CLI lists them.
        const { resources, outputs, simulated } = await runProgram(() => programFor(currentStackConfig(file)), {
            stack: opts.stack,
            config: raw,
            secretKeys: [...secret],
            stackReferences,
            onRegistered: analysis?.resource,
            onLog: opts.silent ? () => undefined : undefined,
        });
        const violations = analysis ? (await analysis.finish(resources)).violations : [];
        return { stack: opts.stack, config, resources, outputs, violations, simulated };
    } finally {
        pack?.close();
    }
}

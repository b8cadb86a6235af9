import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, formatIssues } from "../../components/core/validation";
import { CLUSTER_KIND, MACHINE_CLASS_KIND } from "../../components/omni/omni-state";
import { CapturedResource, maskSecrets } from "./capture";
import { PolicyConfig, Violation } from "./analyze";
import { PackProcess } from "./pack-process";
import { planStack, PlanResult } from "./plan";
import { canonicalJson, SimulatedValue } from "./mocks";
import { redactSecrets } from "../stack-secrets";
import { commandArgs, PLAN, usageError } from "../commands";
import { callerDir, stackFileOf } from "../project";

const USAGE = PLAN.usage;

/** The `--json` document: secrets replaced by "[secret]". */
export function planJson(result: PlanResult) {
    return {
        stack: result.stack,
        resources: inTreeOrder(result.resources)
            .map(({ r }) => r)
            .filter((r) => !r.read)
            .map((r) => ({
                type: r.type,
                name: r.name,
                parent: r.parent ?? null,
                inputs: maskSecrets(r.inputs),
                protect: r.protect,
                retainOnDelete: r.retainOnDelete,
                dependsOn: r.dependsOn,
                // Adopted (Pulumi `import`) rather than created: the id of the existing resource, else null.
                import: r.importId ?? null,
            })),
        outputs: maskSecrets(result.outputs),
        // What the offline plan made up, and the outputs that carry any of it: none of it is real until `pulumi up`.
        simulated: simulatedInOrder(result).map(({ resource, type, outputs, note }) => ({
            resource,
            type,
            outputs,
            note,
        })),
        simulatedOutputs: Object.keys(result.outputs).filter((k) =>
            carriesSimulated(result.outputs[k], result.simulated),
        ),
        violations: result.violations.map((v) => ({
            policy: v.policy,
            enforcementLevel: v.enforcementLevel,
            resourceType: v.resourceType ?? null,
            resourceName: v.resourceName ?? null,
            message: redactSecrets(v.message),
        })),
    };
}

/** Whether a value shows text the offline plan made up (secrets are never shown, so never count). */
function carriesSimulated(value: unknown, simulated: SimulatedValue[]): boolean {
    const atoms = simulated.flatMap((s) => s.atoms);
    const walk = (v: unknown): boolean =>
        typeof v === "string"
            ? atoms.some((a) => v.includes(a))
            : Array.isArray(v)
              ? v.some(walk)
              : v !== null &&
                typeof v === "object" &&
                (atoms.includes(canonicalJson(v)) || Object.values(v).some(walk));
    return walk(maskSecrets(value));
}

const SIMULATED = " (simulated)";

/**
 * Resources parent first, each parent's children in registration order: the same order however long each took to
 * register (a dynamic provider registers later while its serialization is not cached yet).
 */
function inTreeOrder(resources: CapturedResource[]): { r: CapturedResource; depth: number }[] {
    const children = new Map<string | undefined, CapturedResource[]>();
    for (const r of resources) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
    const out: { r: CapturedResource; depth: number }[] = [];
    const walk = (parent: string | undefined, depth: number) => {
        for (const r of children.get(parent) ?? []) {
            out.push({ r, depth });
            walk(r.urn, depth + 1);
        }
    };
    walk(undefined, 0);
    return out;
}

function tree(resources: CapturedResource[]): string[] {
    return inTreeOrder(resources).map(({ r, depth }) => {
        const flags = [
            r.importId && `adopt: import ${r.importId}`,
            r.protect && "protect",
            r.retainOnDelete && "retainOnDelete",
            r.read && "read",
        ].filter(Boolean);
        return `${"  ".repeat(depth)}${r.type}  ${r.name}${flags.length ? `  [${flags.join(", ")}]` : ""}`;
    });
}

/** What the mocks made up, in the order of the resources they made it up for (data sources last). */
function simulatedInOrder(result: PlanResult): SimulatedValue[] {
    const order = inTreeOrder(result.resources).map(({ r }) => `${r.type} ${r.name}`);
    const index = (v: SimulatedValue) => {
        const i = order.indexOf(`${v.type} ${v.resource}`);
        return i < 0 ? order.length : i;
    };
    return [...result.simulated].sort((a, b) => index(a) - index(b) || a.resource.localeCompare(b.resource));
}

const omniKinds = [MACHINE_CLASS_KIND, CLUSTER_KIND];

/** What the program rendered for Omni: container command lines (Omni's flags) and YAML fed to omnictl. */
function artifacts(resources: CapturedResource[]): string[] {
    const out: string[] = [];
    for (const r of resources) {
        const inputs = maskSecrets(r.inputs);
        if (r.type === "docker:index/container:Container" && Array.isArray(inputs.command) && inputs.command.length) {
            out.push(`# ${r.name}: command`, ...inputs.command.map((c: string) => `  ${c}`), "");
        }
        // A command's stdin, or the YAML an Omni machine class or cluster applies.
        const [what, text] =
            r.type === "command:local:Command"
                ? ["stdin", inputs.stdin]
                : ["yaml", omniKinds.includes(inputs.kind) && inputs.yaml];
        if (typeof text === "string" && text.trim()) {
            out.push(
                `# ${r.name}: ${what}`,
                ...text
                    .trimEnd()
                    .split("\n")
                    .map((l: string) => `  ${l}`),
                "",
            );
        }
    }
    return out;
}

function formatViolation(v: Violation): string {
    const where = v.resourceName ? ` (${v.resourceName}: ${v.resourceType})` : "";
    return `  [${v.enforcementLevel}] ${v.policy}${where}\n    ${redactSecrets(v.message).replace(/\n/g, "\n    ")}`;
}

/** What to run after a plan: the real preview and update, with the same pack, or the fixes first. */
function nextStep(result: PlanResult): string[] {
    if (hasMandatory(result.violations))
        return ["Next: fix the mandatory violations above and plan again (`pulumi up` would stop on them too)."];
    return [
        "Next: the same program and policy pack against the real providers (preview first, nothing changes):",
        `  pulumi preview --stack ${result.stack} --policy-pack policy`,
        `  pulumi up --stack ${result.stack} --policy-pack policy`,
    ];
}

export function renderText(result: PlanResult): string {
    const outputs = maskSecrets(result.outputs);
    const mark = (line: string) => (carriesSimulated(line, result.simulated) ? `${line}${SIMULATED}` : line);
    const lines = [
        `Offline plan of stack "${result.stack}" (role ${result.config.role}): ${result.resources.length} registrations`,
        "Nothing was contacted or changed. What the providers would report is made up here: listed under Simulated,",
        `and every output or line that shows any of it is marked${SIMULATED}.`,
        "",
        "Resources:",
        ...tree(result.resources).map((l) => `  ${l}`),
        "",
        "Rendered:",
        ...artifacts(result.resources).map((l) => mark(`  ${l}`)),
        "Simulated:",
        ...(result.simulated.length
            ? simulatedInOrder(result).map((v) => `  ${v.resource} (${v.type}): ${v.outputs.join(", ")}: ${v.note}`)
            : ["  nothing"]),
        "",
        "Outputs:",
        ...Object.entries(outputs).map(([k, v]) =>
            carriesSimulated(v, result.simulated)
                ? `  ${k}${SIMULATED}: ${JSON.stringify(v)}`
                : `  ${k}: ${JSON.stringify(v)}`,
        ),
        "",
        "Policies:",
        ...(result.violations.length ? result.violations.map(formatViolation) : ["  no violations"]),
        "",
        ...nextStep(result),
    ];
    return lines.join("\n");
}

export const hasMandatory = (violations: Violation[]) => violations.some((v) => v.enforcementLevel === "mandatory");

/**
 * What a failed plan prints: the cause and its fix. The SDK prefixes errors raised while it serializes a resource's
 * inputs (`error serializing property "envs": …`, once per nesting level); a ConfigError keeps its issues intact.
 */
function failureMessage(e: unknown): string {
    if (e instanceof ConfigError) return formatIssues(e.issues);
    const message = e instanceof Error ? e.message : String(e);
    return `plan failed: ${message.replace(/^(error serializing property "[^"]*": )+/, "")}`;
}

/**
 * Runs the plan CLI; `env` supplies PULUMI_CONFIG_PASSPHRASE(_FILE), as for `pulumi up`, and INIT_CWD (set by npm and
 * npx: the caller's directory, which relative files are relative to; else the working directory); `pack` is the
 * policy pack process when the caller started it (main.ts, which stops it on exit).
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, pack?: PackProcess): Promise<number> {
    const args = commandArgs(PLAN, argv);
    if (typeof args === "number") return args;
    if (!args.stack) return usageError("plan", "--stack is required");
    const callerFile = (file: string) => path.resolve(callerDir(env), file);
    try {
        const policyConfig = args["policy-config"]
            ? (JSON.parse(fs.readFileSync(callerFile(args["policy-config"]), "utf8")) as PolicyConfig)
            : undefined;
        const result = await planStack({
            stack: args.stack,
            configFile: args.config ? callerFile(args.config) : stackFileOf(args.stack, env),
            policyConfig,
            env,
            pack,
        });
        // Secret values inside ordinary keys are secret inputs (programs.ts); whatever still shows one is hidden here.
        const text = args.json ? JSON.stringify(planJson(result), null, 2) : renderText(result);
        process.stdout.write(`${redactSecrets(text)}\n`);
        return hasMandatory(result.violations) ? 1 : 0;
    } catch (e) {
        // Bad config, a missing file, or an error the program raises from what it was given (e.g. the hub stack
        // lacks an output this stack needs): exit 2, as `pulumi up` would stop before changing anything.
        const usage = (e as NodeJS.ErrnoException).code === "ENOENT" ? `\n${USAGE}` : "";
        // Decrypted secrets never reach the terminal, whatever an error quotes.
        process.stderr.write(`${redactSecrets(failureMessage(e))}${usage}\n`);
        return 2;
    }
}

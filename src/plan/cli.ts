import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError, formatIssues } from "../../components/core/validation";
import { CLUSTER_KIND, MACHINE_CLASS_KIND } from "../../components/omni/omni-state";
import { CapturedResource, maskSecrets } from "./capture";
import { PolicyConfig, Violation } from "./analyze";
import { PackProcess } from "./pack-process";
import { planStack, PlanResult } from "./plan";
import { redactSecrets } from "../stack-secrets";

const USAGE = "usage: npm run plan -- --stack <quantum|matrix> [--config FILE] [--policy-config FILE.json] [--json]";

/** The `--json` document: secrets replaced by "[secret]". */
export function planJson(result: PlanResult) {
    return {
        stack: result.stack,
        resources: result.resources
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
        violations: result.violations.map((v) => ({
            policy: v.policy,
            enforcementLevel: v.enforcementLevel,
            resourceType: v.resourceType ?? null,
            resourceName: v.resourceName ?? null,
            message: redactSecrets(v.message),
        })),
    };
}

function tree(resources: CapturedResource[]): string[] {
    const children = new Map<string | undefined, CapturedResource[]>();
    for (const r of resources) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
    const lines: string[] = [];
    const walk = (parent: string | undefined, indent: string) => {
        for (const r of children.get(parent) ?? []) {
            const flags = [
                r.importId && `adopt: import ${r.importId}`,
                r.protect && "protect",
                r.retainOnDelete && "retainOnDelete",
                r.read && "read",
            ].filter(Boolean);
            lines.push(`${indent}${r.type}  ${r.name}${flags.length ? `  [${flags.join(", ")}]` : ""}`);
            walk(r.urn, indent + "  ");
        }
    };
    walk(undefined, "");
    return lines;
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

export function renderText(result: PlanResult): string {
    const outputs = maskSecrets(result.outputs);
    const lines = [
        `Offline plan of stack "${result.stack}" (role ${result.config.role}): ${result.resources.length} registrations`,
        "",
        "Resources:",
        ...tree(result.resources).map((l) => `  ${l}`),
        "",
        "Rendered:",
        ...artifacts(result.resources).map((l) => `  ${l}`),
        "Outputs:",
        ...Object.entries(outputs).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
        "",
        "Policies:",
        ...(result.violations.length ? result.violations.map(formatViolation) : ["  no violations"]),
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
 * Runs the plan CLI; `env` supplies PULUMI_CONFIG_PASSPHRASE(_FILE), as for `pulumi up`; `pack` is the policy pack
 * process when the caller started it (main.ts, which stops it on exit).
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, pack?: PackProcess): Promise<number> {
    let args;
    try {
        args = parseArgs({
            args: argv,
            options: {
                stack: { type: "string" },
                config: { type: "string" },
                "policy-config": { type: "string" },
                json: { type: "boolean" },
            },
        }).values;
    } catch (e) {
        process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
        return 2;
    }
    if (!args.stack) {
        process.stderr.write(`--stack is required\n${USAGE}\n`);
        return 2;
    }
    try {
        const policyConfig = args["policy-config"]
            ? (JSON.parse(fs.readFileSync(args["policy-config"], "utf8")) as PolicyConfig)
            : undefined;
        const result = await planStack({ stack: args.stack, configFile: args.config, policyConfig, env, pack });
        process.stdout.write(args.json ? `${JSON.stringify(planJson(result), null, 2)}\n` : `${renderText(result)}\n`);
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

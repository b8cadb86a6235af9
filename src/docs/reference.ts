import type { Policy, PolicyPackArgs } from "@pulumi/policy";
import { HubKeys, secretKeyNotes, secretKeys, WorkloadKeys } from "../config";
import { inputSchema, JsonSchema } from "./stack-schema";
import type { Command } from "../commands";
import type { StackOutput } from "../outputs";

/** How deep the reference lists keys one per row (`hub.auth.oidc`); deeper keys are named in their parent's row. */
const ROW_DEPTH = 3;

const code = (v: unknown) => `\`${typeof v === "string" ? v : JSON.stringify(v)}\``;
// Markdown would read `<omniVersion>` as an HTML tag and drop it.
const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/\n/g, " ");

/** The alternatives of a union (zod's discriminated unions become oneOf, others anyOf). */
const alternatives = (s: JsonSchema): JsonSchema[] => s.oneOf ?? s.anyOf ?? [];

/** The keys of an object, or of every alternative of a union of objects (the first one describing a key wins). */
function propertiesOf(s: JsonSchema): Record<string, JsonSchema> {
    const merged: Record<string, JsonSchema> = {};
    for (const alt of [s, ...alternatives(s)])
        for (const [k, v] of Object.entries<JsonSchema>(alt.properties ?? {}))
            // A discriminator (`mode`) takes one constant per alternative: together, its values.
            merged[k] =
                v.const !== undefined && merged[k]
                    ? { enum: [...(merged[k].enum ?? [merged[k].const]), v.const] }
                    : (merged[k] ?? v);
    return merged;
}

/** What a value must be, in words, from the schema itself. */
function shape(s: JsonSchema): string {
    if (s.not) return "refused";
    if (s.enum) return `one of ${s.enum.map(code).join(", ")}`;
    if (s.const !== undefined) return code(s.const);
    if (s.type === "array") {
        const items = s.items ? shape(s.items) : "anything";
        const most = s.maxItems !== undefined ? `, at most ${s.maxItems}` : "";
        const least = s.minItems ? `, at least ${s.minItems}` : "";
        return `list of ${items}${least}${most}`;
    }
    if (s.type === "integer" || s.type === "number") {
        // zod bounds every integer by the safe range: that is no rule of ours.
        const [min, max] = [s.minimum, s.maximum].map((b) => (Math.abs(b) >= Number.MAX_SAFE_INTEGER ? undefined : b));
        const range =
            min !== undefined && max !== undefined
                ? ` ${min}–${max}`
                : min !== undefined
                  ? ` ≥ ${min}`
                  : max !== undefined
                    ? ` ≤ ${max}`
                    : "";
        return `${s.type}${range}`;
    }
    if (s.type === "string") return s.format ?? "string";
    if (s.type === "boolean") return "boolean";
    const keys = Object.keys(propertiesOf(s));
    if (keys.length) {
        const modes = alternatives(s)
            .map((a) => a.properties?.mode?.const)
            .filter((m) => m !== undefined);
        return modes.length ? `by \`mode\`: ${modes.map(code).join(", ")}` : `\`{ ${keys.join(", ")} }\``;
    }
    if (s.type === "object" && s.additionalProperties) return `map of ${shape(s.additionalProperties)}`;
    if (alternatives(s).length) return alternatives(s).map(shape).join(" or ");
    return "any";
}

export interface Row {
    key: string;
    default: string;
    /** What the schema's own description says, if anything. */
    description?: string;
    rule: string;
}

/** One row per key down to ROW_DEPTH, under `prefix`; list items are entered as `key[]`. */
function rows(prefix: string, s: JsonSchema, required: boolean, depth: number): Row[] {
    const description = s.description ?? s.items?.description;
    const dflt = s.default !== undefined ? code(s.default) : required ? "required" : "–";
    const own: Row = {
        key: prefix,
        default: dflt,
        description,
        rule: [description, shape(s)].filter(Boolean).join(". "),
    };
    const object = s.type === "array" ? s.items : s;
    const children = object ? propertiesOf(object) : {};
    if (depth >= ROW_DEPTH || Object.keys(children).length === 0) return [own];
    const path = s.type === "array" ? `${prefix}[]` : prefix;
    const mandatory = new Set<string>(object.required ?? []);
    return [own, ...Object.entries(children).flatMap(([k, v]) => rows(`${path}.${k}`, v, mandatory.has(k), depth + 1))];
}

function table(all: Row[]): string {
    return [
        "| Key | Default | Rule |",
        "|---|---|---|",
        ...all.map((r) => `| ${code(r.key)} | ${cell(r.default)} | ${cell(r.rule)} |`),
    ].join("\n");
}

/** The keys of a role, one row each down to ROW_DEPTH: its schema's, then its secrets. */
export function configRows(role: "hub" | "workloads"): Row[] {
    const json = inputSchema(role === "hub" ? HubKeys : WorkloadKeys);
    const required = new Set<string>(json.required ?? []);
    const keys = Object.entries<JsonSchema>(json.properties).flatMap(([k, v]) => rows(k, v, required.has(k), 1));
    const secrets = secretKeys[role].map((k) => ({
        key: k,
        default: "–",
        description: secretKeyNotes[k],
        rule: `secret (\`pulumi config set --secret ${k} ...\`). ${secretKeyNotes[k]}`,
    }));
    return [...keys, ...secrets];
}

/** The configuration reference of a role: every key, its default and its rule. */
export function configReference(role: "hub" | "workloads"): string {
    return table(configRows(role));
}

/** The policy table: each policy of the pack, its level, what it enforces and its `--policy-config` keys. */
export function policyTable(pack: PolicyPackArgs): string {
    const config = (p: Policy) =>
        Object.entries<JsonSchema>(p.configSchema?.properties ?? {})
            .map(([k, v]) => (v.default !== undefined ? `${code(k)} (${code(v.default)})` : code(k)))
            .join(", ");
    const level = (p: Policy) =>
        `${p.enforcementLevel ?? pack.enforcementLevel ?? "advisory"}${"validateStack" in p ? " (stack)" : ""}`;
    return [
        "| Policy | Level | Enforces | Config (default) |",
        "|---|---|---|---|",
        ...pack.policies.map(
            (p) => `| ${code(p.name)} | ${level(p)} | ${cell(p.description ?? "")} | ${cell(config(p)) || "–"} |`,
        ),
    ].join("\n");
}

/** Each operator command: its summary and the usage its `--help` prints. */
export function commandReference(commands: readonly Command[]): string {
    return commands
        .map((c) => [`## \`${c.name}\``, "", `${c.summary}.`, "", "```", c.usage, "```"].join("\n"))
        .join("\n\n");
}

/** A role's stack outputs: name, meaning, and when it is exported or secret. */
export function outputTable(outputs: Record<string, StackOutput>): string {
    const notes = (o: StackOutput) =>
        [o.secret && "secret (`--show-secrets`)", o.when && `with ${o.when}`].filter(Boolean).join("; ");
    return [
        "| Output | Meaning | Exported |",
        "|---|---|---|",
        ...Object.entries(outputs).map(
            ([name, o]) => `| ${code(name)} | ${cell(o.meaning)} | ${notes(o) || "always"} |`,
        ),
    ].join("\n");
}

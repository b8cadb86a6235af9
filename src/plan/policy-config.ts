import type Ajv from "ajv";
import { closestKey, ConfigIssue } from "../../components/core/validation";
import type { EnforcementLevel, PolicyConfig } from "./analyze";

/** A policy as the pack describes itself (getAnalyzerInfo): its name and the JSON Schema of its config. */
export interface PackPolicy {
    name: string;
    properties: Record<string, object>;
    required: string[];
}

const LEVELS: readonly EnforcementLevel[] = ["advisory", "mandatory", "remediate", "disabled"];
/** The key that sets every policy's enforcement level (the CLI's ReconcilePolicyPackConfig). */
const ALL = "all";

/** ajv, loaded (about 70 ms) only for a config that sets a policy's own keys. */
let ajv: Ajv | undefined;
// eslint-disable-next-line @typescript-eslint/no-var-requires
const compile = (schema: object) =>
    (ajv ??= new (require("ajv").default as typeof Ajv)({ allErrors: true, strict: false })).compile(schema);

/**
 * What is wrong with a `--policy-config` document for this pack. The Pulumi CLI checks each policy's config against
 * its schema (pkg/resource/plugin: parsePolicyPackConfig, ValidatePolicyPackConfig) but passes unknown policies and
 * keys on unread, so a misspelt key silently keeps the default; here both are refused, naming what the pack takes.
 */
export function policyConfigIssues(policies: PackPolicy[], config: unknown): ConfigIssue[] {
    const keysOf = (p: PackPolicy) => ["enforcementLevel", ...Object.keys(p.properties)];
    const catalogue = `the pack's policies and their keys: ${[`${ALL} (enforcementLevel, for every policy)`, ...policies.map((p) => `${p.name} (${keysOf(p).join(", ")})`)].join("; ")}`;
    if (typeof config !== "object" || config === null || Array.isArray(config))
        return [
            { key: "policy config", value: config, message: `must be a JSON object of policy names; ${catalogue}` },
        ];
    const issues: ConfigIssue[] = [];
    const level = (key: string, value: unknown) => {
        if (!LEVELS.includes(value as EnforcementLevel))
            issues.push({ key, value, message: `is not an enforcement level: use one of ${LEVELS.join(", ")}` });
    };
    for (const [name, value] of Object.entries(config)) {
        const key = `policy config ${name}`;
        const policy = policies.find((p) => p.name === name);
        if (!policy && name !== ALL) {
            const meant = closestKey(
                name,
                policies.map((p) => p.name),
            );
            issues.push({
                key,
                message: `unknown policy${meant ? `: did you mean \`${meant}\`?` : ""} (${catalogue})`,
            });
            continue;
        }
        if (typeof value === "string") {
            level(key, value);
            continue;
        }
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
            issues.push({ key, value, message: "must be an enforcement level or an object of the policy's keys" });
            continue;
        }
        const { enforcementLevel, ...props } = value as Record<string, unknown>;
        if (enforcementLevel !== undefined) level(`${key}.enforcementLevel`, enforcementLevel);
        const known = policy ? Object.keys(policy.properties) : [];
        for (const k of Object.keys(props).filter((k) => !known.includes(k))) {
            const meant = closestKey(k, known);
            const takes = policy
                ? `${name} takes ${keysOf(policy).join(", ")}`
                : `"${ALL}" takes enforcementLevel only`;
            issues.push({
                key: `${key}.${k}`,
                value: props[k],
                message: `unknown key${meant ? `: did you mean \`${meant}\`?` : ""} (${takes})`,
            });
        }
        if (!policy) continue;
        const validate = compile({ type: "object", properties: policy.properties, required: policy.required });
        if (!validate(props)) {
            for (const e of validate.errors ?? []) {
                const at = e.instancePath.slice(1).replace(/\//g, ".");
                issues.push({
                    key: at ? `${key}.${at}` : key,
                    value: at ? at.split(".").reduce<any>((v, p) => v?.[p], props) : undefined,
                    message: e.message ?? "does not match the policy's config schema",
                });
            }
        }
    }
    return issues;
}

/** The enforcement level `config` gives every policy (`"all": "advisory"` or `{ "all": { enforcementLevel } }`). */
export function allLevel(config: PolicyConfig): EnforcementLevel | undefined {
    const all = config[ALL];
    return typeof all === "string" ? all : all?.enforcementLevel;
}

/**
 * Reading resource properties the way policies need them. Props arrive behind @pulumi/policy's
 * unknown-checking proxy: reading a value that is unknown during preview throws UnknownValueError.
 */

import { Policy, ResourceValidation } from "@pulumi/policy";
import { withoutStackTrace } from "../components/core/hot-paths";

// The class is exported at runtime, but @pulumi/policy's typings strip it (@pulumi/policy `proxy.js`).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { UnknownValueError } = require("@pulumi/policy/proxy") as { UnknownValueError: new (...args: never[]) => Error };

/** The value, or undefined when it is unknown during preview. */
export function known<T>(read: () => T): T | undefined {
    try {
        return read();
    } catch (e) {
        if (e instanceof UnknownValueError) return undefined;
        throw e;
    }
}

/** The known strings of the string list `props[key]`; unknown elements (e.g. a flag built from a generated id) are left out. */
export function knownStrings(props: object, key: string): string[] {
    const items = known(() => (props as Record<string, unknown>)[key]);
    if (!Array.isArray(items)) return [];
    const out: string[] = [];
    for (let i = 0; i < items.length; i++) {
        const item = known(() => items[i]);
        if (typeof item === "string") out.push(item);
    }
    return out;
}

/**
 * Command-line flags (`--name=value`, `--name value`, or a bare boolean `--name`) as name → values.
 * Omni and the infra provider parse flags with cobra, which accepts all three forms.
 */
export function commandFlags(props: object, key = "command"): Map<string, string[]> {
    const args = knownStrings(props, key);
    const flags = new Map<string, string[]>();
    for (let i = 0; i < args.length; i++) {
        const m = /^--([^=]+)(?:=(.*))?$/s.exec(args[i]);
        if (!m) continue;
        let value = m[2];
        if (value === undefined) value = i + 1 < args.length && !args[i + 1].startsWith("-") ? args[++i] : "true";
        flags.set(m[1], [...(flags.get(m[1]) ?? []), value]);
    }
    return flags;
}

/** The last value of a flag (cobra keeps the last one), or undefined. */
export function flag(flags: Map<string, string[]>, name: string): string | undefined {
    return flags.get(name)?.at(-1);
}

/** The documents of a multi-document YAML text, as text (each is parsed by the rules that own it). */
export function yamlDocuments(text: string): string[] {
    return text.split(/^---[ \t]*(?:#.*)?$/m).filter((doc) => doc.trim() !== "");
}

/** A protobuf Struct of a request's properties, as @pulumi/policy's server hands it to its deserializer. */
type PropertiesStruct = object;

/**
 * Deserializes each request's properties once for all the policies that read them. @pulumi/policy (server.js,
 * makeAnalyzeRpcFun and makeAnalyzeStackRpcFun) deserializes a resource's properties again for every policy that
 * applies to it, and every untyped policy applies to every resource (ten here, the Omni resources at 17–97 kB each),
 * in `analyze` and again for each stack policy in `analyzeStack`. Policies only read what they are given, so the
 * analyses of one request share one copy (each still behind its own unknown-checking proxy); a remediation, which
 * changes the properties, deserializes its own (`proxySecrets` true). Installed once per process.
 */
export function shareDeserializedProperties(): void {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const deserialize = require("@pulumi/policy/deserialize") as {
        deserializeProperties(struct: PropertiesStruct, proxySecrets: boolean): Record<string, unknown>;
        shared?: true;
    };
    if (deserialize.shared) return;
    const own = deserialize.deserializeProperties;
    const byRequest = new WeakMap<PropertiesStruct, Record<string, unknown>>();
    deserialize.deserializeProperties = (struct, proxySecrets) => {
        if (proxySecrets || typeof struct !== "object" || struct === null) return own(struct, proxySecrets);
        let props = byRequest.get(struct);
        if (!props) {
            props = own(struct, false);
            byRequest.set(struct, props);
        }
        return props;
    };
    deserialize.shared = true;
}

/** The type a validateResourceOfType function carries; with it the SDK skips other resources unexamined. */
const pulumiTypeOf = (validation: ResourceValidation): string | undefined =>
    (validation as { __pulumiType?: string }).__pulumiType;

/**
 * A policy whose validations each check another resource type, as one validation that runs the one of the resource's
 * type. Given the list, @pulumi/policy (server.js, makeAnalyzeRpcFun) deserializes every resource again for each
 * element and each element of another type throws a NotApplicableError; folded, that happens once per policy. Lists
 * with an untyped validation or two of one type are kept (each element has its own error handling there).
 */
export function foldByResourceType<P extends Policy>(policy: P): P {
    const validations = (policy as { validateResource?: ResourceValidation | ResourceValidation[] }).validateResource;
    if (!Array.isArray(validations)) return policy;
    const types = validations.map(pulumiTypeOf);
    if (types.some((t) => t === undefined) || new Set(types).size !== types.length) return policy;
    const byType = new Map(validations.map((v, i) => [types[i]!, v]));
    const reason = `Policy only applies to resources of types ${types.map((t) => `'${t}'`).join(", ")}`;
    const folded: ResourceValidation = (args, report) => {
        const validation = byType.get(args.type);
        if (validation) return validation(args, report);
        // notApplicable throws an Error the server reads only the reason of; most resources get here, and the stack
        // trace each Error recorded was a sixth of a matrix plan's policy time.
        withoutStackTrace(() => args.notApplicable(reason));
    };
    return { ...policy, validateResource: folded };
}

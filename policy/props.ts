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

/** A request's properties: a google.protobuf.Struct, as @pulumi/policy's server hands it to its deserializer. */
interface PropertiesStruct {
    getFieldsMap(): { forEach(f: (value: unknown, key: string) => void): void; set(key: string, value: unknown): void };
}

type Deserializer = (struct: PropertiesStruct, proxySecrets: boolean) => Record<string, unknown>;

/**
 * Deserializes each request's properties once for all the policies that read them, and each top-level property only
 * when a policy first reads it. @pulumi/policy (server.js, makeAnalyzeRpcFun and makeAnalyzeStackRpcFun) deserializes a
 * resource's properties again for every policy that applies to it, and every untyped policy applies to every resource,
 * in `analyze` and again for each stack policy in `analyzeStack`; no policy reads an Omni resource's `state` (1,836
 * values for a cluster with 100 patches), whose conversion from protobuf was most of the analysis. Policies only read
 * what they are given, so the analyses of one request share one object (each still behind its own unknown-checking
 * proxy); a remediation, which changes the properties, deserializes its own (`proxySecrets` true). Installed once per
 * process.
 */
export function shareDeserializedProperties(): void {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const deserialize = require("@pulumi/policy/deserialize") as {
        deserializeProperties: Deserializer;
        shared?: true;
    };
    if (deserialize.shared) return;
    const own = deserialize.deserializeProperties;
    const byRequest = new WeakMap<PropertiesStruct, Record<string, unknown>>();
    deserialize.deserializeProperties = (struct, proxySecrets) => {
        if (proxySecrets || typeof struct !== "object" || struct === null) return own(struct, proxySecrets);
        let props = byRequest.get(struct);
        if (!props) {
            props = onRead(struct, own);
            byRequest.set(struct, props);
        }
        return props;
    };
    deserialize.shared = true;
}

/**
 * The properties of `struct` in its keys' order, each deserialized by @pulumi/policy's own code (secrets unwrapped,
 * assets, unknowns) the first time it is read, and kept.
 */
function onRead(struct: PropertiesStruct, own: Deserializer): Record<string, unknown> {
    const props: Record<string, unknown> = {};
    // The Struct class of the request's own google-protobuf copy.
    const Struct = struct.constructor as new () => PropertiesStruct;
    struct.getFieldsMap().forEach((value, key) => {
        Object.defineProperty(props, key, {
            enumerable: true,
            configurable: true,
            get() {
                const one = new Struct();
                one.getFieldsMap().set(key, value);
                const read = own(one, false)[key];
                Object.defineProperty(props, key, {
                    value: read,
                    enumerable: true,
                    configurable: true,
                    writable: true,
                });
                return read;
            },
        });
    });
    return props;
}

/** What `f` throws. */
function thrownBy(f: () => unknown): unknown {
    try {
        f();
    } catch (e) {
        return e;
    }
    throw new Error("expected a throw");
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
    // notApplicable throws an Error the server reads only the class and reason of; most resources get here, and making
    // one each time (even without a stack trace) was a sixth of a fleet's policy time. One is made, then thrown again.
    let notApplicable: unknown;
    const folded: ResourceValidation = (args, report) => {
        const validation = byType.get(args.type);
        if (validation) return validation(args, report);
        notApplicable ??= thrownBy(() => withoutStackTrace(() => args.notApplicable(reason)));
        throw notApplicable;
    };
    return { ...policy, validateResource: folded };
}

import * as semver from "semver";
import { CUSTOM_TYPES } from "./talos-node-rules";
import { GoMap, GoNode, GoScalar, toValue, YAML11_BOOLS } from "./talos-yaml";

/**
 * A patch document decoded into Talos's Go types as go.yaml.in/yaml v4 decodes it (constructor.go): each scalar
 * becomes what its Go field would hold, or stays as written where v4 refuses it, so the JSON schema check that follows
 * sees Omni's verdict. Custom text types, `$patch: delete` and version rules are judged here, with their paths.
 */

export type SchemaNode = Record<string, unknown> & {
    $ref?: string;
    type?: string;
    enum?: unknown[];
    oneOf?: SchemaNode[];
    properties?: Record<string, SchemaNode>;
    patternProperties?: Record<string, SchemaNode>;
    additionalProperties?: SchemaNode | boolean;
    items?: SchemaNode;
    "x-talos"?: string;
    "x-ci"?: boolean;
    "x-arg"?: boolean;
    "x-since"?: string;
};

export type Path = (string | number)[];

export interface DecodeContext {
    defs: Record<string, SchemaNode>;
    /** The cluster's Talos version (patch release). */
    talos: semver.SemVer;
    /** A path as messages show it. */
    where: (path: Path) => string;
    problems: string[];
    warnings: string[];
}

export const resolveRef = (defs: Record<string, SchemaNode>, s: SchemaNode | undefined) => {
    while (s?.$ref) s = defs[s.$ref.replace("#/$defs/", "")];
    return s;
};

const patterns = new Map<string, RegExp>();
const patternOf = (p: string) => patterns.get(p) ?? patterns.set(p, new RegExp(p)).get(p)!;

/** The schema of a mapping's value at `key`. */
function childSchema(s: SchemaNode | undefined, key: string): SchemaNode | undefined {
    if (!s) return undefined;
    const p = s.properties?.[key];
    if (p) return p;
    for (const [pattern, sub] of Object.entries(s.patternProperties ?? {}))
        if (patternOf(pattern).test(key)) return sub;
    return typeof s.additionalProperties === "object" ? s.additionalProperties : undefined;
}

/** The branch of a oneOf a node of this kind goes into (ArgValue: a string first, then a list). */
function branch(ctx: DecodeContext, s: SchemaNode, node: GoNode): SchemaNode {
    const want = node.kind === "seq" ? "array" : node.kind === "map" ? "object" : undefined;
    const branches = s.oneOf!.map((b) => resolveRef(ctx.defs, b)!);
    return (
        branches.find((b) => (want ? b.type === want : b.type !== "array" && b.type !== "object")) ?? branches[0] ?? s
    );
}

/** Why an unquoted scalar that lands in a string field reads differently elsewhere, or undefined. */
function surprise(n: GoScalar): string | undefined {
    if (!n.plain) return undefined;
    if (n.tag === "str" && n.text in YAML11_BOOLS) return `YAML 1.1 readers take it for ${YAML11_BOOLS[n.text]}`;
    if ((n.tag === "int" || n.tag === "float") && String(n.value) !== n.text)
        return `YAML readers take it for the number ${String(n.value)}`;
    return undefined;
}

/** A scalar into the Go type the schema describes (constructor.go `scalar` and the constructors it dispatches to). */
function decodeScalar(ctx: DecodeContext, n: GoScalar, s: SchemaNode | undefined, path: Path): unknown {
    if (n.tag === "null") return undefined; // a null leaves the Go field at its zero value
    const custom = s?.["x-talos"];
    const type = s?.type ?? (custom || s?.enum ? "string" : undefined);
    if (custom === "portRange" && n.tag === "int" && Number(n.value) >= 0 && Number(n.value) <= 65535) return n.value; // PortRange tries a uint16 first
    switch (type) {
        case "string": {
            // constructStr/Int/Bool/Float: any non-null scalar into a string is its text (timestamps too, Omni's fork).
            const why = surprise(n);
            if (why)
                ctx.warnings.push(
                    `${ctx.where(path)}: Talos reads the unquoted ${n.text} as the text "${n.text}" (${why}): quote it to make that plain`,
                );
            if (custom && CUSTOM_TYPES[custom] && !CUSTOM_TYPES[custom].ok(n.text)) {
                ctx.problems.push(
                    `${ctx.where(path)}: is ${JSON.stringify(n.text)}, Talos wants ${CUSTOM_TYPES[custom].want}`,
                );
                return undefined;
            }
            return s?.["x-ci"] ? n.text.toLowerCase() : n.text;
        }
        case "boolean":
            // constructBool; constructStr takes YAML 1.1's y/yes/on/n/no/off (quoted or not) into a bool.
            if (n.tag === "bool") return n.value;
            return n.tag === "str" && n.text in YAML11_BOOLS ? YAML11_BOOLS[n.text] : n.value;
        default:
            // constructInt (0x, 0o, 0b, 1_000), constructFloat (into an int when lossless): the resolved value; a
            // quoted number stays text, which the schema refuses where Go wants a number.
            return n.value;
    }
}

/** A node into the Go type the schema describes; undefined where Go leaves the zero value. */
export function decodeNode(ctx: DecodeContext, node: GoNode, schema: SchemaNode | undefined, path: Path): unknown {
    let s = resolveRef(ctx.defs, schema);
    if (s?.oneOf) {
        const arg = s["x-arg"];
        s = branch(ctx, s, node);
        // gen xyaml.CheckUnknownKeys before v0.8.7 refuses a list where the Go type is a struct (ArgValue): Talos
        // v1.13.0–v1.13.5 nodes refuse list-valued extraArgs; v1.13.6 (siderolabs/talos 85f8dd63e) takes gen v0.8.7.
        if (arg && node.kind === "seq" && semver.lt(ctx.talos, "1.13.6"))
            ctx.problems.push(
                `${ctx.where(path)}: a list of values needs Talos v1.13.6 or newer (Talos ${ctx.talos.version} refuses it when it loads its config: "unexpected type for yaml sequence"): write one string, e.g. "a,b", or upgrade Talos`,
            );
    }
    if (node.kind === "scalar") return decodeScalar(ctx, node, s, path);
    if (node.kind === "seq") {
        if (s && s.type !== "array" && !s["x-talos"]) return node.items.map(toValue); // the schema reports the list
        return node.items
            .map((item, i) => decodeNode(ctx, item, s?.items, [...path, i]))
            .filter((v) => v !== undefined);
    }
    if (s && s.type !== "object" && s.type !== undefined) return toValue(node); // the schema reports the mapping
    const out: Record<string, unknown> = {};
    for (const { key, value } of node.entries) {
        const sub = childSchema(s, key);
        const since = resolveRef(ctx.defs, sub)?.["x-since"] ?? sub?.["x-since"];
        if (since && semver.lt(ctx.talos, since))
            ctx.problems.push(
                `${ctx.where([...path, key])}: unknown key for Talos ${ctx.talos.version} (v${since} added it: upgrade the cluster's Talos first)`,
            );
        const v = sub || !s ? decodeNode(ctx, value, sub, [...path, key]) : toValue(value);
        if (v !== undefined) out[key] = v;
    }
    return out;
}

const isDeleteMark = (m: GoMap) =>
    m.entries.some((e) => e.key === "$patch" && e.value.kind === "scalar" && e.value.text === "delete");

/** Whether a `$patch: delete` mark is anywhere in a node (most patches have none). */
function hasDeleteMark(node: GoNode): boolean {
    if (node.kind === "seq") return node.items.some(hasDeleteMark);
    return node.kind === "map" && (isDeleteMark(node) || node.entries.some((e) => hasDeleteMark(e.value)));
}

/**
 * `$patch: delete` as Talos's config loader takes it (machinery v1.14.0-beta.1, which Omni v1.10.4 loads patches with:
 * pkg/machinery/config/configloader/internal/decoder/delete.go `processNode`): a marked mapping is removed, and a
 * collection left empty by a removal is removed too. Returns the rest, the deleted paths and the loader's refusals.
 */
export function takeDeletes(doc: GoMap): { rest: GoMap | undefined; deletes: string[][]; problems: string[] } {
    const deletes: string[][] = [];
    const problems: string[] = [];
    if (!hasDeleteMark(doc)) return { rest: doc, deletes, problems };
    const where = (path: string[]) => path.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : `${i ? "." : ""}${p}`)).join("");
    const walk = (node: GoNode, path: string[], inSeq: boolean): GoNode | undefined => {
        if (node.kind === "scalar") return node;
        if (node.kind === "map" && isDeleteMark(node)) {
            if (inSeq) {
                // delete.go:73 makeSequenceSelector: the item is found by its first other key and value.
                if (!node.entries.some((e) => e.key !== "$patch"))
                    problems.push(
                        `${where(path)}: a list item holding only \`$patch: delete\`: Talos's config loader refuses it ("no key:val found in sequence node", delete.go): add the key that finds the item, e.g. - name: <item>`,
                    );
            } else if (path.some((p) => /^\d+$/.test(p)))
                // delete.go:210 ensureNoSeqInChain.
                problems.push(
                    `${where(path)}: \`$patch: delete\` on a key inside a list item: Talos's config loader refuses it ("cannot delete an inner key", delete.go): delete the whole item (give its key, e.g. - name: <item>, and $patch: delete) or replace the list`,
                );
            deletes.push(path);
            return undefined;
        }
        if (node.kind === "seq") {
            const items = node.items.flatMap((item, i) => walk(item, [...path, String(i)], true) ?? []);
            return items.length === 0 && node.items.length > 0 ? undefined : { kind: "seq", items };
        }
        const entries = node.entries.flatMap((e) => {
            const value = walk(e.value, [...path, e.key], false);
            return value ? [{ key: e.key, value }] : [];
        });
        return entries.length === 0 && node.entries.length > 0 ? undefined : { kind: "map", entries };
    };
    const rest = walk(doc, [], false) as GoMap | undefined;
    return { rest, deletes, problems };
}

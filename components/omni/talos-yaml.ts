import type { Document, Node, Scalar } from "yaml";
import { yamlPackage } from "../core/yaml-package";

/**
 * A machine config patch read as Omni reads it: go.yaml.in/yaml v4 (v4.0.0-rc.6, with Omni v1.10.4's go.mod replace
 * that lets a timestamp-like scalar into a string field, yaml/go-yaml#379). Scalars are kept with their text and the
 * tag v4's resolver gives them (internal/libyaml/resolver.go `resolve`), so the decoder can judge each one by the Go
 * type it goes into (constructor.go `constructStr`, `constructInt`, `constructBool`…), as v4 does.
 */

export type Tag = "str" | "int" | "float" | "bool" | "null" | "timestamp";

export interface GoScalar {
    kind: "scalar";
    tag: Tag;
    /** The scalar's text (what a string field gets). */
    text: string;
    /** The resolved value (number, boolean, null, or the text). */
    value: unknown;
    /** Written unquoted in YAML text (a JS value from a mapping is not). */
    plain: boolean;
}
export interface GoMap {
    kind: "map";
    entries: { key: string; value: GoNode }[];
}
export interface GoSeq {
    kind: "seq";
    items: GoNode[];
}
export type GoNode = GoScalar | GoMap | GoSeq;

/** resolver.go's exact-match table. */
const RESOLVE_MAP: Record<string, [Tag, unknown]> = {};
for (const [tag, value, names] of [
    ["bool", true, ["true", "True", "TRUE"]],
    ["bool", false, ["false", "False", "FALSE"]],
    ["null", null, ["", "~", "null", "Null", "NULL"]],
    ["float", NaN, [".nan", ".NaN", ".NAN"]],
    ["float", Infinity, [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"]],
    ["float", -Infinity, ["-.inf", "-.Inf", "-.INF"]],
    ["float", -0, ["-0", "-0.0"]],
] as [Tag, unknown, string[]][])
    for (const n of names) RESOLVE_MAP[n] = [tag, value];

const YAML_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
/** resolver.go allowedTimestampFormats (time.Parse layouts with short date fields). */
const TIMESTAMP =
    /^\d{4}-\d{1,2}-\d{1,2}(?:[Tt]\d{1,2}:\d{1,2}:\d{1,2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})|[ ]\d{1,2}:\d{1,2}:\d{1,2}(?:\.\d+)?)?$/;
const INT64_MIN = -(2n ** 63n);
const UINT64_END = 2n ** 64n;

/** Go's strconv.ParseInt/ParseUint with base 0 (0x, 0o, 0b, a leading 0 for octal), as a number; undefined if not one. */
function goInteger(s: string): number | undefined {
    const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oObB][0-9]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
    if (!m) return undefined;
    const body = m[2];
    let n: bigint;
    try {
        n = /^0[xXoObB]/.test(body)
            ? BigInt(body.toLowerCase())
            : body.length > 1 && body[0] === "0"
              ? BigInt(`0o${body.slice(1)}`)
              : BigInt(body);
    } catch {
        return undefined; // 0b2, 0o9
    }
    if (m[1] === "-") n = -n;
    return n < INT64_MIN || n >= UINT64_END ? undefined : Number(n);
}

/** resolver.go `resolve` for a plain scalar: its tag and value. */
export function resolvePlain(text: string): { tag: Tag; value: unknown } {
    const known = RESOLVE_MAP[text];
    if (known) return { tag: known[0], value: known[1] };
    const c = text[0];
    if (c === ".") {
        const f = Number(text);
        if (YAML_FLOAT.test(text) && !Number.isNaN(f)) return { tag: "float", value: f };
    } else if (c !== undefined && /[-+0-9]/.test(c)) {
        if (TIMESTAMP.test(text)) return { tag: "timestamp", value: text };
        const plain = text.replace(/_/g, "");
        const int = goInteger(plain);
        if (int !== undefined) return { tag: "int", value: int };
        if (YAML_FLOAT.test(plain)) return { tag: "float", value: Number(plain) };
    }
    return { tag: "str", value: text };
}

/** YAML 1.1 booleans v4 still takes into a Go bool (constructor.go `constructStr`, case reflect.Bool). */
export const YAML11_BOOLS: Record<string, boolean> = Object.fromEntries([
    ...["y", "Y", "yes", "Yes", "YES", "on", "On", "ON"].map((s) => [s, true]),
    ...["n", "N", "no", "No", "NO", "off", "Off", "OFF"].map((s) => [s, false]),
]);

export const scalar = (text: string, plain: boolean): GoScalar => {
    if (!plain) return { kind: "scalar", tag: "str", text, value: text, plain };
    const { tag, value } = resolvePlain(text);
    return { kind: "scalar", tag, text, value, plain };
};

/**
 * A JS value (a patch given as a mapping) as Omni gets it: the template is YAML the yaml package writes, so a string
 * stays a string (quoted when it would read as something else), a number or boolean is a plain scalar.
 */
export function fromValue(v: unknown): GoNode {
    if (Array.isArray(v)) return { kind: "seq", items: v.map(fromValue) };
    if (v !== null && typeof v === "object")
        return { kind: "map", entries: Object.entries(v).map(([key, value]) => ({ key, value: fromValue(value) })) };
    if (typeof v === "string") return scalar(v, false);
    if (v === null || v === undefined) return scalar("", true);
    return scalar(String(v), true);
}

/** One YAML problem, "line L, column C: message" (lines are counted only for a patch with errors). */
function at(text: string, offset: number, message: string) {
    const lineStarts = [0];
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) lineStarts.push(i + 1);
    let line = 0;
    while (line + 1 < lineStarts.length && lineStarts[line + 1] <= offset) line++;
    return `line ${line + 1}, column ${offset - lineStarts[line] + 1}: ${message}`;
}

/**
 * failsafe: every scalar keeps its text; resolution is v4's (above). Keys are compared by text, as v4 does. Errors are
 * placed by `at` (prettyErrors would count lines for every patch).
 */
const PARSE_OPTIONS = { schema: "failsafe", uniqueKeys: true, prettyErrors: false } as const;

/**
 * The documents of a patch's text, or its YAML errors (duplicate keys, unterminated strings, bad indentation, an
 * alias to no anchor, a collection as a mapping key), each with line and column. A null document is left out.
 * The shape most patches have is read directly (readSimpleText), any other text by the yaml package (readYamlText).
 */
export const readPatchText = (text: string): { docs: GoNode[]; errors: string[] } => {
    const docs = readSimpleText(text);
    return docs ? { docs, errors: [] } : readYamlText(text);
};

/** readPatchText by the yaml package: any YAML text. */
export function readYamlText(text: string): { docs: GoNode[]; errors: string[] } {
    const YAML = yamlPackage();
    const parsed = YAML.parseAllDocuments(text, PARSE_OPTIONS);
    const documents = Array.isArray(parsed) ? parsed : [parsed];
    const errors: string[] = [];
    for (const d of documents)
        for (const e of d.errors) {
            const message = e.message.split(" at line ")[0].split("\n")[0];
            errors.push(at(text, e.pos[0], message));
        }
    if (errors.length > 0) return { docs: [], errors };
    const convert = (doc: Document, node: unknown, seen: Set<unknown>): GoNode => {
        if (YAML.isAlias(node)) {
            const target = node.resolve(doc);
            if (!target || seen.has(target)) {
                errors.push(
                    at(text, node.range?.[0] ?? 0, `alias *${node.source} has no anchor &${node.source} before it`),
                );
                return scalar("", true);
            }
            return convert(doc, target, new Set([...seen, target]));
        }
        if (YAML.isMap(node)) {
            const entries: GoMap["entries"] = [];
            const merged: GoMap["entries"] = [];
            for (const pair of node.items) {
                const key = pair.key;
                if (!YAML.isScalar(key) && key !== null) {
                    const range = (key as Node).range;
                    errors.push(at(text, range?.[0] ?? 0, "a mapping key must be a scalar"));
                    continue;
                }
                const keyText = key === null ? "" : String(key.value);
                const value = convert(doc, pair.value, seen);
                // A merge key (<<) adds the keys of the mapping(s) it names that the mapping does not set itself.
                if (keyText === "<<" && (key as Scalar | null)?.type === "PLAIN") {
                    const sources = value.kind === "seq" ? value.items : [value];
                    for (const s of sources) if (s.kind === "map") merged.push(...s.entries);
                } else entries.push({ key: keyText, value });
            }
            for (const e of merged) if (!entries.some((x) => x.key === e.key)) entries.push(e);
            return { kind: "map", entries };
        }
        if (YAML.isSeq(node)) return { kind: "seq", items: node.items.map((i) => convert(doc, i, seen)) };
        if (YAML.isScalar(node)) {
            const plain = node.type === "PLAIN" && node.tag !== "tag:yaml.org,2002:str" && node.tag !== "!!str";
            return scalar(String(node.value ?? ""), plain);
        }
        return scalar("", true); // an empty node
    };
    const docs = documents.map((d) => convert(d, d.contents, new Set())).filter((n) => !isNull(n));
    return errors.length > 0 ? { docs: [], errors } : { docs, errors };
}

/** Thrown inside readSimpleText when the text leaves the simple shape. */
const NOT_SIMPLE = new Error("not the simple shape");
const notSimple = (): never => {
    throw NOT_SIMPLE;
};

interface Line {
    indent: number;
    text: string;
}

/** Printable ASCII and newlines only: no tabs, CR, BOM or other characters YAML treats specially. */
const SIMPLE_TEXT = /^[\n\x20-\x7e]*$/;
/** A plain mapping key: no indicator, space, quote or `#`; a `:` only inside (localhost:5000). */
const SIMPLE_KEY = /^[A-Za-z0-9_$./](?:[A-Za-z0-9_$./~+=:-]*[A-Za-z0-9_$./~+=-])?$/;
/** How a plain scalar may start (YAML's indicators cannot, `-` only before a non-space). */
const PLAIN_START = /^(?:[^-?:,[\]{}#&*!|>'"%@` ]|-[^ ])/;
/** A plain scalar in a flow list: no flow indicator, comment, `:` or quote in it. */
const FLOW_PLAIN = /^(?:[^-?:,[\]{}#&*!|>'"%@` ]|-[^ ,[\]{}#:"'])[^,[\]{}#:"']*$/;

const isDash = (text: string) => text === "-" || text.startsWith("- ");

/** A quoted scalar without escapes from `start`, and where it ends; notSimple otherwise. */
function quoted(s: string, start: number): { text: string; end: number } {
    const q = s[start];
    const close = s.indexOf(q, start + 1);
    if (close < 0) notSimple();
    const text = s.slice(start + 1, close);
    if (q === '"' ? text.includes("\\") : s[close + 1] === "'") notSimple();
    return { text, end: close + 1 };
}

/** Nothing, or a comment, after a scalar. */
function tail(s: string, end: number) {
    if (end < s.length && !/^ +#/.test(s.slice(end))) notSimple();
}

/** The key of a `key: value` line and what follows it, or undefined. */
function keyOf(text: string): { key: string; rest: string } | undefined {
    let key: string;
    let colon: number;
    if (text[0] === '"' || text[0] === "'") {
        ({ text: key, end: colon } = quoted(text, 0));
        if (text[colon] !== ":") return undefined;
    } else {
        colon = text.indexOf(": ");
        if (colon < 0) colon = text.endsWith(":") ? text.length - 1 : -1;
        if (colon < 0) return undefined;
        key = text.slice(0, colon).trimEnd();
        if (!SIMPLE_KEY.test(key)) return undefined;
    }
    if (colon > 1000) notSimple(); // YAML's implicit keys end within 1024 characters
    const rest = text.slice(colon + 1);
    if (rest !== "" && rest[0] !== " ") return undefined;
    return { key, rest: rest.trimStart() };
}

/** A value written on its key's or dash's line: a one-line scalar or flow list, or `{}`. */
function inline(s: string): GoNode {
    if (s[0] === '"' || s[0] === "'") {
        const { text, end } = quoted(s, 0);
        tail(s, end);
        return scalar(text, false);
    }
    if (s[0] === "[") return flowList(s);
    if (s[0] === "{") {
        if (s[1] !== "}") notSimple();
        tail(s, 2);
        return { kind: "map", entries: [] };
    }
    const hash = s.indexOf(" #");
    const text = (hash < 0 ? s : s.slice(0, hash)).trimEnd();
    if (!PLAIN_START.test(text) || text.includes(": ") || text.endsWith(":")) notSimple();
    return scalar(text, true);
}

/** `[a, "b", 10250]` on one line. */
function flowList(s: string): GoSeq {
    const items: GoNode[] = [];
    const spaces = (j: number) => {
        while (s[j] === " ") j++;
        return j;
    };
    let j = spaces(1);
    while (s[j] !== "]") {
        if (s[j] === '"' || s[j] === "'") {
            const { text, end } = quoted(s, j);
            items.push(scalar(text, false));
            j = end;
        } else {
            let end = j;
            while (end < s.length && s[end] !== "," && s[end] !== "]") end++;
            const text = s.slice(j, end).trimEnd();
            if (!FLOW_PLAIN.test(text)) notSimple();
            items.push(scalar(text, true));
            j = end;
        }
        j = spaces(j);
        if (s[j] === ",") {
            j = spaces(j + 1);
            if (s[j] === "]") notSimple(); // a trailing comma
        } else if (s[j] !== "]") notSimple();
    }
    tail(s, j + 1);
    return { kind: "seq", items };
}

/** One document's lines as block mappings and sequences; notSimple where a line does not fit. */
function blocks(lines: Line[]): GoNode {
    let i = 0;
    const block = (indent: number): GoNode => (isDash(lines[i].text) ? list(indent) : mapping(indent, undefined));
    /** The value of a key or dash with nothing after it: the block below, a list at the key's column, or null. */
    const below = (indent: number, listAtKeyColumn: boolean): GoNode => {
        const next = lines[i];
        if (next?.indent > indent) return block(next.indent);
        if (listAtKeyColumn && next?.indent === indent && isDash(next.text)) return list(indent);
        return scalar("", true);
    };
    function list(indent: number): GoSeq {
        const items: GoNode[] = [];
        while (i < lines.length && lines[i].indent === indent && isDash(lines[i].text)) {
            const text = lines[i++].text;
            let column = 1;
            while (text[column] === " ") column++;
            const rest = text.slice(column);
            if (rest === "" || rest[0] === "#") items.push(below(indent, false));
            else if (isDash(rest)) notSimple();
            else if (keyOf(rest)) items.push(mapping(indent + column, rest));
            else items.push(inline(rest));
        }
        return { kind: "seq", items };
    }
    /** The mapping at `indent`, its first line `first` when a dash's line holds it. */
    function mapping(indent: number, first: string | undefined): GoMap {
        const entries: GoMap["entries"] = [];
        let text = first ?? lines[i++].text;
        for (;;) {
            const entry = keyOf(text) ?? notSimple();
            if (entries.some((e) => e.key === entry.key)) notSimple(); // the yaml package reports the duplicate
            const value = entry.rest === "" || entry.rest[0] === "#" ? below(indent, true) : inline(entry.rest);
            entries.push({ key: entry.key, value });
            const next = lines[i];
            if (next?.indent !== indent || isDash(next.text)) break;
            text = next.text;
            i++;
        }
        return { kind: "map", entries };
    }
    const root = block(lines[0].indent);
    if (i < lines.length) notSimple(); // a line no block took: bad indentation, or a multi-line scalar
    return root;
}

/**
 * The documents of a patch in the shape most patches have, read without the yaml package (whose Lexer, Parser and
 * Composer cost far more per patch): block mappings and lists of one-line scalars (plain, or quoted without
 * escapes), one-line flow lists of such scalars, comments, `---` between documents. Anything else (anchors, tags,
 * block scalars, multi-line scalars, escapes, duplicate keys, uneven indentation, non-ASCII text…) gives undefined,
 * and the yaml package reads the text: so YAML errors, with their line and column, are always the yaml package's.
 * test/talos-yaml.test.ts checks that both reads give the same documents.
 */
export function readSimpleText(text: string): GoNode[] | undefined {
    if (!SIMPLE_TEXT.test(text)) return undefined;
    const docs: GoNode[] = [];
    let lines: Line[] = [];
    const endDocument = () => {
        if (lines.length > 0) {
            const root = blocks(lines);
            if (!isNull(root)) docs.push(root);
        }
        lines = [];
    };
    try {
        for (const raw of text.split("\n")) {
            const line = raw.trimEnd();
            let indent = 0;
            while (line[indent] === " ") indent++;
            if (indent === line.length || line[indent] === "#") continue;
            if (indent === 0 && (line.startsWith("---") || line.startsWith("...") || line[0] === "%")) {
                if (line !== "---") return undefined;
                endDocument();
            } else lines.push({ indent, text: line.slice(indent) });
        }
        endDocument();
    } catch (e) {
        if (e === NOT_SIMPLE || e instanceof RangeError) return undefined; // RangeError: nested too deep to recurse
        throw e;
    }
    return docs;
}

export const isNull = (n: GoNode) => n.kind === "scalar" && n.tag === "null";

/** A node as plain JS, each scalar by v4's resolution (for places no Go type describes). */
export function toValue(n: GoNode): unknown {
    if (n.kind === "scalar") return n.value;
    if (n.kind === "seq") return n.items.map(toValue);
    const out: Record<string, unknown> = {};
    for (const { key, value } of n.entries)
        if (key === "__proto__")
            Object.defineProperty(out, key, {
                value: toValue(value),
                enumerable: true,
                writable: true,
                configurable: true,
            });
        else out[key] = toValue(value);
    return out;
}

import { ConfigError } from "../../components/core/validation";

/**
 * An env file (`docker compose --env-file omni.env`, a provider `.env`) read as Docker Compose reads it: compose-go
 * v2.13.0 `dotenv/parser.go` (statements, quotes, escapes, comments) and `template/template.go` (`${VAR}`
 * interpolation). Omni's own compose kit depends on both: its `deploy/compose/env.template` (v1.10.4) spreads `AUTH`
 * over several lines inside single quotes and builds its URLs from `${OMNI_DOMAIN_NAME}`.
 */

export interface EnvFile {
    vars: Record<string, string>;
    /** Variables a value interpolates that neither the file (above it) nor the environment sets: Compose uses "". */
    unset: { variable: string; in: string }[];
    /** Single-quoted values that name variables: Compose keeps `${VAR}` there as written. */
    uninterpolated: { key: string; variables: string[] }[];
}

/** Where Compose looks a `${VAR}` up first: the environment `docker compose` runs in. */
export type Lookup = (name: string) => string | undefined;

const NAME = /^[_a-z][_a-z0-9]*/i;
/** Operators of `${VAR<op>word}`, in the order compose-go tries them at one position. */
const OPERATORS = [":?", "?", ":-", "-", ":+", "+"] as const;
/** Backslash escapes a double-quoted value expands (compose-go `escapeSeqRegex`). */
const ESCAPES: Record<string, string> = {
    a: "\x07",
    b: "\b",
    f: "\f",
    n: "\n",
    r: "\r",
    t: "\t",
    v: "\v",
    '"': '"',
    "\\": "\\",
};

class TemplateError extends Error {}

/** Index of the `}` that closes the `{` at `open` (compose-go `getFirstBraceClosingIndex`). */
function closingBrace(s: string, open: number): number {
    let depth = 0;
    for (let i = open; i < s.length; i++) {
        if (s[i] === "}" && --depth === 0) return i;
        if (s[i] === "{") {
            depth++;
            i++;
        }
    }
    return -1;
}

/** Looks a variable up; `plain` when no operator supplies a value instead (then an unset one is reported). */
type Get = (name: string, plain: boolean) => string | undefined;

/** `${…}` and `$VAR` of `template` replaced (compose-go `template.Substitute`); `$$` is a literal `$`. */
function substitute(template: string, get: Get): string {
    let out = "";
    for (let i = 0; i < template.length; i++) {
        if (template[i] !== "$") {
            out += template[i];
            continue;
        }
        const next = template[i + 1];
        if (next === "$") {
            out += "$";
            i++;
            continue;
        }
        if (next !== "{") {
            // A `$` before anything but a name is literal: compose-go's pattern does not match it.
            const name = NAME.exec(template.slice(i + 1))?.[0];
            out += name === undefined ? "$" : (get(name, true) ?? "");
            i += name?.length ?? 0;
            continue;
        }
        const close = closingBrace(template, i + 1);
        const body = close === -1 ? "" : template.slice(i + 2, close);
        const name = NAME.exec(body)?.[0];
        if (!name) throw new TemplateError(`Invalid template: ${JSON.stringify(template)}`);
        const rest = body.slice(name.length);
        const op = OPERATORS.find((o) => rest.startsWith(o));
        if (rest !== "" && !op) throw new TemplateError(`Invalid template: ${JSON.stringify(template)}`);
        out += expand(name, op, rest.slice(op?.length ?? 0), get);
        i = close;
    }
    return out;
}

/** One `${name<op>word}` (compose-go withDefaultWhenAbsence, withDefaultWhenPresence, withRequired). */
function expand(name: string, op: string | undefined, word: string, get: Get): string {
    const value = get(name, op === undefined);
    const empty = value === undefined || (op?.startsWith(":") === true && value === "");
    switch (op) {
        case ":-":
        case "-":
            return empty ? substitute(word, get) : value!;
        case ":+":
        case "+":
            return empty ? (value ?? "") : substitute(word, get);
        case ":?":
        case "?":
            if (!empty) return value!;
            throw new TemplateError(
                `required variable ${name} is missing a value${word ? `: ${substitute(word, get)}` : ""}`,
            );
        default:
            return value ?? "";
    }
}

/**
 * Reads `text` (the file `file`) as Compose does. A `${VAR}` is looked up in `lookup` (the environment), then in the
 * variables above it; a line without `=` inherits its value from `lookup`. What Compose refuses (an unterminated
 * quote, a key with a space, a bad template) is a ConfigError naming the file and line.
 */
export function readEnvFile(text: string, file: string, lookup: Lookup = () => undefined): EnvFile {
    const vars: Record<string, string> = {};
    const unset: EnvFile["unset"] = [];
    const uninterpolated: EnvFile["uninterpolated"] = [];
    let line = 1;
    const fail = (message: string): never => {
        throw new ConfigError([{ key: file, message: `line ${line}: ${message}` }]);
    };
    const interpolate = (value: string, key: string) => {
        const get: Get = (name, plain) => {
            const found = lookup(name) ?? (Object.hasOwn(vars, name) ? vars[name] : undefined);
            if (found === undefined && plain) unset.push({ variable: name, in: key });
            return found;
        };
        try {
            return substitute(value, get);
        } catch (e) {
            if (e instanceof TemplateError) return fail(`${key}: ${e.message}`);
            throw e;
        }
    };

    // Compose skips a UTF-8 byte order mark (compose-go dotenv/godotenv.go).
    let rest = text.replace(/^\uFEFF/, "").replace(/\r\n/g, "\n");
    for (;;) {
        // The next statement: past blank space and comment lines.
        const start = rest.search(/[^\s]/);
        if (start === -1) break;
        line += (rest.slice(0, start).match(/\n/g) ?? []).length;
        rest = rest.slice(start);
        if (rest[0] === "#") {
            const end = rest.indexOf("\n");
            if (end === -1) break;
            rest = rest.slice(end);
            continue;
        }
        // The key: up to '=', ':' (YAML style) or the end of the line (a variable inherited from the environment).
        rest = rest.replace(/^export\s+/, "");
        const keyEnd = rest.search(/[=:\n]/);
        const rawKey = keyEnd === -1 ? rest : rest.slice(0, keyEnd);
        const bad = /[^\sA-Za-z0-9_.\-[\]\p{L}\p{N}]/u.exec(rawKey);
        if (bad)
            fail(
                `unexpected character ${JSON.stringify(bad[0])} in variable name ${JSON.stringify(rest.split("\n")[0])}`,
            );
        const key = rawKey.trimEnd();
        if (/\s/.test(key)) fail("key cannot contain a space");
        if (keyEnd === -1 || rest[keyEnd] === "\n") {
            const inherited = lookup(key);
            if (inherited !== undefined) vars[key] = inherited;
            if (keyEnd === -1) break;
            line++;
            rest = rest.slice(keyEnd + 1);
            continue;
        }
        rest = rest.slice(keyEnd + 1).replace(/^[^\S\n]+/, "");

        const quote = rest[0];
        if (quote !== "'" && quote !== '"') {
            // Unquoted: to the end of the line, less a ` #` comment and trailing space.
            const end = rest.indexOf("\n");
            const raw = end === -1 ? rest : rest.slice(0, end);
            vars[key] = interpolate(raw.split(" #")[0].trimEnd(), key);
            line++;
            rest = end === -1 ? "" : rest.slice(end + 1);
            continue;
        }
        // Quoted: to the matching quote, across lines; a backslash keeps the character after it, and escapes the quote.
        let chars = "";
        let escaped = false;
        let closed = -1;
        const first = line;
        for (let i = 1; i < rest.length; i++) {
            const c = rest[i];
            if (c === "\n") line++;
            if (c !== quote) {
                if (!escaped && c === "\\") {
                    escaped = true;
                    continue;
                }
                if (escaped) chars += "\\";
                escaped = false;
                chars += c;
                continue;
            }
            if (escaped) {
                escaped = false;
                chars += c;
                continue;
            }
            closed = i;
            break;
        }
        if (closed === -1) {
            line = first;
            fail(`unterminated quoted value ${rest.split("\n")[0]}`);
        }
        if (quote === "'") {
            // Single quotes are literal: no escapes, no interpolation.
            const named = [...chars.matchAll(/\$\{?([_a-z][_a-z0-9]*)/gi)].map((m) => m[1]);
            if (named.length > 0) uninterpolated.push({ key, variables: named });
            vars[key] = chars;
        } else {
            vars[key] = interpolate(
                chars.replace(/\\(0\d{0,3}|[abcfnrtv$"\\])/g, (match, e: string) => doubleQuotedEscape(match, e)),
                key,
            );
        }
        rest = rest.slice(closed + 1);
    }
    return { vars, unset, uninterpolated };
}

/**
 * What a backslash escape in a double-quoted value stands for (compose-go `expandEscapes`): `\$` stays a literal `$`
 * through interpolation, `\0ddd` is an octal byte, and what Go cannot unquote (`\c`, `\0` without three octal
 * digits) stays as written.
 */
function doubleQuotedEscape(match: string, e: string): string {
    if (e === "$") return "$$";
    if (e.startsWith("0"))
        return /^[0-7]{3}$/.test(e.slice(1)) && parseInt(e.slice(1), 8) <= 0o377
            ? String.fromCharCode(parseInt(e.slice(1), 8))
            : match;
    return ESCAPES[e] ?? match;
}

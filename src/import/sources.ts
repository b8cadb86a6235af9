import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { ConfigError } from "../../components/validation";

/**
 * Reading what a running Omni's owner has: YAML files of one or several documents, directories of them, and
 * env files as Docker Compose reads them.
 */

/** Files a path names: the file itself, or a directory's *.yaml and *.yml files, sorted (not its subdirectories: the seed's clusters/patches/ holds patches, not templates). */
export function yamlFiles(paths: string[]): string[] {
    return paths.flatMap((p) => {
        if (!fs.statSync(p).isDirectory()) return [p];
        return fs
            .readdirSync(p)
            .filter((f) => /\.ya?ml$/.test(f))
            .sort()
            .map((f) => path.join(p, f))
            .filter((f) => fs.statSync(f).isFile());
    });
}

/** The non-empty documents of a YAML file (`---` separates several); a syntax error names the file and the line. */
export function yamlDocuments(file: string): unknown[] {
    const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
    const errors = docs.flatMap((d) => d.errors);
    if (errors.length > 0) throw new ConfigError([{ key: file, message: `not valid YAML: ${errors[0].message.split("\n")[0].replace(/:$/, "")}` }]);
    return docs.map((d) => d.toJS()).filter((d) => d !== null && d !== undefined);
}

/** One shell-quoted value: single quotes are literal, double quotes honour backslash escapes of `"` and `\`. */
function unquote(value: string): string {
    const v = value.trim();
    if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1);
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(["\\])/g, "$1");
    // An unquoted value ends at a comment.
    return v.replace(/\s+#.*$/, "");
}

/** `KEY=value` lines of an env file (`omni.env`, a provider `.env`): comments, blank lines, `export ` and quotes as Compose reads them. */
export function parseEnvFile(text: string): Record<string, string> {
    const vars: Record<string, string> = {};
    for (const line of text.split(/\r?\n/)) {
        const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line);
        if (m) vars[m[1]] = unquote(m[2]);
    }
    return vars;
}

/** The words of a command-line string such as the seed's `AUTH='--auth-auth0-enabled=true --auth-auth0-domain=…'`. */
export function shellWords(text: string): string[] {
    return [...text.matchAll(/(?:[^\s'"]+|'[^']*'|"(?:[^"\\]|\\.)*")+/g)].map((m) =>
        m[0].replace(/'([^']*)'|"((?:[^"\\]|\\.)*)"/g, (_, s, d) => s ?? d.replace(/\\(.)/g, "$1")),
    );
}

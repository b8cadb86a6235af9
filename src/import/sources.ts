import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { ConfigError } from "../../components/core/validation";

/**
 * Reading what a running Omni's owner has: YAML files of one or several documents and directories of them (env
 * files: env-file.ts).
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
    if (errors.length > 0)
        throw new ConfigError([
            { key: file, message: `not valid YAML: ${errors[0].message.split("\n")[0].replace(/:$/, "")}` },
        ]);
    return docs.map((d) => d.toJS()).filter((d) => d !== null && d !== undefined);
}

/**
 * The words of a command-line string such as the seed's `AUTH='--auth-auth0-enabled=true --auth-auth0-domain=…'`. A
 * backslash before a line break continues the line, as in Omni's own `deploy/compose/env.template` (v1.10.4).
 */
export function shellWords(text: string): string[] {
    return [...text.replace(/\\\r?\n/g, "").matchAll(/(?:[^\s'"]+|'[^']*'|"(?:[^"\\]|\\.)*")+/g)].map((m) =>
        m[0].replace(/'([^']*)'|"((?:[^"\\]|\\.)*)"/g, (_, s, d) => s ?? d.replace(/\\(.)/g, "$1")),
    );
}

/**
 * A path as the stack and the report name it: relative to `dir` (the project) when inside it, else (or with no
 * project) absolute.
 */
export function pathFrom(dir: string | undefined, absolute: string): string {
    if (dir === undefined) return absolute;
    const relative = path.relative(dir, absolute);
    return relative.startsWith("..") || path.isAbsolute(relative) ? absolute : relative || ".";
}

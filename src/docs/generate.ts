import * as fs from "node:fs";
import * as path from "node:path";
import { packArgs } from "../../policy/pack";
import { COMMANDS } from "../commands";
import { HUB_OUTPUTS, WORKLOAD_OUTPUTS } from "../outputs";
import { commandReference, configReference, outputTable, policyTable } from "./reference";
import { stackFileSchema } from "./stack-schema";

/** A part of a document generated from the code, between `<!-- generated:NAME:begin -->` and `…:end -->`. */
export interface GeneratedSection {
    file: string;
    name: string;
    render: () => string;
}

export const SECTIONS: GeneratedSection[] = [
    { file: "docs/DEPLOYMENT.md", name: "config:hub", render: () => configReference("hub") },
    { file: "docs/DEPLOYMENT.md", name: "config:workloads", render: () => configReference("workloads") },
    { file: "docs/DEPLOYMENT.md", name: "outputs:hub", render: () => outputTable(HUB_OUTPUTS) },
    { file: "docs/DEPLOYMENT.md", name: "outputs:workloads", render: () => outputTable(WORKLOAD_OUTPUTS) },
    { file: "README.md", name: "policies", render: () => policyTable(packArgs) },
    { file: "docs/COMMANDS.md", name: "commands", render: () => commandReference(COMMANDS) },
];

/** The JSON Schema of the stack files, which both example stack files reference. */
export const SCHEMA_FILE = "schema/stack.schema.json";

export const FIX = "npm run docs";

const markers = (name: string) => [`<!-- generated:${name}:begin -->`, `<!-- generated:${name}:end -->`];

/** `text` with the section's content replaced by `content`, or an error naming what is missing. */
export function replaceSection(text: string, name: string, content: string): string | Error {
    const [begin, end] = markers(name);
    const from = text.indexOf(begin);
    const to = text.indexOf(end);
    if (from < 0 || to < from) return new Error(`has no ${begin} … ${end} pair`);
    return `${text.slice(0, from + begin.length)}\n${content}\n${text.slice(to)}`;
}

/** Each file as it should be: its generated sections rendered from the code, and the schema file. */
export function generatedFiles(root: string): Map<string, string | Error> {
    const files = new Map<string, string | Error>();
    for (const s of SECTIONS) {
        const current = files.get(s.file) ?? fs.readFileSync(path.join(root, s.file), "utf8");
        files.set(s.file, current instanceof Error ? current : replaceSection(current, s.name, s.render()));
    }
    files.set(SCHEMA_FILE, `${JSON.stringify(stackFileSchema(), null, 2)}\n`);
    return files;
}

/** The files whose generated parts differ from the code (or lack their markers), each with why. */
export function staleFiles(root: string): string[] {
    const stale: string[] = [];
    for (const [file, wanted] of generatedFiles(root)) {
        const full = path.join(root, file);
        if (wanted instanceof Error) stale.push(`${file} ${wanted.message}`);
        else if (!fs.existsSync(full) || fs.readFileSync(full, "utf8") !== wanted)
            stale.push(`${file} is not what the code generates`);
    }
    return stale;
}

/** Writes every generated file that changed; returns their names. */
export function writeGenerated(root: string): string[] {
    const written: string[] = [];
    for (const [file, wanted] of generatedFiles(root)) {
        if (wanted instanceof Error) throw new Error(`${file} ${wanted.message}`);
        const full = path.join(root, file);
        if (fs.existsSync(full) && fs.readFileSync(full, "utf8") === wanted) continue;
        fs.mkdirSync(path.dirname(full), { recursive: true });
        fs.writeFileSync(full, wanted);
        written.push(file);
    }
    return written;
}

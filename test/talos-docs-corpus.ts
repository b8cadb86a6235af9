import * as fs from "node:fs";
import * as path from "node:path";

/**
 * The documented examples of Talos's configuration reference (test/fixtures/talos-docs/reference-<minor>.json, see its
 * README), each made a patch: a field's example is nested under its section's path (a list element as one item, a map
 * element "-" under the key `example`); a section's own example is written from the document's root.
 */

export interface DocExample {
    source: string;
    anchor: string | null;
    field: string | null;
    yaml: string;
}
export interface DocCorpus {
    repository: string;
    tag: string;
    commit: string;
    examples: DocExample[];
}

export const docCorpus = (minor: string): DocCorpus =>
    JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "talos-docs", `reference-${minor}.json`), "utf8"));

const indent = (text: string, by: string) => text.replace(/^(?=.)/gm, by);

/** Nest YAML text under a path of keys ("" a list item, "-" a map element). */
function nest(text: string, segments: string[]): string {
    let out = text;
    for (const seg of [...segments].reverse()) {
        if (seg === "") out = `-${indent(out, "  ").slice(1)}`;
        else out = `${seg === "-" ? "example" : seg}:\n${indent(out, "  ")}`;
    }
    return out;
}

/** An example as a patch: a field's example nested under its section's path, with the page's document header. */
export function examplePatch(e: DocExample, header: string): string {
    // A section's own example (no field) is written from the document's root already.
    const body = e.field ? nest(e.yaml, e.anchor ? e.anchor.split(".").slice(1) : []) : e.yaml;
    return /^kind:/m.test(body) ? body : `${header}${body}`;
}

/** The apiVersion/kind header of each page (from its first, whole-document example); "" for the v1alpha1 config. */
export function pageHeaders(corpus: DocCorpus): Map<string, string> {
    const headers = new Map<string, string>();
    for (const e of corpus.examples) {
        const page = e.source.split(":")[0];
        if (headers.has(page) || e.anchor !== null) continue;
        const apiVersion = /^apiVersion: (.+)$/m.exec(e.yaml)?.[1];
        const kind = /^kind: (.+)$/m.exec(e.yaml)?.[1];
        headers.set(page, apiVersion && kind ? `apiVersion: ${apiVersion}\nkind: ${kind}\n` : "");
    }
    return headers;
}

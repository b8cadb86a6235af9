import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";

const root = path.join(__dirname, "..");
const made: string[] = [];

/** Edits a stack file's `config:` map; `doc` is the whole file (e.g. for `encryptionsalt`). */
type Edit = (config: Record<string, any>, doc: Record<string, any>) => void;

/**
 * A temp dir holding both example stack files with `edits` applied (per stack), so a workload plan reads the edited
 * hub beside it. Returns the path of each stack file. Call `removeStackDirs` in an `after` hook.
 */
export function editedStacks(edits: { quantum?: Edit; matrix?: Edit }): { quantum: string; matrix: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-stacks-"));
    made.push(dir);
    const files = { quantum: path.join(dir, "Pulumi.quantum.yaml"), matrix: path.join(dir, "Pulumi.matrix.yaml") };
    for (const stack of ["quantum", "matrix"] as const) {
        const doc = structuredClone(example(stack));
        edits[stack]?.(doc.config, doc);
        fs.writeFileSync(files[stack], YAML.stringify(doc));
    }
    return files;
}

// Each example stack file read once per process (test files call editedStacks often, and yaml's parse is slow).
const examples = new Map<string, Record<string, any>>();
function example(stack: "quantum" | "matrix"): Record<string, any> {
    let doc = examples.get(stack);
    if (!doc) {
        doc = YAML.parse(fs.readFileSync(path.join(root, `Pulumi.${stack}.yaml`), "utf8"), { merge: true });
        examples.set(stack, doc!);
    }
    return doc!;
}

export function removeStackDirs(): void {
    for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import { HUB_OUTPUTS, WORKLOAD_OUTPUTS } from "../src/outputs";

const root = path.join(__dirname, "..");

function files(dir: string, ext: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        return e.isDirectory() ? files(p, ext) : e.name.endsWith(ext) ? [p] : [];
    });
}

/**
 * Everything `import { … } from "omni-scale"` offers (values and types), as the compiler resolves the root index over
 * the components' own files (`noResolve`: the SDKs' declarations are not needed to name the exports).
 */
function rootExports(sources: string[]): Set<string> {
    const index = path.join(root, "components", "index.ts");
    const program = ts.createProgram(sources, {
        module: ts.ModuleKind.CommonJS,
        moduleResolution: ts.ModuleResolutionKind.Node10,
        target: ts.ScriptTarget.ES2022,
        resolveJsonModule: true,
        noResolve: true,
        noLib: true,
        noEmit: true,
        types: [],
    });
    const checker = program.getTypeChecker();
    const module = checker.getSymbolAtLocation(program.getSourceFile(index)!);
    assert.ok(module, "components/index.ts is a module");
    return new Set(checker.getExportsOfModule(module).map((s) => s.name));
}

/** Names a module under components/ exports (what the docs could mean by a name). */
function definedNames(sources: string[]): Set<string> {
    const exported = /export (?:declare )?(?:async )?(?:function|const|let|class|interface|type|enum) ([A-Za-z_]\w*)/g;
    return new Set(sources.flatMap((f) => [...fs.readFileSync(f, "utf8").matchAll(exported)].map((m) => m[1])));
}

/** `name` or `name()` in backticks, and "see name" (doc comments), in a text. */
function mentions(text: string): string[] {
    return [...text.matchAll(/`([A-Za-z_]\w*)(?:\(\))?`|\bsee ([A-Za-z_]\w*)/g)].map((m) => m[1] ?? m[2]);
}

/** Each mentioned helper that a components module defines but the package root does not export, with where. */
export function unexportedMentions(
    texts: { file: string; text: string }[],
    defined: Set<string>,
    exported: Set<string>,
    otherMeanings: Set<string>,
): string[] {
    return texts.flatMap(({ file, text }) =>
        [...new Set(mentions(text))]
            .filter((n) => defined.has(n) && !exported.has(n) && !otherMeanings.has(n))
            .map((n) => `${n} (${file})`),
    );
}

describe("the package root exports every helper the docs name", function () {
    this.timeout(60000);
    const sources = files(path.join(root, "components"), ".ts").filter((f) => !f.includes("talos-schemas"));
    // Names the docs use for something else than the helper of that name: the command, and stack outputs.
    const otherMeanings = new Set(["omnictl", ...Object.keys(HUB_OUTPUTS), ...Object.keys(WORKLOAD_OUTPUTS)]);

    it("README, docs/ and the components' own doc comments", () => {
        const docs = [path.join(root, "README.md"), ...files(path.join(root, "docs"), ".md")];
        // A component's doc comments are its API docs (what an editor shows a user); render modules' are internal notes.
        const components = sources.filter((f) => /extends pulumi\.ComponentResource/.test(fs.readFileSync(f, "utf8")));
        const comments = (f: string) =>
            [...fs.readFileSync(f, "utf8").matchAll(/\/\*\*[\s\S]*?\*\/|\/\/.*$/gm)].map((m) => m[0]).join("\n");
        const texts = [
            ...docs.map((f) => ({ file: path.relative(root, f), text: fs.readFileSync(f, "utf8") })),
            ...components.map((f) => ({ file: path.relative(root, f), text: comments(f) })),
        ];
        assert.ok(components.length >= 10, `found ${components.length} component files`);
        assert.deepEqual(unexportedMentions(texts, definedNames(sources), rootExports(sources), otherMeanings), []);
    });

    it("finds a named helper the root does not export", () => {
        const texts = [{ file: "README.md", text: "Use `renderOmniFlags` and `hubTailnetIpv4()`; see privateHelper." }];
        const defined = new Set(["renderOmniFlags", "hubTailnetIpv4", "privateHelper"]);
        assert.deepEqual(unexportedMentions(texts, defined, new Set(["renderOmniFlags"]), new Set()), [
            "hubTailnetIpv4 (README.md)",
            "privateHelper (README.md)",
        ]);
    });

    it("the stack programs use that public API: they import components only from a domain index the root re-exports", () => {
        const rootIndex = fs.readFileSync(path.join(root, "components", "index.ts"), "utf8");
        const domains = [...rootIndex.matchAll(/export \* from "\.\/(\w+)"/g)].map((m) => `../components/${m[1]}`);
        const programs = files(path.join(root, "src"), "-program.ts");
        assert.ok(programs.length >= 2, programs.join(", "));
        for (const file of [...programs, path.join(root, "src", "index.ts")]) {
            const specs = [...fs.readFileSync(file, "utf8").matchAll(/from "(\.\.\/components[^"]*)"/g)].map(
                (m) => m[1],
            );
            assert.ok(specs.length > 0, file);
            assert.deepEqual(
                specs.filter((s) => !domains.includes(s)),
                [],
                `${path.relative(root, file)} imports past the public API`,
            );
        }
    });
});

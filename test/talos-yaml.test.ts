import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { readPatchText, readSimpleText, readYamlText } from "../components/omni/talos-yaml";
import { talosSchemaMinors } from "../components/omni/talos-patches";
import { docCorpus, examplePatch, pageHeaders } from "./talos-docs-corpus";

const FIXTURES = path.join(__dirname, "fixtures");

/** Every YAML text the patch tests use: Talos's testdata, the seed kit, the documented examples, the refused corpus. */
function corpusTexts(): string[] {
    const texts: string[] = [];
    for (const dir of [path.join(FIXTURES, "upstream", "talos"), path.join(FIXTURES, "import", "kit")])
        for (const f of fs.readdirSync(dir, { recursive: true, encoding: "utf8" }))
            if (/\.ya?ml$/.test(f)) texts.push(fs.readFileSync(path.join(dir, f), "utf8"));
    for (const minor of talosSchemaMinors) {
        const corpus = docCorpus(minor);
        const headers = pageHeaders(corpus);
        for (const e of corpus.examples) texts.push(e.yaml, examplePatch(e, headers.get(e.source.split(":")[0]) ?? ""));
        const guides = path.join(FIXTURES, "talos-docs", `guides-${minor}.json`);
        if (fs.existsSync(guides))
            for (const e of (JSON.parse(fs.readFileSync(guides, "utf8")) as { examples: { yaml: string }[] }).examples)
                texts.push(e.yaml);
    }
    const refused = JSON.parse(fs.readFileSync(path.join(FIXTURES, "talos-refused.json"), "utf8")) as {
        cases: { patch: unknown }[];
    };
    for (const c of refused.cases) if (typeof c.patch === "string") texts.push(c.patch);
    // Most documented examples are the same text in every minor: each text once.
    return [...new Set(texts)];
}

/** Texts at the edge of the simple shape, each read by both readers. */
const EDGES = [
    // taken by the simple read
    "a:\n- x\n- y\nb: 1\n",
    "- a:\n  - x\n",
    "- a:\n- x\n",
    "a: b\n  # c\nd: e\n",
    "a:\n# c\n  b: 1\n",
    "- # c\n  a: 1\n",
    "-\n  a: 1\n",
    "-   a: 1\n    b: 2\n",
    "  a: 1\n  b: 2\n",
    "a:\n  - b\n  -\n  - c\n",
    "a: ---\n",
    "a: ...\n",
    "- --foo=bar\n",
    "- -1\n",
    "a: b #c\n",
    "a: b#c\n",
    "a: b # c: d\n",
    "a: x  y\n",
    'a: "x"  # c\n',
    "a: 'x'\n",
    'a: ""\n',
    '"": x\n',
    "a: [ ]\n",
    "a: [a,b]\n",
    "a: [-1, 0x1, 1_000]\n",
    "a: [a] #c\n",
    "a: [\"x, y\", 'z']\n",
    "a: {}\n",
    "a: a[0]\n",
    "a: a,b\n",
    "localhost:5000: x\n",
    "a:b: c\n",
    "a : b\n",
    "a: x:y\n",
    "a: http://x:80/y?z=1&w=2#f\n",
    "$patch: delete\n",
    "a: ~\n",
    "- ~\n",
    "a: .inf\n",
    "a: -.5\n",
    "a: 0o17\n",
    "a: yes\n",
    "a: 2001-12-14\n",
    "a: 1\n---\n",
    "---\na: 1\n--- \nb: 2\n",
    "# only a comment\n",
    "",
    "---\n",
    "http://x:\n",
    "__proto__: 1\n",
    "- [a]\n",
    "- 'a': b\n",
    "- a: 1\n  # c\n  b: 2\n",
    "a: x #\n",
    "a: [\"a\" , 'b' ]\n",
    // left to the yaml package: anchors, aliases, merge keys, tags, block scalars, escapes, multi-line scalars
    "a: &x\n  b: 1\nc: *x\n",
    "base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n",
    "a: !!str 1\n",
    "a: !custom x\n",
    "a: |\n  line 1\n  line 2\n",
    "a: >-\n  folded\n  text\n",
    'a: "x\\ty"\n',
    "a: 'x''y'\n",
    "a: b\n  c\n",
    "- a\n  b\n",
    "a: { }\n",
    "a: {x: 1}\n",
    "a: [a, b, ]\n",
    "a: [a: b]\n",
    "a:\n  - [a,\n    b]\n",
    "a:: b\n",
    "~\n",
    "plain\n",
    "- - a\n",
    "a: ?x\n",
    "a: :x\n",
    "? a\n: b\n",
    "%YAML 1.2\n---\na: 1\n",
    "a: 1\n...\n",
    "--- a: 1\n",
    "a:\tb\n",
    "a: b\r\n",
    "a: é\n",
    "\ufeffa: 1\n",
    // YAML errors: the yaml package's, with line and column
    'a: "x"# c\n',
    "a: b: c\n",
    "a: 1\na: 2\n",
    'a: 1\n"a": 2\n',
    "a:\n  b: 1\n c: 2\n",
    "a: -\n",
    "a: - b\n",
    "a: 'b'c\n",
    "a: [a]b\n",
    "a: [#]\n",
    "a: %x\n",
    "a: @x\n",
    "a: `x`\n",
    "a: x:\n",
    'a: "x\n',
    "a: *nowhere\n",
    "[a, b]: c\n",
];

/** A small deterministic generator (mulberry32), so a failing mutant is the same on every run. */
function random(seed: number): () => number {
    return () => {
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/** Pieces of YAML syntax a mutant gets: indicators, markers, indentation, characters the simple read refuses. */
const PIECES = [
    ...[" ", "  ", "\n", "\n  ", "\n    ", "- ", " - ", "\n- ", ": ", ":", "#", " #", "-", "--", "---", "..."],
    ...['"', "'", '""', "''", "[", "]", "{", "}", "[]", "{}", ",", ", ", "[a, b]", '"a: b"'],
    ...["&a ", "*a", "!", "!!str ", "|", ">", "?", "@", "%", "`", "\\", "<<: ", "\n---\n", "\t", "\r", "é"],
    ...["a: b", "- a", "a:", "~", "null", "x", "1", "0x1", "-1", "=", "/", "."],
];

function mutant(next: () => number, seeds: string[]): string {
    const pick = <T>(list: T[]) => list[Math.floor(next() * list.length)];
    let text = pick(seeds);
    for (let n = 1 + Math.floor(next() * 3); n > 0; n--) {
        const at = Math.floor(next() * (text.length + 1));
        const how = next();
        if (how < 0.4) text = text.slice(0, at) + pick(PIECES) + text.slice(at);
        else if (how < 0.6) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(next() * 4));
        else {
            const lines = text.split("\n");
            const i = Math.floor(next() * lines.length);
            const j = Math.floor(next() * lines.length);
            const way = next();
            if (way < 0.3) lines.splice(i, 0, lines[j]);
            else if (way < 0.6)
                lines[i] =
                    next() < 0.5 ? " ".repeat(1 + Math.floor(next() * 2)) + lines[i] : lines[i].replace(/^ {1,2}/, "");
            else [lines[i], lines[j]] = [lines[j], lines[i]];
            text = lines.join("\n");
        }
    }
    return text;
}

describe("patch YAML read as the yaml package reads it (components/omni/talos-yaml.ts)", () => {
    const corpus = corpusTexts();

    it("the simple read and the yaml package give the same documents for every fixture text", () => {
        assert.ok(corpus.length > 1000, `${corpus.length}`);
        let simple = 0;
        for (const text of corpus) {
            // The yaml package's read, once per text: the simple read's documents and readPatchText's are held to it.
            const yaml = readYamlText(text);
            const docs = readSimpleText(text);
            if (docs) {
                simple++;
                assert.deepEqual({ docs, errors: [] }, yaml, text);
            }
            assert.deepEqual(readPatchText(text), yaml, text);
        }
        // Most patches have the simple shape: it is what keeps the check fast.
        assert.ok(simple > corpus.length * 0.9, `${simple} of ${corpus.length}`);
    });

    it("the seed kit's patches and a multi-document patch with a flow list take the simple read", () => {
        const kit = path.join(FIXTURES, "import", "kit", "clusters", "patches");
        const texts = [
            ...fs.readdirSync(kit).map((f) => fs.readFileSync(path.join(kit, f), "utf8")),
            "apiVersion: v1alpha1\nkind: NetworkRuleConfig\nname: kubelet\nportSelector:\n  ports: [10250]\n---\napiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: x\n",
        ];
        for (const text of texts) assert.ok(readSimpleText(text), text);
    });

    it("texts at the edge of the simple shape: the same documents or the same errors, whichever reader takes them", () => {
        const taken = EDGES.filter((text) => readSimpleText(text) !== undefined);
        for (const text of EDGES) assert.deepEqual(readPatchText(text), readYamlText(text), JSON.stringify(text));
        // What the simple read takes (the first group above) and leaves (anchors, tags, block scalars, errors…).
        assert.deepEqual(taken, EDGES.slice(0, EDGES.indexOf("a: &x\n  b: 1\nc: *x\n")));
    });

    it("YAML errors keep the yaml package's line and column", () => {
        assert.deepEqual(readPatchText("machine:\n  sysctls:\n    a: 1\n    a: 2\n").errors, [
            "line 4, column 5: Map keys must be unique",
        ]);
        assert.deepEqual(readPatchText("a:\n  b: 1\n c: 2\n").errors, [
            "line 3, column 1: All mapping items must start at the same column",
        ]);
    });

    it("mutants of the fixtures (inserted syntax, deleted characters, moved and re-indented lines) read alike", () => {
        const seeds = corpus.filter((t) => t.length < 3000);
        const next = random(29);
        let simple = 0;
        for (let n = 0; n < 4000; n++) {
            const text = mutant(next, seeds);
            const docs = readSimpleText(text);
            if (!docs) continue;
            simple++;
            const yaml = readYamlText(text);
            assert.ok(yaml.errors.length === 0 && isDeepStrictEqual(docs, yaml.docs), JSON.stringify(text));
        }
        assert.ok(simple > 800, `${simple} mutants took the simple read`);
    });
});

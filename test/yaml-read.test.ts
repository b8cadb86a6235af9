import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { readYaml, readYamlDocuments, yamlErrorLine } from "../components/core/yaml-read";

const REPO = path.join(__dirname, "..");

describe("yaml-read: YAML as go-yaml v3 reads it (stack files, templates, machine classes)", () => {
    it("reads every YAML file of the repository as the `yaml` package (YAML 1.2 core, merge keys) does", () => {
        const files = execFileSync("git", ["ls-files", "*.yaml", "*.yml"], { cwd: REPO, encoding: "utf8" })
            .split("\n")
            .filter(Boolean);
        assert.ok(files.length > 20, `${files.length} files`);
        for (const file of files) {
            const text = fs.readFileSync(path.join(REPO, file), "utf8");
            const theirs = YAML.parseAllDocuments(text, { merge: true });
            if (theirs.some((d) => d.errors.length > 0)) {
                assert.throws(() => readYamlDocuments(text), /\(\d+:\d+\)/, file);
                continue;
            }
            assert.deepEqual(
                readYamlDocuments(text),
                theirs.map((d) => d.toJS()),
                file,
            );
        }
    });

    it("merges `<<: *anchor` keys, keeps dates and YAML 1.1 booleans as text, reads 1.2's numbers and nulls", () => {
        const text = [
            "base: &base { cores: 4, memory: 8192 }",
            "worker:",
            "  <<: *base",
            "  memory: 16384",
            "date: 2026-12-07", // go-yaml v3 decode.go: a timestamp-like value decoded into interface{} stays a string
            "yes: yes",
            "octal: 0o17",
            "hex: 0x1F",
            "nothing: ~",
            "quoted: '1'",
        ].join("\n");
        assert.deepEqual(readYaml(text), {
            base: { cores: 4, memory: 8192 },
            worker: { cores: 4, memory: 16384 },
            date: "2026-12-07",
            yes: "yes",
            octal: 15,
            hex: 31,
            nothing: null,
            quoted: "1",
        });
        assert.equal(readYaml(""), null);
        assert.deepEqual(readYamlDocuments("a: 1\n---\n---\nb: 2\n"), [{ a: 1 }, null, { b: 2 }]);
    });

    it("refuses duplicate keys and broken text, naming line and column", () => {
        const message = (text: string) => {
            try {
                readYamlDocuments(text);
            } catch (e) {
                return yamlErrorLine(e);
            }
            return "read";
        };
        assert.equal(message("name: a\nname: b\n"), "duplicated mapping key (2:1)");
        assert.equal(message("kind: Cluster\n  bad: ["), "bad indentation of a mapping entry (2:6)");
        assert.throws(() => readYaml("a: 1\n---\nb: 2\n"), /expected a single document/);
    });
});

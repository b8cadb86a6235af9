import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../components/core/validation";
import { readEnvFile } from "../src/import/env-file";

/** compose-go v2.13.0's own expectations for how Docker Compose reads an env file (see the file's `provenance`). */
const upstream = JSON.parse(
    fs.readFileSync(path.join(__dirname, "fixtures", "upstream", "compose-dotenv.v2.13.0.json"), "utf8"),
) as {
    parsing: [string, string, string][];
    errors: string[];
    unterminated: string[];
    expanding: { name: string; input: string; expected: Record<string, string> }[];
    substitutions: {
        files: Record<string, string>;
        cases: { file: string; environment: Record<string, string>; expected: Record<string, string> }[];
    };
};

const read = (text: string, environment: Record<string, string> = {}) =>
    readEnvFile(text, "test.env", (name) => environment[name]);
const refusal = (text: string) => {
    try {
        read(text);
    } catch (e) {
        if (e instanceof ConfigError) return e.issues[0];
        throw e;
    }
    return undefined;
};

describe("env files as Docker Compose reads them (src/import/env-file.ts, compose-go v2.13.0)", () => {
    it("parses every statement of compose-go's TestParsing as Compose does", () => {
        assert.ok(upstream.parsing.length >= 50);
        for (const [input, key, value] of upstream.parsing) {
            assert.deepEqual(read(input).vars, { [key]: value }, JSON.stringify(input));
        }
    });

    it("refuses what Compose refuses: unterminated quotes and bad names, naming the file and line", () => {
        for (const input of upstream.unterminated) {
            assert.match(refusal(input)?.message ?? "", /^line 1: unterminated quoted value/, JSON.stringify(input));
        }
        for (const input of upstream.errors) assert.match(refusal(input)?.message ?? "", /unexpected character "\$"/);
        const spaced = refusal("A=1\n\nnot a line\n");
        assert.deepEqual(spaced, { key: "test.env", message: "line 3: key cannot contain a space" });
        assert.match(refusal('A="one\ntwo')?.message ?? "", /^line 1: unterminated quoted value "one$/);
        assert.match(
            refusal("A=${B:?needs B}")?.message ?? "",
            /^line 1: A: required variable B is missing a value: needs B$/,
        );
        assert.match(refusal("A=${}")?.message ?? "", /^line 1: A: Invalid template/);
    });

    it("interpolates as TestExpanding and the substitution fixtures expect: the environment first, then the file above", () => {
        for (const c of upstream.expanding) {
            const { vars } = read(c.input);
            for (const [k, v] of Object.entries(c.expected)) assert.equal(vars[k], v, c.name);
        }
        for (const c of upstream.substitutions.cases) {
            assert.deepEqual(
                read(upstream.substitutions.files[c.file], c.environment).vars,
                c.expected,
                `${c.file} with ${JSON.stringify(c.environment)}`,
            );
        }
    });

    it("carries the other template forms, an inherited variable and a byte order mark", () => {
        // E is set and empty: `:-` and `:+` treat it as absent, `-` and `+` as set.
        const { vars } = read(
            "\uFEFFA=1\nE=\nB=${A:+set}${Z:-d}${Z-e}${E:-empty}${E-unset}\nC=${E:+x}|${E+y}\nINHERITED\nMISSING\nD=$ cost\n",
            {
                INHERITED: "from env",
            },
        );
        assert.deepEqual(vars, { A: "1", E: "", B: "setdeempty", C: "|y", INHERITED: "from env", D: "$ cost" });
    });

    it("reports what it interpolates from nowhere, and single-quoted values that name variables", () => {
        const r = read(
            "URL=\"https://${DOMAIN}\"\nAUTH='--domain=${AUTH0_DOMAIN} \\\n  --id=$CLIENT'\nSET=${PRESENT}\nDEFAULTED=${ABSENT:-x}\n",
            {
                PRESENT: "yes",
            },
        );
        assert.deepEqual(r.unset, [{ variable: "DOMAIN", in: "URL" }]);
        assert.deepEqual(r.uninterpolated, [{ key: "AUTH", variables: ["AUTH0_DOMAIN", "CLIENT"] }]);
        assert.equal(r.vars.AUTH, "--domain=${AUTH0_DOMAIN} \\\n  --id=$CLIENT");
        assert.equal(r.vars.URL, "https://");
    });
});

import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loaderProject } from "./loader-project";

const root = path.join(__dirname, "..");
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { compilerOptions, javascriptOf } = require("../src/plan/register") as {
    compilerOptions(): object;
    javascriptOf(filename: string): string;
};

describe("TypeScript loader (src/plan/register.js)", () => {
    const dirs: string[] = [];
    const newProject = () => {
        const p = loaderProject();
        dirs.push(p.dir);
        return p;
    };
    after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

    it("runs an edited source on the next run, and transpiles again when tsconfig.json or the lockfile changes", () => {
        const p = newProject();
        const file = path.join(p.dir, "lib", "value.ts");
        fs.mkdirSync(path.dirname(file));
        fs.writeFileSync(path.join(p.dir, "main.ts"), 'import { value } from "./lib/value";\nconsole.log(value);\n');
        fs.writeFileSync(file, 'export const value: string = "first";\n');
        assert.equal(p.run("main.ts").stdout, "first\n");
        fs.writeFileSync(file, 'export const value: string = "second";\n');
        assert.equal(p.run("main.ts").stdout, "second\n");
        assert.equal(p.cached("lib/value.ts").length, 1, "the copy of the first version is gone");
        let before = p.cached("main.ts");
        for (const settings of ["tsconfig.json", "package-lock.json"]) {
            fs.appendFileSync(path.join(p.dir, settings), "\n");
            assert.equal(p.run("main.ts").stdout, "second\n");
            const after = p.cached("main.ts");
            assert.equal(after.length, 1);
            assert.notDeepEqual(after, before, `a change to ${settings} transpiles again`);
            before = after;
        }
    });

    it("runs uncached where .build cannot be written", () => {
        const p = newProject();
        // A file where the cache directory would be: mkdir fails even for root, whom permissions do not stop.
        fs.writeFileSync(path.join(p.dir, ".build"), "");
        fs.writeFileSync(path.join(p.dir, "main.ts"), 'const value: string = "uncached";\nconsole.log(value);\n');
        const run = p.run("main.ts");
        assert.equal(run.stdout, "uncached\n", run.stderr);
    });

    it("keys all the code a process loaded: the key changes when a loaded source does, and only then", () => {
        const p = newProject();
        fs.writeFileSync(path.join(p.dir, "lib.ts"), "export const value = 1;\n");
        fs.writeFileSync(
            path.join(p.dir, "main.ts"),
            'import "./lib";\nconsole.log(require("./src/plan/register").loadedCodeKey());\n',
        );
        const key = () => {
            const run = p.run("main.ts");
            assert.equal(run.status, 0, run.stderr);
            return run.stdout.trim();
        };
        const first = key();
        assert.match(first, /^[0-9a-f]{64}$/);
        assert.equal(key(), first, "the same code, the same key");
        fs.writeFileSync(path.join(p.dir, "lib.ts"), "export const value = 2;\n");
        assert.notEqual(key(), first, "an edit to a loaded module changes the key");
    });

    it("names the .ts file and line in stack traces, and a syntax error's place", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-register-"));
        dirs.push(dir);
        const failing = path.join(dir, "fail.ts");
        // Type-only lines vanish from the JavaScript, so its lines are not the source's.
        fs.writeFileSync(
            failing,
            'interface Unused { a: number }\ntype Alias = Unused;\n\nexport function fail(): never {\n    throw new Error("here");\n}\n',
        );
        const { fail } = require(failing) as { fail(): never };
        assert.throws(fail, (e: Error) => e.stack!.split("\n")[1] === `    at fail (${failing}:5:11)`);
        const broken = path.join(dir, "broken.ts");
        fs.writeFileSync(broken, "const x: number = ;\n");
        assert.throws(
            () => require(broken),
            (e: Error) => {
                // The file as TypeScript names it: relative to the repository root.
                const place = /^(.+)\(1,19\): error TS1109: Expression expected/m.exec(e.message);
                return e instanceof SyntaxError && place !== null && path.resolve(root, place[1]) === broken;
            },
        );
    });

    it("transpiles as ts-node --transpile-only (the runner of `pulumi up`) does", () => {
        // Pulumi serializes a dynamic provider from its function text, which the plan prints: it must not differ.
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const tsNode = require("ts-node").create({ transpileOnly: true, project: path.join(root, "tsconfig.json") });
        assert.deepEqual(compilerOptions(), tsNode.config.options);
        const file = path.join(root, "components", "hub", "etcd-key.ts");
        const withoutMap = (js: string) => js.replace(/\/\/# sourceMappingURL=\S+\s*$/, "");
        assert.equal(withoutMap(javascriptOf(file)), withoutMap(tsNode.compile(fs.readFileSync(file, "utf8"), file)));
    });
});

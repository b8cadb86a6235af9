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

    // One project's runs, each printing the value it loaded and the key of its code: first, again unchanged, after an
    // edit to the module main.ts imports, after a change to tsconfig.json, then to the lockfile.
    type Run = { value: string; key: string; cachedMain: string[]; cachedValue: string[] };
    let runs: Record<"first" | "again" | "edited" | "tsconfig.json" | "package-lock.json", Run>;
    before(() => {
        const p = newProject();
        const file = path.join(p.dir, "lib", "value.ts");
        fs.mkdirSync(path.dirname(file));
        fs.writeFileSync(
            path.join(p.dir, "main.ts"),
            'import { value } from "./lib/value";\nconsole.log(value);\nconsole.log(require("./src/plan/register").codeKeyOf([__filename, require.resolve("./lib/value")]));\n',
        );
        const run = (): Run => {
            const r = p.run("main.ts");
            assert.equal(r.status, 0, r.stderr);
            const [value, key, ...rest] = r.stdout.split("\n");
            assert.deepEqual(rest, [""], r.stdout);
            return { value, key, cachedMain: p.cached("main.ts"), cachedValue: p.cached("lib/value.ts") };
        };
        fs.writeFileSync(file, 'export const value: string = "first";\n');
        const first = run();
        const again = run();
        fs.writeFileSync(file, 'export const value: string = "second";\n');
        const edited = run();
        fs.appendFileSync(path.join(p.dir, "tsconfig.json"), "\n");
        const tsconfig = run();
        fs.appendFileSync(path.join(p.dir, "package-lock.json"), "\n");
        runs = { first, again, edited, "tsconfig.json": tsconfig, "package-lock.json": run() };
    });

    it("runs an edited source on the next run, and transpiles again when tsconfig.json or the lockfile changes", () => {
        assert.equal(runs.first.value, "first");
        assert.equal(runs.edited.value, "second");
        assert.equal(runs.edited.cachedValue.length, 1, "the copy of the first version is gone");
        let before = runs.edited.cachedMain;
        for (const settings of ["tsconfig.json", "package-lock.json"] as const) {
            assert.equal(runs[settings].value, "second");
            const after = runs[settings].cachedMain;
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
        // Nothing else sets V8's cache directory either: the loader's, under the unwritable .build, fails too.
        const run = p.run("main.ts", { ownCompileCache: true });
        assert.equal(run.stdout, "uncached\n", run.stderr);
    });

    it("keys the code of the files it is given: the key changes when a source or a setting does, and only then", () => {
        assert.match(runs.first.key, /^[0-9a-f]{64}$/);
        assert.equal(runs.again.key, runs.first.key, "the same code, the same key");
        assert.notEqual(runs.edited.key, runs.first.key, "an edit to one of the files changes the key");
        assert.notEqual(runs["tsconfig.json"].key, runs.edited.key, "tsconfig.json changes the key");
        assert.notEqual(runs["package-lock.json"].key, runs["tsconfig.json"].key, "the lockfile changes the key");
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

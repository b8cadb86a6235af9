import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.join(__dirname, "..");

/** Runs `script` in a fresh node with the plan's loader (and so defer-sdk.js), in `cwd`; its stdout as JSON. */
function run(script: string, cwd = root): any {
    const out = spawnSync(process.execPath, ["-r", path.join(root, "src", "plan", "register.js"), "-e", script], {
        cwd,
        encoding: "utf8",
    });
    assert.equal(out.status, 0, out.stderr);
    return JSON.parse(out.stdout);
}

/** Whether each of the deferred modules is loaded; `require.resolve` from the SDK file that requires it. */
const LOADED = `
const closure = path.dirname(require.resolve("@pulumi/pulumi/runtime/closure/codePaths"));
const loaded = () => ({
    typescript: require.cache[require.resolve("typescript", { paths: [closure] })] !== undefined,
    arborist: require.cache[require.resolve("@npmcli/arborist", { paths: [closure] })] !== undefined,
    normalize: require.cache[require.resolve("normalize-package-data", { paths: [closure] })] !== undefined,
    automation: require.cache[path.join(closure, "..", "..", "automation", "index.js")] !== undefined,
});
`;

describe("the SDK's closure dependencies and Automation API, and zod's locales, load on first use (src/plan/defer-sdk.js)", () => {
    // One process checks both: what loading the SDK loads, then what serializing and computing code paths load.
    let dir: string;
    let result: {
        before: unknown;
        text: string;
        paths: string[];
        after: unknown;
        workspace: string;
        automation: unknown;
        zod: { before: boolean; message: string; de: string; after: boolean };
    };
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-defer-"));
        // A package with a dependency that is installed: computeCodePaths reads package.json (normalize-package-data,
        // through __importDefault) and the installed tree (arborist, through __importStar).
        fs.writeFileSync(
            path.join(dir, "package.json"),
            JSON.stringify({ name: "probe", version: "1.0.0", dependencies: { dep: "1.0.0" } }),
        );
        fs.mkdirSync(path.join(dir, "node_modules", "dep"), { recursive: true });
        fs.writeFileSync(
            path.join(dir, "node_modules", "dep", "package.json"),
            JSON.stringify({ name: "dep", version: "1.0.0" }),
        );
        fs.writeFileSync(path.join(dir, "node_modules", "dep", "index.js"), "module.exports = 1;\n");
        result = run(
            `const path = require("path");
             const pulumi = require(${JSON.stringify(require.resolve("@pulumi/pulumi"))});
             ${LOADED.replace('require.resolve("@pulumi/pulumi/runtime/closure/codePaths")', JSON.stringify(require.resolve("@pulumi/pulumi/runtime/closure/codePaths")))}
             const before = loaded();
             (async () => {
                 const answer = 42;
                 const serialized = await pulumi.runtime.serializeFunction(() => answer);
                 const paths = await pulumi.runtime.computeCodePaths();
                 const after = loaded();
                 const workspace = typeof pulumi.automation.LocalWorkspace;
                 const zodFile = ${JSON.stringify(require.resolve("zod"))};
                 const locales = path.join(path.dirname(zodFile), "v4", "locales", "index.cjs");
                 const { z } = require(zodFile);
                 const zod = { before: require.cache[locales] !== undefined, message: z.string().safeParse(1).error.issues[0].message };
                 zod.de = typeof z.locales.de;
                 zod.after = require.cache[locales] !== undefined;
                 console.log(JSON.stringify({ before, text: serialized.text, paths: [...paths.keys()], after, workspace, automation: loaded().automation, zod }));
             })().catch((e) => { console.error(e); process.exit(1); });`,
            dir,
        );
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("loads @pulumi/pulumi without TypeScript, arborist, normalize-package-data and the Automation API", () => {
        assert.deepEqual(result.before, { typescript: false, arborist: false, normalize: false, automation: false });
    });

    it("loads the Automation API when a program first reads pulumi.automation", () => {
        assert.equal(result.workspace, "function");
        assert.equal(result.automation, true);
    });

    it("loads zod without its translated messages (every locale but the English it uses), and them when z.locales is read", () => {
        assert.deepEqual(result.zod, {
            before: false,
            message: "Invalid input: expected string, received number",
            de: "function",
            after: true,
        });
    });

    it("serializes a function and computes code paths with the real modules, loaded then", () => {
        assert.match(result.text, /return \(\) => answer;/);
        assert.match(result.text, /answer: 42/);
        assert.deepEqual(result.paths, ["node_modules/dep"]);
        assert.deepEqual(result.after, { typescript: true, arborist: true, normalize: true, automation: false });
    });
});

import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as semver from "semver";
import * as YAML from "yaml";
import { sdkRunInvocation } from "../bench/sdk-run";

const root = path.join(__dirname, "..");
const packageJson = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { compilerOptions, javascriptOf } = require("../src/plan/register") as {
    compilerOptions(): Record<string, unknown>;
    javascriptOf(filename: string): string;
};
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { loadTypeScriptCompilerOptions } = require("@pulumi/pulumi/tsutils") as {
    loadTypeScriptCompilerOptions(file: string): Record<string, unknown>;
};

/** Pulumi.yaml's nodejs runtime options (the language host passes `tsconfig` on as PULUMI_NODEJS_TSCONFIG_PATH). */
const runtimeOptions = () => YAML.parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")).runtime.options;

describe("runtime: Node and the program's loader", () => {
    it("requires the Node versions the Pulumi SDK supports, and mise pins one of them", () => {
        const ours: string = packageJson(root).engines.node;
        const sdk: string = packageJson(path.join(root, "node_modules", "@pulumi", "pulumi")).engines.node;
        // Every Node ours accepts, the SDK accepts: our lowest is at least the SDK's.
        assert.ok(semver.gte(semver.minVersion(ours)!, semver.minVersion(sdk)!), `engines ${ours} vs the SDK's ${sdk}`);
        const mise = fs.readFileSync(path.join(root, "mise.toml"), "utf8");
        const pinned = /^node = "(\d+)"/m.exec(mise)?.[1];
        assert.ok(pinned, "mise.toml pins node");
        for (const range of [ours, sdk])
            assert.ok(semver.satisfies(`${pinned}.0.0`, range), `node ${pinned} ∉ ${range}`);
    });

    describe(".ci/use-node.sh (what .ci/run runs first)", () => {
        const dirs: string[] = [];
        after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

        /** A machine whose `node` is `version`, and whose `npm install … node@24` installs a node reporting `installs`. */
        function machine(version: string, installs = "v24.21.0") {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-use-node-"));
            dirs.push(dir);
            const bin = path.join(dir, "bin");
            fs.mkdirSync(bin);
            const stub = (file: string, body: string) =>
                fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
            stub(path.join(bin, "node"), `echo ${version}`);
            stub(
                path.join(bin, "npm"),
                `echo "$@" >> "${dir}/npm.log"
prefix="$3"; mkdir -p "$prefix/node_modules/.bin"
printf '#!/bin/sh\\necho ${installs}\\n' > "$prefix/node_modules/.bin/node"; chmod +x "$prefix/node_modules/.bin/node"`,
            );
            const run = () =>
                spawnSync("bash", ["-c", 'set -euo pipefail; source .ci/use-node.sh; echo "now $(node --version)"'], {
                    cwd: root,
                    encoding: "utf8",
                    env: { PATH: `${bin}:/usr/bin:/bin`, HOME: dir },
                });
            const npmCalls = () =>
                fs.existsSync(path.join(dir, "npm.log")) ? fs.readFileSync(path.join(dir, "npm.log"), "utf8") : "";
            return { run, npmCalls };
        }

        it("installs Node 24 from the npm registry over Node 20, once, and puts it first on PATH", () => {
            const m = machine("v20.20.2");
            const first = m.run();
            assert.equal(first.status, 0, first.stderr);
            assert.equal(first.stdout, "now v24.21.0\n");
            assert.match(m.npmCalls(), /^install --prefix \S+\/\.cache\/omni-scale-node .*node@24\n$/);
            assert.equal(m.run().stdout, "now v24.21.0\n");
            assert.equal(m.npmCalls().split("\n").length - 1, 1, "the second run reuses the installed Node");
        });

        it("keeps a Node that is 22 or later", () => {
            const m = machine("v22.12.0");
            const run = m.run();
            assert.equal(run.stdout, "now v22.12.0\n", run.stderr);
            assert.equal(m.npmCalls(), "");
        });

        it("refuses to go on when no Node 22 or later is found", () => {
            const run = machine("v20.20.2", "v20.20.2").run();
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.match(run.stderr, /Node 22 or later is required \(package.json engines\), found v20\.20\.2/);
        });
    });

    describe("pulumi preview/up: the SDK's run entry loads the program transpile-only", () => {
        const tsconfig = () => path.join(root, runtimeOptions().tsconfig);

        it("names a tsconfig with noCheck in Pulumi.yaml, while tsconfig.json (npm test's typecheck) checks", () => {
            // @pulumi/pulumi cmd/run/run.js: transpileOnly = PULUMI_NODEJS_TRANSPILE_ONLY, else the noCheck of the
            // file's own compilerOptions (tsutils.loadTypeScriptCompilerOptions does not follow `extends`).
            assert.equal(runtimeOptions().typescript, true);
            assert.equal(loadTypeScriptCompilerOptions(tsconfig()).noCheck, true);
            assert.equal(loadTypeScriptCompilerOptions(path.join(root, "tsconfig.json")).noCheck, undefined);
            assert.equal(compilerOptions().noCheck, undefined);
        });

        it("emits the code the offline plan runs (the dynamic provider Pulumi serializes is the same text)", () => {
            // The ts-node options run.js builds (CommonJS project): its defaults, then the file's own compilerOptions.
            const own = loadTypeScriptCompilerOptions(tsconfig());
            // eslint-disable-next-line @typescript-eslint/no-var-requires
            const tsNode = require("ts-node").create({
                compiler: "typescript",
                transpileOnly: own.noCheck,
                project: tsconfig(),
                skipProject: false,
                compilerOptions: {
                    target: "ES2020",
                    module: "nodenext",
                    moduleResolution: "nodenext",
                    sourceMap: "true",
                    ...own,
                },
            });
            const withoutMap = (js: string) => js.replace(/\/\/# sourceMappingURL=\S+\s*$/, "");
            for (const file of ["components/hub/etcd-key.ts", "src/index.ts"].map((f) => path.join(root, f))) {
                assert.equal(
                    withoutMap(tsNode.compile(fs.readFileSync(file, "utf8"), file)),
                    withoutMap(javascriptOf(file)),
                    file,
                );
            }
        });

        it("runs the quantum program through the SDK's run entry with that tsconfig", () => {
            const { args, env } = sdkRunInvocation("quantum", runtimeOptions().tsconfig);
            const run = spawnSync(process.execPath, args, { cwd: root, env, encoding: "utf8" });
            assert.equal(run.status, 0, run.stderr);
            assert.doesNotMatch(run.stderr, /unhandled exception|error:/i);
            assert.match(run.stderr, /registered \d{2,} resources/);
        });
    });
});

import { strict as assert } from "node:assert";
import { spawnSync, SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as semver from "semver";
import { projectRuntime, sdkRunInvocation } from "../bench/sdk-run";
import { etcdKeyProvider } from "../components/hub/etcd-key";
import { unwrapSecrets } from "../src/plan/capture";
import { serializedProvider } from "./dynamic-host";
import { startProviderHost } from "./pulumi-hosts";
import { spawnOutput } from "./tools";

const root = path.join(__dirname, "..");
const packageJson = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
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

    describe("pulumi preview/up: Pulumi.yaml's main through the SDK's run entry, as the CLI starts it", () => {
        // Both runs of the quantum program side by side, once: `preview` (with an observer preloaded that notes, as the
        // process exits, what loaded the program) and `up` (the registered resources written out).
        let dir: string;
        let preview: SpawnSyncReturns<string>;
        let up: SpawnSyncReturns<string>;
        before(async function () {
            this.timeout(300_000);
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-sdk-run-"));
            const observer = path.join(dir, "observer.js");
            fs.writeFileSync(
                observer,
                `process.on("exit", () => require("fs").writeFileSync(${JSON.stringify(path.join(dir, "loaded.json"))},
                    JSON.stringify({ main: typeof require.cache[${JSON.stringify(path.join(root, projectRuntime().main))}]?.exports,
                        hook: require.extensions[".ts"]?.name,
                        tsNode: Object.keys(require.cache).some((f) => f.includes("/node_modules/ts-node/")),
                        automation: Object.keys(require.cache).some((f) => f.includes("/@pulumi/pulumi/automation/")),
                        tracker: require.cache[${JSON.stringify(require.resolve("@pulumi/pulumi/runtime/debuggable"))}]?.exports.debuggablePromise.name })));\n`,
            );
            const previewRun = sdkRunInvocation("quantum");
            const upRun = sdkRunInvocation("quantum", {
                dryRun: false,
                env: { SDK_RUN_RESOURCES: path.join(dir, "resources.json") },
            });
            [preview, up] = await Promise.all([
                run(["-r", observer, ...previewRun.args], previewRun),
                run(upRun.args, upRun),
            ]);
        });
        after(() => fs.rmSync(dir, { recursive: true, force: true }));

        it("names pulumi-program.js at the project root, with the SDK's ts-node off", () => {
            const { main, options } = projectRuntime();
            // pulumi-language-nodejs parseOptions: `typescript` defaults to true, which registers ts-node (run.js).
            assert.equal(options.typescript, false);
            assert.equal(options.tsconfig, undefined);
            // main.go execRuntime: nodeargs (shlex-split) come before the run entry, so this preload runs before
            // the SDK loads. Resolved from the directory node starts in: main.go gives node no directory of its own,
            // and the language host runs in the plugin context's pwd (pkg/host/host.go, plugin.go cmd.Dir), main's
            // directory, the project root (below).
            assert.equal(options.nodeargs, "--require ./src/plan/preload.js");
            assert.ok(fs.existsSync(path.join(root, "src", "plan", "preload.js")));
            // pkg/engine/project.go getPwdMain: the program runs in main's directory, where src/config.ts reads the
            // stack file (Pulumi.<stack>.yaml) from.
            assert.equal(path.dirname(path.resolve(root, main)), root);
        });

        it("loads src/index.ts through the project's loader (register.js), which transpiles as ts-node --transpile-only", () => {
            assert.equal(preview.status, 0, preview.stderr);
            // The program's exported main (run.js calls it), register.js's hook for .ts (test/register.test.ts: an
            // edit runs on the next run), no ts-node. And nodeargs' preload.js ran before the run entry loaded the SDK: the
            // SDK's Automation API is left unloaded (defer-sdk.js; the same file turns V8's compile cache on). And the
            // SDK's promises went untagged (promise-tags.ts, which pulumi-program.js calls).
            assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, "loaded.json"), "utf8")), {
                main: "function",
                hook: "loadTypeScript",
                tsNode: false,
                automation: false,
                tracker: "untagged",
            });
        });

        it("runs the quantum program as `pulumi preview` starts it", () => {
            assert.equal(preview.status, 0, preview.stderr);
            assert.doesNotMatch(preview.stderr, /unhandled exception|error:/i);
            assert.match(preview.stderr, /registered \d{2,} resources/);
        });

        it("serializes each dynamic provider under `pulumi up` as the offline plan does, and the SDK's dynamic-provider host loads it", async () => {
            assert.equal(up.status, 0, up.stderr);
            const registered: { type: string; name: string; inputs: Record<string, unknown> }[] = JSON.parse(
                fs.readFileSync(path.join(dir, "resources.json"), "utf8"),
            );
            const dynamic = registered.filter((r) => r.type === "pulumi-nodejs:dynamic:Resource");
            assert.deepEqual(
                dynamic.map((r) => r.name),
                ["omni-etcd-key-generated", "omni-backup-signing-key-generated"],
            );
            const offline = await serializedProvider(etcdKeyProvider);
            const host = await startProviderHost(root);
            try {
                for (const r of dynamic) {
                    const inputs = unwrapSecrets(r.inputs);
                    assert.equal(inputs.__provider, offline, r.name);
                    assert.equal(await host.diffUnchanged(inputs), "none", r.name);
                }
            } finally {
                host.close();
            }
        });
    });
});

/** `node args` in `cwd` with `env`, not waiting: its status and output, as spawnSync gives them. */
async function run(
    args: string[],
    { cwd, env }: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<SpawnSyncReturns<string>> {
    const { status, signal, stdout, stderr } = await spawnOutput(process.execPath, args, { cwd, env });
    return { pid: 0, output: [null, stdout, stderr], stdout, stderr, status, signal };
}

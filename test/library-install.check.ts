import { strict as assert } from "node:assert";
import { SpawnOptions, SpawnOptionsWithoutStdio, spawnSync, SpawnSyncOptions } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { openPack } from "../src/plan/analyze";
import { CapturedResource, unwrapSecrets } from "../src/plan/capture";
import { packArgs } from "../policy/pack";
import { startPackAsCli, startProviderHost } from "./pulumi-hosts";
import { spawnOutput } from "./tools";

/**
 * `npm run test:library` (CI, .ci/run): the package as a user gets it, installed the two ways the README offers: the
 * tarball `npm pack` makes of this checkout (`npm pack` builds it), and a git URL. Each way, examples/library, a program
 * of its own, installs it from the npm registry's packages only, type-checks and runs its own tests under
 * omni-scale/testing's mocks; its dynamic providers load in Pulumi's dynamic-provider host and its policy pack in
 * Pulumi's run-policy-pack, both started from its node_modules as the CLI starts them; the installed `omni-scale`
 * command plans, imports and checks a project of its own through a slow pipe. Not in `npm test`: packing and
 * installing take minutes.
 */

const REPO = path.join(__dirname, "..");
const EXAMPLE = path.join(REPO, "examples", "library");

function run(command: string, args: string[], opts: SpawnSyncOptions = {}) {
    const r = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...opts });
    if (r.error) throw r.error;
    return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** `run`, leaving the event loop free: the two ways install side by side. */
async function runAside(command: string, args: string[], opts: SpawnOptionsWithoutStdio = {}) {
    const { status, stdout, stderr } = await spawnOutput(command, args, { ...opts, stdin: "ignore" });
    return { code: status, stdout, stderr };
}

function succeeded(
    command: string,
    args: string[],
    cwd: SpawnOptions["cwd"],
    r: { code: number | null; stdout: string; stderr: string },
) {
    assert.equal(
        r.code,
        0,
        `${command} ${args.join(" ")} (in ${cwd ?? REPO}) exited ${r.code}:\n${r.stdout}\n${r.stderr}`,
    );
    return r.stdout;
}

function ok(command: string, args: string[], opts: SpawnSyncOptions = {}) {
    return succeeded(command, args, opts.cwd, run(command, args, opts));
}

async function okAside(command: string, args: string[], opts: SpawnOptionsWithoutStdio = {}) {
    return succeeded(command, args, opts.cwd, await runAside(command, args, opts));
}

const NPM_INSTALL = ["--no-audit", "--no-fund", "--prefer-offline", "--no-package-lock"];

/** A fresh copy of examples/library in `dir`/app, its own build and modules left out. */
function copyExample(dir: string): string {
    const app = path.join(dir, "app");
    fs.cpSync(EXAMPLE, app, { recursive: true, filter: (f) => !/[/\\](node_modules|bin)$/.test(f) });
    return app;
}

/** Every file of the installed package, relative to its directory (its own node_modules aside). */
function packageFiles(root: string): string[] {
    return (fs.readdirSync(root, { recursive: true, withFileTypes: true }) as fs.Dirent[])
        .filter((e) => e.isFile())
        .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
        .filter((f) => !f.startsWith("node_modules/"));
}

/**
 * The checks, on examples/library with omni-scale installed by `install(dir)`, which resolves to the program's
 * directory. Every way starts installing in a root hook, before the first suite: the installs run side by side.
 */
function installedLibrary(how: string, install: (dir: string) => Promise<string>) {
    let dir: string;
    let installed: Promise<string>;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-library-"));
        installed = install(dir);
        installed.catch(() => undefined); // reported by its suite
    });
    after(async () => {
        await installed.catch(() => undefined);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    describe(`the library installed ${how}, in a program of its own`, function () {
        let app: string;
        let resources: CapturedResource[];

        before(async () => {
            app = await installed;
        });

        it("is the compiled package: JavaScript and declarations, no TypeScript sources", () => {
            const files = packageFiles(path.join(app, "node_modules", "omni-scale"));
            const sources = files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
            assert.deepEqual(sources, []);
            for (const f of [
                "cli/omni-scale.js",
                "bin/src/cli.js",
                "bin/src/testing.d.ts",
                "bin/policy/index.js",
                "policy/PulumiPolicy.yaml",
                "policy/package.json",
                "components/omni/talos-schemas/1.13.json.gz",
            ])
                assert.ok(files.includes(f), f);
        });

        it("every path its package.json exports resolves from the program", () => {
            const script = `const { exports } = require("omni-scale/package.json");
                for (const p of Object.keys(exports)) require.resolve(require("path").posix.join("omni-scale", p));`;
            ok(process.execPath, ["-e", script], { cwd: app });
        });

        it("uses the program's single copy of the Pulumi SDK and of each provider SDK its components create resources with", () => {
            const nested = path.join(app, "node_modules", "omni-scale", "node_modules");
            const own = fs.existsSync(nested) ? fs.readdirSync(nested) : [];
            assert.ok(!own.includes("@pulumi") && !own.includes("@muhlba91"), `nested: ${own.join(", ")}`);
        });

        it("type-checks and passes its own tests under omni-scale/testing's mocks (npm test)", () => {
            ok("npm", ["test"], { cwd: app });
        });

        it("its dynamic providers serialize without secrets and load in Pulumi's dynamic-provider host", async () => {
            const out = path.join(dir, "resources.json");
            const script = `require("omni-scale/testing")
                .runOffline(() => require("./bin/index").platform(), { project: "omni-scale-library-example", stack: "dev" })
                .then((r) => { require("fs").writeFileSync(${JSON.stringify(out)}, JSON.stringify(r.resources)); process.exit(0); },
                      (e) => { console.error(e); process.exit(1); });`;
            ok(process.execPath, ["-e", script], { cwd: app });
            resources = JSON.parse(fs.readFileSync(out, "utf8"));
            const dynamic = resources.filter((r) => r.type === "pulumi-nodejs:dynamic:Resource");
            assert.equal(dynamic.length, 4);
            const host = await startProviderHost(app);
            try {
                for (const r of dynamic) {
                    const inputs = unwrapSecrets(r.inputs);
                    const text = String(inputs.__provider);
                    for (const secret of ["serviceAccountKey", "armoredPrivateKey"].map((k) => inputs[k]))
                        if (typeof secret === "string")
                            assert.ok(!text.includes(secret), `${r.name}: a secret in __provider`);
                    assert.equal(await host.diffUnchanged(inputs), "none", r.name);
                }
            } finally {
                host.close();
            }
        });

        it("its policy pack loads from node_modules through Pulumi's run-policy-pack and passes the program", async () => {
            const packDir = path.join(app, "node_modules", "omni-scale", "policy");
            const started = startPackAsCli(packDir);
            const pack = openPack(packDir, started);
            try {
                const result = await pack.analyze(resources);
                assert.deepEqual(
                    result.policies.map((p) => p.name).sort(),
                    packArgs.policies.map((p) => p.name).sort(),
                );
                assert.deepEqual(
                    result.violations.filter((v) => v.enforcementLevel === "mandatory"),
                    [],
                );
            } finally {
                pack.close();
                started.child.kill();
            }
        });

        describe("the installed omni-scale command, in a project of its own", () => {
            let project: string;
            const omniScale = (args: string, cwd = project) =>
                run(
                    "bash",
                    ["-c", `set -o pipefail; "${path.join(app, "node_modules", ".bin", "omni-scale")}" ${args}`],
                    {
                        cwd,
                    },
                );

            before(() => {
                project = path.join(dir, "project");
                fs.mkdirSync(path.join(project, "sub"), { recursive: true });
                fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: platform\nruntime: nodejs\n");
                for (const f of ["Pulumi.quantum.yaml", "Pulumi.matrix.yaml"])
                    fs.copyFileSync(path.join(REPO, f), path.join(project, f));
            });

            it("--help", () => {
                const r = omniScale("--help");
                assert.equal(r.code, 0, r.stderr);
                assert.match(r.stdout, /^usage: omni-scale <command>/);
            });

            it("plan --json through a slow reader: the whole document, from a subdirectory of the project", () => {
                const r = omniScale("plan --stack matrix --json | (sleep 1; cat)", path.join(project, "sub"));
                assert.equal(r.code, 0, r.stderr);
                const plan = JSON.parse(r.stdout);
                assert.equal(plan.stack, "matrix");
                assert.ok(plan.resources.length > 20);
                // The providers' forwarders, serialized once and kept in the installed package's cache directory
                // (cache-dir.ts), serve the next plan the same text.
                const closures = path.join(app, "node_modules", "omni-scale", ".build", "closures");
                assert.deepEqual(
                    fs
                        .readdirSync(closures)
                        .map((f) => f.replace(/\.[0-9a-f]{16}\.json$/, ""))
                        .sort(),
                    [
                        "packaged-provider.js.omni-scale-providers-etcd-key-etcdKeyProvider",
                        "packaged-provider.js.omni-scale-providers-omni-clusterProvider",
                        "packaged-provider.js.omni-scale-providers-omni-machineClassProvider",
                    ],
                );
                const again = omniScale("plan --stack matrix --json", path.join(project, "sub"));
                assert.equal(again.code, 0, again.stderr);
                assert.equal(again.stdout, r.stdout);
            });

            it("plan keeps its exit code through a pipe: 2 for a stack file the project lacks", () => {
                const r = omniScale("plan --stack nowhere | (sleep 1; cat)");
                assert.equal(r.code, 2);
                assert.match(r.stderr, /Pulumi\.nowhere\.yaml/);
            });

            it("import", () => {
                const kit = path.join(REPO, "test", "fixtures", "import", "kit");
                const r = omniScale(`import --machine-classes "${kit}/machine-classes" | (sleep 1; cat)`);
                assert.equal(r.code, 0, r.stderr);
                assert.match(r.stdout, /omni-scale:machineClasses:/);
            });

            it("restore --print and certificate-due, with the project's hub stack", () => {
                const restore = omniScale("restore --stack quantum --print");
                assert.equal(restore.code, 0, restore.stderr);
                assert.match(restore.stdout, /omni-hub-restore/);
                const due = omniScale("certificate-due --stack quantum --certificate -");
                assert.equal(due.code, 0, due.stderr);
            });
        });
    });
}

installedLibrary("from the tarball npm pack makes of this checkout", async (dir) => {
    const packed = JSON.parse(await okAside("npm", ["pack", "--json", "--pack-destination", dir], { cwd: REPO }));
    const app = copyExample(dir);
    fs.copyFileSync(path.join(dir, packed[0].filename), path.join(app, "omni-scale.tgz"));
    await okAside("npm", ["install", ...NPM_INSTALL], { cwd: app });
    return app;
});

/**
 * As a user installs from a git URL, on a clone of the committed HEAD (what is not committed is not tested here): npm
 * clones it, installs its dependencies (devDependencies too), runs `prepare`, packs the result and installs that.
 */
installedLibrary("from a git URL (the committed HEAD)", async (dir) => {
    const clone = path.join(dir, "omni-scale.git");
    const commit = ok("git", ["rev-parse", "HEAD"], { cwd: REPO }).trim();
    ok("git", ["clone", "--quiet", "--no-checkout", REPO, clone]);
    // The clone's HEAD at the commit: npm then clones it plainly, whatever branch (or none, in CI) REPO is on.
    ok("git", ["checkout", "--quiet", "--detach", commit], { cwd: clone });
    const app = copyExample(dir);
    const manifest = path.join(app, "package.json");
    const pkg = JSON.parse(fs.readFileSync(manifest, "utf8"));
    delete pkg.dependencies["omni-scale"];
    fs.writeFileSync(manifest, JSON.stringify(pkg, null, 2));
    await okAside("npm", ["install", ...NPM_INSTALL, `git+file://${clone}#${commit}`], { cwd: app });
    return app;
});

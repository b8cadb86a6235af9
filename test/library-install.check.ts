import { strict as assert } from "node:assert";
import { spawnSync, SpawnSyncOptions } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { openPack } from "../src/plan/analyze";
import { CapturedResource, unwrapSecrets } from "../src/plan/capture";
import { packArgs } from "../policy/pack";
import { startPackAsCli, startProviderHost } from "./pulumi-hosts";

/**
 * `npm run test:library` (CI, .ci/run): the package as a user gets it. `npm pack` (which builds it), then
 * examples/library, a program of its own, installs the tarball from the npm registry's packages only, type-checks and
 * runs its own tests under omni-scale/testing's mocks; its dynamic providers load in Pulumi's dynamic-provider host
 * and its policy pack in Pulumi's run-policy-pack, both started from its node_modules as the CLI starts them; the
 * installed `omni-scale` command plans, imports and checks a project of its own through a slow pipe. Not in
 * `npm test`: packing and installing take about a minute.
 */

const REPO = path.join(__dirname, "..");
const EXAMPLE = path.join(REPO, "examples", "library");

function run(command: string, args: string[], opts: SpawnSyncOptions = {}) {
    const r = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...opts });
    if (r.error) throw r.error;
    return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

function ok(command: string, args: string[], opts: SpawnSyncOptions = {}) {
    const r = run(command, args, opts);
    assert.equal(
        r.code,
        0,
        `${command} ${args.join(" ")} (in ${opts.cwd ?? REPO}) exited ${r.code}:\n${r.stdout}\n${r.stderr}`,
    );
    return r.stdout;
}

describe("the packed library, installed in a program of its own", function () {
    let dir: string;
    let app: string;
    let tarball: string;
    let resources: CapturedResource[];

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-library-"));
        const packed = JSON.parse(ok("npm", ["pack", "--json", "--pack-destination", dir], { cwd: REPO }));
        tarball = path.join(dir, packed[0].filename);
        app = path.join(dir, "app");
        fs.cpSync(EXAMPLE, app, {
            recursive: true,
            filter: (f) => !/[/\\](node_modules|bin)$/.test(f),
        });
        fs.copyFileSync(tarball, path.join(app, "omni-scale.tgz"));
        ok("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--no-package-lock"], { cwd: app });
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("ships compiled JavaScript and declarations, no TypeScript sources", () => {
        const files = ok("tar", ["tzf", tarball]).split("\n").filter(Boolean);
        const sources = files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
        assert.deepEqual(sources, []);
        for (const f of [
            "package/cli/omni-scale.js",
            "package/bin/src/cli.js",
            "package/bin/src/testing.d.ts",
            "package/bin/policy/index.js",
            "package/policy/PulumiPolicy.yaml",
            "package/policy/package.json",
            "package/components/omni/talos-schemas/1.13.json.gz",
        ])
            assert.ok(files.includes(f), f);
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
            assert.deepEqual(result.policies.map((p) => p.name).sort(), packArgs.policies.map((p) => p.name).sort());
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
            run("bash", ["-c", `set -o pipefail; "${path.join(app, "node_modules", ".bin", "omni-scale")}" ${args}`], {
                cwd,
            });

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

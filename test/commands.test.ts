import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { COMMANDS } from "../src/commands";
import { main as planMain } from "../src/plan/cli";
import { main as importMain } from "../src/import/cli";
import { main as restoreMain } from "../src/hub-restore";
import { main as certificateDueMain } from "../src/certificate-renewal";
import { main as benchMain } from "../bench/plan.bench";
import { NODE_FLAGS } from "../src/plan/pack-process";
import { captureOutput } from "./output-capture";
import { spawnOutput } from "./tools";

const REPO = path.join(__dirname, "..");
const packageJson = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8"));
const BIN = path.join(REPO, packageJson.bin["omni-scale"]);

describe("omni-scale (the operator commands, package.json bin)", () => {
    let away: string;
    /** The plan test's two runs, started by the before: they run beside the tests before it. */
    const PLANS = [
        { args: ["--stack", "hub"], cwd: () => path.join(away, "project", "sub") },
        { args: ["--stack", "mine", "--config", "Pulumi.mine.yaml"], cwd: () => away },
    ];
    let plans: Promise<{ status: number | null; stdout: string; stderr: string }[]>;
    before(() => {
        // Outside the repository: where an operator's seed kit is.
        away = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-cli-"));
        // A project of the caller's with a stack file, and a stack file outside any project.
        const project = path.join(away, "project");
        fs.mkdirSync(path.join(project, "sub"), { recursive: true });
        fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: platform\nruntime: nodejs\n");
        fs.copyFileSync(path.join(REPO, "Pulumi.quantum.yaml"), path.join(project, "Pulumi.hub.yaml"));
        fs.copyFileSync(path.join(REPO, "Pulumi.quantum.yaml"), path.join(away, "Pulumi.mine.yaml"));
        // The two plans side by side, not awaited here: they share nothing with each other or the other tests.
        // The first notes, as each of its processes exits, which of what defer-sdk.js defers it loaded.
        const deferredProbe = exitProbe(
            "deferred-probe.js",
            `require("fs").appendFileSync(${JSON.stringify(path.join(away, "deferred.jsonl"))},
                JSON.stringify({ pack: process.argv.some((a) => a.endsWith("policy")),
                    typescript: loaded("/node_modules/typescript/"), arborist: loaded("/@npmcli/arborist/"),
                    automation: loaded("/@pulumi/pulumi/automation/"), zodLocales: loaded("/zod/v4/locales/index.cjs") }) + "\\n")`,
        );
        plans = Promise.all(
            PLANS.map(({ args, cwd }, i) =>
                omniScaleAsync(["plan", ...args, "--json"], cwd(), i === 0 ? deferredProbe : {}),
            ),
        );
        plans.catch(() => undefined);
    });
    after(() => fs.rmSync(away, { recursive: true, force: true }));

    /** The bin as a shell runs it (its #! line), from `cwd`, without npm: INIT_CWD is not set. */
    const omniScale = (args: string[], cwd = away, extraEnv: NodeJS.ProcessEnv = {}) => {
        const env = { ...process.env, ...extraEnv };
        delete env.INIT_CWD;
        return spawnSync(BIN, args, { cwd, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    };
    /**
     * NODE_OPTIONS that preload a probe (`name`, in the scratch directory) running `onExit` as each process of the
     * command exits; `loaded(part)` tells whether a module whose path holds `part` was loaded.
     */
    const exitProbe = (name: string, onExit: string) => {
        const probe = path.join(away, name);
        fs.writeFileSync(
            probe,
            `const loaded = (part) => Object.keys(require.cache).some((f) => f.includes(part));\nprocess.on("exit", () => ${onExit});\n`,
        );
        return { NODE_OPTIONS: `--require ${probe}` };
    };
    /** The command says on stderr, as it exits, whether it loaded the Pulumi SDK (0.8 s of start). */
    const sdkProbe = () =>
        exitProbe("sdk-probe.js", `process.stderr.write("sdk-loaded=" + loaded("/@pulumi/pulumi/") + "\\n")`);
    /** The same, not waiting: its output through pipes, its exit status. */
    const omniScaleAsync = (args: string[], cwd = away, extraEnv: NodeJS.ProcessEnv = {}) => {
        const env = { ...process.env, ...extraEnv };
        delete env.INIT_CWD;
        return spawnOutput(BIN, args, { cwd, env });
    };

    it("npm's plan and bench scripts run node with the pack process's NODE_FLAGS (young generation sized as on Node 20)", () => {
        const { scripts } = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8"));
        for (const name of ["plan", "bench"])
            assert.ok(scripts[name].startsWith(`node ${NODE_FLAGS.join(" ")} -r `), `${name}: ${scripts[name]}`);
    });

    it("names every command the README shows, each with a summary and a full usage", () => {
        const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
        assert.deepEqual(
            COMMANDS.map((c) => c.name),
            ["plan", "import", "restore", "certificate-due", "bench"],
        );
        for (const c of COMMANDS) {
            assert.match(readme, new RegExp(`omni-scale ${c.name}\\b`), `README shows omni-scale ${c.name}`);
            assert.ok(c.summary.length > 0 && !c.summary.includes("\n"), c.name);
            assert.match(c.usage, new RegExp(`^usage: omni-scale ${c.name} `), c.name);
            for (const part of ["\nOptions:\n", "  -h, --help ", "\nExit codes:\n", "\nExample"])
                assert.ok(c.usage.includes(part), `${c.name}'s usage has ${JSON.stringify(part)}`);
        }
    });

    it("documents only options the command takes", async () => {
        const mains: Record<string, (argv: string[]) => number | Promise<number>> = {
            plan: (argv) => planMain(argv, {}),
            import: (argv) => importMain(argv, {}),
            restore: (argv) => restoreMain(argv, {}),
            "certificate-due": (argv) => certificateDueMain(argv, new Date(), {}),
            bench: benchMain,
        };
        for (const c of COMMANDS) {
            // The options of its Options section, one per line.
            const section = c.usage.split("\nOptions:\n")[1].split("\n\n")[0];
            const options = [...section.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]);
            assert.ok(options.length > 1, c.name);
            for (const option of options) {
                // Alone, each option stops at parsing (a value or another option is missing): nothing runs.
                const capture = captureOutput();
                let code: number;
                try {
                    code = await mains[c.name]([option]);
                } finally {
                    capture.restore();
                }
                const { stderr } = capture.restore();
                assert.doesNotMatch(stderr, /Unknown option/, `${c.name} ${option}`);
                assert.ok(code === 0 || code === 2, `${c.name} ${option}: exit ${code}`);
            }
        }
    });

    it("prints each command's usage for --help and -h, on stdout, exit 0, from any directory", function () {
        // Eleven processes; each answers --help before its command's modules load (src/cli.ts).
        this.timeout(60_000);
        for (const c of COMMANDS) {
            for (const flag of ["--help", "-h"]) {
                const run = omniScale([c.name, flag]);
                assert.equal(run.status, 0, `${c.name} ${flag}: ${run.stderr}`);
                assert.equal(run.stdout, `${c.usage}\n`);
                assert.equal(run.stderr, "");
            }
        }
        // As `npm link` and npm's bin links install it: through a symlink, which node resolves to the package.
        const link = path.join(away, "omni-scale");
        fs.symlinkSync(BIN, link);
        const top = spawnSync(link, ["--help"], { cwd: away, encoding: "utf8" });
        assert.equal(top.status, 0, top.stderr);
        for (const c of COMMANDS) assert.match(top.stdout, new RegExp(`^  ${c.name} +${c.summary.slice(0, 20)}`, "m"));
    });

    it("keeps V8's compiled code between runs where Node keeps it by default (the temporary directory)", () => {
        const cache = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-v8-"));
        try {
            const run = spawnSync(BIN, ["--help"], {
                cwd: away,
                env: { ...process.env, NODE_COMPILE_CACHE: "", TMPDIR: cache },
                encoding: "utf8",
            });
            assert.equal(run.status, 0, run.stderr);
            const kept = fs
                .readdirSync(cache, { recursive: true })
                .filter((f) => fs.statSync(path.join(cache, String(f))).isFile());
            assert.ok(kept.length > 0, "the run wrote compiled code");
        } finally {
            fs.rmSync(cache, { recursive: true, force: true });
        }
    });

    it("exits 2 on a bad option or an unknown command, the usage on stderr and nothing on stdout", () => {
        for (const c of COMMANDS) {
            const run = omniScale([c.name, "--no-such-option"]);
            assert.equal(run.status, 2, `${c.name}: ${run.stderr}`);
            assert.equal(run.stdout, "");
            assert.match(run.stderr, /^Unknown option '--no-such-option'/);
            assert.ok(run.stderr.includes(c.usage), c.name);
        }
        for (const args of [[], ["deploy"]]) {
            const run = omniScale(args);
            assert.equal(run.status, 2);
            assert.equal(run.stdout, "");
            assert.match(run.stderr, /^(no command given|unknown command "deploy")\nusage: omni-scale <command>/);
        }
    });

    it("imports a seed kit in its own directory: stdout is only the YAML, file paths point into the kit, --out FILE is the caller's", () => {
        // One run: the hub's part on stdout, the workload stack's in --out FILE (in-process, test/import.test.ts: both
        // parts on stdout without --out, nothing on stdout with --out and --hub-out).
        const kit = path.join(away, "seed-kit");
        fs.cpSync(path.join(REPO, "test", "fixtures", "import", "kit"), kit, { recursive: true });
        const run = omniScale(
            [
                "import",
                "--machine-classes",
                "machine-classes",
                "--clusters",
                "clusters",
                "--omni-env",
                "omni/omni.env",
                "--provider-config",
                "proxmox-provider/config.yaml",
                "--out",
                "matrix.yaml",
            ],
            kit,
            sdkProbe(),
        );
        assert.equal(run.status, 0, run.stderr);
        // It checks the stack files it writes as a plan reads them, without the SDK a program needs.
        assert.match(run.stderr, /^sdk-loaded=false$/m);
        const docs = YAML.parseAllDocuments(run.stdout);
        assert.deepEqual(
            docs.flatMap((d) => d.errors),
            [],
        );
        assert.equal(docs.length, 1, "only the hub's part on stdout");
        const hub = docs[0].toJS();
        assert.equal(hub.config["omni-scale:hub"].lanIp, "192.168.10.20");
        const workloads = YAML.parse(fs.readFileSync(path.join(kit, "matrix.yaml"), "utf8"));
        assert.equal(workloads.config["omni-scale:machineClasses"].length, 5);
        const patchFiles = JSON.stringify(workloads.config["omni-scale:clusters"]).match(/"file":"[^"]+"/g) ?? [];
        assert.ok(patchFiles.length > 0);
        for (const entry of patchFiles) {
            const file = JSON.parse(`{${entry}}`).file;
            assert.ok(path.isAbsolute(file) && file.startsWith(kit) && fs.existsSync(file), file);
        }
        assert.match(run.stderr, /Imported 5 machine class\(es\), 1 cluster\(s\), hub settings, provider settings\./);
    });

    it("plans a stack of the caller's project (from a subdirectory too), and a stack file named relative to the caller; --json is the whole stdout", async function () {
        this.timeout(300_000);
        const results = await plans;
        for (const [i, { args }] of PLANS.entries()) {
            const run = results[i];
            assert.equal(run.status, 0, run.stderr);
            const plan = JSON.parse(run.stdout);
            assert.equal(plan.stack, args[1]);
            assert.ok(plan.resources.length > 10);
        }
        // The command and the pack it starts load the SDK without its Automation API and zod without its locales, and
        // the pack without the closure serializer's TypeScript and arborist (the command loads them if it serializes).
        const processes = fs
            .readFileSync(path.join(away, "deferred.jsonl"), "utf8")
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l));
        assert.deepEqual(processes.map((p) => p.pack).sort(), [false, true]);
        for (const p of processes) {
            assert.equal(p.automation, false, JSON.stringify(p));
            assert.equal(p.zodLocales, false, JSON.stringify(p));
            if (p.pack) assert.deepEqual([p.typescript, p.arborist], [false, false]);
        }
        // Outside any project, --stack names nothing: plan's own lookup, in this process (the runs above cross the
        // process boundary: the caller's directory in INIT_CWD, the project's as the working directory).
        const capture = captureOutput();
        let code: number;
        try {
            code = await planMain(["--stack", "quantum"], { INIT_CWD: away });
        } finally {
            capture.restore();
        }
        assert.equal(code, 2);
        assert.match(capture.restore().stderr, /no Pulumi\.yaml in \S+ or above/);
    });

    it("restores from a hub stack file named relative to the caller (--print: the script, nothing run)", () => {
        fs.copyFileSync(path.join(REPO, "Pulumi.quantum.yaml"), path.join(away, "Pulumi.hub.yaml"));
        const run = omniScale(["restore", "--config", "Pulumi.hub.yaml", "--print"], away, sdkProbe());
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stderr, /^sdk-loaded=false$/m);
        assert.match(
            run.stdout,
            /^# on ssh:\/\/ansible@192\.168\.10\.20, with the data volume and account id of `docker inspect omni`: sh -c "<this script>" omni-hub-restore/,
        );
    });
});

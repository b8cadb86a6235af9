import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { planNodeArgs } from "./plan-run";
import { editedStacks, removeStackDirs } from "./stack-files";

const root = path.join(__dirname, "..");
const MARKER = "OMNI_SCALE_PLAN_TEST_RUN";
const PACK_ENTRY = path.join(root, "policy", "index.ts");

/** Policy pack processes alive now that descend from the CLI run marked `run` (children inherit its environment). */
function packsOf(run: string): number[] {
    const pids: number[] = [];
    for (const entry of fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
        try {
            // The command line first: it is short, and only a pack's environment is worth reading. A zombie has no
            // command line or environment left, so only running processes match.
            if (!fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").includes(PACK_ENTRY)) continue;
            if (fs.readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(`${MARKER}=${run}`))
                pids.push(Number(entry));
        } catch {
            // Gone while we looked.
        }
    }
    return pids;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds or `ms` pass; returns whether it held (the deadline only bounds a failing test). */
async function eventually(check: () => boolean, ms = 30000): Promise<boolean> {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (check()) return true;
    return check();
}

interface Cli {
    run: string;
    child: ChildProcess;
    exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Starts the plan CLI as `npm run plan` does, in its own process, marked so its pack can be found. */
function startCli(args: string[]): Cli {
    const run = randomUUID();
    const child = spawn(process.execPath, [...planNodeArgs(), ...args], {
        cwd: root,
        env: { ...process.env, [MARKER]: run },
        stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d) => {
        stderr += d;
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
        child.once("exit", (code, signal) => resolve({ code, signal, stderr })),
    );
    return { run, child, exited };
}

describe("plan CLI: a plan leaves no policy pack process behind", function () {
    this.timeout(180000);
    const started: Cli[] = [];
    const cli = (args: string[]) => {
        const c = startCli(args);
        started.push(c);
        return c;
    };
    after(() => {
        // Whatever a failed assertion left: only processes of these runs.
        for (const c of started) for (const pid of packsOf(c.run)) process.kill(pid, "SIGKILL");
        for (const c of started) c.child.kill("SIGKILL");
        removeStackDirs();
    });

    it("stops the pack when the program fails after the pack started (exit 2)", async () => {
        const files = editedStacks({
            quantum: (c) => {
                c["omni-scale:hub"].infraProviders = ["other-cluster"];
            },
        });
        const plan = cli(["--stack", "matrix", "--config", files.matrix]);
        let sawPack = false;
        const watching = (async () => {
            while (plan.child.exitCode === null && plan.child.signalCode === null && !sawPack) {
                sawPack = packsOf(plan.run).length > 0;
                await sleep(20);
            }
        })();
        const { code, stderr } = await plan.exited;
        await watching;
        assert.equal(code, 2, stderr);
        assert.match(stderr, /no infra-provider key for "matrix-cluster"/);
        assert.ok(sawPack, "the pack was running while the program failed");
        assert.ok(await eventually(() => packsOf(plan.run).length === 0), `pack processes left: ${packsOf(plan.run)}`);
    });

    for (const [signal, exitCode] of [
        ["SIGINT", 130],
        ["SIGTERM", 143],
    ] as const) {
        it(`stops the pack when the plan gets ${signal} (exit ${exitCode})`, async () => {
            const plan = cli(["--stack", "quantum"]);
            assert.ok(
                await eventually(() => packsOf(plan.run).length > 0 || plan.child.exitCode !== null),
                "the pack started",
            );
            assert.equal(plan.child.exitCode, null, "the plan was still running");
            plan.child.kill(signal);
            const { code } = await plan.exited;
            assert.equal(code, exitCode);
            assert.ok(
                await eventually(() => packsOf(plan.run).length === 0),
                `pack processes left: ${packsOf(plan.run)}`,
            );
        });
    }

    it("stops the pack when the plan is killed outright (SIGKILL, as a timeout does): the pack guard", async () => {
        const plan = cli(["--stack", "quantum"]);
        assert.ok(
            await eventually(() => packsOf(plan.run).length > 0 || plan.child.exitCode !== null),
            "the pack started",
        );
        assert.equal(plan.child.exitCode, null, "the plan was still running");
        plan.child.kill("SIGKILL");
        assert.equal((await plan.exited).signal, "SIGKILL");
        assert.ok(await eventually(() => packsOf(plan.run).length === 0), `pack processes left: ${packsOf(plan.run)}`);
    });
});

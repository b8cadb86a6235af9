import * as fs from "node:fs";
import * as path from "node:path";
import { main } from "../src/plan/cli";
import { PackProcess, POLICY_DIR, startPack } from "../src/plan/pack-process";
import { PlanResult, planStack } from "../src/plan/plan";
import { captureOutput } from "./output-capture";

export const REPO = path.join(__dirname, "..");

/** What `npm run plan` runs (package.json), as node's arguments: spawned from the repository root, as npm does. */
export function planNodeArgs(): string[] {
    const script: string = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")).scripts.plan;
    const [command, ...args] = script.split(" ");
    if (command !== "node") throw new Error(`the plan script no longer starts with node: ${script}`);
    return args;
}

const examplePlans = new Map<string, Promise<PlanResult>>();

/**
 * The plan of an example stack file as the repository has it (no policies, its logs dropped), run once per mocha
 * process for the tests that only read it. Frozen throughout: a test that changed it would throw, not change the plan
 * another test reads.
 */
export function examplePlan(stack: "quantum" | "matrix"): Promise<PlanResult> {
    let plan = examplePlans.get(stack);
    if (!plan) {
        plan = planStack({ stack, skipPolicies: true, silent: true }).then(deepFreeze);
        examplePlans.set(stack, plan);
    }
    return plan;
}

function deepFreeze<T>(value: T): T {
    if (value && typeof value === "object" && !Object.isFrozen(value)) {
        Object.freeze(value);
        for (const v of Object.values(value)) deepFreeze(v);
    }
    return value;
}

export interface PlanRun {
    code: number;
    stdout: string;
    stderr: string;
}

let pack: PackProcess | undefined;

/** The policy pack process this mocha process's in-process plans share (planStack's `pack`); it stops when mocha exits. */
export function sharedPack(): PackProcess {
    return (pack ??= startPack(POLICY_DIR));
}

/**
 * Runs the plan CLI in this process (`npm run plan -- ...args`) with `env` (the process's by default), capturing its
 * output. The plans share one policy pack process, as a CLI run has its own (each plan configures it anew); it stops
 * when mocha exits. Pack processes of their own: the CLI process tests (plan-cli, plan-exit) and analyzeWithPack.
 */
export async function runPlan(args: string[], env?: NodeJS.ProcessEnv): Promise<PlanRun> {
    const shared = sharedPack();
    const capture = captureOutput();
    try {
        const code = await main(args, env, shared);
        return { code, ...capture.restore() };
    } finally {
        capture.restore();
    }
}

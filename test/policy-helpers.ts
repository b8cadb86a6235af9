import { strict as assert } from "node:assert";
import { analyzeInProcess, Violation } from "../src/plan/analyze";
import { runProgram, RunOptions } from "../src/plan/capture";
import { packArgs } from "../policy/pack";

/** Runs a tiny program under the offline mocks and the whole pack over it, as `pulumi preview --policy-pack` would. */
export async function analyze(program: () => void, opts: Partial<RunOptions> = {}): Promise<Violation[]> {
    const { resources } = await runProgram(program, { stack: "policy-test", ...opts });
    return analyzeInProcess("omni-scale", packArgs, resources);
}

/** The violations of one policy, after checking nothing else broke (a policy that throws fails the whole run). */
export async function violationsOf(
    policy: string,
    program: () => void,
    opts: Partial<RunOptions> = {},
): Promise<Violation[]> {
    assert.ok(
        packArgs.policies.some((p) => p.name === policy),
        `the pack has no policy ${policy}`,
    );
    return (await analyze(program, opts)).filter((v) => v.policy === policy);
}

/** Exactly one violation of `policy`, on `resourceName`, whose message matches every pattern. */
export async function assertViolation(
    policy: string,
    resourceName: string,
    program: () => void,
    ...patterns: RegExp[]
): Promise<Violation> {
    const found = await violationsOf(policy, program);
    assert.equal(found.length, 1, `expected one ${policy} violation, got ${JSON.stringify(found, null, 2)}`);
    assert.equal(found[0].resourceName, resourceName);
    for (const pattern of patterns) assert.match(found[0].message, pattern);
    return found[0];
}

export async function assertNoViolation(policy: string, program: () => void): Promise<void> {
    assert.deepEqual(await violationsOf(policy, program), []);
}

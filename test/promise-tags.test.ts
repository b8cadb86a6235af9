import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as path from "node:path";

describe("the SDK's promises, tracked without their debugging tags (src/plan/promise-tags.ts)", () => {
    it("tags none of the SDK's promises unless PULUMI_DEBUG_PROMISE_LEAKS asks for it, and still reports those left pending", () => {
        // What debuggable.js records for a promise (read only by the leak report under that variable), and what
        // that report counts at exit: a promise of the SDK's still pending. Called twice, as a process may (the plan
        // and the program's entry): the same result.
        const tags = (env: NodeJS.ProcessEnv) => {
            const out = spawnSync(
                process.execPath,
                [
                    "-r",
                    require.resolve("../src/plan/register"),
                    "-e",
                    `const { trackPromisesUntagged } = require(${JSON.stringify(require.resolve("../src/plan/promise-tags"))});
                     trackPromisesUntagged();
                     trackPromisesUntagged();
                     const debuggable = require("@pulumi/pulumi/runtime/debuggable");
                     const tagsOf = (p) => ({ id: p._debugId, ctx: p._debugCtx, trace: p._debugStackTrace });
                     const [first, settled, rejected] = [Promise.resolve(1), Promise.resolve(2), Promise.reject(new Error("no"))];
                     const pending = new Promise(() => {});
                     debuggable.debuggablePromise(first, "first");
                     debuggable.debuggablePromise(settled, "settled");
                     const tracked = debuggable.debuggablePromise(rejected, "rejected");
                     debuggable.debuggablePromise(pending, "pending");
                     tracked.catch((e) => setImmediate(() => {
                         const [leaked] = debuggable.leakedPromises();
                         process.stdout.write(JSON.stringify({ first: tagsOf(first), rejected: tagsOf(rejected), limit: Error.stackTraceLimit,
                             rejectedOf: e.promise === rejected, leaked: [...leaked].map((p) => p === pending ? "pending" : "other"),
                             tracker: debuggable.debuggablePromise.name }));
                         process.exit(0);
                     }));`,
                ],
                { cwd: path.join(__dirname, ".."), env: { ...process.env, ...env }, encoding: "utf8" },
            );
            assert.equal(out.status, 0, out.stderr);
            return JSON.parse(out.stdout);
        };
        const quiet = tags({ PULUMI_DEBUG_PROMISE_LEAKS: "" });
        assert.deepEqual(quiet, {
            // The SDK's own function took the first promise (without frames: the limit is back after it).
            first: { id: 0, ctx: "first", trace: "Error" },
            rejected: {},
            limit: 10,
            rejectedOf: true,
            leaked: ["pending"],
            tracker: "untagged",
        });
        const debugging = tags({ PULUMI_DEBUG_PROMISE_LEAKS: "1" });
        assert.equal(debugging.rejected.ctx, "rejected");
        assert.match(debugging.rejected.trace, /^Error\n {4}at /);
        assert.deepEqual(debugging.leaked, ["pending"]);
        assert.equal(debugging.tracker, "debuggablePromise", "the SDK's own function");
    });
});

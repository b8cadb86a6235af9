import { strict as assert } from "node:assert";
import { forgetTexts, oncePerText, withoutStackTrace } from "../components/core/hot-paths";

describe("hot paths (components/core/hot-paths.ts)", () => {
    it("oncePerText checks each distinct text once, an undefined result too, until forgetTexts", () => {
        const seen: string[] = [];
        const check = oncePerText((text) => {
            seen.push(text);
            return text.startsWith("bad") ? undefined : text.length;
        });
        assert.deepEqual(
            [check("key-a"), check("key-bb"), check("key-a"), check("bad"), check("bad")],
            [5, 6, 5, undefined, undefined],
        );
        assert.deepEqual(seen, ["key-a", "key-bb", "bad"]);
        forgetTexts();
        assert.equal(check("key-a"), 5);
        assert.deepEqual(
            seen,
            ["key-a", "key-bb", "bad", "key-a"],
            "checked again after forgetTexts (the bench's rounds)",
        );
    });

    it("oncePerText keeps at most `keep` texts, the oldest going first", () => {
        const seen: string[] = [];
        const check = oncePerText((text) => seen.push(text), 2);
        for (const t of ["a", "b", "c", "b", "a"]) check(t);
        assert.deepEqual(seen, ["a", "b", "c", "a"], "a was dropped when c came; b was still kept");
    });

    it("withoutStackTrace makes Errors without frames and puts the limit back, also when it throws", () => {
        const limit = Error.stackTraceLimit;
        const made = withoutStackTrace(() => new Error("quiet"));
        assert.equal(made.stack, "Error: quiet");
        assert.throws(
            () =>
                withoutStackTrace(() => {
                    throw new Error("thrown");
                }),
            (e: Error) => e.stack === "Error: thrown",
        );
        assert.equal(Error.stackTraceLimit, limit);
        assert.match(new Error("loud").stack!, /\n {4}at /);
    });
});

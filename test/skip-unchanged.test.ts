import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const SCRIPT = path.join(__dirname, "..", "src", "plan", "skip-unchanged.js");

describe("skip-unchanged.js: npm test's tsc runs only when what they read changed", () => {
    let root: string;
    const runs = () => (fs.existsSync(path.join(root, "runs")) ? fs.readFileSync(path.join(root, "runs"), "utf8") : "");
    /** The wrapped command appends a line to `runs`, writes out/a.js and exits with `code`. */
    const wrapped = (code = 0, output = true, inputs?: string) =>
        spawnSync(
            process.execPath,
            [
                SCRIPT,
                "build",
                ...(inputs ? ["--inputs", inputs] : []),
                ...(output ? ["--output", "out"] : []),
                "--",
                "sh",
                "-c",
                `echo ran >> runs && mkdir -p out && printf 1 > out/a.js && exit ${code}`,
            ],
            { cwd: root, encoding: "utf8" },
        );

    beforeEach(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "skip-unchanged-"));
        fs.mkdirSync(path.join(root, "src"));
        fs.writeFileSync(path.join(root, "src", "a.ts"), "export const a = 1;\n");
        fs.writeFileSync(path.join(root, "tsconfig.json"), "{}\n");
        fs.writeFileSync(path.join(root, "package-lock.json"), "{}\n");
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    it("runs the first time, then skips until a source, a tsconfig or the lockfile changes", () => {
        assert.equal(wrapped().status, 0);
        assert.equal(wrapped().status, 0);
        assert.equal(runs(), "ran\n", "skipped: nothing changed");
        fs.writeFileSync(path.join(root, "src", "a.ts"), "export const a = 2;\n");
        wrapped();
        fs.writeFileSync(path.join(root, "src", "b.json"), "{}\n");
        wrapped();
        fs.writeFileSync(path.join(root, "tsconfig.build.json"), "{}\n");
        wrapped();
        fs.writeFileSync(path.join(root, "package-lock.json"), '{"lockfileVersion": 3}\n');
        wrapped();
        assert.equal(runs(), "ran\n".repeat(5));
        wrapped();
        assert.equal(runs(), "ran\n".repeat(5));
    });

    it("with --inputs, reads only the folders named there (and the tsconfig files and lockfile)", () => {
        fs.mkdirSync(path.join(root, "test"));
        fs.mkdirSync(path.join(root, "policy"));
        const build = () => wrapped(0, true, "src,policy");
        build();
        fs.writeFileSync(path.join(root, "test", "a.test.ts"), "export {};\n");
        build();
        assert.equal(runs(), "ran\n", "skipped: test/ is not an input");
        fs.writeFileSync(path.join(root, "policy", "p.ts"), "export {};\n");
        build();
        fs.writeFileSync(path.join(root, "tsconfig.json"), '{ "compilerOptions": {} }\n');
        build();
        assert.equal(runs(), "ran\n".repeat(3));
        // All the TypeScript folders without it: the test file counts.
        wrapped();
        fs.writeFileSync(path.join(root, "test", "a.test.ts"), "export const t = 1;\n");
        wrapped();
        assert.equal(runs(), "ran\n".repeat(5));
    });

    it("runs again when its output was removed or rewritten", () => {
        wrapped();
        fs.rmSync(path.join(root, "out", "a.js"));
        wrapped();
        fs.writeFileSync(path.join(root, "out", "a.js"), "22");
        wrapped();
        assert.equal(runs(), "ran\n".repeat(3));
    });

    it("passes a failure's exit code on and keeps running until the command succeeds", () => {
        assert.equal(wrapped(2).status, 2);
        assert.equal(wrapped(2).status, 2);
        assert.equal(wrapped(0).status, 0);
        assert.equal(wrapped(0).status, 0);
        assert.equal(runs(), "ran\n".repeat(3));
    });

    it("refuses a call without a name or a command, and says which command it could not run", () => {
        for (const args of [
            ["build"],
            ["build", "--inputs", "--", "true"],
            ["build", "--outptu", "out", "--", "true"],
        ]) {
            const bad = spawnSync(process.execPath, [SCRIPT, ...args], { cwd: root, encoding: "utf8" });
            assert.equal(bad.status, 2, args.join(" "));
            assert.match(bad.stderr, /usage: node src\/plan\/skip-unchanged\.js NAME/);
        }
        const missing = spawnSync(process.execPath, [SCRIPT, "build", "--", "no-such-command-here"], {
            cwd: root,
            encoding: "utf8",
        });
        assert.equal(missing.status, 127);
        assert.match(missing.stderr, /^skip-unchanged\.js: cannot run no-such-command-here: .*ENOENT/);
    });
});

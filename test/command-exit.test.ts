import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as path from "node:path";

const REGISTER = path.join(__dirname, "..", "src", "plan", "register.js");
const COMMANDS = path.join(__dirname, "..", "src", "commands.ts");

/** Runs `body` as a command's entry (runCommand) in its own process, its stdout a pipe read only after a while. */
function throughSlowPipe(body: string): Promise<{ code: number | null; stdout: string }> {
    const script = `require(${JSON.stringify(COMMANDS)}).runCommand(() => { ${body} });`;
    const child = spawn(process.execPath, ["-r", REGISTER, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    // The reader takes nothing until the process has tried to exit: a pipe holds 64 KiB, the rest waits in the process.
    child.stdout.pause();
    const chunks: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => chunks.push(d));
    const resumed = new Promise((r) => setTimeout(r, 500)).then(() => child.stdout.resume());
    return new Promise((resolve, reject) => {
        child.once("error", reject);
        child.once("close", async (code) => {
            await resumed;
            resolve({ code, stdout: Buffer.concat(chunks).toString() });
        });
    });
}

describe("commands: every byte reaches a pipe before the process exits, with the command's exit code", () => {
    it("a command that writes 1 MiB and exits 1 (as a plan with a violation): all of it, and exit code 1", async () => {
        const { code, stdout } = await throughSlowPipe(`process.stdout.write("x".repeat(1 << 20) + "\\n"); return 1;`);
        assert.equal(code, 1);
        assert.equal(stdout.length, (1 << 20) + 1);
    });

    it("a command that throws after writing: its output, then exit 1", async () => {
        const { code, stdout } = await throughSlowPipe(
            `process.stdout.write("y".repeat(200000)); throw new Error("boom");`,
        );
        assert.equal(code, 1);
        assert.equal(stdout.length, 200000);
    });
});

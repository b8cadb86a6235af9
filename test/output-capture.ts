/**
 * Captures what this process writes to stdout and stderr until `restore()` is called, which puts the real streams back
 * and returns the text (for running a CLI's `main` in-process, sync or async). Calling it again is harmless.
 */
export function captureOutput(): { restore: () => { stdout: string; stderr: string } } {
    const captured = { stdout: "", stderr: "" };
    const out = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    (process.stdout as any).write = (chunk: unknown) => {
        captured.stdout += String(chunk);
        return true;
    };
    (process.stderr as any).write = (chunk: unknown) => {
        captured.stderr += String(chunk);
        return true;
    };
    return {
        restore: () => {
            (process.stdout as any).write = out;
            (process.stderr as any).write = err;
            return captured;
        },
    };
}

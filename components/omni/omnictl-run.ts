import { spawn } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";

/**
 * How the dynamic providers run omnictl (siderolabs/omni v1.10.4 `client/pkg/omnictl`): every call bounded and
 * killed when it overruns, transient failures retried until the caller's deadline, Omni's refusal of the key
 * reported at once with what fixes it. The endpoint and key are in the child's environment only.
 */

export interface OmniAccessProps {
    omniEndpoint: string;
    serviceAccountKey: string;
}

export interface Run {
    code: number;
    stdout: string;
    stderr: string;
    /** Killed after running longer than it was allowed. */
    timedOut?: boolean;
}

/** The longest a single call may run when its deadline is further away. */
export const CALL_TIMEOUT_MS = 120_000;

/** A private dir (mode 0700, mkdtemp), removed afterwards: omnictl reads templates and writes configs only as files. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "omni-scale-"));
    try {
        return await fn(dir);
    } finally {
        await fs.rm(dir, { recursive: true, force: true });
    }
}

/**
 * Runs omnictl once, killed (its whole process group) after `timeoutMs`. Each run gets a private omniconfig in
 * OMNICONFIG naming the endpoint: without one, omnictl writes a default config under HOME
 * (`internal/access/client.go` WithClient → `config.Init(path, true)`, `config/config.go` defaultPath). A key in
 * SIDERO_SERVICE_ACCOUNT_KEY would win over ours (go-api-signature serviceaccount.GetFromEnv).
 */
export function omnictl(args: string[], access: OmniAccessProps, timeoutMs: number): Promise<Run> {
    return withTempDir(async (dir) => {
        const omniconfig = path.join(dir, "omniconfig");
        const config = { context: "default", contexts: { default: { url: access.omniEndpoint } } };
        await fs.writeFile(omniconfig, YAML.stringify(config), { mode: 0o600 });
        const env: NodeJS.ProcessEnv = {
            ...process.env,
            OMNICONFIG: omniconfig,
            OMNI_ENDPOINT: access.omniEndpoint,
            OMNI_SERVICE_ACCOUNT_KEY: access.serviceAccountKey,
            // fatih/color (sync's `* tearing down` lines) prints plain text.
            NO_COLOR: "1",
        };
        delete env.SIDERO_SERVICE_ACCOUNT_KEY;
        return new Promise<Run>((resolve) => {
            const child = spawn("omnictl", args, { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
            const out: Buffer[] = [];
            const err: Buffer[] = [];
            child.stdout.on("data", (b: Buffer) => out.push(b));
            child.stderr.on("data", (b: Buffer) => err.push(b));
            const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString("utf8");
            let done = false;
            // Declared before `finish` uses it: the SDK's closure serializer refuses a name used before its declaration.
            let timer: NodeJS.Timeout | undefined = undefined;
            const finish = (run: Run) => {
                if (done) return;
                done = true;
                clearTimeout(timer);
                resolve(run);
            };
            timer = setTimeout(() => {
                // The group: a wrapper's children would otherwise keep the pipes open.
                try {
                    process.kill(-child.pid!, "SIGKILL");
                } catch {
                    child.kill("SIGKILL");
                }
                finish({
                    code: 124,
                    stdout: text(out),
                    stderr: `omnictl did not answer within ${Math.ceil(timeoutMs / 1000)}s and was stopped`,
                    timedOut: true,
                });
            }, timeoutMs);
            child.on("error", (e) => finish({ code: 127, stdout: "", stderr: e.message }));
            child.on("close", (code) => finish({ code: code ?? 1, stdout: text(out), stderr: text(err) }));
        });
    });
}

/** Omni refused the key: gRPC Unauthenticated (no valid signature) or PermissionDenied (a role too small). */
export const isAuthFailure = (stderr: string) => /\bcode = (Unauthenticated|PermissionDenied)\b/.test(stderr);

/**
 * Failures that pass: Omni restarting or unreachable for a moment (gRPC Unavailable, DeadlineExceeded,
 * ResourceExhausted, Aborted; a connection refused or reset) or a call that hung and was stopped.
 */
export const isTransient = (run: Run) =>
    run.timedOut === true ||
    /\bcode = (Unavailable|DeadlineExceeded|ResourceExhausted|Aborted)\b|connection refused|connection reset|i\/o timeout|transport is closing|\bEOF\b/.test(
        run.stderr,
    );

/** What omnictl said, on one line. */
export const said = (run: Run) =>
    (run.stderr.trim() || run.stdout.trim() || `exit code ${run.code}`).replace(/\s+/g, " ");

/** The fix for a key Omni refuses, naming the order of commands that puts the current key in the state. */
export function authFailure(what: string, run: Run): Error {
    return new Error(
        `Omni refused the automation key for ${what} (${said(run)}). Refresh and destroy run with the key stored ` +
            "in the state: after the hub's automation key was rotated or revoked, run `pulumi up` on this stack first " +
            "(it stores the hub's current automationKey without changing anything in Omni), then `pulumi refresh` or " +
            "`pulumi destroy`. If `pulumi up` is refused too, the hub stack's key is the revoked one: run the hub " +
            "stack's `pulumi up` first. A PermissionDenied means the key's role is too small: the automation key needs the Operator role.",
    );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs omnictl until it answers or `deadline` (ms since the epoch) passes: each attempt is bounded by the time
 * left, transient failures are retried (printing what Omni said), any other answer is returned as it is.
 */
export async function omnictlUntil(
    args: string[],
    access: OmniAccessProps,
    deadline: number,
    say: (line: string) => void,
): Promise<Run> {
    for (let attempt = 1; ; attempt++) {
        const left = deadline - Date.now();
        const run = await omnictl(args, access, Math.max(1000, Math.min(CALL_TIMEOUT_MS, left)));
        if (run.code === 0 || !isTransient(run) || Date.now() + 1000 >= deadline) return run;
        say(`omnictl ${args.slice(0, 3).join(" ")}: ${said(run)}; trying again (attempt ${attempt + 1})`);
        await sleep(Math.min(attempt * 1000, 10_000, Math.max(0, deadline - Date.now() - 1000)));
    }
}

/** Like omnictlUntil, but a failure is an error: Omni's refusal of the key with its fix, anything else with what Omni said. */
export async function omnictlOrThrow(
    args: string[],
    access: OmniAccessProps,
    deadline: number,
    say: (line: string) => void,
): Promise<string> {
    const run = await omnictlUntil(args, access, deadline, say);
    if (run.code === 0) return run.stdout;
    throw omnictlFailure(args, run);
}

export function omnictlFailure(args: string[], run: Run): Error {
    const what = `omnictl ${args.slice(0, 3).join(" ")}`;
    return isAuthFailure(run.stderr) ? authFailure(what, run) : new Error(`${what} failed: ${said(run)}`);
}

import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { vmGuardScript } from "../components/proxmox/provider-render";
import { requireTools } from "./tools";

const TOKEN = "root@pam!pulumi=0b9e2a64-not-a-real-secret-7d41";

/** Runs the guard as the command provider does (`sh -c`), with curl behind a wrapper that logs its arguments. */
function runGuard(url: string, dir: string, requestSeconds: number): Promise<{ code: number | null; stderr: string }> {
    const argvLog = path.join(dir, "curl-argv");
    fs.writeFileSync(
        path.join(dir, "curl"),
        `#!/bin/sh\nprintf '%s\\n' "$@" >> ${JSON.stringify(argvLog)}\nexec /usr/bin/curl "$@"\n`,
        { mode: 0o755 },
    );
    const script = vmGuardScript({ insecureSkipVerify: false, waitSeconds: 600, requestSeconds });
    return new Promise((resolve) => {
        const child = spawn("sh", ["-c", script], {
            env: { PATH: `${dir}:${process.env.PATH}`, PVE_API_URL: url, PVE_API_TOKEN: TOKEN },
        });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => resolve({ code, stderr }));
    });
}

describe("proxmox vm-guard against real curl on loopback (issue 30, items 7 and 8)", function () {
    this.timeout(60_000);
    let dir: string;
    before(function () {
        requireTools(this, ["curl"], "the vm-guard test");
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-vm-guard-"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("sends the token as a header read from stdin, never in curl's arguments, and passes when no VM is left", async () => {
        const seen: (string | undefined)[] = [];
        const server = http.createServer((req, res) => {
            seen.push(req.headers.authorization);
            res.setHeader("content-type", "application/json");
            res.end(JSON.stringify({ data: [{ name: "other-vm", tags: "prod" }] }));
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.7", r));
        try {
            const port = (server.address() as net.AddressInfo).port;
            const run = await runGuard(`http://127.0.0.7:${port}/api2/json`, dir, 5);
            assert.equal(run.code, 0, run.stderr);
            assert.deepEqual(seen, [`PVEAPIToken=${TOKEN}`]);
            const argv = fs.readFileSync(path.join(dir, "curl-argv"), "utf8");
            assert.ok(argv.includes("-H\n@-\n"), argv);
            assert.ok(!argv.includes("not-a-real-secret"), "the token is not an argument");
        } finally {
            server.close();
        }
    });

    it("gives up on an API that accepts the connection and never answers, instead of hanging past its deadline", async () => {
        // A TCP listener that never answers: before, curl had no limit and the destroy waited forever.
        const silent = net.createServer(() => undefined);
        await new Promise<void>((r) => silent.listen(0, "127.0.0.8", r));
        try {
            const port = (silent.address() as net.AddressInfo).port;
            const run = await runGuard(`http://127.0.0.8:${port}/api2/json`, dir, 2);
            assert.notEqual(run.code, 0);
            assert.match(run.stderr, /curl: \(28\) Operation timed out/);
        } finally {
            silent.close();
        }
    });
});

import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { once } from "node:events";
import * as dgram from "node:dgram";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { claim, freePort } from "./tools";

describe("freePort (test/tools.ts)", () => {
    const [low, high] = fs
        .readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
        .trim()
        .split(/\s+/)
        .map(Number);

    it("picks a TCP port below the ephemeral range, where no connection takes it, that a server then binds", async () => {
        const port = await freePort("127.0.0.3");
        assert.ok(port >= 10_240 && port < low, `${port} is outside 10240–${low - 1} (ephemeral: ${low}–${high})`);
        const server = net.createServer();
        await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.3", resolve));
        server.close();
    });

    it("picks a UDP port the same way", async () => {
        const port = await freePort("127.0.0.3", "udp");
        assert.ok(port >= 10_240 && port < low);
        const sock = dgram.createSocket("udp4");
        await new Promise<void>((resolve, reject) => sock.once("error", reject).bind(port, "127.0.0.3", resolve));
        sock.close();
    });

    it("hands out no port that this or another running test process handed out, and frees them when that process ends", async () => {
        const mine = await freePort();
        assert.equal(await claim(mine), false, "handed out here: claimed");
        // Another worker, as mocha runs them: it hands out ports and holds them until it is killed.
        const root = path.join(__dirname, "..");
        const other = spawn(
            process.execPath,
            [
                "-r",
                path.join(root, "src", "plan", "register.js"),
                "-e",
                `const { freePort } = require(${JSON.stringify(path.join(__dirname, "tools.ts"))});
                 (async () => { const ports = []; for (let i = 0; i < 20; i++) ports.push(await freePort()); console.log(JSON.stringify(ports)); setInterval(() => {}, 1000); })();`,
            ],
            { stdio: ["ignore", "pipe", "inherit"] },
        );
        try {
            const [line] = (await Promise.race([
                once(other.stdout!, "data"),
                once(other, "exit").then(([code]) => assert.fail(`the other process exited ${code} first`)),
            ])) as [Buffer];
            const theirs = JSON.parse(String(line)) as number[];
            assert.equal(theirs.length, 20);
            for (const port of theirs)
                assert.equal(await claim(port), false, `${port}, handed out by the other process`);
            other.kill("SIGKILL");
            await once(other, "exit");
            for (const port of theirs) assert.equal(await claim(port), true, `${port}, freed as that process ended`);
        } finally {
            other.kill("SIGKILL");
        }
    });
});

import { strict as assert } from "node:assert";
import * as dgram from "node:dgram";
import * as fs from "node:fs";
import * as net from "node:net";
import { freePort } from "./tools";

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
});

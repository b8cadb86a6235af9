import { execFileSync, spawn, SpawnOptionsWithoutStdio } from "node:child_process";
import * as dgram from "node:dgram";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { writeCacheFile } from "../components/core/cache-file";

/** Debian packages that provide the command-line tools some tests run for real. */
export const DEBIAN_PACKAGES: Record<string, string> = {
    ssh: "openssh-client",
    gpg: "gnupg",
    openssl: "openssl",
    etcd: "etcd-server",
    etcdctl: "etcd-client",
    sqlite3: "sqlite3",
    curl: "curl",
    "ssh-keygen": "openssh-client",
    sshd: "openssh-server",
    dnsmasq: "dnsmasq-base",
    "Net::DNS": "libnet-dns-perl",
    busybox: "busybox",
};

/** How to tell a tool is there, when it is not a command on PATH (a Perl module). */
const PROBES: Record<string, string> = {
    "Net::DNS": "perl -MNet::DNS -e 1",
    // Not on a non-root user's PATH.
    sshd: "test -x /usr/sbin/sshd",
};

function missing(tools: readonly string[]): string[] {
    return tools.filter((tool) => {
        try {
            execFileSync("sh", ["-c", PROBES[tool] ?? `command -v ${tool}`], { stdio: "ignore" });
            return false;
        } catch {
            return true;
        }
    });
}

/**
 * Call from a mocha `before` or test: when a tool is absent, fail under CI (`CI` set; `.ci/run` installs the tools)
 * and, locally, skip loudly with the install command. Never a silent skip.
 */
export function requireTools(ctx: Mocha.Context, tools: readonly string[], what: string): void {
    const absent = missing(tools);
    if (absent.length === 0) return;
    const install = `apt-get install -y ${absent.map((t) => DEBIAN_PACKAGES[t] ?? t).join(" ")}`;
    const message = `${what} needs ${absent.join(", ")} (Debian: ${install})`;
    if (process.env.CI) throw new Error(`${message}: CI must have it`);
    process.stderr.write(`\n  !!! SKIPPED: ${message}\n\n`);
    ctx.skip();
}

/**
 * `command args` with `options`, not waiting as spawnSync does: its exit status, signal and output, through pipes;
 * its stdin a pipe, or nothing (`stdin: "ignore"`).
 */
export function spawnOutput(
    command: string,
    args: string[],
    { stdin = "pipe", ...options }: SpawnOptionsWithoutStdio & { stdin?: "pipe" | "ignore" },
): Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { ...options, stdio: [stdin, "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout!.setEncoding("utf8").on("data", (d) => (stdout += d));
        child.stderr!.setEncoding("utf8").on("data", (d) => (stderr += d));
        child.once("error", reject);
        child.once("close", (status, signal) => resolve({ status, signal, stdout, stderr }));
    });
}

/**
 * Test fixtures that cost seconds of CPU to make (keys) are kept between runs in .build/test-keys, one file per `id`:
 * what `parse` accepts of the kept one, else undefined (none kept yet, a file cut short, another shape), and the
 * caller makes one and keeps it with `keep`.
 */
export function keptFixture<T>(id: string, parse: (kept: any) => T | undefined) {
    const file = path.join(__dirname, "..", ".build", "test-keys", `${id}.json`);
    let kept: T | undefined;
    try {
        kept = parse(JSON.parse(fs.readFileSync(file, "utf8")));
    } catch {
        kept = undefined;
    }
    return { kept, keep: (made: unknown) => writeCacheFile(file, JSON.stringify(made)) };
}

/**
 * A port on `host` that nothing holds now, for a server a test starts later (etcd, dnsmasq) or for one that must stay
 * closed. It lies below the kernel's ephemeral range (net.ipv4.ip_local_port_range), from which every connect() and
 * bind(0) on the machine takes its port: a port from bind(0), closed and then handed to etcd, can meanwhile become the
 * source port of another test's connection, and etcd failed with "bind: address already in use". One that is held,
 * or was handed out by this or another test process still running, is skipped (see claim).
 */
export async function freePort(host = "127.0.0.1", protocol: "tcp" | "udp" = "tcp"): Promise<number> {
    const low = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    // Ports under 10240 are left to servers on fixed ports.
    if (!(low > 10_240 + 1024))
        throw new Error(`the ephemeral port range starts at ${low}: too low to pick a port below it`);
    for (;;) {
        const port = 10_240 + Math.floor(Math.random() * (low - 10_240));
        if (!(await bindable(host, port, protocol)) || !(await claim(port))) continue;
        return port;
    }
}

/**
 * A loopback address no test serves on, where a process holds a UDP socket on each port it handed out. Random picks
 * alone were not enough: a port one worker handed out to stay closed (an S3 that refuses connections) was picked by
 * another worker's S3 stand-in, and the refused upload got a 404. The kernel frees a claim when its process ends,
 * however it ends, so nothing is left to clean up.
 */
const CLAIMS = "127.0.0.254";

/** Claims `port` for this process: false when this or another process claimed it already. */
export function claim(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const sock = dgram.createSocket("udp4");
        sock.once("error", () => {
            sock.close();
            resolve(false);
        });
        sock.bind(port, CLAIMS, () => {
            sock.unref();
            resolve(true);
        });
    });
}

function bindable(host: string, port: number, protocol: "tcp" | "udp"): Promise<boolean> {
    return new Promise((resolve) => {
        if (protocol === "udp") {
            const sock = dgram.createSocket(net.isIPv6(host) ? "udp6" : "udp4");
            sock.once("error", () => resolve(false));
            sock.bind(port, host, () => sock.close(() => resolve(true)));
        } else {
            const server = net.createServer();
            server.once("error", () => resolve(false));
            server.listen(port, host, () => server.close(() => resolve(true)));
        }
    });
}

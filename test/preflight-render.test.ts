import { strict as assert } from "node:assert";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import {
    offlinePreflightStdout,
    parsePreflightReport,
    PreflightSettingsSchema,
    preflightTarget,
    PreflightTarget,
    renderPreflightScript,
} from "../components/proxmox/preflight-render";
import { offlineCertificate, OfflineCertificate } from "../src/plan/offline-certificate";

const DOMAIN = "omni.example.com";
const day = 86_400_000;
const validFor = (names: string[], from = -1, to = 60, commonName?: string) =>
    offlineCertificate({
        names,
        notBefore: new Date(Date.now() + from * day),
        notAfter: new Date(Date.now() + to * day),
        commonName,
    });

interface Run {
    code: number;
    stdout: string;
    stderr: string;
    calls: string[];
}

/**
 * The rendered script runs for real with bash, against listeners on 127.0.0.1 standing in for the hub's LAN IP:
 * TCP through bash's /dev/tcp, TLS through the real openssl (wrapped to log its arguments), and a stub getent that
 * answers the Omni name as a node's resolver would.
 */
describe("preflight script (run with stubbed getent, real bash/openssl against local listeners)", function () {
    let dir: string;
    let stubs: string;
    let servers: net.Server[] = [];

    before(function () {
        try {
            execFileSync("openssl", ["version"], { stdio: "ignore" });
        } catch {
            throw new Error(
                "these tests run the preflight script, which needs openssl on PATH (Debian: apt-get install openssl)",
            );
        }
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-preflight-"));
        stubs = path.join(dir, "bin");
        fs.mkdirSync(stubs);
        const real = execFileSync("bash", ["-c", "command -v openssl"], { encoding: "utf8" }).trim();
        // Each stub logs how it was called; getent answers from $STUB_GETENT like `getent ahosts` (exit 2: not found).
        fs.writeFileSync(
            path.join(stubs, "getent"),
            `#!/bin/sh
echo "getent $*" >> "$STUB_LOG"
[ -n "$STUB_GETENT" ] || exit 2
printf '%s\\n' "$STUB_GETENT"
`,
            { mode: 0o755 },
        );
        fs.writeFileSync(
            path.join(stubs, "openssl"),
            `#!/bin/sh
echo "openssl $*" >> "$STUB_LOG"
exec ${real} "$@"
`,
            { mode: 0o755 },
        );
        fs.writeFileSync(path.join(dir, "resolv.conf"), "search example.com\nnameserver 192.168.3.1\n");
    });
    afterEach(() => {
        for (const s of servers) s.close();
        servers = [];
    });
    after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

    const listen = (server: net.Server) =>
        new Promise<number>((resolve) => {
            servers.push(server);
            server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
        });
    const tcp = () => listen(net.createServer((s) => s.end()));
    const tlsServer = (c: OfflineCertificate) =>
        listen(tls.createServer({ cert: c.certPem, key: c.keyPem }, (s) => s.end()));
    const closedPort = async () => {
        const server = net.createServer();
        const port = await listen(server);
        await new Promise((resolve) => server.close(resolve));
        servers = servers.filter((s) => s !== server);
        return port;
    };

    async function run(target: PreflightTarget, getent: string): Promise<Run> {
        const log = path.join(dir, `calls-${Date.now()}-${Math.random()}`);
        fs.writeFileSync(log, "");
        const script = renderPreflightScript({ name: "foxtrot" }, target, {
            timeoutSeconds: 3,
            resolvConf: path.join(dir, "resolv.conf"),
        });
        const child = spawn("bash", ["-s"], {
            env: { ...process.env, PATH: `${stubs}:${process.env.PATH}`, STUB_GETENT: getent, STUB_LOG: log },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => {
            stdout += d;
        });
        child.stderr.on("data", (d) => {
            stderr += d;
        });
        child.stdin.end(script);
        const code = await new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? -1)));
        return { code, stdout, stderr, calls: fs.readFileSync(log, "utf8").split("\n").filter(Boolean) };
    }

    const ahosts = (ip: string) => `${ip}       STREAM ${DOMAIN}\n${ip}       DGRAM  \n${ip}       RAW    `;

    it("passes on a healthy node and reports what it saw", async () => {
        const target = {
            domain: DOMAIN,
            lanIp: "127.0.0.1",
            apiPort: await tcp(),
            machineApiPort: await tlsServer(validFor([DOMAIN])),
        };
        const r = await run(target, ahosts("127.0.0.1"));
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, "");
        const report = parsePreflightReport(r.stdout);
        assert.deepEqual(report.resolved, ["127.0.0.1"]);
        assert.deepEqual(report.ports, { [target.apiPort]: true, [target.machineApiPort]: true });
        assert.deepEqual(report.certificate?.names, [DOMAIN]);
        assert.ok(Date.parse(report.certificate!.notAfter) > Date.now() + 59 * day, report.certificate!.notAfter);
    });

    it("resolves with the node's DNS resolver only (not /etc/hosts) and asks openssl for the Omni name by SNI", async () => {
        const target = {
            domain: DOMAIN,
            lanIp: "127.0.0.1",
            apiPort: await tcp(),
            machineApiPort: await tlsServer(validFor([DOMAIN])),
        };
        const { calls } = await run(target, ahosts("127.0.0.1"));
        assert.deepEqual(
            calls.filter((c) => c.startsWith("getent")),
            [`getent -s dns ahosts ${DOMAIN}`],
        );
        assert.ok(
            calls.includes(`openssl s_client -connect 127.0.0.1:${target.machineApiPort} -servername ${DOMAIN}`),
            calls.join("\n"),
        );
        assert.ok(calls.includes(`openssl x509 -noout -checkhost ${DOMAIN}`));
        assert.ok(calls.includes("openssl x509 -noout -checkend 0"));
    });

    it("fails when the name resolves to the tailnet address, saying found, expected and fix", async () => {
        const target = {
            domain: DOMAIN,
            lanIp: "127.0.0.1",
            apiPort: await tcp(),
            machineApiPort: await tlsServer(validFor([DOMAIN])),
        };
        const r = await run(target, ahosts("100.101.102.103"));
        assert.equal(r.code, 1);
        assert.deepEqual(parsePreflightReport(r.stdout).resolved, ["100.101.102.103"]);
        const lines = r.stderr.trim().split("\n");
        assert.equal(lines.length, 1, r.stderr);
        assert.match(
            lines[0],
            /^foxtrot: DNS: omni\.example\.com resolves to 100\.101\.102\.103 through this node's resolver \(192\.168\.3\.1\) \(a 100\.x address is the tailnet one/,
        );
        assert.match(lines[0], /expected only 127\.0\.0\.1, the hub's LAN IP; fix: .*hostDns\.servers/);
    });

    it("fails when the name does not resolve at all", async () => {
        const target = {
            domain: DOMAIN,
            lanIp: "127.0.0.1",
            apiPort: await tcp(),
            machineApiPort: await tlsServer(validFor([DOMAIN])),
        };
        const r = await run(target, "");
        assert.equal(r.code, 1);
        assert.deepEqual(parsePreflightReport(r.stdout).resolved, []);
        assert.match(
            r.stderr,
            /^foxtrot: DNS: omni\.example\.com does not resolve through this node's resolver \(192\.168\.3\.1\); expected 127\.0\.0\.1; fix: add a local DNS record omni\.example\.com -> 127\.0\.0\.1/,
        );
    });

    it("fails per port that does not answer, naming the firewall fix, and still reports the others", async () => {
        const closed = await closedPort();
        const target = {
            domain: DOMAIN,
            lanIp: "127.0.0.1",
            apiPort: closed,
            machineApiPort: await tlsServer(validFor([DOMAIN])),
        };
        const r = await run(target, ahosts("127.0.0.1"));
        assert.equal(r.code, 1);
        assert.deepEqual(parsePreflightReport(r.stdout).ports, { [closed]: false, [target.machineApiPort]: true });
        assert.match(
            r.stderr,
            new RegExp(
                `^foxtrot: TCP: 127\\.0\\.0\\.1:${closed} does not answer from this node within 3s; expected Omni listening there; fix: allow TCP ${closed} from this node`,
            ),
        );
        assert.equal(r.stderr.trim().split("\n").length, 1, "the certificate check still ran and passed");
    });

    it("fails when no TLS certificate is served on the machine API port", async () => {
        const target = { domain: DOMAIN, lanIp: "127.0.0.1", apiPort: await tcp(), machineApiPort: await tcp() };
        const r = await run(target, ahosts("127.0.0.1"));
        assert.equal(r.code, 1);
        assert.equal(parsePreflightReport(r.stdout).certificate, null);
        assert.match(r.stderr, /foxtrot: TLS: no certificate from 127\.0\.0\.1:\d+ for omni\.example\.com/);
    });

    it("fails when the certificate covers another name, or only has the name in its CN", async () => {
        for (const cert of [validFor(["other.example.com"]), validFor([], -1, 60, DOMAIN)]) {
            const target = {
                domain: DOMAIN,
                lanIp: "127.0.0.1",
                apiPort: await tcp(),
                machineApiPort: await tlsServer(cert),
            };
            const r = await run(target, ahosts("127.0.0.1"));
            assert.equal(r.code, 1);
            assert.match(
                r.stderr,
                /foxtrot: TLS: the certificate on 127\.0\.0\.1:\d+ covers (DNS:other\.example\.com|no subjectAltName); expected one for omni\.example\.com .*x509: certificate is valid for.*fix: issue a certificate for omni\.example\.com/,
            );
        }
    });

    it("fails when the certificate has expired or is not valid yet", async () => {
        const expired = {
            domain: DOMAIN,
            lanIp: "127.0.0.1",
            apiPort: await tcp(),
            machineApiPort: await tlsServer(validFor([DOMAIN], -90, -1)),
        };
        const r = await run(expired, ahosts("127.0.0.1"));
        assert.equal(r.code, 1);
        assert.match(
            r.stderr,
            /foxtrot: TLS: the certificate on .* expired on .*; expected a valid one; fix: renew it/,
        );
        assert.ok(Date.parse(parsePreflightReport(r.stdout).certificate!.notAfter) < Date.now());

        const future = {
            domain: DOMAIN,
            lanIp: "127.0.0.1",
            apiPort: await tcp(),
            machineApiPort: await tlsServer(validFor([DOMAIN], 2, 60)),
        };
        const f = await run(future, ahosts("127.0.0.1"));
        assert.equal(f.code, 1);
        assert.match(
            f.stderr,
            /foxtrot: TLS: the certificate on .* is not valid before .*; fix: check this node's clock/,
        );
    });
});

describe("preflight render", () => {
    const hub = {
        omniApiUrl: "https://omni.example.com",
        machineApiUrl: "https://omni.example.com:8090",
        wireguardEndpoint: "192.168.10.20:50180",
    };

    it("reads the target from the hub stack's endpoints", () => {
        assert.deepEqual(preflightTarget(hub), {
            domain: "omni.example.com",
            lanIp: "192.168.10.20",
            apiPort: 443,
            machineApiPort: 8090,
        });
        assert.deepEqual(
            preflightTarget({
                ...hub,
                omniApiUrl: "https://omni.example.com:8443",
                wireguardEndpoint: "[fd00::20]:50180",
            }),
            {
                domain: "omni.example.com",
                lanIp: "fd00::20",
                apiPort: 8443,
                machineApiPort: 8090,
            },
        );
        assert.throws(
            () => preflightTarget({ ...hub, wireguardEndpoint: "omni.example.com:50180" }),
            /wireguardEndpoint "omni\.example\.com:50180" is not <LAN IP>:<port>/,
        );
    });

    it("renders each node's own name and the hub's values, quoted, and connects to an IPv6 LAN IP in brackets", () => {
        const script = renderPreflightScript(
            { name: "golf" },
            { ...preflightTarget(hub), lanIp: "fd00::20" },
            { timeoutSeconds: 7 },
        );
        assert.match(script, /^node='golf'$/m);
        assert.match(script, /^domain='omni\.example\.com'$/m);
        assert.match(script, /^connect_host='\[fd00::20\]'$/m);
        assert.match(script, /^resolv_conf='\/etc\/resolv\.conf'$/m);
        assert.match(script, /timeout 7 bash -c/);
        assert.match(script, /^exit "\$failed"$/m);
    });

    it("gives the offline plan a healthy report with the stack's own values", () => {
        const script = renderPreflightScript({ name: "golf" }, preflightTarget(hub), { timeoutSeconds: 5 });
        const report = parsePreflightReport(offlinePreflightStdout(script)!);
        assert.deepEqual(report, {
            resolved: ["192.168.10.20"],
            ports: { 443: true, 8090: true },
            certificate: {
                names: ["omni.example.com"],
                notBefore: "2026-01-01T00:00:00.000Z",
                notAfter: "2099-01-01T00:00:00.000Z",
            },
        });
        assert.equal(offlinePreflightStdout("omnictl apply -f x"), undefined);
    });

    it("refuses bad settings with the key and the fix", () => {
        const bad = PreflightSettingsSchema.safeParse(
            {
                nodes: [
                    { name: "foxtrot", address: "ssh://root@192.168.3.2" },
                    { name: "foxtrot", address: "192.168.3.3", user: "Root Admin" },
                    { name: "golf", address: "192.168.3" },
                ],
                rerun: -1,
            },
            { reportInput: true },
        );
        assert.ok(!bad.success);
        const issues = bad.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
        assert.ok(
            issues.some((i) =>
                /^nodes\.0\.address: .*not an IP address or a bare host name.*use "192\.168\.3\.2"/.test(i),
            ),
            issues.join("\n"),
        );
        assert.ok(
            issues.some((i) => /^nodes\.1\.name: each node once/.test(i)),
            issues.join("\n"),
        );
        assert.ok(
            issues.some((i) => /^nodes\.1\.user: a Linux user name/.test(i)),
            issues.join("\n"),
        );
        assert.ok(
            issues.some((i) => /^nodes\.2\.address: /.test(i)),
            issues.join("\n"),
        );
        assert.ok(
            issues.some((i) => /^rerun: /.test(i)),
            issues.join("\n"),
        );
        assert.ok(!PreflightSettingsSchema.safeParse({ nodes: [] }).success, "at least one node");

        const good = PreflightSettingsSchema.parse({ nodes: [{ name: "foxtrot", address: "pve1.example.com" }] });
        assert.deepEqual(good, {
            nodes: [{ name: "foxtrot", address: "pve1.example.com", user: "root", port: 22 }],
            rerun: 0,
            timeoutSeconds: 5,
        });
    });
});

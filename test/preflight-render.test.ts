import { strict as assert } from "node:assert";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as dgram from "node:dgram";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { isTailnetAddress, TAILNET_CIDRS } from "../components/core/addresses";
import {
    cidrCasePatterns,
    offlinePreflightStdout,
    parsePreflightReport,
    PreflightSettingsSchema,
    preflightTarget,
    renderPreflightScript,
} from "../components/proxmox/preflight-render";
import { freePort, requireTools } from "./tools";

const DOMAIN = "omni.example.com";

/** Runs openssl with arguments, in `cwd`. */
const openssl = (cwd: string, ...args: string[]) => execFileSync("openssl", args, { cwd, stdio: "pipe" });

/**
 * A test PKI made with the real openssl: roots, intermediates and leaves as a CA issues them, with chosen names
 * and validity dates (`openssl ca` takes explicit dates, so expired and not-yet-valid certificates are real ones).
 */
class Pki {
    private serial = 1;
    constructor(private readonly dir: string) {
        fs.writeFileSync(path.join(dir, "index.txt"), "");
        fs.writeFileSync(
            path.join(dir, "ca.cnf"),
            "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nserial = serial\nunique_subject = no\nnew_certs_dir = .\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n",
        );
    }
    private file = (name: string, ext: string) => path.join(this.dir, `${name}.${ext}`);
    key = (name: string) => this.file(name, "key");
    cert = (name: string) => this.file(name, "pem");

    /** A self-signed certificate: a root CA, or (with `san`) a self-signed server certificate. */
    selfSigned(name: string, cn: string, opts: { ca?: boolean; san?: string } = {}): string {
        const ext = opts.ca
            ? ["-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
            : ["-addext", `subjectAltName=${opts.san}`, "-addext", "basicConstraints=CA:false"];
        openssl(
            this.dir,
            ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
            ...["-keyout", this.key(name), "-out", this.cert(name), "-days", "30", "-subj", `/CN=${cn}`, ...ext],
        );
        return this.cert(name);
    }

    /** A certificate `issuer` signs: an intermediate (`ca`) or a server certificate with `san` (none: CN only). */
    issue(
        name: string,
        issuer: string,
        opts: { cn: string; ca?: boolean; san?: string; start?: string; end?: string },
    ): string {
        openssl(
            this.dir,
            ...["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
            ...["-keyout", this.key(name), "-out", this.file(name, "csr"), "-subj", `/CN=${opts.cn}`],
        );
        const ext = opts.ca
            ? "basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n"
            : `basicConstraints=CA:false\nextendedKeyUsage=serverAuth\n${opts.san ? `subjectAltName=${opts.san}\n` : ""}`;
        fs.writeFileSync(this.file(name, "ext"), ext);
        fs.writeFileSync(path.join(this.dir, "serial"), `${(this.serial++).toString(16).padStart(2, "0")}\n`);
        const day = 86_400_000;
        const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
        openssl(
            this.dir,
            ...["ca", "-batch", "-config", "ca.cnf", "-notext", "-in", this.file(name, "csr")],
            ...["-cert", this.cert(issuer), "-keyfile", this.key(issuer), "-out", this.cert(name)],
            ...["-extfile", this.file(name, "ext")],
            ...["-startdate", opts.start ?? stamp(new Date(Date.now() - day))],
            ...["-enddate", opts.end ?? stamp(new Date(Date.now() + 60 * day))],
        );
        return this.cert(name);
    }
}

interface Run {
    code: number;
    stdout: string;
    stderr: string;
}

/** stderr lines about one check (`DNS`, `TLS`, `TCP`), notes included. */
const about = (r: Run, check: string) =>
    r.stderr.split("\n").filter((l) => l.startsWith(`foxtrot: ${check}:`) || l.startsWith(`foxtrot: note: ${check}:`));

/**
 * The rendered script runs for real with bash, as on a Proxmox node: DNS through perl's Net::DNS against real dnsmasq
 * servers standing in for the node's resolver and the VM network's resolver, TCP through bash's /dev/tcp, TLS
 * through openssl s_client against openssl s_server serving certificates a test PKI issued. Everything listens on
 * one random 127.x.y.z address (the hub's "LAN IP") and its neighbours.
 */
describe("preflight script (real bash, perl Net::DNS, dnsmasq and openssl on loopback)", function () {
    this.timeout(30_000);
    let dir: string;
    let pki: Pki;
    let lan: string;
    let nodeResolver: string;
    let vmResolver: string;
    let children: ChildProcess[] = [];
    let servers: net.Server[] = [];
    const sbinPath = `${process.env.PATH}:/usr/sbin:/sbin`;

    before(function () {
        requireTools(this, ["bash", "openssl", "getent", "perl", "Net::DNS", "dnsmasq"], "the preflight script tests");
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-preflight-"));
        pki = new Pki(dir);
        const octet = () => 2 + Math.floor(Math.random() * 250);
        const prefix = `127.${octet()}.${octet()}`;
        const last = octet() - 2;
        [lan, nodeResolver, vmResolver] = [0, 1, 2].map((i) => `${prefix}.${last + i}`);
        // The node's resolver is always this address; each run gives it its own port.
        fs.writeFileSync(path.join(dir, "resolv.conf"), `search example.com\nnameserver ${nodeResolver}\n`);

        pki.selfSigned("root", "Omni-Scale Test Root", { ca: true });
        pki.issue("int", "root", { cn: "Omni-Scale Test Intermediate", ca: true });
        // Let's Encrypt's staging hierarchy, by name: a root no trust store has.
        pki.selfSigned("staging-root", "(STAGING) Pretend Pear X1", { ca: true });
        pki.issue("staging-int", "staging-root", { cn: "(STAGING) Counterfeit Cashew R10", ca: true });
    });
    afterEach(() => {
        for (const c of children) c.kill();
        for (const s of servers) s.close();
        children = [];
        servers = [];
    });
    after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

    /** A TCP listener on the LAN IP that accepts and closes (the API port). */
    const tcp = () =>
        new Promise<number>((resolve) => {
            const server = net.createServer((s) => s.end());
            servers.push(server);
            server.listen(0, lan, () => resolve((server.address() as net.AddressInfo).port));
        });

    /** openssl s_server on the LAN IP serving `cert` (and `chain`, the intermediates it sends along). */
    async function tlsServer(cert: string, chain?: string): Promise<number> {
        const key = cert.replace(/\.pem$/, ".key");
        const child = spawn(
            "openssl",
            [
                "s_server",
                "-accept",
                `${lan}:0`,
                "-cert",
                cert,
                "-key",
                key,
                "-www",
                // No trust store: the server verifies no clients, and loading the system one is most of its start.
                ...["-no-CAfile", "-no-CApath", "-no-CAstore"],
                ...(chain ? ["-cert_chain", chain] : []),
            ],
            { stdio: ["ignore", "pipe", "pipe"] },
        );
        children.push(child);
        let out = "";
        return new Promise((resolve, reject) => {
            child.stdout.on("data", (d) => {
                out += d;
                const port = /^ACCEPT .*:(\d+)$/m.exec(out)?.[1];
                if (port) resolve(Number(port));
            });
            child.on("exit", (code) => reject(new Error(`openssl s_server exited ${code}: ${out}`)));
        });
    }

    /** dnsmasq answering `records` (name → addresses) authoritatively on each of `hosts`, all on one port. */
    async function dns(port: number, host: string, records: Record<string, string[]>): Promise<void> {
        const args = ["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--pid-file="];
        args.push("--bind-interfaces", `--listen-address=${host}`, `--port=${port}`);
        // No address for a name: NXDOMAIN.
        for (const [name, ips] of Object.entries(records))
            args.push(...(ips.length ? ips.map((ip) => `--address=/${name}/${ip}`) : [`--address=/${name}/`]));
        const child = spawn("dnsmasq", args, { stdio: "ignore", env: { ...process.env, PATH: sbinPath } });
        children.push(child);
        // Ready once it answers a query (asked from here: a perl per try cost more than the run it waits for).
        for (let i = 0; i < 500; i++) {
            if (await answers(host, port)) return;
            if (child.exitCode !== null) break;
        }
        throw new Error(`dnsmasq on ${host}:${port} did not answer`);
    }

    /**
     * Whether a DNS server answers a query for ready.invalid (type A) within 20 ms, whatever its answer. Short: most
     * first queries go out before dnsmasq listens and are lost, and the next one is answered in well under that.
     */
    function answers(host: string, port: number): Promise<boolean> {
        const name = Buffer.concat(
            ["ready", "invalid"].map((l) => Buffer.concat([Buffer.of(l.length), Buffer.from(l)])),
        );
        // Header: id, flags (recursion desired), one question; then the name, type A, class IN.
        const query = Buffer.concat([
            Buffer.of(0x4f, 0x53, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0),
            name,
            Buffer.of(0, 0, 1, 0, 1),
        ]);
        return new Promise((resolve) => {
            const sock = dgram.createSocket("udp4");
            const done = (ok: boolean) => {
                clearTimeout(timer);
                sock.close();
                resolve(ok);
            };
            const timer = setTimeout(() => done(false), 20);
            sock.on("message", (reply) => done(reply.readUInt16BE(0) === 0x4f53));
            sock.on("error", () => done(false));
            sock.send(query, port, host);
        });
    }

    interface Case {
        /** What the node's resolver answers for the Omni name (undefined: no resolver runs). */
        node?: string[];
        /** What the VM network's resolver answers (undefined: not configured; null: configured, not running). */
        vm?: string[] | null;
        /** The leaf and the intermediates the hub serves (undefined: a plain TCP listener, no TLS). */
        cert?: { leaf: string; chain?: string };
        /** Trust the test root (as if it were in the node's store); false: the node's system store only. */
        trustTestRoot?: boolean;
        lanIp?: string;
        apiPort?: number;
        timeoutSeconds?: number;
        /** Environment for the script's bash, over this process's. */
        env?: Record<string, string>;
    }

    async function run(c: Case): Promise<Run> {
        const dnsPort = await freePort(nodeResolver, "udp");
        if (c.node) await dns(dnsPort, nodeResolver, { [DOMAIN]: c.node });
        if (c.vm) await dns(dnsPort, vmResolver, { [DOMAIN]: c.vm });
        const machineApiPort = c.cert ? await tlsServer(c.cert.leaf, c.cert.chain) : await tcp();
        const target = { domain: DOMAIN, lanIp: c.lanIp ?? lan, apiPort: c.apiPort ?? (await tcp()), machineApiPort };
        const script = renderPreflightScript({ name: "foxtrot" }, target, {
            timeoutSeconds: c.timeoutSeconds ?? 3,
            vmResolvers: c.vm === undefined ? [] : [vmResolver],
            resolvConf: path.join(dir, "resolv.conf"),
            dnsPort,
            caFile: c.trustTestRoot === false ? undefined : pki.cert("root"),
        });
        const child = spawn("bash", ["-s"], { env: { ...process.env, ...c.env } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => {
            stdout += d;
        });
        child.stderr.on("data", (d) => {
            stderr += d;
        });
        child.stdin.end(script);
        const code = await new Promise<number>((resolve) => child.on("close", (x) => resolve(x ?? -1)));
        return { code, stdout, stderr };
    }

    // Issued once: every healthy case serves the same leaf.
    let goodLeaf: string | undefined;
    const good = () => ({
        leaf: (goodLeaf ??= pki.issue("leaf", "int", { cn: DOMAIN, san: `DNS:${DOMAIN}` })),
        chain: pki.cert("int"),
    });
    // A healthy node with the VM network's resolver configured: run once, read by two tests.
    let healthy: Promise<Run> | undefined;
    const healthyRun = () => (healthy ??= run({ node: [lan], vm: [lan], cert: good() }));

    it("passes on a healthy node and reports which resolver answered what, the ports and the verified chain", async () => {
        const r = await healthyRun();
        assert.equal(r.stderr, "");
        assert.equal(r.code, 0);
        const report = parsePreflightReport(r.stdout);
        assert.deepEqual(report.resolver, [nodeResolver]);
        assert.deepEqual(report.resolved, [lan]);
        assert.deepEqual(report.vmResolvers, { [vmResolver]: [lan] });
        assert.deepEqual(Object.values(report.ports), [true, true]);
        assert.deepEqual(report.certificate?.names, [DOMAIN]);
        assert.equal(report.certificate?.issuer, "CN=Omni-Scale Test Intermediate");
        assert.equal(report.certificate?.chain, 2);
        assert.equal(report.certificate?.verify, "0 (ok)");
        assert.ok(Date.parse(report.certificate!.notAfter) > Date.now() + 59 * 86_400_000);
    });

    describe("DNS, judged as Talos's Go dialer uses the answer", () => {
        it("accepts the LAN IP with an address of the other family (A + AAAA), noting that it is raced", async () => {
            const r = await run({ node: [lan, "fd00::20"], cert: good() });
            assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(parsePreflightReport(r.stdout).resolved, [lan, "fd00::20"]);
            assert.deepEqual(about(r, "DNS"), [
                `foxtrot: note: DNS: ${DOMAIN} also resolves to fd00::20 through this node's resolver (${nodeResolver}); Talos races that address against ${lan} and keeps the first that connects, so it must be the hub too (serving Omni on the same ports) or refuse connections`,
            ]);
        });

        it("matches an IPv6 LAN IP in any spelling", async () => {
            // The loopback address, so the TCP and TLS checks fail fast whether or not the host has IPv6.
            for (const spelling of ["0:0:0:0:0:0:0:1", "0000::0001", "::1"]) {
                const r = await run({ node: ["0:0::1"], lanIp: spelling, timeoutSeconds: 1 });
                assert.deepEqual(about(r, "DNS"), [], `${spelling}: ${r.stderr}`);
                assert.deepEqual(parsePreflightReport(r.stdout).resolved, ["::1"]);
            }
        });

        it("judges a zoned link-local LAN IP (which no DNS answer can carry) instead of failing to read it", async () => {
            const r = await run({ node: ["fe80::1"], lanIp: "fe80::1%lo", timeoutSeconds: 1 });
            assert.deepEqual(parsePreflightReport(r.stdout).resolved, ["fe80::1"]);
            assert.match(
                about(r, "DNS")[0] ?? "",
                new RegExp(
                    `^foxtrot: DNS: ${DOMAIN} resolves to fe80::1 through .*; expected fe80::1%lo, the hub's LAN IP`,
                ),
            );
        });

        it("names a tailnet address wherever it is in the answer, IPv4 or IPv6", async () => {
            for (const [answer, tailnet] of [
                [[lan, "100.101.102.103"], "100.101.102.103"],
                [["100.64.0.1", lan], "100.64.0.1"],
                [[lan, "fd7a:115c:a1e0::53"], "fd7a:115c:a1e0::53"],
            ] as const) {
                const r = await run({ node: [...answer], cert: good() });
                assert.equal(r.code, 1);
                const lines = about(r, "DNS");
                assert.equal(lines.length, 1, r.stderr);
                assert.match(
                    lines[0],
                    new RegExp(
                        `including the tailnet address ${tailnet.replace(/\./g, "\\.")} \\(100\\.64\\.0\\.0/10, fd7a:115c:a1e0::/48\\): that answer comes from public DNS`,
                    ),
                );
                assert.match(
                    lines[0],
                    /expected only .*, the hub's LAN IP; fix: make the local record .* win on that resolver \(split horizon\)/,
                );
            }
        });

        it("never calls a public 100.x address (outside 100.64.0.0/10) a tailnet one", async () => {
            const alone = await run({ node: ["100.20.1.1"], cert: good() });
            assert.deepEqual(about(alone, "DNS"), [
                `foxtrot: DNS: ${DOMAIN} resolves to 100.20.1.1 through this node's resolver (${nodeResolver}); expected ${lan}, the hub's LAN IP; fix: make the local record ${DOMAIN} -> ${lan} win on that resolver (split horizon), or point the node at the resolver that has it (hostDns.servers)`,
            ]);
            const beside = await run({ node: [lan, "100.128.0.1"], cert: good() });
            assert.equal(beside.code, 1);
            const [line] = about(beside, "DNS");
            assert.match(
                line,
                /besides 127\.\d+\.\d+\.\d+ it answers 100\.128\.0\.1 \(IPv4 too\), which Talos may dial first; expected only/,
            );
            assert.doesNotMatch(line, /tailnet/);
        });

        it("fails when the name does not resolve", async () => {
            const r = await run({ node: [], cert: good() });
            assert.equal(r.code, 1);
            assert.deepEqual(parsePreflightReport(r.stdout).resolved, []);
            assert.deepEqual(about(r, "DNS"), [
                `foxtrot: DNS: ${DOMAIN} does not resolve through this node's resolver (${nodeResolver}); expected ${lan}; fix: make the local record ${DOMAIN} -> ${lan} win on that resolver (split horizon), or point the node at the resolver that has it (hostDns.servers)`,
            ]);
        });

        it("fails naming the package when perl's Net::DNS does not load, and still checks TCP and TLS", async () => {
            // Found first on perl's path: a Net::DNS that does not load, as on a node without libnet-dns-perl.
            const lib = path.join(dir, "no-net-dns");
            fs.mkdirSync(path.join(lib, "Net"), { recursive: true });
            fs.writeFileSync(path.join(lib, "Net", "DNS.pm"), 'die "Can\'t locate Net/DNS.pm in @INC\\n";\n');
            const r = await run({ node: [lan], cert: good(), env: { PERL5LIB: lib } });
            assert.equal(r.code, 1);
            assert.deepEqual(r.stderr.trim().split("\n"), [
                "foxtrot: DNS: perl's Net::DNS is missing on this node, so no resolver can be asked; expected it (libnet-dns-perl, a dependency of pve-manager); fix: apt-get install libnet-dns-perl",
            ]);
            assert.doesNotMatch(r.stdout, /^resolve/m, "no resolver was asked");
            const report = parsePreflightReport(r.stdout);
            assert.deepEqual(Object.values(report.ports), [true, true]);
            assert.equal(report.certificate?.verify, "0 (ok)");
        });

        it("asks the VM network's resolver directly and judges its answer the same way", async () => {
            const r = await run({ node: [lan], vm: [lan, "100.101.102.103"], cert: good() });
            assert.equal(r.code, 1);
            assert.deepEqual(parsePreflightReport(r.stdout).vmResolvers, { [vmResolver]: ["100.101.102.103", lan] });
            const lines = about(r, "DNS");
            assert.equal(lines.length, 1, r.stderr);
            assert.match(
                lines[0],
                new RegExp(
                    `through the VM network's resolver ${vmResolver.replace(/\./g, "\\.")}, including the tailnet address 100\\.101\\.102\\.103`,
                ),
            );
            assert.match(lines[0], /fix: add the local record .* on 127\.[\d.]+ and make it win over public DNS/);

            const ok = await healthyRun();
            assert.equal(ok.code, 0, ok.stderr);
            assert.deepEqual(parsePreflightReport(ok.stdout).vmResolvers, { [vmResolver]: [lan] });
        });

        it("fails when a resolver does not answer at all, naming it", async () => {
            // Both runs wait out their timeout; side by side, since each has its own port and servers.
            const [r, none] = await Promise.all([
                run({ node: [lan], vm: null, cert: good(), timeoutSeconds: 1 }),
                run({ cert: good(), timeoutSeconds: 1 }),
            ]);
            assert.equal(r.code, 1);
            assert.deepEqual(parsePreflightReport(r.stdout).vmResolvers, { [vmResolver]: null });
            assert.deepEqual(about(r, "DNS"), [
                `foxtrot: DNS: the VM network's resolver ${vmResolver} does not answer this node within 1s; expected an answer with ${lan}; fix: check the address in preflight.vmResolvers, that the server runs, and that it answers queries from the Proxmox nodes`,
            ]);
            assert.match(
                about(none, "DNS")[0],
                new RegExp(
                    `^foxtrot: DNS: no answer from this node's resolver \\(${nodeResolver.replace(/\./g, "\\.")}\\) within 1s`,
                ),
            );
        });
    });

    describe("TLS, verified as Go's crypto/x509 verifies it", () => {
        const tlsLines = async (c: Case) => {
            const r = await run({ node: [lan], ...c });
            assert.equal(r.code, 1, r.stderr);
            const lines = about(r, "TLS");
            assert.equal(lines.length, 1, r.stderr);
            assert.equal(r.stderr.trim().split("\n").length, 1, `only the certificate fails: ${r.stderr}`);
            return { line: lines[0], report: parsePreflightReport(r.stdout) };
        };

        it("fails a self-signed certificate", async () => {
            const leaf = pki.selfSigned("self", DOMAIN, { san: `DNS:${DOMAIN}` });
            const { line, report } = await tlsLines({ cert: { leaf } });
            assert.match(
                line,
                /is self-signed \(Talos: "x509: certificate signed by unknown authority"\); expected one from a CA the VMs trust; fix: issue a certificate/,
            );
            assert.match(report.certificate!.verify, /^18 /);
        });

        it("fails a leaf served without its intermediate (certbot's cert.pem instead of fullchain.pem)", async () => {
            const { line, report } = await tlsLines({ cert: { leaf: good().leaf } });
            assert.match(
                line,
                /comes without its intermediate certificate \(issuer CN=Omni-Scale Test Intermediate;.*fix: serve the full chain \(with hostFiles: certbot's fullchain\.pem, not cert\.pem\)/,
            );
            assert.equal(report.certificate!.chain, 1);
        });

        it("fails a chain to an untrusted root, naming Let's Encrypt staging", async () => {
            const leaf = pki.issue("staged", "staging-int", { cn: DOMAIN, san: `DNS:${DOMAIN}` });
            const { line } = await tlsLines({ cert: { leaf, chain: pki.cert("staging-int") } });
            assert.match(
                line,
                /chains to an issuer this node does not trust \(a Let's Encrypt staging chain\) \(20 \(unable to get local issuer certificate\);.*fix: issue it from a production CA \(Let's Encrypt's production directory, not staging\)/,
            );
        });

        it("trusts the node's system store by default, where a private root is not", async () => {
            const { line } = await tlsLines({ cert: good(), trustTestRoot: false });
            assert.match(line, /chains to an issuer this node does not trust \(20 /);
        });

        it("fails a certificate for another name, before its chain as Go does, matching wildcards one label deep", async () => {
            const wrong =
                /covers other\.example\.com, not omni\.example\.com \(Talos: "x509: certificate is valid for other\.example\.com, not omni\.example\.com"\)/;
            const leaf = pki.issue("other", "int", { cn: "other.example.com", san: "DNS:other.example.com" });
            assert.match((await tlsLines({ cert: { leaf, chain: pki.cert("int") } })).line, wrong);
            // crypto/x509 Verify checks the name before building a chain: the name is what Talos reports.
            const selfOther = pki.selfSigned("self-other", "other.example.com", { san: "DNS:other.example.com" });
            assert.match((await tlsLines({ cert: { leaf: selfOther } })).line, wrong);
            // matchHostnames: "*" stands for exactly the leftmost label.
            const deep = pki.issue("deep", "int", { cn: "*.omni.example.com", san: "DNS:*.omni.example.com" });
            assert.match(
                (await tlsLines({ cert: { leaf: deep, chain: pki.cert("int") } })).line,
                /covers \*\.omni\.example\.com, not omni\.example\.com/,
            );
            const wildcard = pki.issue("wild", "int", { cn: "*.example.com", san: "DNS:*.example.com" });
            const ok = await run({ node: [lan], cert: { leaf: wildcard, chain: pki.cert("int") } });
            assert.equal(ok.code, 0, ok.stderr);
        });

        it("fails a certificate with the name only in the CN, or only an IP subjectAltName, though openssl alone accepts both", async () => {
            for (const san of [undefined, `IP:${lan}`]) {
                const leaf = pki.issue(`cn-${san ? "ip" : "only"}`, "int", { cn: DOMAIN, san });
                const { line, report } = await tlsLines({ cert: { leaf, chain: pki.cert("int") } });
                assert.match(
                    line,
                    /has no DNS name in its subjectAltName .*Go clients ignore the CN .*expected DNS:omni\.example\.com; fix: issue a certificate with omni\.example\.com as a DNS subjectAltName/,
                );
                // OpenSSL's host check falls back to the CN; Go's (crypto/x509 VerifyHostname) never does.
                assert.equal(report.certificate!.verify, "0 (ok)");
                assert.deepEqual(report.certificate!.names, san ? [`IPAddress:${lan}`] : []);
            }
        });

        it("fails an expired certificate, and one not valid yet", async () => {
            const leaf = pki.issue("expired", "int", {
                cn: DOMAIN,
                san: `DNS:${DOMAIN}`,
                start: "20240101000000Z",
                end: "20240201000000Z",
            });
            const { line, report } = await tlsLines({ cert: { leaf, chain: pki.cert("int") } });
            assert.match(
                line,
                /expired on Feb  1 00:00:00 2024 GMT \(Talos: "x509: certificate has expired or is not yet valid"\); expected a valid one; fix: renew it/,
            );
            assert.equal(report.certificate!.notAfter, "2024-02-01T00:00:00.000Z");

            const future = pki.issue("future", "int", {
                cn: DOMAIN,
                san: `DNS:${DOMAIN}`,
                start: "20990101000000Z",
                end: "20990201000000Z",
            });
            const f = await tlsLines({ cert: { leaf: future, chain: pki.cert("int") } });
            // Go checks every certificate of the chain it builds (buildChains → isValid), openssl too (code 10).
            pki.issue("old-int", "root", {
                cn: "Old Intermediate",
                ca: true,
                start: "20240101000000Z",
                end: "20240201000000Z",
            });
            const underOld = pki.issue("under-old", "old-int", { cn: DOMAIN, san: `DNS:${DOMAIN}` });
            const o = await tlsLines({ cert: { leaf: underOld, chain: pki.cert("old-int") } });
            assert.match(
                o.line,
                /a certificate in the chain served on .* has expired \(10 \(certificate has expired\)\); expected a valid chain; fix: serve the issuer's current intermediate/,
            );
            assert.match(
                f.line,
                /is not valid before Jan  1 00:00:00 2099 GMT; expected one valid now; fix: check this node's clock/,
            );
        });

        it("fails when no TLS certificate is served on the machine API port", async () => {
            const { line, report } = await tlsLines({});
            assert.equal(report.certificate, null);
            assert.match(line, /^foxtrot: TLS: no certificate from 127\.[\d.]+:\d+ for omni\.example\.com/);
        });
    });

    it("fails per port that does not answer, naming the firewall fix, and still reports the others", async () => {
        const closed = await freePort(lan);
        const r = await run({ node: [lan], cert: good(), apiPort: closed });
        assert.equal(r.code, 1);
        assert.equal(parsePreflightReport(r.stdout).ports[closed], false);
        assert.deepEqual(about(r, "TCP").length, 1);
        assert.match(
            r.stderr,
            new RegExp(
                `^foxtrot: TCP: ${lan.replace(/\./g, "\\.")}:${closed} does not answer from this node within 3s; expected Omni listening there; fix: allow TCP ${closed} from this node`,
            ),
        );
        assert.equal(r.stderr.trim().split("\n").length, 1, "the certificate check still ran and passed");
    });

    it("renders the tailnet ranges as patterns bash agrees on with isTailnetAddress", () => {
        const patterns = TAILNET_CIDRS.flatMap(cidrCasePatterns).join("|");
        const samples = [
            "100.63.255.255",
            "100.64.0.0",
            "100.100.100.100",
            "100.127.255.255",
            "100.128.0.0",
            "10.64.0.1",
            "fd7a:115c:a1e0::",
            "fd7a:115c:a1e0:ab12:4843:cd96:6258:b240",
            "fd7a:115c:a1e1::1",
            "fd7a:115c::1",
            "FD7A:115C:A1E0:0:0:0:0:1",
        ];
        // One bash for all samples, one answer line each.
        const out = execFileSync(
            "bash",
            [
                "-c",
                `for ip; do a=$(getent ahosts "$ip" | awk 'NR == 1 { print $1 }'); case "$a" in ${patterns}) echo yes ;; *) echo no ;; esac; done`,
                "_",
                ...samples,
            ],
            { encoding: "utf8" },
        )
            .trim()
            .split("\n");
        assert.equal(out.length, samples.length);
        samples.forEach((ip, i) => assert.equal(out[i] === "yes", isTailnetAddress(ip), ip));
        assert.throws(() => cidrCasePatterns("fd00::/8"), /cannot render/);
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
                wireguardEndpoint: "[FD00:0:0::0020]:50180",
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
            resolver: [],
            resolved: ["192.168.10.20"],
            vmResolvers: {},
            ports: { 443: true, 8090: true },
            certificate: {
                names: ["omni.example.com"],
                issuer: "CN=Offline Plan Intermediate,O=omni-scale offline plan",
                notBefore: "2026-01-01T00:00:00.000Z",
                notAfter: "2099-01-01T00:00:00.000Z",
                chain: 2,
                verify: "0 (ok)",
            },
        });
        const withVm = renderPreflightScript({ name: "golf" }, preflightTarget(hub), {
            timeoutSeconds: 5,
            vmResolvers: ["192.168.3.1"],
        });
        assert.deepEqual(parsePreflightReport(offlinePreflightStdout(withVm)!).vmResolvers, {
            "192.168.3.1": ["192.168.10.20"],
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

        const resolvers = PreflightSettingsSchema.safeParse({
            nodes: [{ name: "foxtrot", address: "pve1.example.com", hostKey: "192.168.3.2 ssh-ed25519 AAAA" }],
            vmResolvers: ["192.168.3.1", "dns.example.com", "FD00:0::53", "fd00::53"],
        });
        assert.ok(!resolvers.success);
        assert.deepEqual(
            resolvers.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`),
            [
                'nodes.0.hostKey: starts with "192.168.3.2" before the key type; drop it and keep "ssh-ed25519 AAAA"',
                "vmResolvers.1: an IP address (the DNS server the VM network's DHCP hands out), e.g. 192.168.3.1",
                "vmResolvers.3: each resolver once",
            ],
        );
        assert.deepEqual(
            PreflightSettingsSchema.parse({
                nodes: [{ name: "foxtrot", address: "pve1.example.com" }],
                vmResolvers: ["FD00:0::53", "192.168.3.1"],
            }).vmResolvers,
            ["fd00::53", "192.168.3.1"],
        );

        const good = PreflightSettingsSchema.parse({ nodes: [{ name: "foxtrot", address: "pve1.example.com" }] });
        assert.deepEqual(good, {
            nodes: [{ name: "foxtrot", address: "pve1.example.com", user: "root", port: 22 }],
            vmResolvers: [],
            rerun: 0,
            timeoutSeconds: 5,
        });
    });
});

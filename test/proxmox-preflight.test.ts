import { strict as assert } from "node:assert";
import * as path from "node:path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ProxmoxPreflight } from "../components/proxmox/preflight";
import { ConfigError } from "../components/core/validation";
import { loadStackConfig } from "../src/config";
import { CapturedResource, runProgram } from "../src/plan/capture";
import { planStack, PlanResult, readStackFile } from "../src/plan/plan";
import { examplePlan } from "./plan-run";
import { editedStacks, removeStackDirs } from "./stack-files";

const NODES = ["foxtrot", "golf", "hotel"];
/** A well-formed, obviously fake ed25519 host key (32 bytes of 0x11). */
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBERERERERERERERERERERERERERERERERERERERERER fake@pve2";

/** URNs a resource waits for, directly or through anything it waits for. */
function waitsFor(resources: CapturedResource[], r: CapturedResource): Set<string> {
    const byUrn = new Map(resources.map((x) => [x.urn, x]));
    const seen = new Set<string>();
    const visit = (urn: string) => {
        for (const dep of byUrn.get(urn)?.dependsOn ?? []) {
            if (seen.has(dep)) continue;
            seen.add(dep);
            visit(dep);
        }
    };
    visit(r.urn);
    return seen;
}

describe("preflight in the matrix example (offline plan)", () => {
    // One plan of the example stack, which the tests below read (planning it is most of their cost).
    let example: PlanResult;
    before(async () => {
        example = await examplePlan("matrix");
    });
    after(removeStackDirs);

    it("registers one remote command per Proxmox node, over SSH with the node's address and user, no key material", async () => {
        const { resources } = example;
        const checks = resources.filter((r) => r.type === "command:remote:Command" && r.name.startsWith("preflight-"));
        assert.deepEqual(
            checks.map((c) => c.name).sort(),
            NODES.map((n) => `preflight-${n}`),
        );
        const component = resources.find((r) => r.type === "omni-scale:proxmox:ProxmoxPreflight")!;
        const foxtrot = checks.find((c) => c.name === "preflight-foxtrot")!;
        assert.equal(foxtrot.parent, component.urn);
        const connection =
            (foxtrot.inputs.connection as { value: Record<string, unknown> }).value ?? foxtrot.inputs.connection;
        assert.equal(connection.host, "192.168.3.5");
        assert.equal(connection.user, "root");
        assert.equal(connection.privateKey, undefined, "the SSH agent authenticates");
        assert.equal(connection.password, undefined);
        assert.equal(foxtrot.inputs.create, "bash -s");
        // The script carries this node's name and the hub's values read from the hub stack.
        const script = String(foxtrot.inputs.stdin);
        assert.match(script, /^node='foxtrot'$/m);
        assert.match(script, /^domain='omni\.example\.com'$/m);
        assert.match(script, /^lan_ip='192\.168\.10\.20'$/m);
        assert.match(script, /^api_port=443$/m);
        assert.match(script, /^machine_port=8090$/m);
        assert.match(script, /^vm_resolvers=\('192\.168\.3\.1'\)$/m, "the VM network's resolver from the stack");
        assert.match(script, /^ca_args=\(\)$/m, "the node's system trust store");
    });

    it("makes every machine class and cluster wait for every node's check, and the checks wait for the nodes' DNS only", async () => {
        const { resources } = example;
        const checks = resources
            .filter((r) => r.type === "command:remote:Command" && r.name.startsWith("preflight-"))
            .map((c) => c.urn);
        const applies = resources.filter((r) => r.inputs.kind === "omni-machine-class");
        const syncs = resources.filter((r) => r.inputs.kind === "omni-cluster");
        assert.ok(applies.length === 4 && syncs.length === 1);
        for (const a of applies) {
            for (const c of checks) assert.ok(a.dependsOn.includes(c), `${a.name} waits for ${c}`);
        }
        // A cluster waits for its classes, so for every check before it.
        for (const s of syncs) {
            const all = waitsFor(resources, s);
            for (const c of checks) assert.ok(all.has(c), `${s.name} waits for ${c}`);
        }
        const dns = resources.filter((r) => r.type === "proxmoxve:index/dnsLegacy:DnsLegacy").map((r) => r.urn);
        const provider = resources.filter((r) => r.parent && r.urn.includes("ProxmoxInfraProvider")).map((r) => r.urn);
        for (const check of resources.filter((r) => checks.includes(r.urn))) {
            for (const d of dns)
                assert.ok(check.dependsOn.includes(d), `${check.name} runs after the resolvers are set`);
            assert.ok(
                !provider.some((p) => check.dependsOn.includes(p)),
                "checks run beside the provider, not after it",
            );
            assert.ok(!checks.some((other) => check.dependsOn.includes(other)), "checks run in parallel");
        }
    });

    it("exports per node what resolved, which ports answered and the certificate's names and expiry", async () => {
        const { outputs } = example;
        const preflight = outputs.preflight as Record<string, any>;
        assert.deepEqual(Object.keys(preflight).sort(), NODES);
        assert.deepEqual(preflight.golf, {
            resolver: [],
            resolved: ["192.168.10.20"],
            vmResolvers: { "192.168.3.1": ["192.168.10.20"] },
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
    });

    it("runs again when the hub's LAN IP or ports change or rerun is bumped; the same inputs plan the same", async () => {
        const golf = ({ resources }: PlanResult) => {
            const r = resources.find((x) => x.name === "preflight-golf")!;
            return { stdin: r.inputs.stdin, triggers: JSON.stringify(r.inputs.triggers) };
        };
        const check = async (edits: Parameters<typeof editedStacks>[0]) =>
            golf(await planStack({ stack: "matrix", configFile: editedStacks(edits).matrix, skipPolicies: true }));
        // The example planned once more, from a copy of its stack files.
        const base = golf(example);
        assert.deepEqual(await check({}), base, "the plan is deterministic");
        assert.notEqual(
            (
                await check({
                    quantum: (c) => {
                        c["omni-scale:hub"].lanIp = "192.168.10.21";
                        c["omni-scale:hub"].ports = { machineApi: 8091 };
                    },
                })
            ).stdin,
            base.stdin,
        );
        const bumped = await check({
            matrix: (c) => {
                c["omni-scale:preflight"].rerun = 1;
            },
        });
        assert.equal(bumped.stdin, base.stdin);
        assert.notEqual(
            bumped.triggers,
            base.triggers,
            "a new rerun value replaces the command, which runs the checks",
        );
    });

    it("runs again when the hub serves a new certificate", async () => {
        const program = (fingerprint?: string) => () => {
            const p = new ProxmoxPreflight("pf", {
                settings: { nodes: [{ name: "golf", address: "192.168.3.6" }] },
                target: { domain: "omni.example.com", lanIp: "192.168.10.20", apiPort: 443, machineApiPort: 8090 },
                triggers: [pulumi.output(fingerprint ?? "")],
            });
            return { results: p.results };
        };
        const triggers = async (fp?: string) =>
            (await runProgram(program(fp), { stack: "t" })).resources.find((r) => r.name === "pf-golf")!.inputs
                .triggers;
        assert.notDeepEqual(await triggers("AA:BB"), await triggers("CC:DD"));
    });

    it("passes its dependsOn to each node's command", async () => {
        const { resources } = await runProgram(
            () => {
                const before = new command.local.Command("dns", { create: "true" });
                new ProxmoxPreflight(
                    "pf",
                    {
                        settings: {
                            nodes: [
                                {
                                    name: "golf",
                                    address: "pve2.example.com",
                                    user: "ansible",
                                    port: 2222,
                                    hostKey: HOST_KEY,
                                },
                                { name: "hotel", address: "pve3.example.com" },
                            ],
                        },
                        target: {
                            domain: "omni.example.com",
                            lanIp: "192.168.10.20",
                            apiPort: 443,
                            machineApiPort: 8090,
                        },
                    },
                    { dependsOn: [before] },
                );
            },
            { stack: "t" },
        );
        const cmd = resources.find((r) => r.name === "pf-golf")!;
        assert.ok(cmd.dependsOn.includes(resources.find((r) => r.name === "dns")!.urn));
        const connection = cmd.inputs.connection as Record<string, any>;
        const c = connection.value ?? connection;
        assert.deepEqual([c.host, c.user, c.port], ["pve2.example.com", "ansible", 2222]);
        assert.equal(c.hostKey, HOST_KEY, "the provider accepts only this key from golf");
        const hotel = resources.find((r) => r.name === "pf-hotel")!.inputs.connection as Record<string, any>;
        assert.equal((hotel.value ?? hotel).hostKey, undefined, "without one, the provider accepts any key");
    });

    it("refuses a host key that is not one OpenSSH public key line, naming the node's key", () => {
        assert.throws(
            () =>
                new ProxmoxPreflight("pf", {
                    settings: { nodes: [{ name: "golf", address: "pve2.example.com", hostKey: `pve2 ${HOST_KEY}` }] },
                    target: { domain: "omni.example.com", lanIp: "192.168.10.20", apiPort: 443, machineApiPort: 8090 },
                    keyPrefix: "omni-scale:preflight",
                }),
            (e: ConfigError) =>
                e.issues.some(
                    (i) =>
                        i.key === "omni-scale:preflight.nodes[0].hostKey" &&
                        /starts with "pve2" before the key type/.test(i.message),
                ),
        );
    });
});

describe("preflight settings in the workload stack", () => {
    after(removeStackDirs);
    const raw = () => readStackFile(path.join(__dirname, "..", "Pulumi.matrix.yaml")).config;
    const issues = (edit: (p: any) => void): string[] => {
        const config = raw();
        const preflight = JSON.parse(config["omni-scale:preflight"]);
        edit(preflight);
        try {
            loadStackConfig({ ...config, "omni-scale:preflight": JSON.stringify(preflight) }, new Set());
            return [];
        } catch (e) {
            assert.ok(e instanceof ConfigError, String(e));
            return e.issues.map((i) => `${i.key}: ${i.message}`);
        }
    };

    it("needs an entry for every node whose resolver the stack sets, and only those", () => {
        const missing = issues((p) => {
            p.nodes = p.nodes.slice(0, 2);
        });
        assert.deepEqual(missing, [
            "omni-scale:preflight.nodes: has no entry for hotel: add { name, address } for every node in hostDns.nodes (Talos VMs can land on any of them)",
        ]);
        const extra = issues((p) => {
            p.nodes[2].name = "india";
        });
        assert.ok(
            extra.some((i) =>
                /^omni-scale:preflight\.nodes\[2\]\.name: is not in hostDns\.nodes \(foxtrot, golf, hotel\): add it there/.test(
                    i,
                ),
            ),
            extra.join("\n"),
        );
    });

    it("refuses a bad address, user or port with the key and the fix", () => {
        const bad = issues((p) => {
            p.nodes[0].address = "root@192.168.3.5:22";
            p.nodes[1].user = "Admin User";
            p.nodes[2].port = 70000;
            p.nodez = [];
        });
        const keys = bad.map((i) => i.split(": ")[0]);
        assert.deepEqual(keys.sort(), [
            "omni-scale:preflight.nodes[0].address",
            "omni-scale:preflight.nodes[1].user",
            "omni-scale:preflight.nodes[2].port",
            "omni-scale:preflight.nodez",
        ]);
        assert.match(
            bad.find((i) => i.includes("address"))!,
            /use "192\.168\.3\.5"/,
        );
    });

    it("refuses a malformed host key or VM resolver under its config key", () => {
        const bad = issues((p) => {
            p.nodes[1].hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5";
            p.vmResolvers = ["192.168.3.1", "dns.example.com"];
        });
        assert.deepEqual(bad, [
            'omni-scale:preflight.nodes[1].hostKey: the key after "ssh-ed25519" is not a complete ssh-ed25519 key (cut or mistyped?); use one line of the node\'s /etc/ssh/ssh_host_ed25519_key.pub, e.g. ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… root@pve1',
            "omni-scale:preflight.vmResolvers[1]: an IP address (the DNS server the VM network's DHCP hands out), e.g. 192.168.3.1",
        ]);
    });

    it("is optional: a workload stack without it registers no preflight", async () => {
        const files = editedStacks({
            matrix: (c) => {
                delete c["omni-scale:preflight"];
            },
        });
        const { resources, outputs } = await planStack({
            stack: "matrix",
            configFile: files.matrix,
            skipPolicies: true,
        });
        assert.ok(!resources.some((r) => r.type === "omni-scale:proxmox:ProxmoxPreflight"));
        assert.equal(outputs.preflight, undefined);
    });
});

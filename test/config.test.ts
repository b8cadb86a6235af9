import { strict as assert } from "node:assert";
import * as path from "node:path";
import { loadStackConfig, RawConfig } from "../src/config";
import { readStackFile } from "../src/plan/plan";
import { ConfigError } from "../components/core/validation";

const root = path.join(__dirname, "..");
const example = (stack: string) => readStackFile(path.join(root, `Pulumi.${stack}.yaml`));

/** The issues a config produces, as `key: message` lines. */
function issuesOf(raw: RawConfig, secret: string[] = []): string[] {
    try {
        loadStackConfig(raw, new Set(secret));
    } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        return e.issues.map((i) => `${i.key}: ${i.message}`);
    }
    return [];
}

/** A copy of an example stack's config with one structured key changed. */
function withChange(stack: string, key: string, change: (value: any) => void): RawConfig {
    const { config } = example(stack);
    const value = JSON.parse(config[key]);
    change(value);
    return { ...config, [key]: JSON.stringify(value) };
}

describe("stack config", () => {
    it("loads both example stacks with defaults applied", () => {
        const hub = loadStackConfig(example("quantum").config, new Set());
        assert.equal(hub.role, "hub");
        if (hub.role !== "hub") return;
        assert.equal(hub.hub.ports.api, 443);
        assert.equal(hub.hub.tailscale.hostname, "omni");
        const matrix = loadStackConfig(example("matrix").config, new Set());
        assert.equal(matrix.role, "workloads");
        if (matrix.role !== "workloads") return;
        assert.equal(matrix.machineClasses.length, 4);
        assert.equal(matrix.hubStack, "organization/omni-scale/quantum");
        // YAML merge keys in the stack file reached the worker classes.
        assert.equal(matrix.machineClasses[2].providerData.node, "golf");
        assert.equal(matrix.machineClasses[2].providerData.memory, 16384);
    });

    it("refuses classes pinned to Proxmox nodes whose DNS the stack does not manage", () => {
        const raw = withChange("matrix", "omni-scale:machineClasses", (classes) => {
            classes[1].providerData.node = "india";
            classes[0].providerData.ha = { node_affinity_nodes: ["golf:2", "juliet"] };
        });
        const issues = issuesOf(raw);
        assert.deepEqual(
            issues.map((i) => i.split(": ")[0]),
            [
                "omni-scale:machineClasses[0].providerData.ha.node_affinity_nodes[1]",
                "omni-scale:machineClasses[1].providerData.node",
            ],
        );
        assert.match(issues[1], /Proxmox node india is not in hostDns\.nodes \(foxtrot, golf, hotel\): add it there/);
    });

    it("requires a known role", () => {
        assert.deepEqual(issuesOf({}), [
            "omni-scale:role: set `hub` for the management stack (quantum) or `workloads` for a workload stack (matrix)",
        ]);
        assert.match(issuesOf({ "omni-scale:role": "hubb" })[0], /^omni-scale:role: /);
    });

    it("reports every problem at once, each named by its key", () => {
        const raw = withChange("quantum", "omni-scale:hub", (hub) => {
            hub.auth.auth0.domain = "https://dev-example.us.auth0.com";
            hub.lanIp = "omni.example.com";
            delete hub.initialUsers;
            hub.tailscaleImage = "tailscale/tailscale:latest";
            hub.omniDomian = "typo.example.com";
        });
        const issues = issuesOf(raw);
        const keys = issues.map((i) => i.split(": ")[0]);
        assert.ok(keys.includes("omni-scale:hub.auth.auth0.domain"), issues.join("\n"));
        assert.ok(keys.includes("omni-scale:hub.lanIp"));
        assert.ok(issues.includes("omni-scale:hub.initialUsers: is required (array)"), issues.join("\n"));
        assert.ok(keys.includes("omni-scale:hub.tailscaleImage"));
        assert.ok(keys.includes("omni-scale:hub.omniDomian"), "an unknown key is named");
        assert.ok(issues.length >= 5);
    });

    it("shows the bad value and the fix in the message", () => {
        const raw = withChange("quantum", "omni-scale:hub", (hub) => {
            hub.auth.auth0.domain = "https://dev-example.us.auth0.com/";
        });
        try {
            loadStackConfig(raw, new Set());
            assert.fail("expected a ConfigError");
        } catch (e) {
            const msg = (e as Error).message;
            assert.match(msg, /omni-scale:hub\.auth\.auth0\.domain \(got "https:\/\/dev-example\.us\.auth0\.com\/"\)/);
            assert.match(msg, /dev-example\.us\.auth0\.com/);
        }
    });

    it("rejects a wrong type", () => {
        const raw = withChange("matrix", "omni-scale:infraProvider", (p) => {
            p.lxc.vmId = "two hundred";
        });
        assert.ok(issuesOf(raw).some((i) => i.startsWith("omni-scale:infraProvider.lxc.vmId: ")));
    });

    it("rejects a secret stored in plain text and accepts it as a secret", () => {
        const raw = { ...example("quantum").config, "omni-scale:oidcClientSecret": "not-so-secret" };
        assert.deepEqual(
            issuesOf(raw).map((i) => i.split(": ")[0]),
            ["omni-scale:oidcClientSecret"],
        );
        assert.deepEqual(issuesOf(raw, ["omni-scale:oidcClientSecret"]), []);
    });

    it("ignores the project-wide hubStack default on a hub stack", () => {
        assert.deepEqual(
            issuesOf({ ...example("quantum").config, "omni-scale:hubStack": "organization/omni-scale/quantum" }),
            [],
        );
    });

    it("requires provider ids to match exactly, naming the case difference", () => {
        const raw = withChange("matrix", "omni-scale:machineClasses", (classes) => {
            classes[1].providerId = "Matrix-cluster";
        });
        const issues = issuesOf(raw);
        assert.ok(
            issues.some((i) => i.startsWith("omni-scale:machineClasses[1].providerId")),
            issues.join("\n"),
        );
        const other = withChange("matrix", "omni-scale:machineClasses", (classes) => {
            classes[0].providerId = "other";
        });
        assert.match(
            issuesOf(other).join("\n"),
            /machineClasses\[0\]\.providerId: must equal infraProvider\.providerId "matrix-cluster"; Omni rejects/m,
        );
    });

    it("names a cluster's unknown machine class with the other errors", () => {
        const raw = withChange("matrix", "omni-scale:clusters", (clusters) => {
            clusters[0].workers[1].machineClass = "matrix-worker-golff";
        });
        const issues = issuesOf(raw).join("\n");
        assert.match(issues, /^omni-scale:clusters\[0\]\.workers\[1\]\.machineClass: .*matrix-worker-golff/m);
    });

    it("rejects a public resolver, naming the keys that allow one, and takes it once allowed", () => {
        const raw = withChange("matrix", "omni-scale:hostDns", (dns) => {
            dns.servers = ["1.1.1.1"];
        });
        const [issue] = issuesOf(raw);
        assert.match(issue, /^omni-scale:hostDns\.servers\[0\]: 1\.1\.1\.1 is a public resolver/);
        for (const key of [
            "`allowedResolvers` beside `servers`",
            "hostDns.allowedResolvers",
            "infraProvider.lxc.dns.allowedResolvers",
            '{"proxmox-dns-local-only": {"allowedResolvers": ["1.1.1.1"]}}',
        ])
            assert.ok(issue.includes(key), `names ${key}: ${issue}`);
        const lxc = withChange("matrix", "omni-scale:infraProvider", (p) => {
            p.lxc.dns.servers = ["1.1.1.1"];
        });
        assert.match(
            issuesOf(lxc).join("\n"),
            /^omni-scale:infraProvider\.lxc\.dns\.servers\[0\]: .*infraProvider\.lxc\.dns\.allowedResolvers/,
        );
        // What the message names does allow it.
        const allowed = withChange("matrix", "omni-scale:hostDns", (dns) => {
            dns.servers = ["1.1.1.1"];
            dns.allowedResolvers = ["1.1.1.1"];
        });
        assert.deepEqual(issuesOf(allowed), []);
    });

    it("suggests the fully qualified name of the hub stack the user named", () => {
        for (const [given, suggested] of [
            ["homelab", "organization/omni-scale/homelab"],
            ["quantum", "organization/omni-scale/quantum"],
            ["acme/homelab", "acme/omni-scale/homelab"],
        ]) {
            const raw = { ...example("matrix").config, "omni-scale:hubStack": given };
            assert.deepEqual(
                issuesOf(raw).filter((i) => i.startsWith("omni-scale:hubStack")),
                [
                    `omni-scale:hubStack: use the fully qualified name \`${suggested}\` (<organization>/<project>/<stack>; a local backend's organization is the literal \`organization\`)`,
                ],
            );
        }
    });

    it("names the key a misspelt one was meant to be, without the missing key's own zod message", () => {
        const raw = withChange("quantum", "omni-scale:hub", (hub) => {
            hub.initalUsers = hub.initialUsers;
            delete hub.initialUsers;
            hub.auth.auth0.clientID = hub.auth.auth0.clientId;
            hub.omniDomian = hub.omniDomain;
            hub.zzz = 1;
        });
        const issues = issuesOf(raw);
        assert.ok(
            issues.includes("omni-scale:hub.initalUsers: unknown key `initalUsers`: did you mean `initialUsers`?"),
            issues.join("\n"),
        );
        // An optional key is suggested too; a nested one by its own object's keys.
        assert.ok(
            issues.includes("omni-scale:hub.omniDomian: unknown key `omniDomian`: did you mean `omniDomain`?"),
            issues.join("\n"),
        );
        assert.ok(
            issues.some((i) =>
                i.startsWith("omni-scale:hub.auth.auth0.clientID: unknown key `clientID`: did you mean `clientId`?"),
            ),
            issues.join("\n"),
        );
        assert.ok(issues.includes("omni-scale:hub.zzz: unknown key `zzz`: check its spelling or remove it"));
        assert.deepEqual(
            issues.filter((i) => /^omni-scale:hub\.(initialUsers|omniDomain|auth\.auth0\.clientId):/.test(i)),
            [],
            "the keys the values were meant for are not reported missing",
        );
        assert.ok(!issues.join("\n").includes("Invalid input"), issues.join("\n"));
    });

    it("says memory is a number of MiB (and disk_size of GiB), and the number a size string stands for", () => {
        const raw = withChange("matrix", "omni-scale:machineClasses", (classes) => {
            classes[0].providerData.memory = "8GB";
            classes[1].providerData.memory = "8 GiB";
            classes[2].providerData.disk_size = "40G";
            classes[3].providerData.memory = "lots";
        });
        const issues = issuesOf(raw).join("\n");
        assert.match(
            issues,
            /^omni-scale:machineClasses\[0\]\.providerData\.memory: memory is a number of MiB, not a string: write 8192 /m,
        );
        assert.match(
            issues,
            /^omni-scale:machineClasses\[1\]\.providerData\.memory: memory is a number of MiB, not a string: write 8192 /m,
        );
        assert.match(
            issues,
            /^omni-scale:machineClasses\[2\]\.providerData\.disk_size: disk_size is a number of GiB, not a string: write 40 /m,
        );
        assert.match(
            issues,
            /^omni-scale:machineClasses\[3\]\.providerData\.memory: memory is a number of MiB, not a string \(at least 2048/m,
        );
        assert.ok(!issues.includes("Invalid input"), issues);
    });

    it("needs existing Proxmox credentials when the least-privilege identity is off", () => {
        const raw = withChange("matrix", "omni-scale:infraProvider", (p) => {
            p.leastPrivilege = { enabled: false };
        });
        const keys = issuesOf(raw).map((i) => i.split(": ")[0]);
        assert.deepEqual(keys.sort(), ["omni-scale:proxmoxTokenId", "omni-scale:proxmoxTokenSecret"]);
        const ok = {
            ...raw,
            "omni-scale:proxmoxTokenId": "terraform@pam!automation",
            "omni-scale:proxmoxTokenSecret": "fake",
        };
        assert.deepEqual(issuesOf(ok, ["omni-scale:proxmoxTokenSecret"]), []);
    });
});

import { strict as assert } from "node:assert";
import * as path from "node:path";
import { hubTailnetIpv4, renderDnsRecord, tailnetIpv4 } from "../components/edge/cloudflare-record-render";
import { OmniHubSettingsSchema } from "../components/hub/settings";
import { loadStackConfig } from "../src/config";
import { isSecret } from "../src/plan/capture";
import { hubSettings } from "./fixtures/settings";
import facts from "./fixtures/upstream/acme-cloudflare-facts.json";
import { FAKE_TOKEN, hubConfig, hubConfigIssues, runHub, withCloudflare, ZONE_ID } from "./hub-program";
import { spawnOutput } from "./tools";

const DEVICES = "tailscale:index/getDevices:getDevices";
/** A device as the provider's getDevices lists it (pulumi-tailscale GetDevicesDevice). */
const device = (over: Record<string, unknown>) => ({
    hostname: "omni",
    name: "omni.tail1234.ts.net",
    nodeId: "nAAAA1CNTRL",
    id: "1111",
    lastSeen: "2026-12-05T22:00:00Z",
    tags: ["tag:omni"],
    addresses: ["100.101.102.103", "fd7a:115c:a1e0::1234"],
    ...over,
});

describe("Cloudflare record for the Omni name (hub dns.cloudflare)", () => {
    before(() => {
        // Not awaited: the lazy-loading check's own process runs while these tests run.
        lazyPlan().catch(() => undefined);
    });

    it("points the record at the tailnet IPv4 of the one device with the sidecar's hostname and tags, DNS only, short TTL", async () => {
        const lookups: Record<string, unknown>[] = [];
        const { find, outputs } = await runHub(withCloudflare, { cloudflareApiToken: FAKE_TOKEN }, (base) => ({
            ...base,
            call: (args) => {
                if (args.token !== DEVICES) return base.call(args);
                lookups.push(args.inputs);
                // A namesake with other tags (someone's laptop called omni) is not the hub.
                return {
                    devices: [
                        device({ tags: [], addresses: ["100.64.9.9"], name: "omni-2.tail1234.ts.net" }),
                        device({}),
                    ],
                };
            },
        }));
        assert.deepEqual(
            lookups,
            [
                {
                    filters: [
                        { name: "hostname", values: ["omni"] },
                        { name: "tags", values: ["tag:omni"] },
                    ],
                },
            ],
            "the device list filtered by the sidecar's hostname and tags",
        );
        const record = find((r) => r.type === "cloudflare:index/dnsRecord:DnsRecord", "the DNS record");
        assert.deepEqual(
            {
                zoneId: record.inputs.zoneId,
                name: record.inputs.name,
                type: record.inputs.type,
                content: record.inputs.content,
                proxied: record.inputs.proxied,
                ttl: record.inputs.ttl,
            },
            {
                zoneId: ZONE_ID,
                name: "omni.example.com",
                type: "A",
                content: "100.101.102.103",
                proxied: false,
                ttl: 60,
            },
        );
        assert.equal(outputs.tailnetAddress, "100.101.102.103");
        // Its own provider, authenticated with the secret token.
        const provider = find((r) => r.type === "pulumi:providers:cloudflare", "the Cloudflare provider");
        assert.ok(record.provider?.startsWith(provider.urn));
        assert.ok(isSecret(provider.inputs.apiToken));
        const component = find((r) => r.type === "omni-scale:cloudflare:CloudflareRecord", "the component");
        assert.equal(record.parent, component.urn);
    });

    it("waits for the sidecar: the component depends on it", async () => {
        const { find } = await runHub(withCloudflare, { cloudflareApiToken: FAKE_TOKEN });
        const sidecar = find((r) => r.name === "omni-tailscale", "the sidecar");
        assert.ok(
            find((r) => r.type === "omni-scale:cloudflare:CloudflareRecord", "the component").dependsOn.includes(
                sidecar.urn,
            ),
        );
    });

    it("publishes no record with record: false, and none without dns.cloudflare", async () => {
        const off = await runHub((h) => withCloudflare(h, { record: false }), { cloudflareApiToken: FAKE_TOKEN });
        assert.ok(!off.resources.some((r) => r.type.startsWith("cloudflare:")));
        assert.equal(off.outputs.tailnetAddress, undefined);
    });

    it("refuses a stale namesake (the sidecar came back as omni-1 after losing its state), naming both devices and the fix", async () => {
        const stale = device({ lastSeen: "2026-11-01T08:00:00Z", nodeId: "nOLD1CNTRL", addresses: ["100.64.1.1"] });
        const fresh = device({ name: "omni-1.tail1234.ts.net", nodeId: "nNEW1CNTRL", addresses: ["100.64.2.2"] });
        assert.throws(
            () => hubTailnetIpv4([stale, fresh], "omni", ["tag:omni"]),
            /2 Tailscale devices have hostname "omni" and tags tag:omni, so the public record could point at a dead one: omni\.tail1234\.ts\.net \(id nOLD1CNTRL, tags tag:omni, last seen 2026-11-01T08:00:00Z\); omni-1\.tail1234\.ts\.net \(id nNEW1CNTRL.*Remove the stale device\(s\) in the Tailscale admin console.*tailscale ip -4/,
        );
        await assert.rejects(
            runHub(withCloudflare, { cloudflareApiToken: FAKE_TOKEN }, (base) => ({
                ...base,
                call: (args) => (args.token === DEVICES ? { devices: [stale, fresh] } : base.call(args)),
            })),
            /2 Tailscale devices have hostname "omni"/,
        );
        // Removing the stale one is the fix.
        assert.equal(hubTailnetIpv4([fresh], "omni", ["tag:omni"]), "100.64.2.2");
        assert.throws(
            () => hubTailnetIpv4([device({ tags: ["tag:laptop"] })], "omni", ["tag:omni"]),
            /no Tailscale device has hostname "omni" and tags tag:omni; with that hostname there are only: omni\.tail1234\.ts\.net \(id nAAAA1CNTRL, tags tag:laptop/,
        );
        assert.throws(() => hubTailnetIpv4(undefined, "omni", ["tag:omni"]), /no Tailscale device has hostname "omni"/);
    });

    it("looks again while the sidecar that just logged in is not listed yet, as getDevice's waitFor did", async () => {
        let lookups = 0;
        const { outputs } = await runHub(withCloudflare, { cloudflareApiToken: FAKE_TOKEN }, (base) => ({
            ...base,
            call: (args) => {
                if (args.token !== DEVICES) return base.call(args);
                lookups += 1;
                return { devices: lookups === 1 ? [] : [device({})] };
            },
        }));
        assert.equal(lookups, 2);
        assert.equal(outputs.tailnetAddress, "100.101.102.103");
    });

    it("picks the tailnet IPv4 and names the fix when the device has none", () => {
        assert.equal(tailnetIpv4(["fd7a:115c:a1e0::1", "100.64.0.7"], "omni"), "100.64.0.7");
        assert.throws(
            () => tailnetIpv4(["192.168.10.20"], "omni"),
            /Tailscale device "omni" has no tailnet IPv4 address \(got \["192\.168\.10\.20"\]\).*-1/,
        );
        assert.throws(() => tailnetIpv4(undefined, "omni"), /no tailnet IPv4/);
        assert.equal(
            renderDnsRecord({ zoneId: ZONE_ID, name: "omni.example.com", ttl: 120 }, "100.64.0.7").proxied,
            false,
        );
    });

    it("refuses bad settings with the key and the fix", () => {
        const issues = (edit: (hub: any) => void, secrets: Record<string, string> = {}) =>
            hubConfigIssues(edit, secrets);
        assert.deepEqual(
            issues((h) => withCloudflare(h)),
            [
                "omni-scale:cloudflareApiToken: is required with hub.dns.cloudflare: a Cloudflare API token with Zone:Read and DNS:Edit (Zone > Zone > Read, Zone > DNS > Edit) on the zone, set with `pulumi config set --secret cloudflareApiToken ...`",
            ],
        );
        const plain = hubConfig(withCloudflare, { cloudflareApiToken: FAKE_TOKEN });
        assert.throws(
            () => loadStackConfig(plain.raw, new Set()),
            /omni-scale:cloudflareApiToken: is stored in plain text; set it with `pulumi config set --secret cloudflareApiToken/,
        );
        const bad = issues(
            (h) => {
                h.dns = { cloudflare: { zoneId: "example.com", ttl: 1, proxied: true } };
            },
            { cloudflareApiToken: FAKE_TOKEN },
        );
        assert.deepEqual(bad.map((i) => i.split(": ")[0]).sort(), [
            "omni-scale:hub.dns.cloudflare.proxied",
            "omni-scale:hub.dns.cloudflare.ttl",
            "omni-scale:hub.dns.cloudflare.zoneId",
        ]);
        assert.match(bad.join("\n"), /zoneId: the zone id: 32 hex digits/);
    });

    it("keeps the TTL inside Cloudflare's range (upstream: pulumi-cloudflare v6.22.1 dnsRecord.ts)", () => {
        const parse = (ttl: number) =>
            OmniHubSettingsSchema.safeParse({ ...hubSettings, dns: { cloudflare: { zoneId: ZONE_ID, ttl } } }).success;
        assert.equal(parse(facts.cloudflareRecordTtl.min - 1), false);
        assert.equal(parse(facts.cloudflareRecordTtl.min), true);
        assert.ok(3600 <= facts.cloudflareRecordTtl.max, "the short ceiling stays inside Cloudflare's");
    });
});

describe("lazy loading of the optional providers", () => {
    it("plans both example stacks without loading @pulumi/cloudflare or @pulumiverse/acme", async () => {
        const run = await lazyPlan();
        assert.equal(run.status, 0, run.stderr);
        assert.deepEqual(JSON.parse(run.stdout.trim().split("\n").pop()!), []);
    });
});

let lazyPlanRun: ReturnType<typeof spawnOutput> | undefined;

/**
 * The plan of the lazy-loading check, in a process of its own (this one has loaded both providers): started once, by
 * the first describe's before, so that it runs beside the in-process tests rather than after them.
 */
function lazyPlan() {
    // As the plan command (main.ts) does: the providers' serialized texts from .build/closures.
    const script = `
        require("./src/plan/closure-cache").cacheProviders();
        const { planStack } = require("./src/plan/plan");
        planStack({ stack: "matrix", skipPolicies: true }).then(() => {
            const loaded = Object.keys(require.cache).filter((k) => /@pulumi[\\/]cloudflare|@pulumiverse[\\/]acme/.test(k));
            console.log(JSON.stringify(loaded));
        }, (e) => { console.error(e); process.exit(1); });`;
    return (lazyPlanRun ??= spawnOutput(
        process.execPath,
        ["-r", require.resolve("../src/plan/register"), "-e", script],
        {
            cwd: path.join(__dirname, ".."),
        },
    ));
}

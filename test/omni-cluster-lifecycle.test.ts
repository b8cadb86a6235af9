import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import {
    ClusterProps,
    clusterProvider,
    machineClassProvider,
    MachineClassProps,
    OMNI_PROVIDER_VERSION,
} from "../components/omni/omni-providers";
import { clusterState } from "../components/omni/omni-state";
import { DynamicHost, HostError, REPO, serializedProvider } from "./dynamic-host";
import {
    access,
    clusterProps,
    EXPORT,
    exported,
    printed,
    SETS,
    settled,
    StandIn,
    STATUS,
    upstream,
} from "./omni-standin";

/**
 * The cluster resource under what a real Omni v1.10.4 does (issue 28), against the stand-in omnictl: statuses that
 * lag a sync, a template without a set, changes made in Omni, a hung call, Unavailable, a revoked key. Where the
 * engine's part matters (check at preview, partial failures) the provider runs in @pulumi/pulumi's own dynamic-provider
 * host from its serialized text, as `pulumi up` loads it.
 */

const fail = (stderrFile: string) => `#!fail\n${upstream(stderrFile)}`;

/** A fixture's YAML documents edited, printed back as omnictl prints them (4-space indent). */
function edited(file: string, edit: (docs: any[]) => void): string {
    const docs = YAML.parseAllDocuments(upstream(file)).map((d) => d.toJS());
    edit(docs);
    return docs.map((d) => YAML.stringify(d, { indent: 4 })).join("---\n");
}

/** The cluster's inputs with another template. */
function withTemplate(p: ClusterProps, yaml: string, extra: Partial<ClusterProps> = {}): ClusterProps {
    return { ...p, yaml, state: clusterState(yaml), ...extra };
}

/** talos-prod-01 with its golf worker set scaled from 2 to 3. */
const scaledYaml = (yaml: string) => yaml.replace(/(name: matrix-worker-golf\n\s+size: )2/, "$13");
/** talos-prod-01 without its golf worker set. */
const withoutGolf = (yaml: string) =>
    YAML.parseAllDocuments(yaml)
        .filter((d) => d.toJS().kind !== "Workers")
        .map((d) => d.toString())
        .join("---\n");

/** What a recorded (partial) state holds, as the engine would pass it back. */
const asStored = (o: object) => JSON.parse(JSON.stringify(o));

describe("Omni cluster lifecycle under a real Omni (issue 28)", function () {
    this.timeout(60000);
    let omni: StandIn;
    beforeEach(() => (omni = new StandIn()));
    afterEach(() => omni.restore());

    describe("up says ready only for the template it synced", () => {
        it("waits past a status from before the sync (old counts, old allocation), printing what it waits for", async () => {
            // omni v1.10.4 controllers/omni/cluster_status.go and internal/machineset/status_handler.go write the
            // statuses after `cluster template sync` returns: the first reads still describe 2 golf workers.
            const olds = clusterProps("8s");
            const news = withTemplate(olds, scaledYaml(olds.yaml));
            omni.answer(EXPORT, exported);
            settled(omni);
            const stale = upstream("clusterstatus-running.yaml");
            const scaledStatus = edited("clusterstatus-running.yaml", ([d]) => {
                d.spec.machines = { total: 6, healthy: 6, connected: 6, requested: 6 };
            });
            const scaledSets = edited("machinesetstatuses-running.yaml", (docs) => {
                const golf = docs[1].spec;
                golf.machines = { total: 3, healthy: 3, connected: 3, requested: 3 };
                golf.machineallocation.machinecount = 3;
            });
            for (const n of [0, 1]) omni.answer(`${STATUS}.${n}`, stale);
            omni.answer(`${STATUS}.2`, scaledStatus);
            omni.answer(`${SETS}.2`, upstream("machinesetstatuses-running.yaml"));
            omni.answer(STATUS, scaledStatus, "sync");
            omni.answer(SETS, scaledSets, "sync");
            omni.answer(EXPORT, exported.replace(/(name: matrix-worker-golf\n\s+size: )2/, "$13"), "sync");
            omni.answer("kubeconfig", "kc");
            omni.answer("talosconfig", "tc");
            const { result, lines } = await printed(() =>
                clusterProvider.update!("talos-prod-01", { ...olds, kubeconfig: "kc", talosconfig: "tc" }, news),
            );
            const reads = omni.calls().filter((c) => c.startsWith("get clusterstatuses"));
            assert.ok(reads.length >= 4, `ready only after the statuses caught up (read ${reads.length} times)`);
            assert.match(lines.join("\n"), /still counts 5 requested machines \(template: 6\)/);
            assert.match(
                lines.join("\n"),
                /machine set talos-prod-01-worker-golf still allocates 2 from matrix-worker-golf \(template: 3 from matrix-worker-golf\)/,
            );
            assert.match(lines.at(-1)!, /ready as the template says: phase RUNNING, 6\/6 machines healthy/);
            assert.equal((result.outs as ClusterProps).status!.machines.requested, 6);
        });

        it("waits for the Talos and Kubernetes upgrades to be done at the template's versions (status.go)", async () => {
            const inputs = clusterProps("8s");
            omni.answer(EXPORT, exported);
            settled(omni);
            omni.answer(
                "get_talosupgradestatuses_talos-prod-01.0",
                edited("talosupgradestatus-done.yaml", ([d]) => {
                    Object.assign(d.spec, { phase: 1, step: "upgrading", status: "1/5 machines" });
                }),
            );
            omni.answer(
                "get_kubernetesupgradestatuses_talos-prod-01.1",
                edited("kubernetesupgradestatus-done.yaml", ([d]) => {
                    d.spec.lastupgradeversion = "1.36.1";
                }),
            );
            omni.answer("kubeconfig", "kc");
            omni.answer("talosconfig", "tc");
            const { lines } = await printed(() => clusterProvider.create!(inputs));
            assert.deepEqual(lines.slice(0, 3), [
                "cluster talos-prod-01: adopted as Omni holds it; nothing synced",
                "cluster talos-prod-01: Talos upgrade Upgrading (upgrading: 1/5 machines)",
                "cluster talos-prod-01: Kubernetes upgrade status still records v1.36.1 (template: v1.36.2)",
            ]);
            assert.match(lines[3], /ready as the template says/);
        });
    });

    describe("no silent teardown", () => {
        it("refuses a template without a set at preview (check, in the dynamic-provider host) and at up (Omni's dry run)", async () => {
            const olds = clusterProps();
            const news = withTemplate(olds, withoutGolf(olds.yaml));
            const provider = await serializedProvider(clusterProvider);
            const host = await DynamicHost.start(REPO, { ...process.env });
            try {
                const failures = await host.check({ ...olds, __provider: provider }, { ...news, __provider: provider });
                assert.equal(failures.length, 1);
                assert.equal(failures[0].property, "state");
                assert.match(
                    failures[0].reason,
                    /this sync would tear down machine set talos-prod-01-worker-golf with its machines; .*allowRemovals: true/,
                );
                const allowed = await host.check(
                    { ...olds, __provider: provider },
                    { ...news, allowRemovals: true, __provider: provider },
                );
                assert.deepEqual(allowed, []);
            } finally {
                host.stop();
            }

            // At up, the provider asks Omni what the sync would tear down (sync.go --dry-run) before syncing.
            omni.answer(EXPORT, exported);
            omni.answer("cluster_template_sync_--dry-run", upstream("sync-dry-run-remove-set.txt"));
            await assert.rejects(
                printed(() => clusterProvider.update!("talos-prod-01", olds, news)),
                /would tear down MachineSets\.omni\.sidero\.dev\(talos-prod-01-worker-golf\), ConfigPatches\.omni\.sidero\.dev\(400-talos-prod-01-worker-golf-zone\).*allowRemovals: true/,
            );
            assert.ok(!omni.calls().some((c) => /^cluster template sync -f/.test(c)), "nothing synced");
        });

        it("with allowRemovals, syncs and waits until Omni has destroyed the removed set", async () => {
            const olds = clusterProps("8s");
            const news = withTemplate(olds, withoutGolf(olds.yaml), { allowRemovals: true });
            omni.answer(EXPORT, exported);
            settled(omni);
            omni.answer(EXPORT, withoutGolf(exported), "sync");
            omni.answer(
                STATUS,
                edited("clusterstatus-running.yaml", ([d]) => {
                    d.spec.machines = { total: 3, healthy: 3, connected: 3, requested: 3 };
                }),
                "sync",
            );
            // The removed set is Destroying on the first read, gone on the second (status.go watches it until then).
            omni.answer(
                `${SETS}.0`,
                edited("machinesetstatuses-running.yaml", (docs) => {
                    docs[1].spec.phase = 4;
                    docs[1].spec.ready = false;
                }),
            );
            omni.answer(
                SETS,
                edited("machinesetstatuses-running.yaml", (docs) => docs.splice(1, 1)),
                "sync",
            );
            const { result, lines } = await printed(() =>
                clusterProvider.update!("talos-prod-01", { ...olds, kubeconfig: "kc", talosconfig: "tc" }, news),
            );
            assert.ok(!omni.calls().some((c) => c.includes("--dry-run")), "allowed: no dry run needed");
            assert.equal(omni.read("synced.yaml"), news.yaml);
            assert.match(
                lines.join("\n"),
                /machine set talos-prod-01-worker-golf \(no longer in the template\) is still Destroying/,
            );
            assert.equal((result.outs as ClusterProps).state.workers["worker-golf"], undefined);
        });

        it("refuses to sync over what someone added in Omni since the last refresh, naming it and the fix", async () => {
            const olds = clusterProps();
            const news = withTemplate(olds, scaledYaml(olds.yaml));
            const added = `${exported}---\nkind: Workers\nname: worker-hotel\nmachineClass:\n  name: matrix-worker-golf\n  size: 1\n`;
            omni.answer(EXPORT, added);
            await assert.rejects(
                printed(() => clusterProvider.update!("talos-prod-01", olds, news)),
                /cluster talos-prod-01 changed in Omni since Pulumi last read it \(state\.workers\["worker-hotel"\] \(added\) differ from the state\).*Run `pulumi refresh` first/,
            );
            assert.deepEqual(omni.calls(), ["cluster template export -c talos-prod-01"], "no dry run, no sync");
        });
    });

    describe("failures after the sync are recorded", () => {
        it("a hung status call ends at readyTimeout, and the host reports the cluster created with its state; the next up finishes it", async () => {
            const inputs = clusterProps("2s");
            const provider = await serializedProvider(clusterProvider);
            omni.answer(EXPORT, exported, "sync");
            settled(omni);
            omni.answer(STATUS, "#!hang\n");
            omni.answer("kubeconfig", "kc");
            omni.answer("talosconfig", "tc");
            // The provider as the host loads it (`requireFromString(props.__provider).handler()`), called with the
            // properties the host passes. The host itself cannot be asked here: the error's properties (the ~60 kB
            // provider text among them) travel in one gRPC trailer, which grpc-go (the engine) takes but Node's
            // HTTP/2 client refuses above 64 kB; the host's handling of such an error is shown below with a small one.
            // eslint-disable-next-line @typescript-eslint/no-var-requires
            const hosted = require("require-from-string")(provider).handler();
            const created = await printed(() => hosted.create({ ...inputs, __provider: provider })).then(
                () => assert.fail("must fail"),
                (e) => e as Error & { id?: string; properties?: Record<string, any> },
            );
            assert.equal(created.id, "talos-prod-01", `a partial failure, not a plain error: ${created.message}`);
            const stored = created.properties!;
            assert.match(
                created.message,
                /is not ready after 2s \(readyTimeout\).*did not answer within \d+s and was stopped/,
            );
            assert.match(created.message, /Pulumi recorded cluster talos-prod-01/);
            assert.equal(stored.__provider, provider, "refresh and destroy find the provider in the stored state");
            const host = await DynamicHost.start(REPO, { ...process.env });
            try {
                // cmd/dynamic-provider grpcResponseFromError: an error with `id` becomes ErrorResourceInitFailed.
                const small = `exports.handler = () => ({ async create(p) { throw Object.assign(new Error("not ready"), { id: "c", properties: { ...p, unfinished: "x" }, reasons: ["not ready"] }); } });`;
                const recorded = (await host.create({ name: "c", __provider: small })) as HostError;
                assert.deepEqual(recorded.initFailed, {
                    id: "c",
                    properties: { name: "c", __provider: small, unfinished: "x" },
                    reasons: ["not ready"],
                });
                assert.deepEqual(stored.state, asStored(inputs.state), "the state is the template synced");
                assert.match(stored.unfinished, /did not answer/);

                // The engine updates a resource with init errors even when the diff shows no change
                // (pulumi/pulumi step_generator.go); the update waits again and finishes.
                assert.deepEqual(await host.diff("talos-prod-01", stored, { ...inputs, __provider: provider }), {
                    changes: false,
                });
                settled(omni);
                const syncs = omni.calls().filter((c) => /^cluster template sync/.test(c)).length;
                const updated = (await host.update("talos-prod-01", stored, { ...inputs, __provider: provider })) as {
                    properties: Record<string, any>;
                };
                assert.ok(updated.properties, JSON.stringify(updated));
                assert.equal(updated.properties.unfinished, undefined);
                assert.equal(updated.properties.status.phase, "RUNNING");
                assert.equal(updated.properties.kubeconfig, "kc");
                assert.equal(
                    omni.calls().filter((c) => /^cluster template sync/.test(c)).length,
                    syncs,
                    "not synced again",
                );
                assert.match(
                    (await host.printedLine(/did not finish/)) ?? "",
                    /cluster talos-prod-01: the last `up` did not finish \(.*\); waiting again/,
                    "the engine shows the provider's stdout",
                );
            } finally {
                host.stop();
            }
        });

        it("a sync that fails after creating the cluster is recorded as Omni exports it", async () => {
            const inputs = clusterProps();
            omni.answer("cluster_template_sync", fail("unavailable.stderr"));
            omni.answer(`${EXPORT}.0`, "#!fail\nError: rpc error: code = NotFound desc = resource doesn't exist\n");
            omni.answer(EXPORT, withoutGolf(exported));
            const error = await printed(() => clusterProvider.create!(inputs)).then(
                () => assert.fail("must fail"),
                (e) => e as Error & { id?: string; properties?: ClusterProps },
            );
            assert.match(error.message, /omnictl cluster template sync failed: Error: rpc error: code = Unavailable/);
            assert.equal(error.id, "talos-prod-01");
            assert.deepEqual(error.properties!.state, asStored(clusterState(withoutGolf(exported))));
        });
    });

    describe("bounded, retried calls", () => {
        it("retries Unavailable within the wait, printing what Omni said", async () => {
            omni.answer(EXPORT, exported);
            settled(omni);
            omni.answer(`${STATUS}.0`, fail("unavailable.stderr"));
            omni.answer("kubeconfig", "kc");
            omni.answer("talosconfig", "tc");
            const { result, lines } = await printed(() => clusterProvider.create!(clusterProps("8s")));
            assert.equal((result.outs as ClusterProps).status!.phase, "RUNNING");
            assert.match(
                lines.join("\n"),
                /omnictl get clusterstatuses talos-prod-01: Error: rpc error: code = Unavailable desc = unexpected HTTP status code received from server: 502 \(Bad Gateway\).*; trying again \(attempt 2\)/,
            );
        });

        it("fails at once on a refused key, naming the order that fixes it (refresh and destroy after a key rotation)", async () => {
            omni.answer(EXPORT, fail("unauthenticated.stderr"));
            omni.answer("cluster_template_delete", fail("unauthenticated.stderr"));
            const stored = { ...clusterProps(), serviceAccountKey: "offline-revoked-key" };
            const order =
                /Omni refused the automation key .*missing valid signature.*run `pulumi up` on this stack first \(it stores the hub's current automationKey without changing anything in Omni\), then `pulumi refresh` or `pulumi destroy`/;
            await assert.rejects(clusterProvider.read!("talos-prod-01", stored), order);
            await assert.rejects(clusterProvider.delete!("talos-prod-01", stored), order);
            assert.equal(omni.calls().length, 2, "no retries");
            const classProps = { kind: "omni-machine-class", classId: "cp", ...access } as MachineClassProps;
            omni.answer("get_machineclasses_cp", fail("unauthenticated.stderr"));
            await assert.rejects(machineClassProvider.read!("cp", classProps), order);
        });

        it("bounds destroy by readyTimeout, with the option for disconnected machines", async () => {
            omni.answer("cluster_template_delete", "#!hang\n");
            const stored = clusterProps("1s");
            await assert.rejects(
                printed(() => clusterProvider.delete!("talos-prod-01", stored)),
                /cluster talos-prod-01 is not torn down after 1s \(readyTimeout\).*destroyDisconnectedMachines: true/,
            );
            await clusterProvider.delete!("talos-prod-01", { ...stored, destroyDisconnectedMachines: true });
            assert.match(omni.calls().at(-1)!, /^cluster template delete --destroy-disconnected-machines -f \S+$/);
        });

        it("gives every run a private omniconfig naming the endpoint, removed afterwards, and writes nothing to HOME", async () => {
            omni.answer(EXPORT, exported);
            await clusterProvider.read!("talos-prod-01", clusterProps());
            await clusterProvider.read!("talos-prod-01", clusterProps());
            const configs = omni.omniconfigs();
            assert.equal(configs.length, 4);
            const paths = new Set(configs.map((c) => c.split(" ")[0]));
            assert.equal(paths.size, 4, "one per run");
            for (const c of configs) {
                const [file, ...content] = c.split(" ");
                assert.ok(file.startsWith(path.join(os.tmpdir(), "omni-scale-")), file);
                assert.equal(
                    content.join(" "),
                    "context: default contexts:   default:     url: https://omni.example.internal ",
                );
                assert.ok(!fs.existsSync(file), "removed after the run");
            }
            assert.deepEqual(fs.readdirSync(omni.home), [], "the user's HOME is untouched");
        });
    });

    describe("the provider-code version", () => {
        it("makes the first up after an upgrade a no-op update that stores the new provider", async () => {
            omni.answer(STATUS, upstream("clusterstatus-running.yaml"));
            const stored: ClusterProps = { ...clusterProps(), kubeconfig: "kc", talosconfig: "tc" };
            delete stored.providerVersion; // written by a version before the input existed
            const news = { ...clusterProps(), providerVersion: OMNI_PROVIDER_VERSION };
            assert.deepEqual(await clusterProvider.diff!("talos-prod-01", stored, news), { changes: true });
            const { outs } = await clusterProvider.update!("talos-prod-01", stored, news);
            assert.equal(outs!.providerVersion, OMNI_PROVIDER_VERSION);
            assert.deepEqual(omni.calls(), ["get clusterstatuses talos-prod-01 -o yaml"], "nothing synced");
            assert.deepEqual(await clusterProvider.diff!("talos-prod-01", outs!, news), { changes: false });
        });

        it("is raised with every change to the providers' code", () => {
            const files = [
                "omni/omni-providers.ts",
                "omni/omni-state.ts",
                "omni/cluster-readiness.ts",
                "omni/omnictl-run.ts",
                "core/yaml-read.ts",
            ];
            const hash = crypto.createHash("sha256");
            for (const f of files) hash.update(fs.readFileSync(path.join(REPO, "components", f)));
            const recorded = JSON.parse(
                fs.readFileSync(path.join(__dirname, "fixtures", "omni-provider-code.json"), "utf8"),
            );
            assert.deepEqual(
                { version: OMNI_PROVIDER_VERSION, sha256: hash.digest("hex") },
                { version: recorded.version, sha256: recorded.sha256 },
                "the providers' code changed: raise OMNI_PROVIDER_VERSION (components/omni/omni-providers.ts) and record it with the new hash in test/fixtures/omni-provider-code.json",
            );
        });
    });
});

import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { renderMachineClass } from "../components/omni/machine-class-render";
import {
    ClusterProps,
    clusterProvider,
    MachineClassProps,
    machineClassProvider,
} from "../components/omni/omni-providers";
import { changedFields, machineClassState } from "../components/omni/omni-state";
import {
    access,
    classAsOmniPrints,
    clusterProps,
    EXPORT,
    exported,
    printed,
    settled,
    STATUS,
    StandIn,
    upstream,
} from "./omni-standin";

/** The dynamic providers against a stand-in omnictl on PATH (test/omni-standin.ts), as `up` and `refresh` drive them. */

const classYaml = renderMachineClass({
    name: "cp",
    providerId: "matrix-cluster",
    providerData: { cores: 4, memory: 8192, disk_size: 40, storage_selector: 'name == "local-lvm"' },
}).yaml;
const classProps = (yaml = classYaml, providerTimeoutSeconds = 5): MachineClassProps => ({
    kind: "omni-machine-class",
    classId: "cp",
    providerId: "matrix-cluster",
    yaml,
    state: machineClassState(yaml),
    providerTimeoutSeconds,
    ...access,
});

describe("Omni dynamic providers against a stand-in omnictl", function () {
    this.timeout(30000);
    let omni: StandIn;
    beforeEach(() => {
        omni = new StandIn();
        omni.answer("get_infraproviderstatuses_matrix-cluster", "");
    });
    afterEach(() => omni.restore());

    describe("machine class", () => {
        it("waits for the provider, applies from a private file, and reads back with no diff", async () => {
            // The provider registers between the first and the second look.
            fs.rmSync(path.join(omni.state, "get_infraproviderstatuses_matrix-cluster"));
            omni.answer("get_infraproviderstatuses_matrix-cluster.1", "");
            omni.answer("get_machineclasses_cp", classAsOmniPrints(classYaml), "apply");
            const inputs = classProps();
            const { result, lines } = await printed(() => machineClassProvider.create!(inputs));
            const { id, outs } = result;
            assert.deepEqual(lines, [
                "machine class cp: waiting up to 5s for infra provider matrix-cluster to register with Omni",
            ]);
            assert.equal(id, "cp");
            assert.equal(omni.read("applied.yaml"), classYaml);
            assert.deepEqual(omni.calls(), [
                "get machineclasses cp -o yaml",
                "get infraproviderstatuses matrix-cluster",
                "get infraproviderstatuses matrix-cluster",
                `apply -f ${omni.calls()[3].split(" ")[2]}`,
                "get machineclasses cp -o yaml",
            ]);
            assert.ok(!omni.calls().join(" ").includes(access.serviceAccountKey), "the key is never an argument");
            assert.ok(omni.environments().every((e) => e === `${access.omniEndpoint} ${access.serviceAccountKey}`));
            assert.ok(!fs.existsSync(omni.calls()[3].split(" ")[2]), "the file is removed");
            assert.deepEqual(await machineClassProvider.diff!("cp", outs!, inputs), { changes: false });
        });

        it("fails after the provider timeout naming the provider id, what to check and Omni's answer", async () => {
            fs.rmSync(path.join(omni.state, "get_infraproviderstatuses_matrix-cluster"));
            await assert.rejects(
                printed(() => machineClassProvider.create!(classProps(classYaml, 1))),
                /infra provider matrix-cluster has not registered with Omni within 1s.*docker logs.*omnictl said: Error: rpc error: code = NotFound/s,
            );
            assert.ok(!omni.calls().some((c) => c.startsWith("apply")));
        });

        it("refresh records a class changed in Omni, and the next diff names the fields", async () => {
            const inputs = classProps();
            omni.answer(
                "get_machineclasses_cp",
                classAsOmniPrints(classYaml.replace("memory: 8192", "memory: 4096"), 2),
            );
            const read = await machineClassProvider.read!("cp", inputs);
            assert.equal(read.id, "cp");
            assert.equal((read.props as MachineClassProps).state.providerData.memory, 4096);
            assert.deepEqual((read.inputs as MachineClassProps).state, (read.props as MachineClassProps).state);
            const diff = await machineClassProvider.diff!("cp", read.props as MachineClassProps, inputs);
            assert.equal(diff.changes, true);
            assert.deepEqual(changedFields((read.props as MachineClassProps).state, inputs.state, "state"), {
                "state.providerData.memory": "update",
            });
            // The update applies the stack's version again.
            omni.answer("get_machineclasses_cp", classAsOmniPrints(classYaml, 3), "apply");
            const { result, lines } = await printed(() =>
                machineClassProvider.update!("cp", read.props as MachineClassProps, inputs),
            );
            const outs = result.outs;
            assert.deepEqual(lines, ["machine class cp: applying state.providerData.memory"]);
            assert.equal(omni.read("applied.yaml"), classYaml);
            assert.deepEqual(await machineClassProvider.diff!("cp", outs!, inputs), { changes: false });
        });

        it("refresh of a class deleted in Omni drops it from the state", async () => {
            assert.deepEqual(await machineClassProvider.read!("cp", classProps()), {});
        });

        it("adopts an identical existing class without writing, and refuses a different one naming the fields", async () => {
            omni.answer("get_machineclasses_cp", classAsOmniPrints(classYaml));
            const { lines } = await printed(() => machineClassProvider.create!(classProps()));
            assert.ok(!omni.calls().some((c) => c.startsWith("apply")), "a provable no-op: nothing applied");
            assert.match(lines.join("\n"), /machine class cp: adopted as Omni holds it; nothing applied/);

            omni.answer("get_machineclasses_cp", classAsOmniPrints(classYaml.replace("cores: 4", "cores: 2")));
            await assert.rejects(
                machineClassProvider.create!(classProps()),
                /machine class cp already exists in Omni and differs from the stack in state\.providerData\.cores.*omnictl get machineclasses cp -o yaml/,
            );
            assert.ok(!omni.calls().some((c) => c.startsWith("apply")));
        });

        it("stores a renewed automation key without applying anything, so refresh and delete use it", async () => {
            omni.answer("get_machineclasses_cp", classAsOmniPrints(classYaml), "apply");
            const { outs } = (await printed(() => machineClassProvider.create!(classProps()))).result;
            const renewed = { ...outs!, serviceAccountKey: "offline-renewed-service-account-key" };
            assert.deepEqual(await machineClassProvider.diff!("cp", outs!, renewed), { changes: true });
            const before = omni.calls().length;
            const updated = (await machineClassProvider.update!("cp", outs!, renewed)).outs!;
            assert.deepEqual(omni.calls().slice(before), [], "nothing applied");
            assert.equal(updated.serviceAccountKey, "offline-renewed-service-account-key");
            await machineClassProvider.read!("cp", updated);
            assert.equal(omni.environments().at(-1), `${access.omniEndpoint} offline-renewed-service-account-key`);
        });

        it("replaces only when the id changes; deletes by id and tolerates a class already gone", async () => {
            const a = classProps();
            assert.deepEqual(await machineClassProvider.diff!("cp", a, { ...a, classId: "cp2" }), {
                changes: true,
                replaces: ["classId"],
            });
            await machineClassProvider.delete!("cp", a);
            assert.deepEqual(omni.calls().slice(-1), ["delete machineclasses cp"]);
        });
    });

    describe("cluster", () => {
        it("syncs, waits until ready printing progress, issues the configs, and reads back with no diff", async () => {
            omni.answer(EXPORT, exported, "sync");
            settled(omni);
            // No status at first (NotFound), then scaling up twice, then running.
            fs.rmSync(path.join(omni.state, STATUS));
            omni.answer(`${STATUS}.1`, upstream("clusterstatus-scaling-up.yaml"));
            omni.answer(`${STATUS}.2`, upstream("clusterstatus-scaling-up.yaml"));
            omni.answer(`${STATUS}.3`, upstream("clusterstatus-running.yaml"));
            omni.answer("kubeconfig", upstream("kubeconfig-service-account.yaml"));
            omni.answer("talosconfig", upstream("talosconfig.yaml"));
            const inputs = clusterProps("8s");
            const { result, lines } = await printed(() => clusterProvider.create!(inputs));
            const outs = result.outs as ClusterProps;
            assert.equal(result.id, "talos-prod-01");
            assert.equal(omni.read("synced.yaml"), inputs.yaml);
            assert.deepEqual(lines, [
                "cluster talos-prod-01: Omni reports no cluster status yet",
                "cluster talos-prod-01: cluster phase SCALING_UP, 1/5 machines healthy (2 connected), Kubernetes API not ready, control plane not ready",
                "cluster talos-prod-01: ready as the template says: phase RUNNING, 5/5 machines healthy (5 connected), Kubernetes API ready, control plane ready",
            ]);
            assert.equal(outs.status!.phase, "RUNNING");
            assert.equal(outs.kubeconfig, upstream("kubeconfig-service-account.yaml"));
            assert.equal(outs.talosconfig, upstream("talosconfig.yaml"));
            assert.ok(
                omni.calls().includes(
                    `kubeconfig ${
                        omni
                            .calls()
                            .find((c) => c.startsWith("kubeconfig"))!
                            .split(" ")[1]
                    } --cluster talos-prod-01 --service-account --user pulumi --groups system:masters --ttl 8760h --merge=false --force`,
                ),
            );
            assert.deepEqual(await clusterProvider.diff!("talos-prod-01", outs, inputs), { changes: false });
        });

        it("times out with Omni's reason and what to check", async () => {
            omni.answer(EXPORT, exported, "sync");
            settled(omni);
            omni.answer(STATUS, upstream("clusterstatus-scaling-up.yaml"));
            omni.answer(
                "get_clustermachinerequeststatuses_-l_omni.sidero.dev_cluster=talos-prod-01",
                upstream("clustermachinerequeststatuses-failed.yaml"),
            );
            omni.answer(
                "get_machinesetstatuses_-l_omni.sidero.dev_cluster=talos-prod-01",
                upstream("machinesetstatuses.yaml"),
            );
            const { result } = await printed(() =>
                clusterProvider.create!(clusterProps("1s")).then(
                    () => assert.fail("must time out"),
                    (e: Error) => e,
                ),
            );
            assert.match(
                result.message,
                /cluster talos-prod-01 is not ready after 1s \(readyTimeout\): cluster phase SCALING_UP, 1\/5 machines healthy/,
            );
            assert.match(
                result.message,
                /Omni says: machine request talos-prod-01-worker-foxtrot-4b9c2 \(failed\): Provision Failed: failed to get storage: failed to pick the disk: no matches for the condition/,
            );
            assert.match(result.message, /check the machine class's storage_selector matches no storage/);
            assert.match(result.message, /`pulumi up` again waits again; raise readyTimeout/);
        });

        it("adopts an identical existing cluster without syncing (a provable no-op first apply)", async () => {
            omni.answer(EXPORT, exported);
            settled(omni);
            omni.answer("kubeconfig", upstream("kubeconfig-service-account.yaml"));
            omni.answer("talosconfig", upstream("talosconfig.yaml"));
            const { result } = await printed(() => clusterProvider.create!(clusterProps()));
            assert.ok(!omni.calls().some((c) => c.startsWith("cluster template sync")));
            assert.equal((result.outs as ClusterProps).status!.ready, true);
        });

        it("refresh records a cluster changed in Omni; the next diff names the fields; update syncs it back", async () => {
            const inputs = clusterProps();
            const changed = exported.replace("size: 2", "size: 4").replace("version: v1.13.6", "version: v1.13.7");
            omni.answer(EXPORT, changed);
            omni.answer(STATUS, upstream("clusterstatus-running.yaml"));
            const last = { ...inputs, status: undefined, kubeconfig: "kc", talosconfig: "tc" };
            const read = await clusterProvider.read!("talos-prod-01", last);
            const props = read.props as ClusterProps;
            assert.equal(props.kubeconfig, "kc", "refresh keeps the issued configs");
            assert.equal(props.status!.phase, "RUNNING");
            assert.equal((read.inputs as ClusterProps).kubeconfig, undefined, "configs are outputs, not inputs");
            assert.deepEqual(changedFields(props.state, inputs.state, "state"), {
                "state.talosVersion": "update",
                'state.workers["worker-golf"].size': "update",
            });
            assert.equal((await clusterProvider.diff!("talos-prod-01", props, inputs)).changes, true);

            settled(omni);
            omni.answer(EXPORT, exported, "sync");
            // Omni holds what the refresh read (no drift) and the dry run tears nothing down.
            omni.answer(EXPORT, changed);
            const { result, lines } = await printed(() => clusterProvider.update!("talos-prod-01", props, inputs));
            assert.equal(omni.read("synced.yaml"), inputs.yaml);
            assert.equal(
                lines[0],
                'cluster talos-prod-01: applying state.talosVersion, state.workers["worker-golf"].size',
                "the `up` output names what is put back",
            );
            assert.equal((result.outs as ClusterProps).kubeconfig, "kc", "same kubeconfig settings: not reissued");
            assert.deepEqual(await clusterProvider.diff!("talos-prod-01", result.outs as ClusterProps, inputs), {
                changes: false,
            });
        });

        it("reissues the configs when kubeconfigRotation is bumped, without syncing", async () => {
            omni.answer(STATUS, upstream("clusterstatus-running.yaml"));
            omni.answer("kubeconfig", "new kubeconfig");
            omni.answer("talosconfig", "new talosconfig");
            const olds = { ...clusterProps(), kubeconfig: "old", talosconfig: "old" };
            const news = { ...olds, kubeconfigRotation: 1 };
            assert.equal((await clusterProvider.diff!("talos-prod-01", olds, news)).changes, true);
            const { outs } = await clusterProvider.update!("talos-prod-01", olds, news);
            assert.equal(outs!.kubeconfig, "new kubeconfig");
            assert.ok(!omni.calls().some((c) => c.startsWith("cluster template sync")));
        });

        it("replaces on a new name, and deletes with the template last synced", async () => {
            const olds = clusterProps();
            assert.deepEqual(await clusterProvider.diff!("talos-prod-01", olds, { ...olds, name: "talos-prod-02" }), {
                changes: true,
                replaces: ["name"],
            });
            await clusterProvider.delete!("talos-prod-01", olds);
            assert.equal(omni.read("deleted.yaml"), olds.yaml);
            assert.match(omni.calls().slice(-1)[0], /^cluster template delete -f /);
        });
    });

    it("the talosconfig Omni issues holds no key: talosctl needs the service-account key in its environment", () => {
        const talosconfig = YAML.parse(upstream("talosconfig.yaml"));
        const ctx = talosconfig.contexts[talosconfig.context];
        assert.deepEqual(Object.keys(ctx.auth), ["siderov1"]);
        assert.equal(ctx.auth.siderov1.identity, "automation@serviceaccount.omni.sidero.dev");
        assert.equal(ctx.endpoints[0], "https://omni.example.com");
    });
});

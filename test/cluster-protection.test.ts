import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { renderClusterTemplate } from "../components/omni/cluster-render";
import { renderMachineClass } from "../components/omni/machine-class-render";
import { clusterProvider, machineClassProvider } from "../components/omni/omni-providers";
import { isSecret } from "../src/plan/capture";
import { planStack } from "../src/plan/plan";
import { examplePlan } from "./plan-run";
import { assertViolation, violationsOf } from "./policy-helpers";
import { editedStacks, removeStackDirs } from "./stack-files";

/** No accidental teardown: the program, the resource options and the policies. */

const previous = (outputs: Record<string, unknown>) => ({ outputs, secretOutputNames: [] });
const deployed = (extra: Record<string, unknown> = {}) =>
    previous({
        clusters: ["talos-prod-01", "talos-old"],
        machineClasses: ["matrix-control-plane"],
        protectedClusters: ["talos-prod-01", "talos-old"],
        clusterStatus: { "talos-old": { machines: { total: 4 } } },
        omniResources: 2,
        ...extra,
    });

describe("no accidental teardown of clusters", function () {
    this.timeout(120000);
    after(removeStackDirs);

    it("refuses an `up` that would delete a deployed, protected cluster, saying what and how to do it on purpose", async () => {
        await assert.rejects(
            planStack({ stack: "matrix", skipPolicies: true, previousOutputs: deployed() }),
            (e: Error) =>
                e.name === "ConfigError" &&
                /omni-scale:clusters: cluster talos-old is deployed by stack matrix and protected/.test(e.message) &&
                /delete cluster talos-old in Omni with its 4 machine\(s\)/.test(e.message) &&
                /put its entry back with allowDestroy: true, run `pulumi up`, then remove it/.test(e.message),
        );
    });

    it("refuses a rename (a new cluster in Omni, the old one deleted) unless the old one was released", async () => {
        const renamed = editedStacks({
            matrix: (c) => {
                c["omni-scale:clusters"][0].name = "talos-prod-02";
            },
        });
        const last = deployed({ clusters: ["talos-prod-01"], protectedClusters: ["talos-prod-01"] });
        await assert.rejects(
            planStack({ stack: "matrix", configFile: renamed.matrix, skipPolicies: true, previousOutputs: last }),
            (e: Error) => /cluster talos-prod-01 .*renamed to talos-prod-02/s.test(e.message),
        );
        // Released: the last `up` ran with allowDestroy: true, so it is no longer in protectedClusters.
        const released = deployed({ clusters: ["talos-prod-01"], protectedClusters: [] });
        const plan = await planStack({
            stack: "matrix",
            configFile: renamed.matrix,
            skipPolicies: true,
            previousOutputs: released,
        });
        assert.deepEqual((plan.outputs as any).protectedClusters, ["talos-prod-02"]);
    });

    it("releases a cluster with allowDestroy: unprotected resource, left out of protectedClusters", async () => {
        const files = editedStacks({
            matrix: (c) => {
                c["omni-scale:clusters"][0].allowDestroy = true;
            },
        });
        const plan = await planStack({ stack: "matrix", configFile: files.matrix, skipPolicies: true });
        const cluster = plan.resources.find((r) => r.name === "talos-prod-01-cluster")!;
        assert.equal(cluster.protect, false);
        assert.deepEqual((plan.outputs as any).protectedClusters, []);
        const protectedPlan = await examplePlan("matrix");
        assert.equal(protectedPlan.resources.find((r) => r.name === "talos-prod-01-cluster")!.protect, true);
    });

    it("moves a stack deployed with omnictl commands over without running their deletes", async () => {
        const legacy = previous({
            clusters: ["talos-prod-01"],
            machineClasses: ["matrix-control-plane", "matrix-worker-foxtrot", "gone"],
        });
        const plan = await planStack({ stack: "matrix", skipPolicies: true, previousOutputs: legacy });
        const commands = plan.resources.filter(
            (r) => r.type === "command:local:Command" && /-(sync|apply)$/.test(r.name),
        );
        assert.deepEqual(commands.map((c) => c.name).sort(), [
            "matrix-control-plane-apply",
            "matrix-worker-foxtrot-apply",
            "talos-prod-01-sync",
        ]);
        for (const c of commands) {
            assert.equal(c.inputs.create, "true");
            assert.equal(c.inputs.update, "true", "an update, never a replacement (which would run the old delete)");
            assert.equal(c.inputs.delete, "true");
            assert.equal(c.retainOnDelete, true);
            // The URN the old command has: under its component, same name, same triggers (no replacement).
            const id = c.name.replace(/-(sync|apply)$/, "");
            assert.deepEqual(c.inputs.triggers, [id]);
            assert.match(c.parent!, new RegExp(`::${id}$`));
        }
        assert.equal((plan.outputs as any).omniResources, 2);
        // Every cluster of a legacy stack counts as protected.
        const removed = editedStacks({ matrix: (c) => (c["omni-scale:clusters"] = []) });
        await assert.rejects(
            planStack({ stack: "matrix", configFile: removed.matrix, skipPolicies: true, previousOutputs: legacy }),
            /cluster talos-prod-01 is deployed by stack matrix and protected/,
        );
    });
});

describe("the workload stack's outputs for the next stack", function () {
    this.timeout(120000);

    it("exports each cluster's kubeconfig and talosconfig as secrets, its status in the clear", async () => {
        const { outputs } = await examplePlan("matrix");
        const o = outputs as Record<string, unknown>;
        for (const key of ["kubeconfigs", "talosconfigs"]) {
            assert.ok(isSecret(o[key]), `${key} is a secret output`);
            const value = (o[key] as { value: Record<string, string> }).value;
            assert.deepEqual(Object.keys(value), ["talos-prod-01"]);
            assert.ok(value["talos-prod-01"].length > 0);
        }
        assert.ok(!isSecret(o.clusterStatus));
        assert.deepEqual((o.clusterStatus as any)["talos-prod-01"].machines.requested, 6);
        assert.deepEqual(o.protectedClusters, ["talos-prod-01"]);
    });
});

describe("policies: protected clusters and the classes they use", () => {
    class Dynamic extends pulumi.dynamic.Resource {}
    const classYaml = (name: string) =>
        renderMachineClass({
            name,
            providerId: "proxmox",
            providerData: { cores: 2, memory: 4096, disk_size: 20, storage_selector: 'name == "local-lvm"' },
        }).yaml;
    const template = renderClusterTemplate(
        { name: "dev", controlPlane: { machineClass: "cp", size: 1 }, workers: [{ machineClass: "w", size: 1 }] },
        ["cp", "w"],
    ).yaml;
    const cluster = (protect: boolean, allowDestroy: boolean) =>
        new Dynamic(
            clusterProvider,
            "dev-cluster",
            { kind: "omni-cluster", name: "dev", yaml: template, allowDestroy },
            { protect },
        );
    const machineClass = (name: string, yaml = classYaml(name)) =>
        new Dynamic(machineClassProvider, `${name}-class`, { kind: "omni-machine-class", classId: name, yaml });

    it("omni-cluster-protected: an unprotected cluster is refused unless its spec allows destroying it", async () => {
        const program = (protect: boolean, allowDestroy: boolean) => () => {
            machineClass("cp");
            machineClass("w");
            cluster(protect, allowDestroy);
        };
        await assertViolation(
            "omni-cluster-protected",
            "dev-cluster",
            program(false, false),
            /cluster dev is not protected/,
        );
        assert.deepEqual(await violationsOf("omni-cluster-protected", program(true, false)), []);
        assert.deepEqual(await violationsOf("omni-cluster-protected", program(false, true)), []);
    });

    it("omni-cluster-classes-present: a cluster's classes stay while it uses them", async () => {
        await assertViolation(
            "omni-cluster-classes-present",
            "dev-cluster",
            () => {
                machineClass("cp");
                cluster(true, false);
            },
            /cluster dev allocates from machine class\(es\) w, which this stack does not define/,
        );
    });

    it("machine-class-provider-data reads the class a dynamic resource holds", async () => {
        const found = await violationsOf("machine-class-provider-data", () =>
            machineClass("cp", classYaml("cp").replace("disk_size: 20", "disk_sise: 20")),
        );
        assert.deepEqual(
            found.map((v) => [v.resourceName, v.message.split("\n")[1]]),
            [["cp-class", "providerdata.disk_sise: unknown key `disk_sise`: did you mean `disk_size`?"]],
        );
    });
});

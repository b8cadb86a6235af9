import { strict as assert } from "node:assert";
import * as YAML from "yaml";
import { ClusterSpec, renderClusterTemplate } from "../components/omni/cluster-render";
import { clusterState } from "../components/omni/omni-state";
import { OmniCluster } from "../components/omni/cluster";
import { OmniMachineClass } from "../components/omni/machine-class";
import { ConfigError } from "../components/core/validation";
import { access, assertSecretAccess, classSpec, clusterSpec, run } from "./omni-commands";

describe("OmniCluster", () => {
    /** Three classes, two clusters: each cluster uses cp and one worker class. */
    const twoClusters = (asMap: boolean) => () => {
        const classes = ["cp", "small", "large"].map((n) => new OmniMachineClass(n, { spec: classSpec(n), ...access }));
        const machineClasses = asMap ? Object.fromEntries(classes.map((c) => [c.id, c])) : classes;
        new OmniCluster("dev", { spec: clusterSpec("dev", "small"), machineClasses, ...access });
        new OmniCluster("prod", { spec: clusterSpec("prod", "large", 3), machineClasses, ...access });
    };

    it("holds the template and its comparable state in a protected dynamic resource, access as secrets", async () => {
        const { find } = await run(twoClusters(false));
        const component = find("prod");
        const r = find("prod-cluster");
        assert.equal(component.type, "omni-scale:omni:OmniCluster");
        assert.equal(r.type, "pulumi-nodejs:dynamic:Resource");
        assert.equal(r.parent, component.urn);
        assert.equal(r.inputs.kind, "omni-cluster");
        assert.equal(r.inputs.name, "prod");
        const docs = YAML.parseAllDocuments(String(r.inputs.yaml)).map((d) => d.toJS());
        assert.deepEqual(
            docs.map((d) => d.kind),
            ["Cluster", "ControlPlane", "Workers"],
        );
        assert.deepEqual(docs[2].machineClass, { name: "large", size: 3 });
        assert.deepEqual(r.inputs.state, clusterState(String(r.inputs.yaml)));
        assert.equal(r.inputs.readyTimeout, "30m");
        assert.deepEqual(r.inputs.kubeconfigOptions, { user: "pulumi", groups: ["system:masters"], ttl: "8760h" });
        assert.equal(r.protect, true, "a cluster is protected unless its spec says allowDestroy");
        for (const key of ["kubeconfig", "talosconfig"]) assert.ok(r.additionalSecretOutputs.includes(key));
        assertSecretAccess(r);
    });

    it("is unprotected only with allowDestroy, and takes readyTimeout and kubeconfig settings from the spec", async () => {
        const { find } = await run(() => {
            const classes = ["cp", "small"].map((n) => new OmniMachineClass(n, { spec: classSpec(n), ...access }));
            const spec: ClusterSpec = {
                ...clusterSpec("dev", "small"),
                allowDestroy: true,
                readyTimeout: "1h",
                kubeconfig: { user: "ci", groups: ["deployers"], ttl: "720h" },
                kubeconfigRotation: 2,
            };
            new OmniCluster("dev", { spec, machineClasses: classes, ...access });
        });
        const r = find("dev-cluster");
        assert.equal(r.protect, false);
        assert.equal(r.inputs.readyTimeout, "1h");
        assert.deepEqual(r.inputs.kubeconfigOptions, { user: "ci", groups: ["deployers"], ttl: "720h" });
        assert.equal(r.inputs.kubeconfigRotation, 2);
        assert.doesNotMatch(String(r.inputs.yaml), /allowDestroy|readyTimeout|kubeconfig/, "not part of the template");
    });

    it("refuses a kubeconfig ttl Omni would refuse", () => {
        assert.throws(
            () =>
                renderClusterTemplate({ ...clusterSpec("dev", "small"), kubeconfig: { ttl: "87601h" } }, [
                    "cp",
                    "small",
                ]),
            (e: unknown) => e instanceof ConfigError && /kubeconfig\.ttl.*87600h/.test(e.message),
        );
    });

    it("depends only on its own machine classes; classes do not wait for each other", async () => {
        for (const asMap of [false, true]) {
            const { find } = await run(twoClusters(asMap));
            const cls = (n: string) => find(`${n}-class`).urn;
            const devDeps = find("dev-cluster").dependsOn;
            const prodDeps = find("prod-cluster").dependsOn;
            assert.ok(devDeps.includes(cls("cp")) && devDeps.includes(cls("small")), devDeps.join("\n"));
            assert.ok(!devDeps.includes(cls("large")), "dev must not wait for (or block the deletion of) prod's class");
            assert.ok(prodDeps.includes(cls("cp")) && prodDeps.includes(cls("large")));
            assert.ok(!prodDeps.includes(cls("small")));
            for (const n of ["cp", "small", "large"]) assert.deepEqual(find(`${n}-class`).dependsOn, []);
        }
    });

    it("exposes the kubeconfig and talosconfig as secrets, and the status", async () => {
        let cluster!: OmniCluster;
        await run(() => {
            const classes = ["cp", "small"].map((n) => new OmniMachineClass(n, { spec: classSpec(n), ...access }));
            cluster = new OmniCluster("dev", { spec: clusterSpec("dev", "small"), machineClasses: classes, ...access });
        });
        for (const out of [cluster.kubeconfig, cluster.talosconfig]) {
            assert.equal(await (out as any).isSecret, true);
            assert.ok(String(await (out as any).promise()).length > 0);
        }
        const status = await (cluster.status as any).promise();
        assert.equal(status.phase, "RUNNING");
        assert.equal(status.machines.requested, 2);
    });

    it("exposes the template and the Cilium values", async () => {
        let cluster!: OmniCluster;
        await run(() => {
            const classes = ["cp", "small"].map((n) => new OmniMachineClass(n, { spec: classSpec(n), ...access }));
            cluster = new OmniCluster("dev", { spec: clusterSpec("dev", "small"), machineClasses: classes, ...access });
        });
        assert.match(cluster.yaml, /kind: ControlPlane/);
        assert.equal(YAML.parse(cluster.ciliumValues!).MTU, 1450);
    });

    it("fails when a machine class is not defined in the stack", async () => {
        await assert.rejects(
            run(() => {
                const cp = new OmniMachineClass("cp", { spec: classSpec("cp"), ...access });
                new OmniCluster("dev", { spec: clusterSpec("dev", "missing"), machineClasses: [cp], ...access });
            }),
            (e: unknown) =>
                e instanceof ConfigError && /cluster dev uses machine class "missing".*known: cp/.test(e.message),
        );
    });
});

import { strict as assert } from "node:assert";
import * as YAML from "yaml";
import { ClusterSpec } from "../components/omni/cluster-render";
import { OmniCluster } from "../components/omni/cluster";
import { OmniMachineClass } from "../components/omni/machine-class";
import { ConfigError } from "../components/core/validation";
import { access, assertOmnictlEnvironment, classSpec, clusterSpec, run } from "./omni-commands";

describe("OmniCluster", () => {
    /** Three classes, two clusters: each cluster uses cp and one worker class. */
    const twoClusters = (asMap: boolean) => () => {
        const classes = ["cp", "small", "large"].map((n) => new OmniMachineClass(n, { spec: classSpec(n), ...access }));
        const machineClasses = asMap ? Object.fromEntries(classes.map((c) => [c.id, c])) : classes;
        new OmniCluster("dev", { spec: clusterSpec("dev", "small"), machineClasses, ...access });
        new OmniCluster("prod", { spec: clusterSpec("prod", "large", 3), machineClasses, ...access });
    };

    it("syncs the template with omnictl, content on stdin, and deletes with the stored template", async () => {
        const { find } = await run(twoClusters(false));
        const component = find("prod");
        const cmd = find("prod-sync");
        assert.equal(component.type, "omni-scale:omni:OmniCluster");
        assert.equal(cmd.parent, component.urn);
        const docs = YAML.parseAllDocuments(String(cmd.inputs.stdin)).map((d) => d.toJS());
        assert.deepEqual(
            docs.map((d) => d.kind),
            ["Cluster", "ControlPlane", "Workers"],
        );
        assert.equal(docs[0].name, "prod");
        assert.deepEqual(docs[2].machineClass, { name: "large", size: 3 });
        assert.match(String(cmd.inputs.create), /omnictl cluster template sync -f "\$dir\/resource\.yaml"/);
        assert.match(
            String(cmd.inputs.delete),
            /cat > "\$dir\/resource\.yaml"[\s\S]*omnictl cluster template delete -f "\$dir\/resource\.yaml"/,
        );
        assert.doesNotMatch(String(cmd.inputs.create) + String(cmd.inputs.delete), /ControlPlane/);
        assert.deepEqual(cmd.inputs.triggers, ["prod"]);
        assertOmnictlEnvironment(cmd);
    });

    it("depends only on its own machine classes; classes do not wait for each other", async () => {
        for (const asMap of [false, true]) {
            const { find } = await run(twoClusters(asMap));
            const apply = (n: string) => find(`${n}-apply`).urn;
            const devDeps = find("dev-sync").dependsOn;
            const prodDeps = find("prod-sync").dependsOn;
            assert.ok(devDeps.includes(apply("cp")) && devDeps.includes(apply("small")), devDeps.join("\n"));
            assert.ok(
                !devDeps.includes(apply("large")),
                "dev must not wait for (or block the deletion of) prod's class",
            );
            assert.ok(prodDeps.includes(apply("cp")) && prodDeps.includes(apply("large")));
            assert.ok(!prodDeps.includes(apply("small")));
            for (const n of ["cp", "small", "large"]) assert.deepEqual(find(`${n}-apply`).dependsOn, []);
        }
    });

    it("re-syncs on content change as an update, and replaces only when the cluster is renamed", async () => {
        const sync = async (spec: ClusterSpec) => {
            const { find } = await run(() => {
                const classes = ["cp", "small"].map((n) => new OmniMachineClass(n, { spec: classSpec(n), ...access }));
                new OmniCluster("c", { spec, machineClasses: classes, ...access });
            });
            return find("c-sync").inputs;
        };
        const before = await sync(clusterSpec("dev", "small", 1));
        const scaled = await sync(clusterSpec("dev", "small", 2));
        const renamed = await sync(clusterSpec("dev2", "small", 1));
        assert.notEqual(scaled.stdin, before.stdin);
        assert.deepEqual(
            scaled.triggers,
            before.triggers,
            "a content change must not replace (its delete would remove the cluster)",
        );
        assert.notDeepEqual(renamed.triggers, before.triggers);
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

import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { renderClusterTemplate } from "../components/omni/cluster-render";
import { renderMachineClass } from "../components/omni/machine-class-render";
import {
    changedFields,
    clusterState,
    describeChanges,
    isClusterReady,
    isNotFound,
    kubeconfigArgs,
    machineClassState,
    omniReasons,
    parseClusterStatus,
    readinessAdvice,
    removedClusterProblems,
} from "../components/omni/omni-state";
import { importStack } from "../src/import/import";
import { IMPORTED, upstream } from "./omni-standin";

const ROOT = path.join(__dirname, "..");
const exported = fs.readFileSync(path.join(IMPORTED, "talos-prod-01.yaml"), "utf8");
const classesPrinted = YAML.parseAllDocuments(fs.readFileSync(path.join(IMPORTED, "machineclasses.yaml"), "utf8")).map(
    (d) => d.toJS(),
);

/** What this project renders for the class and cluster imported from omnictl's own output. */
function renderedFromOmni() {
    const { config, issues } = importStack({
        projectDir: ROOT,
        stack: "matrix",
        hubStack: "quantum",
        machineClasses: [path.join(IMPORTED, "machineclasses.yaml")],
        clusters: [path.join(IMPORTED, "talos-prod-01.yaml")],
    });
    assert.deepEqual(issues, []);
    const classes = config.workloads!.machineClasses as any[];
    return {
        classes: Object.fromEntries(classes.map((c) => [c.name, renderMachineClass(c).yaml])),
        cluster: renderClusterTemplate(
            (config.workloads!.clusters as any[])[0],
            classes.map((c) => c.name),
        ).yaml,
    };
}

describe("Omni state: what Pulumi compares (omni v1.10.4 export and get output)", () => {
    it("reads only gRPC's NotFound as a resource gone from Omni, never another failure that says 'not found'", () => {
        assert.equal(isNotFound(upstream("notfound.stderr")), true);
        // cluster template export wraps the state's error (client/pkg/template/operations/export.go, v1.10.4).
        assert.equal(
            isNotFound(
                `Error: error getting cluster "talos-prod-01": rpc error: code = NotFound desc = resource Clusters.omni.sidero.dev(default/talos-prod-01@undefined) doesn't exist`,
            ),
            true,
        );
        // An endpoint behind a proxy that answers plain HTTP: grpc-go's message for it.
        const proxy =
            'Error: rpc error: code = Unimplemented desc = unexpected HTTP status code received from server: 404 (Not Found); transport: received unexpected content-type "text/html"';
        assert.equal(isNotFound(proxy), false);
        assert.equal(isNotFound("Error: rpc error: code = Unavailable desc = connection error"), false);
    });

    it("a cluster rendered from Omni's export compares equal to the export: a first apply adopts it unchanged", () => {
        const { cluster } = renderedFromOmni();
        assert.notEqual(cluster, exported, "the texts differ (names vs idOverride, 6h vs 6h0m0s, mappings vs text)");
        assert.deepEqual(clusterState(cluster), clusterState(exported));
    });

    it("a class rendered from `omnictl get` output compares equal to it", () => {
        const { classes } = renderedFromOmni();
        for (const printed of classesPrinted.filter((d) => d.spec.autoprovision)) {
            assert.deepEqual(
                machineClassState(classes[printed.metadata.id]),
                machineClassState(YAML.stringify(printed)),
                printed.metadata.id,
            );
        }
    });

    it("fills in what Omni fills in: patch ids and name annotations, v-prefixed versions, Go durations, the default worker set", () => {
        const rendered = renderClusterTemplate(
            {
                name: "dev",
                talosVersion: "v1.13.6",
                kubernetesVersion: "v1.36.2",
                features: { backupInterval: "90m" },
                patches: [{ name: "audit", inline: { machine: { sysctls: { "a.b": "1" } } } }],
                controlPlane: { machineClass: "cp", size: 1 },
                workers: [{ machineClass: "w", size: 2, nodeLabels: { "topology.kubernetes.io/zone": "a" } }],
                cni: "default",
            },
            ["cp", "w"],
        ).yaml;
        const s = clusterState(rendered);
        assert.deepEqual(Object.keys(s.patches), ["200-cluster-dev-audit"]);
        assert.deepEqual(s.patches["200-cluster-dev-audit"].annotations, { name: "audit" });
        assert.deepEqual(Object.keys(s.workers), ["workers"]);
        assert.deepEqual(Object.keys(s.workers.workers.patches), ["400-dev-workers-omni-scale-node-labels"]);
        assert.equal(s.features.backupIntervalSeconds, 5400);
        assert.equal(s.talosVersion, "v1.13.6");
        // Omni's export writes the same cluster this way (export.go): all of it compares equal.
        const asExported = [
            "kind: Cluster\nname: dev\nkubernetes:\n  version: v1.36.2\ntalos:\n  version: v1.13.6\nfeatures:\n  backupConfiguration:\n    interval: 1h30m0s\n" +
                'patches:\n  - idOverride: 200-cluster-dev-audit\n    annotations:\n      name: audit\n    inline: |\n      machine:\n          sysctls:\n              a.b: "1"\n',
            "kind: ControlPlane\nmachineClass:\n  name: cp\n  size: 1\n",
            "kind: Workers\nmachineClass:\n  name: w\n  size: 2\npatches:\n  - idOverride: 400-dev-workers-omni-scale-node-labels\n    annotations:\n      name: omni-scale-node-labels\n" +
                "    inline: |\n      machine:\n          nodeLabels:\n              topology.kubernetes.io/zone: a\n",
        ].join("---\n");
        assert.deepEqual(clusterState(asExported), s);
    });

    it("names each changed field as a Pulumi property path: sizes, versions, patches, labels, provider data", () => {
        const before = clusterState(exported);
        const after = clusterState(
            exported
                .replace("size: 2", "size: 3")
                .replace("version: v1.13.6", "version: v1.13.7")
                .replace("environment: production", "environment: staging")
                .replace('audit-log-maxage: "30"', 'audit-log-maxage: "7"'),
        );
        const changes = changedFields(after, before, "state");
        assert.deepEqual(changes, {
            "state.labels.environment": "update",
            "state.talosVersion": "update",
            'state.patches["500-2e4b9030-aade-47cf-8f7f-3031b7ae49bb"].content': "update",
            'state.workers["worker-golf"].size': "update",
        });
        assert.match(describeChanges(changes), /state\.talosVersion/);

        const cls = (yaml: string) => machineClassState(yaml);
        const printed = YAML.stringify(classesPrinted[0]);
        const classChanges = changedFields(
            cls(printed.replace("memory: 8192", "memory: 4096").replace(/^ *cores: 4\n/m, "")),
            cls(printed),
            "state",
        );
        assert.deepEqual(classChanges, {
            "state.providerData.memory": "update",
            "state.providerData.cores": "add",
        });
        assert.deepEqual(changedFields(cls(printed), cls(printed), "state"), {});
    });

    it("reads ClusterStatus as omnictl prints it, ready only when RUNNING with every machine healthy", () => {
        const scaling = parseClusterStatus(upstream("clusterstatus-scaling-up.yaml"));
        const running = parseClusterStatus(upstream("clusterstatus-running.yaml"));
        assert.equal(scaling.phase, "SCALING_UP");
        assert.deepEqual(scaling.machines, { total: 2, healthy: 1, connected: 2, requested: 5 });
        assert.equal(isClusterReady(scaling), false);
        assert.equal(running.phase, "RUNNING");
        assert.equal(running.talosVersion, "v1.13.6");
        assert.equal(running.kubernetesVersion, "v1.36.2");
        assert.equal(isClusterReady(running), true);
        assert.equal(isClusterReady({ ...running, machines: { ...running.machines, healthy: 4 } }), false);
    });

    it("gives Omni's own reasons for missing machines, and what to check", () => {
        const reasons = omniReasons(
            upstream("clustermachinerequeststatuses-failed.yaml"),
            upstream("machinesetstatuses.yaml"),
        );
        assert.equal(reasons.length, 2);
        assert.match(
            reasons[0],
            /talos-prod-01-worker-foxtrot-4b9c2 \(failed\): Provision Failed: failed to get storage: failed to pick the disk: no matches for the condition "name == \\"vm_ssd\\""/,
        );
        assert.match(reasons[1], /\(provisioned\): Waiting for the machine to join Omni/);
        assert.match(readinessAdvice(reasons), /storage_selector matches no storage/);
        assert.match(readinessAdvice([]), /infra provider's logs/);
    });

    it("asks omnictl for a service-account kubeconfig written to a file, never merged", () => {
        assert.deepEqual(kubeconfigArgs("dev", "/tmp/x/kubeconfig", { user: "ci", groups: ["a", "b"], ttl: "720h" }), [
            "kubeconfig",
            "/tmp/x/kubeconfig",
            "--cluster",
            "dev",
            "--service-account",
            "--user",
            "ci",
            "--groups",
            "a,b",
            "--ttl",
            "720h",
            "--merge=false",
            "--force",
        ]);
    });

    it("refuses to drop a deployed, protected cluster, saying what would be destroyed and how to do it on purpose", () => {
        const [removed] = removedClusterProblems([{ name: "prod", machines: 6 }], ["dev"], "matrix");
        assert.match(removed, /cluster prod is deployed by stack matrix and protected/);
        assert.match(removed, /delete cluster prod in Omni with its 6 machine\(s\), their VMs and their data/);
        assert.match(removed, /allowDestroy: true, run `pulumi up`, then remove it/);
        assert.match(removed, /renamed to dev/);
        assert.deepEqual(removedClusterProblems([{ name: "prod" }], ["prod"], "matrix"), []);
    });
});

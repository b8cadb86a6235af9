import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import {
    ClusterObserved,
    parseMachineSetStatuses,
    parseUpgradeStatus,
    readinessGaps,
} from "../components/omni/cluster-readiness";
import { isAuthFailure, isTransient } from "../components/omni/omnictl-run";
import {
    clusterState,
    deleteClusterArgs,
    dryRunTeardowns,
    parseClusterStatus,
    syncDryRunArgs,
    teardownOf,
} from "../components/omni/omni-state";
import { IMPORTED, upstream } from "./omni-standin";

/** The pure rules behind the cluster provider's readiness wait and teardown guard (siderolabs/omni v1.10.4). */

const exported = fs.readFileSync(path.join(IMPORTED, "talos-prod-01.yaml"), "utf8");
const state = clusterState(exported);
const settled = (): ClusterObserved => ({
    cluster: parseClusterStatus(upstream("clusterstatus-running.yaml")),
    machineSets: parseMachineSetStatuses(upstream("machinesetstatuses-running.yaml")),
    talosUpgrade: parseUpgradeStatus(upstream("talosupgradestatus-done.yaml")),
    kubernetesUpgrade: parseUpgradeStatus(upstream("kubernetesupgradestatus-done.yaml")),
});

describe("cluster readiness for the synced template (omni v1.10.4 client/pkg/template/operations/status.go)", () => {
    it("is ready when Omni's status.go would stop waiting and every number matches the template", () => {
        assert.deepEqual(readinessGaps(state, settled()), []);
        // status.go ignores upgrade statuses Omni has not written yet (a new cluster).
        assert.deepEqual(
            readinessGaps(state, { ...settled(), talosUpgrade: undefined, kubernetesUpgrade: undefined }),
            [],
        );
    });

    it("status.go: the cluster RUNNING and ready, every machine set Running and ready, upgrades Done", () => {
        const o = settled();
        o.cluster = { ...o.cluster!, phase: "SCALING_UP", ready: false };
        o.machineSets[1] = { ...o.machineSets[1], phase: "Reconfiguring", ready: false };
        o.talosUpgrade = { ...o.talosUpgrade!, phase: "Failed", error: "image pull failed" };
        assert.deepEqual(readinessGaps(state, o), [
            "cluster phase SCALING_UP, 5/5 machines healthy (5 connected), Kubernetes API ready, control plane ready",
            "machine set talos-prod-01-worker-golf Reconfiguring, 2/2 healthy",
            "Talos upgrade Failed (image pull failed)",
        ]);
    });

    it("a status from before the sync (controllers/omni/cluster_status.go, machineset/status_handler.go) is not the template's", () => {
        const scaled = clusterState(exported.replace(/(name: matrix-worker-golf\n\s+size: )2/, "$13"));
        const upgraded = { ...scaled, talosVersion: "v1.13.7" };
        assert.deepEqual(readinessGaps(upgraded, settled()), [
            "the cluster status still shows Talos v1.13.6 (template: v1.13.7)",
            "the cluster status still counts 5 requested machines (template: 6)",
            "machine set talos-prod-01-worker-golf still allocates 2 from matrix-worker-golf (template: 3 from matrix-worker-golf)",
            "Talos upgrade status still records v1.13.6 (template: v1.13.7)",
        ]);
    });

    it("a set the template lacks counts until Omni destroyed it; a set without a status is not ready", () => {
        const withoutGolf = { ...state, workers: {} };
        assert.deepEqual(readinessGaps(withoutGolf, settled()), [
            "the cluster status still counts 5 requested machines (template: 3)",
            "machine set talos-prod-01-worker-golf (no longer in the template) is still Running",
        ]);
        const o = settled();
        o.machineSets = o.machineSets.slice(0, 1);
        assert.deepEqual(readinessGaps(state, o), ["machine set talos-prod-01-worker-golf has no status yet"]);
        assert.deepEqual(readinessGaps(state, { machineSets: [] }), ["Omni reports no cluster status yet"]);
    });

    it("reads the statuses as omnictl prints them (omni.proto enums as numbers, versions without v)", () => {
        const [cp, golf] = parseMachineSetStatuses(upstream("machinesetstatuses-running.yaml"));
        assert.deepEqual(cp, {
            id: "talos-prod-01-control-planes",
            phase: "Running",
            ready: true,
            error: "",
            machines: { total: 3, healthy: 3, requested: 3 },
            allocation: { machineClass: "matrix-control-plane", size: 3 },
        });
        assert.equal(golf.allocation!.size, 2);
        const unlimited = YAML.parseAllDocuments(upstream("machinesetstatuses-running.yaml"))[0].toJS();
        unlimited.spec.machineallocation.allocationtype = 1;
        assert.equal(parseMachineSetStatuses(YAML.stringify(unlimited))[0].allocation!.size, "Unlimited");
        assert.deepEqual(parseUpgradeStatus(upstream("kubernetesupgradestatus-done.yaml")), {
            phase: "Done",
            lastUpgradeVersion: "v1.36.2",
            step: "",
            status: "",
            error: "",
        });
    });
});

describe("what a sync tears down (omni v1.10.4 client/pkg/template/template.go Sync)", () => {
    it("every set, patch, manifest and healthcheck the new template no longer lists; a renamed one too", () => {
        const next = clusterState(
            exported
                .replace("name: worker-golf", "name: worker-hotel")
                .replace("idOverride: 500-2e4b9030-aade-47cf-8f7f-3031b7ae49bb", "idOverride: 500-renamed"),
        );
        assert.deepEqual(teardownOf(state, next), [
            "machine set talos-prod-01-worker-golf with its machines",
            "patch 500-2e4b9030-aade-47cf-8f7f-3031b7ae49bb",
        ]);
        const noManifest = { ...state, manifests: {} };
        assert.deepEqual(teardownOf(state, noManifest), ["manifest longhorn-namespace"]);
        assert.deepEqual(teardownOf(state, state), []);
    });

    it("reads `sync --dry-run` (operations/sync.go, utils.Describe) for what would be torn down", () => {
        assert.deepEqual(dryRunTeardowns(upstream("sync-dry-run-remove-set.txt")), [
            "MachineSets.omni.sidero.dev(talos-prod-01-worker-golf)",
            "ConfigPatches.omni.sidero.dev(400-talos-prod-01-worker-golf-zone)",
        ]);
        assert.deepEqual(syncDryRunArgs("/t/c.yaml"), ["cluster", "template", "sync", "--dry-run", "-f", "/t/c.yaml"]);
        assert.deepEqual(deleteClusterArgs("/t/c.yaml", true), [
            "cluster",
            "template",
            "delete",
            "--destroy-disconnected-machines",
            "-f",
            "/t/c.yaml",
        ]);
    });

    it("compares a patch as Omni exports it: Translate's `name` annotation also on idOverride patches (models/patch.go)", () => {
        const rendered = clusterState(
            [
                "kind: Cluster",
                "name: c",
                "kubernetes: { version: v1.36.2 }",
                "talos: { version: v1.13.6 }",
                "patches:",
                "  - idOverride: 300-mine",
                "    name: mine",
                "    inline: { machine: { env: { A: b } } }",
                "---",
                "kind: ControlPlane",
                "machineClass: { name: cp, size: 1 }",
            ].join("\n"),
        );
        const exportedPatch = clusterState(
            [
                "kind: Cluster",
                "name: c",
                "kubernetes: { version: v1.36.2 }",
                "talos: { version: v1.13.6 }",
                "patches:",
                "  - idOverride: 300-mine",
                "    annotations: { name: mine }",
                "    inline: |",
                "      machine:",
                "          env:",
                "              A: b",
                "---",
                "kind: ControlPlane",
                "machineClass: { name: cp, size: 1 }",
            ].join("\n"),
        );
        assert.deepEqual(rendered, exportedPatch);
        assert.deepEqual(rendered.patches["300-mine"].annotations, { name: "mine" });
    });
});

describe("omnictl failures", () => {
    it("tells a refused key, a passing outage and anything else apart", () => {
        const run = (stderr: string, timedOut?: boolean) => ({ code: 1, stdout: "", stderr, timedOut });
        assert.ok(isAuthFailure(upstream("unauthenticated.stderr")));
        assert.ok(isAuthFailure("Error: rpc error: code = PermissionDenied desc = permission denied"));
        assert.ok(isTransient(run(upstream("unavailable.stderr"))));
        assert.ok(isTransient(run("", true)), "a call stopped after hanging");
        assert.ok(!isTransient(run(upstream("unauthenticated.stderr"))));
        assert.ok(!isTransient(run(upstream("notfound.stderr"))));
    });
});

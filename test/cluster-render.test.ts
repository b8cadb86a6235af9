import { strict as assert } from "node:assert";
import * as YAML from "yaml";
import * as fs from "node:fs";
import * as path from "node:path";
import {
    backupIntervalProblem,
    ClusterSpec,
    clusterTemplateProblems,
    nodeRoleLabelProblems,
    renderClusterTemplate,
} from "../components/omni/cluster-render";
import { etcdBackupIntervalLimits } from "../components/hub/settings";
import { parseGoDuration } from "../components/core/validation";
import { ConfigError } from "../components/core/validation";
import { versions } from "../components/core/versions";

const classes = ["matrix-control-plane", "matrix-worker-foxtrot", "matrix-worker-golf", "matrix-worker-hotel"];
const longhorn = {
    name: "longhorn",
    inline: {
        machine: {
            kubelet: {
                extraMounts: [
                    {
                        destination: "/var/lib/longhorn",
                        type: "bind",
                        source: "/var/local/longhorn",
                        options: ["bind", "rshared", "rw"],
                    },
                ],
            },
        },
    },
};
// The seed's clusters/talos-prod-01.yaml (basher83/Omni-Scale).
const prod: ClusterSpec = {
    name: "talos-prod-01",
    labels: { environment: "production" },
    kubernetesVersion: "v1.36.2",
    talosVersion: "v1.13.6",
    controlPlane: {
        machineClass: "matrix-control-plane",
        size: 3,
        systemExtensions: ["siderolabs/iscsi-tools", "siderolabs/nfsd", "siderolabs/util-linux-tools"],
    },
    workers: ["foxtrot", "golf", "hotel"].map((n) => ({
        name: `worker-${n}`,
        machineClass: `matrix-worker-${n}`,
        size: 1,
        nodeLabels: { "topology.kubernetes.io/zone": n },
        patches: [longhorn],
    })),
};
// The seed's clusters/test/test-cluster.yaml.
const testCluster: ClusterSpec = {
    name: "test-cluster",
    kubernetesVersion: "v1.35.0",
    talosVersion: "v1.12.0",
    controlPlane: { machineClass: "matrix-control-plane", size: 1 },
    workers: [{ name: "workers", machineClass: "matrix-worker-golf", size: 0 }],
};

function docs(yaml: string): Record<string, any>[] {
    return YAML.parseAllDocuments(yaml).map((d) => d.toJS());
}

function problems(spec: unknown, known = classes, prefix?: string): string[] {
    try {
        renderClusterTemplate(spec as ClusterSpec, known, prefix);
    } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        return e.issues.map((i) => `${i.key}: ${i.message}`);
    }
    assert.fail("expected a ConfigError");
}

const withSpec = (over: Record<string, unknown>): ClusterSpec => ({ ...prod, ...over }) as ClusterSpec;

describe("renderClusterTemplate", () => {
    it("renders the seed's production cluster: one Cluster, one ControlPlane, three Workers", () => {
        const out = renderClusterTemplate(prod, classes);
        const [cluster, cp, ...workers] = docs(out.yaml);
        assert.deepEqual(
            [cluster.kind, cp.kind, ...workers.map((w) => w.kind)],
            ["Cluster", "ControlPlane", "Workers", "Workers", "Workers"],
        );
        assert.equal(out.name, "talos-prod-01");
        assert.equal(cluster.name, "talos-prod-01");
        assert.deepEqual(cluster.labels, { environment: "production" });
        assert.deepEqual(cluster.kubernetes, { version: "v1.36.2" });
        assert.deepEqual(cluster.talos, { version: "v1.13.6" });
        assert.deepEqual(cp.machineClass, { name: "matrix-control-plane", size: 3 });
        assert.deepEqual(cp.systemExtensions, [
            "siderolabs/iscsi-tools",
            "siderolabs/nfsd",
            "siderolabs/util-linux-tools",
        ]);
        assert.deepEqual(
            workers.map((w) => w.name),
            ["worker-foxtrot", "worker-golf", "worker-hotel"],
        );
        assert.deepEqual(workers[1].machineClass, { name: "matrix-worker-golf", size: 1 });
        assert.deepEqual(out.machineClasses, classes);
    });

    it("renders worker node labels as a machine.nodeLabels patch, before the user's patches", () => {
        const foxtrot = docs(renderClusterTemplate(prod, classes).yaml)[2];
        assert.equal(foxtrot.patches.length, 2);
        assert.deepEqual(foxtrot.patches[0].inline, {
            machine: { nodeLabels: { "topology.kubernetes.io/zone": "foxtrot" } },
        });
        assert.deepEqual(foxtrot.patches[1], longhorn);
        assert.equal(foxtrot.nodeLabels, undefined, "nodeLabels is not a template field");
    });

    it("with the Cilium preset, disables the default CNI and kube-proxy by a cluster patch", () => {
        const cluster = docs(renderClusterTemplate(prod, classes).yaml)[0];
        assert.equal(cluster.patches.length, 1);
        assert.deepEqual(cluster.patches[0].inline, {
            cluster: { network: { cni: { name: "none" } }, proxy: { disabled: true } },
        });
    });

    it("renders Cilium values for the seed's install: MTU 1450, KubePrism, capabilities, cgroup", () => {
        const values = YAML.parse(renderClusterTemplate(prod, classes).ciliumValues!);
        assert.deepEqual(values.ipam, { mode: "kubernetes" });
        assert.equal(values.kubeProxyReplacement, true);
        assert.equal(values.MTU, 1450);
        assert.equal(values.k8sServiceHost, "localhost");
        assert.equal(values.k8sServicePort, 7445);
        assert.deepEqual(values.securityContext.capabilities.ciliumAgent, [
            "CHOWN",
            "KILL",
            "NET_ADMIN",
            "NET_RAW",
            "IPC_LOCK",
            "SYS_ADMIN",
            "SYS_RESOURCE",
            "DAC_OVERRIDE",
            "FOWNER",
            "SETGID",
            "SETUID",
        ]);
        assert.deepEqual(values.securityContext.capabilities.cleanCiliumState, [
            "NET_ADMIN",
            "SYS_ADMIN",
            "SYS_RESOURCE",
        ]);
        assert.deepEqual(values.cgroup, { autoMount: { enabled: false }, hostRoot: "/sys/fs/cgroup" });
        assert.equal(values.hubble, undefined);
        assert.equal(values.gatewayAPI, undefined);
    });

    it("honours Cilium options: MTU, Hubble, Gateway API and the chart version", () => {
        const text = renderClusterTemplate(
            withSpec({ cilium: { version: "1.18.2", mtu: 1400, hubble: true, gatewayApi: true } }),
            classes,
        ).ciliumValues!;
        const values = YAML.parse(text);
        assert.equal(values.MTU, 1400);
        assert.equal(values.hubble.enabled, true);
        assert.equal(values.gatewayAPI.enabled, true);
        assert.match(text, /--version 1\.18\.2/);
    });

    it("with cni: default, adds no CNI patch and no Cilium values", () => {
        const out = renderClusterTemplate(withSpec({ cni: "default" }), classes);
        assert.equal(out.ciliumValues, undefined);
        assert.equal(docs(out.yaml)[0].patches, undefined);
    });

    it("renders the seed's test cluster, with defaults from the version pins when versions are omitted", () => {
        const [cluster, cp, workers] = docs(renderClusterTemplate(testCluster, classes).yaml);
        assert.equal(cluster.kubernetes.version, "v1.35.0");
        assert.equal(cluster.talos.version, "v1.12.0");
        assert.deepEqual(cp.machineClass, { name: "matrix-control-plane", size: 1 });
        assert.deepEqual(workers.machineClass, { name: "matrix-worker-golf", size: 0 });
        const pinned = docs(
            renderClusterTemplate({ ...testCluster, kubernetesVersion: undefined, talosVersion: undefined }, classes)
                .yaml,
        )[0];
        assert.equal(pinned.kubernetes.version, versions.kubernetes);
        assert.equal(pinned.talos.version, versions.talos);
    });

    it("renders features, cluster-level options and worker strategies", () => {
        const strategy = { type: "Rolling", rolling: { maxParallelism: 1 } } as const;
        const out = renderClusterTemplate(
            withSpec({
                annotations: { owner: "platform" },
                systemExtensions: ["siderolabs/qemu-guest-agent"],
                features: {
                    diskEncryption: true,
                    enableWorkloadProxy: true,
                    useEmbeddedDiscoveryService: false,
                    backupInterval: "6h",
                },
                controlPlane: { machineClass: "matrix-control-plane", size: 3 },
                workers: [
                    {
                        name: "elastic",
                        machineClass: "matrix-worker-golf",
                        size: 2,
                        updateStrategy: strategy,
                        deleteStrategy: strategy,
                    },
                ],
            }),
            classes,
        );
        const parsed = docs(out.yaml);
        const [cluster, cp, workers] = parsed;
        assert.deepEqual(cluster.features, {
            diskEncryption: true,
            enableWorkloadProxy: true,
            useEmbeddedDiscoveryService: false,
            backupConfiguration: { interval: "6h" },
        });
        assert.deepEqual(cluster.annotations, { owner: "platform" });
        assert.deepEqual(cluster.systemExtensions, ["siderolabs/qemu-guest-agent"]);
        assert.equal(cp.updateStrategy, undefined);
        assert.deepEqual(workers.updateStrategy, strategy);
        assert.deepEqual(workers.deleteStrategy, strategy);
        assert.equal(workers.machineClass.size, 2);
        assert.equal(parsed.length, 3);
        assert.deepEqual(out.machineClasses, ["matrix-control-plane", "matrix-worker-golf"]);
    });

    // Each rule below mirrors siderolabs/omni v1.10.4 client/pkg/template/internal/models (the file named in the test).
    describe("what Omni's template model refuses (omni v1.10.4)", () => {
        it("controlplane.go: no updateStrategy or deleteStrategy on the control plane", () => {
            const strategy = { type: "Rolling" };
            const found = problems(
                withSpec({
                    controlPlane: {
                        machineClass: "matrix-control-plane",
                        size: 3,
                        updateStrategy: strategy,
                        deleteStrategy: strategy,
                    },
                }),
            );
            assert.match(
                found.join("\n"),
                /controlPlane\.updateStrategy: .*refuses updateStrategy on the control plane/,
            );
            assert.match(
                found.join("\n"),
                /controlPlane\.deleteStrategy: .*refuses deleteStrategy on the control plane/,
            );
        });

        it("machineset.go: no kernelArgs on a set that uses a machine class, nor at cluster level", () => {
            const args = ["net.ifnames=0"];
            const found = problems(
                withSpec({
                    kernelArgs: args,
                    controlPlane: { machineClass: "matrix-control-plane", size: 1, kernelArgs: args },
                    workers: [{ name: "w", machineClass: "matrix-worker-golf", size: 1, kernelArgs: args }],
                }),
            );
            assert.deepEqual(
                found.map((p) => p.split(": ")[0]),
                ["clusters.kernelArgs", "clusters.controlPlane.kernelArgs", "clusters.workers[0].kernelArgs"],
            );
            for (const p of found) assert.match(p, /set them in the machine class's kernelArgs instead/);
        });

        it("list.go: no Machine documents that no set lists (our sets always use machine classes)", () => {
            const found = problems(
                withSpec({ machines: [{ name: "0f9e8a52-4c1b-4b8e-9d3a-7e2f1c6b5a40", locked: true }] }),
            );
            assert.match(found.join(), /^clusters\.machines: .*no machine set lists.*machine class/);
        });
    });

    it("rejects machine classes this stack does not define, naming the cluster, the class and the known ones", () => {
        const found = problems(prod, ["matrix-control-plane", "matrix-worker-golf"]);
        assert.equal(found.length, 2);
        assert.match(
            found[0],
            /^clusters\.workers\[0\]\.machineClass: cluster talos-prod-01 uses machine class "matrix-worker-foxtrot", .*known: matrix-control-plane, matrix-worker-golf/,
        );
        assert.match(problems(prod, []).join(), /controlPlane\.machineClass: .*known: none/);
    });

    it("rejects unpinned versions", () => {
        for (const bad of ["1.36.2", "v1.36", "latest", "v1.36.x", "^v1.36.2", "v1.36.2-rc.0"]) {
            assert.match(
                problems(withSpec({ kubernetesVersion: bad })).join(),
                /^clusters\.kubernetesVersion: pin an exact Kubernetes version like v\d/,
                bad,
            );
            assert.match(
                problems(withSpec({ talosVersion: bad })).join(),
                /^clusters\.talosVersion: pin an exact Talos version/,
                bad,
            );
        }
    });

    it("rejects node-role.kubernetes.io labels in nodeLabels and in any patch, with the fix", () => {
        const worker = { name: "w", machineClass: "matrix-worker-golf", size: 1 };
        const rolePatch = {
            name: "roles",
            inline: { machine: { nodeLabels: { "node-role.kubernetes.io/worker": "" } } },
        };
        const flagPatch = {
            name: "flag",
            inline: {
                machine: { kubelet: { extraArgs: { "node-labels": "zone=a,node-role.kubernetes.io/storage=" } } },
            },
        };
        const found = problems(
            withSpec({
                patches: [rolePatch],
                controlPlane: { machineClass: "matrix-control-plane", size: 1, patches: [flagPatch] },
                workers: [
                    { ...worker, nodeLabels: { "node-role.kubernetes.io/worker": "" } },
                    { ...worker, name: "w2", patches: [rolePatch] },
                ],
            }),
        );
        assert.deepEqual(
            found.map((p) => p.split(": ")[0]),
            [
                "clusters.patches[0].inline.machine",
                "clusters.controlPlane.patches[0].inline.machine",
                "clusters.workers[0].nodeLabels.node-role.kubernetes.io/worker",
                "clusters.workers[1].patches[0].inline.machine",
            ],
        );
        for (const p of found) assert.match(p, /NodeRestriction.*topology\.kubernetes\.io\/zone/);
    });

    it("rejects the reserved and duplicate worker names", () => {
        const w = { machineClass: "matrix-worker-golf", size: 1 };
        assert.match(
            problems(withSpec({ workers: [{ ...w, name: "control-planes" }] })).join(),
            /workers\[0\]\.name: control-planes is reserved/,
        );
        assert.match(
            problems(
                withSpec({
                    workers: [
                        { ...w, name: "a" },
                        { ...w, name: "a" },
                    ],
                }),
            ).join(),
            /workers\[1\]\.name: worker set names must be unique/,
        );
    });

    it("rejects bad patches: duplicate names, the generated-name prefix, inline content Omni cannot read", () => {
        const p = { name: "p", inline: { machine: {} } };
        assert.match(problems(withSpec({ patches: [p, p] })).join(), /patches\[1\]\.name: patch names must be unique/);
        assert.match(
            problems(withSpec({ patches: [{ ...p, name: "omni-scale-cilium-cni" }] })).join(),
            /patches\[0\]\.name: .*reserved/,
        );
        assert.match(
            problems(withSpec({ patches: [{ name: "p", inline: 42 }] })).join(),
            /patches\[0\]\.inline.*: inline content is a mapping .*, a list of mappings .* or a YAML string/,
        );
        assert.match(
            problems(withSpec({ patches: [{ name: "p", inline: "machine: [" }] })).join(),
            /patches\[0\]\.inline: not valid YAML: unexpected end of the stream within a flow collection \(2:1\)/,
        );
        assert.match(
            problems(withSpec({ patches: [{ name: "p", fiel: "p.yaml" }] })).join(),
            /patches\[0\]\.fiel: unknown key/,
        );
    });

    it("rejects other bad values", () => {
        assert.match(problems(withSpec({ name: "Prod_01" })).join(), /^clusters\.name: use lowercase/);
        assert.match(
            problems(withSpec({ controlPlane: { machineClass: "matrix-control-plane", size: 0 } })).join(),
            /controlPlane\.size: a cluster needs at least one control-plane node/,
        );
        assert.match(problems(withSpec({ cni: "flannel" })).join(), /^clusters\.cni/);
        assert.match(problems(withSpec({ cilium: { mtu: 1000 } })).join(), /cilium\.mtu/);
        assert.match(
            problems(withSpec({ features: { backupInterval: "daily" } })).join(),
            /features\.backupInterval: use a Go duration such as 1h, 6h or 24h/,
        );
        assert.match(
            problems(withSpec({ systemExtensions: ["iscsi-tools"] })).join(),
            /systemExtensions\[0\]: name the extension as <org>\/<name>/,
        );
        assert.match(
            problems(withSpec({ kuberentesVersion: "v1.36.2" })).join(),
            /clusters\.kuberentesVersion: unknown key/,
        );
    });

    it("reports every problem at once, under the given key prefix", () => {
        const found = problems(
            withSpec({ name: "Bad", kubernetesVersion: "latest", controlPlane: { machineClass: "nope", size: 1 } }),
            classes,
            "omni-scale:clusters[1]",
        );
        assert.deepEqual(found.map((p) => p.split(": ")[0]).sort(), [
            "omni-scale:clusters[1].controlPlane.machineClass",
            "omni-scale:clusters[1].kubernetesVersion",
            "omni-scale:clusters[1].name",
        ]);
    });
});

describe("clusterTemplateProblems", () => {
    const rendered = renderClusterTemplate(prod, classes).yaml;
    const edit = (fn: (d: Record<string, any>[]) => Record<string, any>[]) =>
        fn(docs(rendered))
            .map((d) => YAML.stringify(d))
            .join("---\n");

    it("finds nothing wrong in a rendered template", () => {
        assert.deepEqual(clusterTemplateProblems(rendered), []);
    });

    it("refuses a hand-written template with a Talos version Omni does not offer, or Kubernetes it does not run", () => {
        const versionsOf = (talos: string, kubernetes: string) =>
            clusterTemplateProblems(
                edit((d) => [
                    { ...d[0], talos: { version: talos }, kubernetes: { version: kubernetes } },
                    ...d.slice(1),
                ]),
            );
        assert.match(
            versionsOf("v1.6.4", "v1.29.0").join(),
            /^Cluster talos-prod-01: Talos v1\.6\.4 is no longer supported/,
        );
        assert.match(
            versionsOf("v1.10.7", "v1.36.2").join(),
            /^Cluster talos-prod-01: Kubernetes v1\.36\.2 does not run on Talos v1\.10\.7/,
        );
        assert.deepEqual(versionsOf("v1.10.7", "v1.33.4"), []);
    });

    it("needs exactly one Cluster and one ControlPlane", () => {
        assert.deepEqual(clusterTemplateProblems(edit((d) => [...d, d[1]])), [
            "a template needs exactly 1 ControlPlane document, got 2",
        ]);
        assert.deepEqual(clusterTemplateProblems(edit((d) => d.slice(1))), [
            "a template needs exactly 1 Cluster document, got 0",
        ]);
    });

    it("flags what Omni's template model refuses in a hand-written template (omni v1.10.4 models)", () => {
        const found = clusterTemplateProblems(
            edit((d) => {
                d[0].kernelArgs = ["net.ifnames=0"];
                d[1].updateStrategy = { type: "Rolling" };
                d[2].kernelArgs = ["console=ttyS0"];
                return [...d, { kind: "Machine", name: "0f9e8a52-4c1b-4b8e-9d3a-7e2f1c6b5a40" }];
            }),
        );
        assert.deepEqual(
            found.map((p) => p.split(":")[0]),
            [
                "ControlPlane",
                "Workers worker-foxtrot",
                "Cluster talos-prod-01",
                "Machine 0f9e8a52-4c1b-4b8e-9d3a-7e2f1c6b5a40",
            ],
        );
        assert.match(found[0], /updateStrategy is not allowed on the control plane/);
        assert.match(found[1], /kernelArgs/);
        assert.match(found[3], /no machine set lists this machine/);
        const listed = edit((d) => [
            ...d.map((doc) =>
                doc.kind === "Workers" && doc.name === "worker-foxtrot"
                    ? { kind: "Workers", name: "pinned", machines: ["0f9e8a52-4c1b-4b8e-9d3a-7e2f1c6b5a40"] }
                    : doc,
            ),
            { kind: "Machine", name: "0f9e8a52-4c1b-4b8e-9d3a-7e2f1c6b5a40" },
        ]);
        assert.deepEqual(clusterTemplateProblems(listed), [], "a Machine listed by a set is fine");
    });

    it("flags node-role labels set by any patch (nodeRoleLabelProblems), which the structural check leaves to it", () => {
        const labelled = edit((d) => {
            d[3].patches[0].inline.machine.nodeLabels["node-role.kubernetes.io/worker"] = "";
            return d;
        });
        assert.deepEqual(clusterTemplateProblems(labelled), []);
        assert.deepEqual(nodeRoleLabelProblems(rendered), []);
        const found = nodeRoleLabelProblems(labelled);
        assert.equal(found.length, 1);
        assert.match(
            found[0],
            /^Workers worker-golf: patch omni-scale-node-labels sets node-role\.kubernetes\.io\/worker: .*NodeRestriction/,
        );
    });

    it("flags unpinned versions, unknown kinds and broken YAML", () => {
        const found = clusterTemplateProblems(
            edit((d) => {
                d[0].kubernetes.version = "1.36";
                delete d[0].talos;
                return [...d, { kind: "Cluster2" }];
            }),
        );
        assert.equal(found.length, 3, found.join("\n"));
        assert.match(found.join("\n"), /kubernetes\.version "1\.36" is not pinned/);
        assert.match(found.join("\n"), /talos\.version undefined is not pinned/);
        assert.match(found.join("\n"), /Cluster2: unknown kind/);
        assert.match(clusterTemplateProblems("kind: Cluster\n  bad: [").join(), /not valid YAML/);
    });
});

describe("cluster etcd backup interval (omni v1.10.4 internal/backend/runtime/omni/validations/cluster.go)", () => {
    /** The hub's flag defaults, as Omni's own config schema at v1.10.4 states them. */
    const schema = JSON.parse(
        fs.readFileSync(path.join(__dirname, "fixtures/upstream/omni-config.schema.v1.10.4.json"), "utf8"),
    );
    const backup = schema.definitions.EtcdBackup.properties;

    it("uses Omni's defaults when the hub sets no interval", () => {
        const limits = etcdBackupIntervalLimits(undefined);
        assert.equal(limits.min, parseGoDuration(backup.minInterval.default));
        assert.equal(limits.max, parseGoDuration(backup.maxInterval.default));
    });

    it("accepts min ≤ interval ≤ max and 0 (backups off); refuses the rest naming the bound and the fix", () => {
        const defaults = etcdBackupIntervalLimits(undefined);
        for (const ok of ["1h", "6h", "24h", "1h30m", "0"])
            assert.equal(backupIntervalProblem(ok, defaults), undefined, ok);
        assert.match(
            backupIntervalProblem("30m", defaults)!,
            /shorter than the hub's etcdBackup minInterval \(1h\).*use 1h or more/,
        );
        assert.match(
            backupIntervalProblem("25h", defaults)!,
            /longer than the hub's etcdBackup maxInterval \(24h\).*use 24h or less/,
        );
        const hub = etcdBackupIntervalLimits({ minInterval: "15m", maxInterval: "2h" });
        assert.equal(backupIntervalProblem("30m", hub), undefined);
        assert.match(backupIntervalProblem("3h", hub)!, /maxInterval \(2h\)/);
    });
});

describe("Kubernetes versions a cluster's Talos supports (Talos machinery compatibility, checked by omni v1.10.4 validations/cluster.go)", () => {
    it("accepts the pinned pair and the edges of Talos 1.13's range (1.31–1.36)", () => {
        for (const k of [versions.kubernetes, "v1.31.0", "v1.36.9"])
            assert.doesNotThrow(
                () => renderClusterTemplate(withSpec({ talosVersion: "v1.13.6", kubernetesVersion: k }), classes),
                k,
            );
    });

    it("refuses a Talos version Omni does not offer: below 1.9.0, beyond 1.13, or denylisted", () => {
        for (const talos of ["v1.3.0", "v1.6.4", "v1.14.0", "v1.13.1"])
            assert.match(
                problems(withSpec({ talosVersion: talos, kubernetesVersion: "v1.31.0" })).join(),
                new RegExp(`^clusters\\.talosVersion: Talos ${talos.replace(/\./g, "\\.")} is`),
                talos,
            );
    });

    it("checks Kubernetes against every Talos minor accepted: v1.36 does not run on Talos 1.9 or 1.10", () => {
        assert.match(
            problems(withSpec({ talosVersion: "v1.9.5", kubernetesVersion: "v1.36.2" })).join(),
            /^clusters\.kubernetesVersion: Kubernetes v1\.36\.2 does not run on Talos v1\.9\.5, which supports Kubernetes 1\.27 to 1\.32/,
        );
        assert.match(
            problems(withSpec({ talosVersion: "v1.10.7", kubernetesVersion: "v1.36.2" })).join(),
            /supports Kubernetes 1\.28 to 1\.33/,
        );
        assert.doesNotThrow(() =>
            renderClusterTemplate(withSpec({ talosVersion: "v1.9.5", kubernetesVersion: "v1.32.3" }), classes),
        );
    });

    it("refuses a Kubernetes version outside the Talos version's range, naming the range", () => {
        assert.match(
            problems(withSpec({ talosVersion: "v1.13.6", kubernetesVersion: "v1.37.0" })).join(),
            /^clusters\.kubernetesVersion: Kubernetes v1\.37\.0 does not run on Talos v1\.13\.6, which supports Kubernetes 1\.31 to 1\.36/,
        );
        assert.match(
            problems(withSpec({ talosVersion: "v1.12.0", kubernetesVersion: "v1.36.2" })).join(),
            /supports Kubernetes 1\.30 to 1\.35/,
        );
        assert.match(
            problems(withSpec({ talosVersion: "v1.11.5", kubernetesVersion: "v1.28.3" })).join(),
            /supports Kubernetes 1\.29 to 1\.34/,
        );
    });
});

/**
 * Every field of Omni's template model at v1.10.4 (siderolabs/omni client/pkg/template/internal/models, facts in
 * test/fixtures/import/omni-template-model.v1.10.4.json): each is rendered, or refused with a reason, never "unknown key".
 */
describe("cluster templates express Omni's template model (omni v1.10.4 client/pkg/template/internal/models)", () => {
    const model = JSON.parse(
        fs.readFileSync(path.join(__dirname, "fixtures/import/omni-template-model.v1.10.4.json"), "utf8"),
    );
    const patchDir = "test/fixtures/import/kit/clusters/patches";
    const cp = { machineClass: "matrix-control-plane", size: 3 };
    const worker = { name: "w", machineClass: "matrix-worker-golf", size: 1 };
    const render = (over: Record<string, unknown>) =>
        docs(renderClusterTemplate(withSpec({ cni: "default", ...over }), classes).yaml);

    it("machineset.go Size: counts as numbers or digit strings, Static as 0; unlimited in every spelling refused, naming why (validations/machine_set.go)", () => {
        assert.equal(model.sizes.file.split(" ")[0], "client/pkg/template/internal/models/machineset.go");
        for (const [size, count] of [
            [2, 2],
            ["2", 2],
            ["0", 0],
            [model.sizes.staticZero, 0],
        ] as const) {
            assert.equal(render({ workers: [{ ...worker, size }] })[2].machineClass.size, count, String(size));
        }
        assert.equal(render({ controlPlane: { ...cp, size: "3" } })[1].machineClass.size, 3);
        for (const spelling of model.sizes.unlimited as string[]) {
            const found = problems(withSpec({ workers: [{ ...worker, size: spelling }] })).join("\n");
            assert.match(
                found,
                /workers\[0\]\.size: .*Omni's unlimited allocation \(unlimited, Unlimited, infinity, ∞ are the same\), which Omni refuses for a machine class that auto-provisions.*give a machine count/,
                spelling,
            );
        }
        for (const bad of ["three", -1, 1.5, "4294967296", true]) {
            assert.match(
                problems(withSpec({ workers: [{ ...worker, size: bad }] })).join(),
                /size(: | is ).*a machine count: a whole number such as 3/,
                String(bad),
            );
        }
        assert.doesNotMatch(problems(withSpec({ workers: [{ ...worker, size: true }] })).join(), /Invalid input/);
        assert.match(
            problems(withSpec({ controlPlane: { machineClass: "matrix-control-plane" } })).join(),
            /controlPlane\.size: required: a machine count/,
        );
    });

    it("patch.go: file patches are read at render time and rendered inline under their name (the path when unnamed), so sync needs no file", () => {
        const longhorn = fs.readFileSync(path.join(patchDir, "longhorn.yaml"), "utf8");
        const [cluster, , w] = render({
            patches: [{ file: `${patchDir}/registry-mirrors.yaml` }],
            workers: [{ ...worker, patches: [{ name: "longhorn", file: `${patchDir}/longhorn.yaml` }] }],
        });
        assert.deepEqual(cluster.patches, [
            {
                name: `${patchDir}/registry-mirrors.yaml`,
                inline: fs.readFileSync(path.join(patchDir, "registry-mirrors.yaml"), "utf8"),
            },
        ]);
        assert.deepEqual(
            w.patches,
            [{ name: "longhorn", inline: longhorn }],
            "the file's exact text, comments included",
        );
        assert.ok(
            !renderClusterTemplate(
                withSpec({ patches: [{ file: `${patchDir}/longhorn.yaml` }] }),
                classes,
            ).yaml.includes("file:"),
        );
    });

    it("patch.go: idOverride, labels and annotations; exactly one of file or inline; an inline patch needs a name or idOverride", () => {
        assert.deepEqual(model.patchFields.fields, ["name", "idOverride", "labels", "annotations", "file", "inline"]);
        const exported = {
            idOverride: "500-2e4b9030-aade-47cf-8f7f-3031b7ae49bb",
            annotations: { name: "User defined patch" },
            labels: { team: "a" },
            inline: "machine:\n    sysctls: {}\n",
        };
        assert.deepEqual(render({ patches: [exported] })[0].patches, [exported]);
        assert.match(
            problems(withSpec({ patches: [{ name: "p", inline: {}, file: `${patchDir}/longhorn.yaml` }] })).join(),
            /patches\[0\]\.inline: set exactly one of inline .* or file/,
        );
        assert.match(
            problems(withSpec({ patches: [{ name: "p" }] })).join(),
            /patches\[0\]\.inline: set exactly one of inline/,
        );
        assert.match(
            problems(withSpec({ patches: [{ inline: { machine: {} } }] })).join(),
            /patches\[0\]\.name: an inline patch needs a name \(or an idOverride\)/,
        );
        assert.match(
            problems(withSpec({ patches: [{ file: "no/such/patch.yaml" }] })).join(),
            /patches\[0\]\.file: cannot read .*no\/such\/patch\.yaml \(ENOENT\): give a path relative to the Pulumi project directory/,
        );
        assert.match(
            problems(withSpec({ patches: [exported, { ...exported, labels: {} }] })).join(),
            /patches\[1\]\.name: patch names must be unique in a list, and so must idOverrides/,
        );
    });

    it("inline.go: a mapping, a list of mappings (several documents) or a YAML string, rendered as given; node-role labels refused in each", () => {
        assert.deepEqual(model.inlineForms.forms, ["mapping", "sequence of mappings", "string"]);
        const forms = [
            { machine: { sysctls: { a: "1" } } },
            [{ machine: {} }, { apiVersion: "v1alpha1", kind: "SideroLinkConfig" }],
            'machine:\n  sysctls:\n    a: "1"\n',
        ];
        const rendered = render({ patches: forms.map((inline, i) => ({ name: `p${i}`, inline })) })[0].patches.map(
            (p: { inline: unknown }) => p.inline,
        );
        assert.deepEqual(rendered, forms);
        const role = { machine: { nodeLabels: { "node-role.kubernetes.io/gpu": "" } } };
        const found = problems(
            withSpec({
                patches: [
                    { name: "a", inline: [role] },
                    { name: "b", inline: YAML.stringify(role) },
                ],
            }),
        );
        assert.deepEqual(
            found.map((p) => p.split(": ")[0]),
            ["clusters.patches[0].inline", "clusters.patches[1].inline"],
        );
        for (const p of found) assert.match(p, /NodeRestriction/);
    });

    it("machineset.go: upgradeStrategy on both sets, strategy types Rolling and Unset, the type optional", () => {
        assert.deepEqual(model.strategyTypes.values, ["Unset", "Rolling"]);
        const [, c, w] = render({
            controlPlane: { ...cp, upgradeStrategy: { type: "Rolling", rolling: { maxParallelism: 1 } } },
            workers: [
                {
                    ...worker,
                    updateStrategy: { rolling: { maxParallelism: 2 } },
                    deleteStrategy: { type: "Unset" },
                    upgradeStrategy: { type: "Rolling" },
                },
            ],
        });
        assert.deepEqual(c.upgradeStrategy, { type: "Rolling", rolling: { maxParallelism: 1 } });
        assert.deepEqual(
            [w.updateStrategy, w.deleteStrategy, w.upgradeStrategy],
            [{ rolling: { maxParallelism: 2 } }, { type: "Unset" }, { type: "Rolling" }],
        );
        assert.match(
            problems(withSpec({ workers: [{ ...worker, upgradeStrategy: { type: "Parallel" } }] })).join(),
            /upgradeStrategy\.type: type is Rolling or Unset/,
        );
    });

    it('controlplane.go / workers.go: bootstrapSpec on the control plane only, both fields needed; no custom control-plane name; Workers default to "workers"', () => {
        assert.deepEqual(model.controlPlaneRefuses.fields, ["name", "updateStrategy", "deleteStrategy"]);
        const bootstrapSpec = {
            clusterUUID: "98d00c6b-fae1-4bf2-afa3-0282ef443f84",
            snapshot: "FFFFFFFF9AA169F0.snapshot",
        };
        const [, c, w] = render({
            controlPlane: { ...cp, bootstrapSpec },
            workers: [{ machineClass: "matrix-worker-golf", size: 1 }],
        });
        assert.deepEqual(c.bootstrapSpec, bootstrapSpec);
        assert.equal(w.name, model.workersRefuses.defaultName);
        assert.match(
            problems(withSpec({ controlPlane: { ...cp, bootstrapSpec: { clusterUUID: "x" } } })).join(),
            /controlPlane\.bootstrapSpec\.snapshot/,
        );
        assert.match(
            problems(withSpec({ workers: [{ ...worker, bootstrapSpec }] })).join(),
            /workers\[0\]\.bootstrapSpec: .*belongs to the control plane.*move it to controlPlane/,
        );
        assert.match(
            problems(withSpec({ controlPlane: { ...cp, name: "cp" } })).join(),
            /controlPlane\.name: Omni names the control-plane set itself/,
        );
    });

    it("machineset.go: a set of machines listed by UUID is refused with why and what to do", () => {
        const found = problems(
            withSpec({ workers: [{ ...worker, machines: ["0f9e8a52-4c1b-4b8e-9d3a-7e2f1c6b5a40"] }] }),
        ).join();
        assert.match(
            found,
            /workers\[0\]\.machines: .*hand-picked machines .* cannot be expressed: let a machine class provide them/,
        );
    });

    it("cluster.go features: disablePublicDiscoveryService only on Talos 1.14+ with the embedded service (validations/cluster.go); enableNodeAuditSkip", () => {
        assert.equal(model.publicDiscoveryService.minimumTalos, "1.14.0");
        const features = render({
            features: {
                enableNodeAuditSkip: true,
                useEmbeddedDiscoveryService: true,
                disablePublicDiscoveryService: false,
            },
        })[0].features;
        assert.deepEqual(features, {
            enableNodeAuditSkip: true,
            useEmbeddedDiscoveryService: true,
            disablePublicDiscoveryService: false,
        });
        assert.match(
            problems(
                withSpec({ features: { disablePublicDiscoveryService: true, useEmbeddedDiscoveryService: true } }),
            ).join(),
            /disablePublicDiscoveryService: .*Talos 1\.14 or newer, and this one runs v1\.13\.6/,
        );
        // Omni v1.10.4 offers no Talos 1.14 (versions.test.ts): such a cluster is refused for its version alone.
        assert.deepEqual(
            problems(
                withSpec({
                    talosVersion: "v1.14.0",
                    // No patches: no Talos 1.14 config schema is vendored to check them with.
                    workers: testCluster.workers,
                    features: { disablePublicDiscoveryService: true, useEmbeddedDiscoveryService: true },
                }),
            ).map((p) => p.split(":")[0]),
            ["clusters.talosVersion"],
        );
        assert.match(
            problems(withSpec({ talosVersion: "v1.14.0", features: { disablePublicDiscoveryService: true } })).join(),
            /no discovery service at all: set features\.useEmbeddedDiscoveryService: true/,
        );
    });

    it("kubernetes_manifest.go: manifests inline or from a file (named by its path), mode one-time or full", () => {
        assert.deepEqual(model.manifestFields.modes, ["one-time", "full"]);
        const file = `${patchDir}/longhorn.yaml`;
        const [cluster] = render({
            kubernetesManifests: [
                {
                    name: "ns",
                    mode: "one-time",
                    inline: { apiVersion: "v1", kind: "Namespace", metadata: { name: "x" } },
                },
                { file, mode: "full" },
            ],
        });
        assert.deepEqual(cluster.kubernetes.manifests, [
            { name: "ns", mode: "one-time", inline: { apiVersion: "v1", kind: "Namespace", metadata: { name: "x" } } },
            { name: file, mode: "full", inline: fs.readFileSync(file, "utf8") },
        ]);
        assert.equal(cluster.kubernetes.version, versions.kubernetes);
        assert.match(
            problems(withSpec({ kubernetesManifests: [{ name: "ns", inline: {} }] })).join(),
            /kubernetesManifests\[0\]\.mode: mode is "one-time" .* or "full"/,
        );
        assert.match(
            problems(withSpec({ kubernetesManifests: [{ mode: "full", inline: {} }] })).join(),
            /kubernetesManifests\[0\]\.name: an inline manifest needs a name/,
        );
    });

    it("kubernetes_healthcheck.go: Job healthchecks inline or from a file, with an interval, named or with an idOverride", () => {
        assert.deepEqual(model.healthcheckFields.fields, [
            "name",
            "idOverride",
            "labels",
            "annotations",
            "job",
            "file",
            "interval",
        ]);
        const job = "apiVersion: batch/v1\nkind: Job\n";
        const [cluster] = render({
            kubernetesHealthchecks: [
                { name: "nodes-ready", job, interval: "1m" },
                { idOverride: "cluster-x-file", file: `${patchDir}/nvidia.yaml` },
            ],
        });
        assert.deepEqual(cluster.kubernetes.healthchecks, [
            { name: "nodes-ready", interval: "1m", job },
            { idOverride: "cluster-x-file", job: fs.readFileSync(`${patchDir}/nvidia.yaml`, "utf8") },
        ]);
        assert.match(
            problems(withSpec({ kubernetesHealthchecks: [{ job }] })).join(),
            /kubernetesHealthchecks\[0\]\.name: a healthcheck needs a name/,
        );
        assert.match(
            problems(withSpec({ kubernetesHealthchecks: [{ name: "a", job, interval: "often" }] })).join(),
            /interval: use a Go duration/,
        );
    });

    it("models.go Descriptors: Omni's own omni.sidero.dev/ prefix is refused in labels and annotations of every resource", () => {
        assert.equal(model.systemLabelPrefix.prefix, "omni.sidero.dev/");
        const bad = { "omni.sidero.dev/owner": "me" };
        const found = problems(
            withSpec({
                labels: bad,
                controlPlane: { ...cp, annotations: bad },
                patches: [{ name: "p", inline: { machine: {} }, labels: bad }],
            }),
        );
        assert.deepEqual(
            found.map((p) => p.split(": ")[0]),
            [
                "clusters.labels.omni.sidero.dev/owner",
                "clusters.patches[0].labels.omni.sidero.dev/owner",
                "clusters.controlPlane.annotations.omni.sidero.dev/owner",
            ],
        );
        assert.match(found[0], /reserved for Omni's own labels .*e\.g\. example\.com\/owner/);
    });

    it("models.go translateExtensions: an empty extension list is rendered (it removes extensions), an absent one is not", () => {
        const [cluster, c, w] = render({ systemExtensions: [], controlPlane: cp, workers: [worker] });
        assert.deepEqual(cluster.systemExtensions, []);
        assert.equal(c.systemExtensions, undefined);
        assert.equal(w.systemExtensions, undefined);
    });

    it("knows every field of the model's Cluster and machine-set documents: each is rendered, or refused on purpose with a reason", () => {
        // Model field → where the cluster entry takes it, and a value to try (kind is the document itself).
        const take: Record<string, [string, unknown]> = {
            name: ["name", "w2"],
            labels: ["labels", { a: "b" }],
            annotations: ["annotations", { a: "b" }],
            "kubernetes.version": ["kubernetesVersion", "v1.36.2"],
            "kubernetes.manifests": ["kubernetesManifests", [{ name: "m", mode: "full", inline: {} }]],
            "kubernetes.healthchecks": ["kubernetesHealthchecks", [{ name: "h", job: {} }]],
            "talos.version": ["talosVersion", "v1.13.6"],
            "features.diskEncryption": ["features.diskEncryption", true],
            "features.enableWorkloadProxy": ["features.enableWorkloadProxy", true],
            "features.useEmbeddedDiscoveryService": ["features.useEmbeddedDiscoveryService", true],
            "features.disablePublicDiscoveryService": ["features.disablePublicDiscoveryService", false],
            "features.enableNodeAuditSkip": ["features.enableNodeAuditSkip", true],
            "features.backupConfiguration.interval": ["features.backupInterval", "6h"],
            patches: ["patches", []],
            kernelArgs: ["kernelArgs", ["console=ttyS0"]],
            systemExtensions: ["systemExtensions", []],
            bootstrapSpec: ["bootstrapSpec", { clusterUUID: "u", snapshot: "s" }],
            machines: ["machines", ["0f9e8a52-4c1b-4b8e-9d3a-7e2f1c6b5a40"]],
            "machineClass.name": ["machineClass", "matrix-worker-golf"],
            "machineClass.size": ["size", 1],
            updateStrategy: ["updateStrategy", { type: "Rolling" }],
            deleteStrategy: ["deleteStrategy", { type: "Rolling" }],
            upgradeStrategy: ["upgradeStrategy", { type: "Rolling" }],
        };
        const verdict = (spec: unknown): string[] => {
            try {
                renderClusterTemplate(spec as ClusterSpec, classes);
                return [];
            } catch (e) {
                return (e as ConfigError).issues.map((i) => i.message);
            }
        };
        const check = (where: string, field: string, spec: unknown) => {
            for (const message of verdict(spec)) {
                assert.doesNotMatch(message, /unknown key|^Invalid input/, `${where} ${field}: ${message}`);
                assert.match(
                    message,
                    /Omni|refuse|remove it|move it|cannot be expressed/,
                    `${where} ${field}: a refusal says why (${message})`,
                );
            }
        };
        for (const field of (model.clusterFields.fields as string[]).filter((f) => f !== "kind")) {
            const [key, value] = take[field];
            const [top, sub] = key.split(".");
            check("Cluster", field, withSpec(sub ? { [top]: { [sub]: value } } : { [top]: value }));
        }
        for (const field of (model.machineSetFields.fields as string[]).filter((f) => f !== "kind")) {
            const [key, value] = take[field];
            check("ControlPlane", field, withSpec({ controlPlane: { ...cp, [key]: value } }));
            check("Workers", field, withSpec({ workers: [{ ...worker, [key]: value }] }));
        }
    });
});

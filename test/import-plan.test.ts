import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as openpgp from "openpgp";
import * as YAML from "yaml";
import { inlineDocuments } from "../components/omni/cluster-render";
import { ImportOptions, ImportResult, importStack } from "../src/import/import";
import { unwrapSecrets } from "../src/plan/capture";
import { planStack } from "../src/plan/plan";
import { passphraseStack, TEST_PASSPHRASE } from "./passphrase-secrets";
import { runPlan, sharedPack } from "./plan-run";
import { editedStacks, removeStackDirs } from "./stack-files";

/**
 * The plan of an imported config: the same omnictl YAML as the files it came from (ids, provider data, versions,
 * labels, patches, sets, extensions), and a hub that takes over the running Omni's state instead of creating it.
 */

const ROOT = path.join(__dirname, "..");
const FIX = "test/fixtures/import";
const KIT = `${FIX}/kit`;
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");
const documents = (text: string) =>
    YAML.parseAllDocuments(text)
        .map((d) => d.toJS())
        .filter((d) => d !== null);
const run = (o: Partial<ImportOptions>): ImportResult =>
    importStack({ projectDir: ROOT, stack: "matrix", hubStack: "quantum", ...o });

/** Plans the example workload stack with the imported classes and clusters in place of its own. */
async function planImported(result: ImportResult) {
    assert.deepEqual(result.issues, [], "the import is clean");
    const { machineClasses, clusters } = result.config.workloads!;
    const files = editedStacks({
        matrix: (c) =>
            Object.assign(c, { "omni-scale:machineClasses": machineClasses, "omni-scale:clusters": clusters }),
    });
    const plan = await planStack({ stack: "matrix", configFile: files.matrix, pack: sharedPack() });
    assert.deepEqual(
        plan.violations.filter((v) => v.enforcementLevel === "mandatory"),
        [],
    );
    /** What a class or cluster gives omnictl (`apply`, `cluster template sync`): its resource's `yaml`. */
    const stdin = (name: string) => {
        const resource = plan.resources.find((r) => r.type === "pulumi-nodejs:dynamic:Resource" && r.name === name);
        assert.ok(resource, `no resource ${name}`);
        return String(unwrapSecrets(resource.inputs).yaml);
    };
    return { plan, stdin };
}

/** A MachineClass as Omni stores it: id, provider, provider data (parsed), kernel args, META values, gRPC tunnel. */
function classView(doc: any) {
    const a = doc.spec.autoprovision;
    return {
        id: doc.metadata.id,
        type: doc.metadata.type,
        providerid: a.providerid,
        providerdata: YAML.parse(a.providerdata),
        kernelargs: a.kernelargs ?? [],
        metavalues: a.metavalues ?? [],
        grpctunnel: a.grpctunnel ?? 0,
    };
}

/**
 * A template as Omni translates it (omni v1.10.4 client/pkg/template/internal/models): each document's resources
 * by id — the machine set's name (Workers default "workers"), the allocation with its count as a number, each
 * patch's id (idOverride, name, or the file path) with its content as documents (a file's content read from
 * beside the template).
 */
function templateView(text: string, templateDir: string) {
    const patches = (list: any[] | undefined) =>
        (list ?? []).map((p) => ({
            id: p.idOverride ?? p.name ?? p.file,
            labels: p.labels,
            annotations: p.annotations,
            content:
                p.file !== undefined
                    ? documents(fs.readFileSync(path.join(templateDir, p.file), "utf8"))
                    : inlineDocuments(p.inline),
        }));
    return documents(text).map((d: any) => ({
        kind: d.kind,
        name: d.kind === "Workers" ? (d.name ?? "workers") : d.name,
        labels: d.labels,
        annotations: d.annotations,
        kubernetes: d.kubernetes?.version,
        talos: d.talos?.version,
        features: d.features,
        manifests: d.kubernetes?.manifests?.map((m: any) => ({
            name: m.name,
            mode: m.mode,
            content: inlineDocuments(m.inline),
        })),
        machineClass: d.machineClass && { name: d.machineClass.name, size: Number(d.machineClass.size) },
        updateStrategy: d.updateStrategy,
        deleteStrategy: d.deleteStrategy,
        upgradeStrategy: d.upgradeStrategy,
        systemExtensions: d.systemExtensions,
        patches: patches(d.patches),
    }));
}

describe("import → offline plan: the imported config renders the same omnictl YAML", function () {
    this.timeout(180000);
    after(removeStackDirs);
    // The seed kit's plan, shared by its two tests.
    let seedKit: ReturnType<typeof planImported> | undefined;
    const seedKitPlan = () =>
        (seedKit ??= planImported(run({ machineClasses: [`${KIT}/machine-classes`], clusters: [`${KIT}/clusters`] })));

    it("the seed kit: every machine class, with its PCI devices, extra disk and node pinning, as Omni has it", async () => {
        const { stdin } = await seedKitPlan();
        const originals = fs
            .readdirSync(path.join(ROOT, KIT, "machine-classes"))
            .flatMap((f) => documents(read(`${KIT}/machine-classes/${f}`)));
        assert.equal(originals.length, 5);
        for (const original of originals) {
            const rendered = YAML.parse(stdin(`${original.metadata.id}-class`));
            assert.deepEqual(classView(rendered), classView(original), original.metadata.id);
        }
    });

    it("the seed kit: the cluster template, inline and file patches under the same ids, sets, extensions, no patch added", async () => {
        const { stdin } = await seedKitPlan();
        const rendered = stdin("talos-prod-01-cluster");
        assert.doesNotMatch(rendered, /\bfile:/, "omnictl runs on a temporary copy: file patches travel inline");
        const original = templateView(read(`${KIT}/clusters/talos-prod-01.yaml`), path.join(ROOT, KIT, "clusters"));
        assert.deepEqual(templateView(rendered, ROOT), original);
        // Spot checks of what the view compares.
        assert.deepEqual(
            original[5].patches.map((p: any) => p.id),
            ["patches/nvidia.yaml"],
        );
        assert.deepEqual(original[5].machineClass, { name: "matrix-gpu-worker", size: 1 });
        // A file patch reaches Omni as the file's exact text, as if omnictl had read the file.
        const longhorn = documents(rendered)[2].patches[1];
        assert.deepEqual(longhorn, { name: "longhorn", inline: read(`${KIT}/clusters/patches/longhorn.yaml`) });
    });

    it("omnictl's export: idOverride patches byte for byte, manifests, strategies; the classes from omnictl get", async () => {
        const { stdin } = await planImported(
            run({
                machineClasses: [`${FIX}/omnictl/machineclasses.yaml`],
                clusters: [`${FIX}/omnictl/talos-prod-01.yaml`],
            }),
        );
        const exported = read(`${FIX}/omnictl/talos-prod-01.yaml`);
        const rendered = stdin("talos-prod-01-cluster");
        assert.deepEqual(templateView(rendered, ROOT), templateView(exported, ROOT));
        const [cluster] = documents(rendered);
        assert.deepEqual(
            cluster.patches.map((p: any) => p.inline),
            documents(exported)[0].patches.map((p: any) => p.inline),
            "the same bytes",
        );
        for (const original of documents(read(`${FIX}/omnictl/machineclasses.yaml`)).filter(
            (d: any) => d.spec.autoprovision,
        )) {
            assert.deepEqual(classView(YAML.parse(stdin(`${original.metadata.id}-class`))), classView(original));
        }
    });
});

describe("import → offline plan: a hub that adopts the running Omni's state (hub.adopt)", function () {
    this.timeout(180000);
    const PASSPHRASE = TEST_PASSPHRASE;
    const env = { PULUMI_CONFIG_PASSPHRASE: PASSPHRASE };
    const stack = passphraseStack(PASSPHRASE);
    const hub = run({ omniEnv: `${KIT}/omni/omni.env` }).config.hub!.hub as Record<string, unknown>;
    let etcdKey = "";

    before(async () => {
        // The running Omni's key, as its omni.asc holds it: unlocked, with an encryption subkey (generated here, fake).
        etcdKey = (
            await openpgp.generateKey({
                userIDs: [{ name: "Omni (offline test)", email: "omni@example.com" }],
                format: "armored",
            })
        ).privateKey;
    });
    after(removeStackDirs);

    /** The example hub stack with the imported hub settings merged in, and the etcd key when given. */
    const hubFile = (edit: (h: Record<string, unknown>) => void, withKey = true) =>
        editedStacks({
            quantum: (c, doc) => {
                doc.encryptionsalt = stack.encryptionsalt;
                const merged = { ...c["omni-scale:hub"], ...hub };
                edit(merged);
                c["omni-scale:hub"] = merged;
                if (withKey) c["omni-scale:etcdGpgKey"] = stack.secure(etcdKey);
            },
        }).quantum;

    it("imports both state volumes by name and creates none; the containers wait for them; the account id and event sink port are kept", async () => {
        const file = hubFile(() => undefined);
        const json = await runPlan(["--stack", "quantum", "--config", file, "--json"], env);
        assert.equal(json.code, 0, json.stderr);
        const doc = JSON.parse(json.stdout);
        const volumes = doc.resources.filter((r: any) => r.type === "docker:index/volume:Volume");
        assert.deepEqual(volumes.map((v: any) => [v.inputs.name, v.import]).sort(), [
            ["omni-data", "omni-data"],
            ["omni-tailscale-state", "omni-tailscale-state"],
        ]);
        assert.ok(volumes.every((v: any) => v.protect && v.retainOnDelete));
        assert.ok(
            !doc.resources.some((r: any) => r.type === "random:index/randomUuid:RandomUuid"),
            "the account id is not generated",
        );
        assert.ok(
            // (the hub backup's own signing key is generated: it is not the etcd key)
            !doc.resources.some(
                (r: any) => r.type === "pulumi-nodejs:dynamic:Resource" && r.name === "omni-etcd-key-generated",
            ),
            "the etcd key is the running Omni's",
        );
        const containers = doc.resources.filter((r: any) => r.type === "docker:index/container:Container");
        const sidecar = containers.find((c: any) => c.name === "omni-tailscale");
        const omni = containers.find((c: any) => c.name === "omni-omni");
        assert.ok(
            sidecar.dependsOn.some((u: string) => u.endsWith("::omni-tailscale-state")),
            "the sidecar starts on the adopted node state",
        );
        assert.ok(
            omni.dependsOn.some((u: string) => u.endsWith("::omni-omni-data")),
            "Omni starts on the adopted data",
        );
        assert.ok(omni.inputs.command.includes("--account-id=5f0d5b0e-3b9a-4c1e-9a4e-0d2a1c3b4e5f"));
        assert.ok(omni.inputs.command.includes("--event-sink-port=8091"));
        assert.deepEqual(doc.violations, []);

        const text = await runPlan(["--stack", "quantum", "--config", file], env);
        assert.equal(text.code, 0, text.stderr);
        assert.match(
            text.stdout,
            /docker:index\/volume:Volume {2}omni-omni-data {2}\[adopt: import omni-data, protect, retainOnDelete\]/,
        );
        assert.match(
            text.stdout,
            /docker:index\/volume:Volume {2}omni-tailscale-state {2}\[adopt: import omni-tailscale-state, protect, retainOnDelete\]/,
        );
    });

    it("refuses an old account id over a new, empty data volume, and adopted data without the key that decrypts it", async () => {
        const fresh = await runPlan(["--stack", "quantum", "--config", hubFile((h) => delete h.adopt)], env);
        assert.equal(fresh.code, 2);
        assert.match(
            fresh.stderr,
            /omni-scale:hub\.adopt: accountId 5f0d5b0e-3b9a-4c1e-9a4e-0d2a1c3b4e5f names an existing Omni, but this hub would create a new, empty data volume: set adopt\.omniDataVolume/,
        );
        const anonymous = await runPlan(["--stack", "quantum", "--config", hubFile((h) => delete h.accountId)], env);
        assert.equal(anonymous.code, 2);
        assert.match(
            anonymous.stderr,
            /hub\.accountId: adopt\.omniDataVolume omni-data holds an existing Omni: set accountId to its account UUID/,
        );
        const keyless = await runPlan(["--stack", "quantum", "--config", hubFile(() => undefined, false)], env);
        assert.equal(keyless.code, 2);
        assert.match(
            keyless.stderr,
            /adopt\.omniDataVolume omni-data holds data encrypted with the running Omni's etcd key.*etcdGpgKey/,
        );
    });
});

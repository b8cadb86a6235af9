import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Ajv2020 from "ajv/dist/2020";
import * as YAML from "yaml";
import {
    ClusterSpec,
    renderClusterTemplate,
    talosPatchTemplateProblems,
    talosPatchTemplateWarnings,
} from "../components/omni/cluster-render";
import { talosConfigPatchesPlain } from "../policy/omni-resources";
import { ConfigError } from "../components/core/validation";
import { TALOS_MINORS } from "../components/core/versions";
import { docCorpus, examplePatch, pageHeaders } from "./talos-docs-corpus";
import {
    closest,
    talosDocumentKinds,
    talosPatchCheck,
    talosPatchProblems,
    talosSchemaMinors,
    talosSchemaSources,
    vendoredTalosSchema,
} from "../components/omni/talos-patches";

const UPSTREAM = path.join(__dirname, "fixtures", "upstream", "talos");
const KIT = path.join(__dirname, "fixtures", "import", "kit", "clusters");

/** Every file under a fixture directory, relative to it. */
function filesUnder(dir: string): string[] {
    return fs
        .readdirSync(dir, { recursive: true, encoding: "utf8" })
        .filter((f) => fs.statSync(path.join(dir, f)).isFile())
        .sort();
}

const read = (...p: string[]) => fs.readFileSync(path.join(...p), "utf8");

/** A real Talos patch: the seed kit's longhorn.yaml (kubelet extra mount for Longhorn). */
const longhorn = read(KIT, "patches", "longhorn.yaml");

describe("Talos config patches (components/omni/talos-patches.ts)", () => {
    describe("vendored schemas (components/omni/talos-schemas)", () => {
        it("cover every Talos minor the pinned Omni offers (TALOS_MINORS), so no accepted cluster goes unchecked", () => {
            assert.deepEqual(
                TALOS_MINORS.filter((m) => !talosSchemaMinors.includes(m)),
                [],
            );
        });

        it("are upstream's bytes: each file's git blob id is the one sources.json records (siderolabs/talos at that tag)", () => {
            assert.deepEqual(talosSchemaMinors, ["1.9", "1.10", "1.11", "1.12", "1.13"]);
            for (const minor of talosSchemaMinors) {
                const bytes = vendoredTalosSchema(minor);
                const blob = crypto
                    .createHash("sha1")
                    .update(Buffer.concat([Buffer.from(`blob ${bytes.length}\0`), bytes]))
                    .digest("hex");
                const source = talosSchemaSources[minor];
                assert.equal(blob, source.blob, `${minor}: ${source.tag}:${source.path}`);
                assert.equal(source.path, `website/content/v${minor}/schemas/config.schema.json`);
                const schema = JSON.parse(bytes.toString("utf8"));
                assert.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
                assert.equal(schema.$id, `https://talos.dev/v${minor}/schemas/config.schema.json`);
            }
        });

        it("are valid draft 2020-12 schemas (the check skips ajv's meta-schema validation at start-up)", () => {
            const ajv = new Ajv2020({ strict: false });
            for (const minor of talosSchemaMinors) {
                const schema = JSON.parse(vendoredTalosSchema(minor).toString("utf8"));
                assert.equal(ajv.validateSchema(schema), true, `${minor}: ${ajv.errorsText()}`);
            }
        });

        it("ship with the library: package.json files includes components/omni/talos-schemas", () => {
            const pkg = JSON.parse(read(__dirname, "..", "package.json"));
            assert.ok(pkg.files.includes("components/omni/talos-schemas"));
        });

        it("know exactly the document kinds Talos registers at each tag (types/*: registry.Register), KubeSpanEndpointsConfig included", () => {
            // The schemas name KubeSpanEndpointsConfig "KubeSpanEndpoints" and leave 1.13's ImageVerificationConfig out;
            // the decoder (configloader/internal/decoder) looks kinds up in the registry.
            const registered = JSON.parse(read(UPSTREAM, "registered-kinds.json")) as Record<string, string[]>;
            for (const minor of talosSchemaMinors)
                assert.deepEqual(talosDocumentKinds(minor), registered[minor], minor);
        });

        it("a Talos minor without a vendored schema fails clearly instead of passing", () => {
            const [problem] = talosPatchProblems(longhorn, "v1.14.0");
            assert.match(
                problem,
                /no Talos config schema is vendored for Talos v1\.14\.0.*vendored: 1\.9, 1\.10, 1\.11, 1\.12, 1\.13/,
            );
        });
    });

    describe("Talos's own documents pass (pkg/machinery/config testdata at each vendored tag)", () => {
        for (const tag of fs.readdirSync(UPSTREAM).filter((d) => d.startsWith("v"))) {
            it(`${tag}: every document of types/*/testdata, and every strategic merge patch of configpatcher/testdata`, () => {
                const files = filesUnder(path.join(UPSTREAM, tag)).filter(
                    (f) => !/jsonpatch|testdata\/patch\.yaml$/.test(f),
                );
                assert.ok(files.length >= 12, `${tag}: ${files.length} files`);
                for (const f of files) {
                    const problems = talosPatchProblems(read(UPSTREAM, tag, f), tag);
                    // runtime/kmsg_log.go Validate accepts only tcp:// and udp:// (the schema's pattern): the testdata
                    // document is a marshalling fixture that Talos itself would refuse to run with.
                    const expected = f.endsWith("kmsglog.yaml")
                        ? ['url: "https://kmsglog.api/logs" does not match the pattern ^(tcp|udp)://']
                        : [];
                    assert.deepEqual(problems, expected, `${tag}/${f}`);
                }
            });
        }
    });

    // Omni v1.10.4 loads patches with Talos machinery v1.14.0-beta.1 (its go.mod): configloader, decoder.go,
    // delete.go and container.go below are read at that tag.
    describe("strategic merge patches", () => {
        it("the seed kit's patches pass: longhorn, nvidia, registry mirrors (machine.registries: deprecated, still decoded)", () => {
            for (const f of ["longhorn.yaml", "nvidia.yaml", "registry-mirrors.yaml"])
                assert.deepEqual(talosPatchProblems(read(KIT, "patches", f), "v1.13.6"), [], f);
        });

        it("refuses a typo with the closest known key: extraArg → extraArgs", () => {
            const patch = longhorn.replace(
                "extraMounts:",
                "extraArg:\n      rotate-server-certificates: true\n    extraMounts:",
            );
            assert.deepEqual(talosPatchProblems(patch, "v1.13.6"), [
                "machine.kubelet.extraArg: unknown key for Talos 1.13: did you mean `extraArgs`?",
            ]);
        });

        it("refuses a wrong type: a list where Talos wants a map, a map value of the wrong type", () => {
            assert.deepEqual(
                talosPatchProblems(
                    { machine: { kubelet: { extraArgs: ["--rotate-server-certificates"] } } },
                    "v1.13.6",
                ),
                ["machine.kubelet.extraArgs: is a list, Talos 1.13 wants a mapping"],
            );
            assert.deepEqual(talosPatchProblems(longhorn.replace("- rw", "- rw\n        readonly: yes"), "v1.13.6"), [
                "machine.kubelet.extraMounts[0].readonly: unknown key for Talos 1.13",
            ]);
        });

        it("missing required fields are not errors: a patch is a partial config (the schema's required dropped)", () => {
            // ExtensionServiceConfig requires name, NetworkRuleConfig requires name and portSelector in the schema.
            const partial = "apiVersion: v1alpha1\nkind: NetworkRuleConfig\ningress:\n  - subnet: 10.0.0.0/8\n";
            assert.deepEqual(talosPatchProblems(partial, "v1.13.6"), []);
        });

        it("multi-document patches: each document by its apiVersion/kind, named by position and kind", () => {
            const doc = (kind: string, body: string) => `apiVersion: v1alpha1\nkind: ${kind}\nname: ingress\n${body}`;
            const ok = [
                longhorn,
                doc(
                    "NetworkRuleConfig",
                    "portSelector:\n  ports: [10250]\n  protocol: tcp\ningress:\n  - subnet: 10.0.0.0/8\n",
                ),
                "apiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: tailscale\nenvironment:\n  - TS_AUTHKEY=tskey-example\n",
            ].join("---\n");
            assert.deepEqual(talosPatchProblems(ok, "v1.13.6"), []);
            // The same documents as an inline list (Omni's list form).
            assert.deepEqual(
                talosPatchProblems(
                    YAML.parseAllDocuments(ok).map((d) => d.toJS()),
                    "v1.13.6",
                ),
                [],
            );

            const bad = [
                longhorn,
                doc("NetworkRuleConfig", "portSelector:\n  ports: [10250]\n  protocol: sctp\n"),
                doc("NetworkRuleConfg", ""),
            ].join("---\n");
            assert.deepEqual(talosPatchProblems(bad, "v1.13.6"), [
                'document 2 (NetworkRuleConfig ingress): portSelector.protocol: is "sctp", Talos 1.13 wants one of "tcp", "udp", "icmp", "icmpv6"',
                "document 3 (NetworkRuleConfg ingress): kind: unknown document kind NetworkRuleConfg for Talos 1.13: did you mean `NetworkRuleConfig`?",
            ]);
        });

        it("a kind and name, or the v1alpha1 config, appears once in a patch (container.go New: duplicate document)", () => {
            const rule = (port: number) =>
                `apiVersion: v1alpha1\nkind: NetworkRuleConfig\nname: kubelet\nportSelector:\n  ports: [${port}]\n`;
            assert.deepEqual(talosPatchProblems([rule(10250), rule(10251)].join("---\n"), "v1.13.6"), [
                "document 2 (NetworkRuleConfig kubelet): repeats document 1 (NetworkRuleConfig kubelet): Talos's config loader refuses duplicates: merge them",
            ]);
            assert.deepEqual(talosPatchProblems([longhorn, "machine:\n  sysctls: {}\n"].join("---\n"), "v1.13.6"), [
                "document 2 (v1alpha1): repeats document 1 (the v1alpha1 config): Talos's config loader refuses duplicates: merge them",
            ]);
            assert.deepEqual(
                talosPatchProblems([rule(1), rule(2).replace("kubelet", "etcd")].join("---\n"), "v1.13.6"),
                [],
            );
        });

        it("a document without kind is the v1alpha1 config only with machine/cluster keys (decoder.go: else `missing kind`)", () => {
            assert.match(
                talosPatchProblems({ ingress: [] }, "v1.13.6")[0],
                /^no kind: a patch document is the v1alpha1 config/,
            );
            assert.match(
                talosPatchProblems({ kind: "ExtensionServiceConfig", name: "x", environment: [] }, "v1.13.6")[0],
                /^apiVersion: missing/,
            );
            assert.match(
                talosPatchProblems({ apiVersion: "v1alpha2", kind: "ExtensionServiceConfig" }, "v1.13.6")[0],
                /ExtensionServiceConfig has apiVersion v1alpha1 in Talos 1\.13, not v1alpha2/,
            );
        });

        it("`$patch: delete` is part of a patch (configloader WithAllowPatchDelete); a deleted path must exist", () => {
            const del = read(UPSTREAM, "v1.13.9", "configpatcher/testdata/patchdelete/strategic1.yaml");
            assert.deepEqual(talosPatchProblems(del, "v1.13.6"), []);
            assert.deepEqual(
                talosPatchProblems({ machine: { kubelet: { extraMount: { $patch: "delete" } } } }, "v1.13.6"),
                ["machine.kubelet.extraMount: no such key in Talos 1.13: did you mean `extraMounts`? ($patch: delete)"],
            );
        });

        it("null is as good as absent (Go's YAML decoder leaves the zero value)", () => {
            assert.deepEqual(talosPatchProblems("machine:\n  kubelet:\n    image:\n", "v1.13.6"), []);
        });

        it("an empty patch is refused, as Omni refuses it (configloader.go ErrNoConfig: `config not found`)", () => {
            for (const empty of [{}, "", "# nothing\n", "version: v1alpha1\n"])
                assert.match(talosPatchProblems(empty, "v1.13.6").join(), /the patch is empty: Omni refuses it/);
        });
    });

    describe("judged by the cluster's Talos minor", () => {
        it("machine.install.grubUseUKICmdline (added in 1.12) passes on 1.12 and 1.13, is unknown on 1.11", () => {
            const patch = { machine: { install: { grubUseUKICmdline: true } } };
            assert.deepEqual(talosPatchProblems(patch, "v1.12.0"), []);
            assert.deepEqual(talosPatchProblems(patch, "v1.13.6"), []);
            assert.deepEqual(talosPatchProblems(patch, "v1.11.6"), [
                "machine.install.grubUseUKICmdline: unknown key for Talos 1.11",
            ]);
        });

        it("a KubeSpanConfig document (added in 1.13) is refused on 1.12, saying which minor added it", () => {
            const patch = "apiVersion: v1alpha1\nkind: KubeSpanConfig\nenabled: true\n";
            assert.deepEqual(talosPatchProblems(patch, "v1.13.6"), []);
            assert.deepEqual(talosPatchProblems(patch, "v1.12.11"), [
                "kind: unknown document kind KubeSpanConfig for Talos 1.12 (Talos 1.13 added it: upgrade the cluster's Talos first)",
            ]);
        });

        it("deprecated fields newer schemas leave out are still accepted, and still type-checked (v1alpha1_types.go docgen:nodoc)", () => {
            // The 1.12 schema drops machine.registries and machine.network, which Talos v1.13.9 still decodes.
            const mirrors = read(KIT, "patches", "registry-mirrors.yaml");
            assert.deepEqual(talosPatchProblems(mirrors, "v1.12.0"), []);
            assert.deepEqual(talosPatchProblems({ machine: { network: { hostname: "node-1" } } }, "v1.13.6"), []);
            assert.deepEqual(talosPatchProblems(mirrors.replace("endpoints:", "endpoint:"), "v1.13.6"), [
                'machine.registries.mirrors["docker.io"].endpoint: unknown key for Talos 1.13: did you mean `endpoints`?',
            ]);
            // Fields no vendored schema has described (deprecated before 1.9), still in the Go types.
            assert.deepEqual(talosPatchProblems({ cluster: { allowSchedulingOnMasters: true } }, "v1.9.6"), []);
        });
    });

    describe("Omni's rules (omni v1.10.4 client/pkg/omni/resources/omni/config_patch.go ValidateConfigPatch)", () => {
        it("refuses the fields Omni sets itself (forbiddenFields), though the schema allows them", () => {
            const problems = talosPatchProblems(
                { machine: { type: "worker", install: { extensions: [{ image: "ghcr.io/x/y:1" }] } } },
                "v1.13.6",
            );
            assert.deepEqual(problems, [
                "machine.type: Omni sets this itself and refuses a patch that overrides it: remove it",
                "machine.install.extensions: Omni sets this itself and refuses a patch that overrides it: remove it",
            ]);
        });

        it("refuses the os:admin role for Talos API access from Kubernetes (forbiddenSliceElements)", () => {
            const patch = { machine: { features: { kubernetesTalosAPIAccess: { allowedRoles: ["os:admin"] } } } };
            assert.match(talosPatchProblems(patch, "v1.13.6").join(), /allowedRoles: Omni refuses the os:admin role/);
            patch.machine.features.kubernetesTalosAPIAccess.allowedRoles = ["os:reader"];
            assert.deepEqual(talosPatchProblems(patch, "v1.13.6"), []);
        });

        it("refuses a JSON-6902 patch: Omni loads patches with configloader, which takes YAML mappings only (decoder.go)", () => {
            // Talos's own JSON-6902 patches (configpatcher/testdata at v1.13.9): right form and paths, still refused.
            for (const f of ["apply/jsonpatch1.yaml", "apply/jsonpatch2.yaml", "multidoc/jsonpatch.yaml"]) {
                const problems = talosPatchProblems(read(UPSTREAM, "v1.13.9", "configpatcher/testdata", f), "v1.13.6");
                assert.equal(problems.length, 1, f);
                assert.match(problems[0], /^a JSON-6902 patch \(a list of operations\), which Omni v1\.10\.4 refuses/);
            }
        });

        it("checks a JSON-6902 patch's form and paths against the v1alpha1 config, so the rewrite is right", () => {
            // configpatcher/testdata/patch.yaml at v1.13.9 patches /some/path, which no config has.
            const upstream = talosPatchProblems(
                read(UPSTREAM, "v1.13.9", "configpatcher/testdata/patch.yaml"),
                "v1.13.6",
            );
            assert.equal(upstream[1], "operation 1: path /some/path: some: no such key in Talos 1.13");
            const ops = [
                "- op: add\n  path: /machine/kubelet/extraArg/rotate-server-certificates\n  value: 'true'",
                "- op: replace\n  path: /machine/kubelet/extraArgs/rotate-server-certificates",
                "- op: remove\n  path: /machine/kubelet/extraMounts/0",
                "- op: delete\n  path: machine",
            ].join("\n");
            assert.deepEqual(talosPatchProblems(ops, "v1.13.6").slice(1), [
                "operation 1: path /machine/kubelet/extraArg/rotate-server-certificates: machine.kubelet.extraArg: no such key in Talos 1.13: did you mean `extraArgs`?",
                "operation 2: op replace needs a value",
                'operation 4: op "delete" is not one of add, remove, replace, move, copy, test',
                'operation 4: path "machine" is not a JSON pointer such as /machine/kubelet/extraArgs',
            ]);
        });
    });

    describe("read as go.yaml.in/yaml v4 reads it (Omni v1.10.4's go.mod: v4.0.0-rc.6, constructor.go)", () => {
        it("any non-null scalar goes into a string field as its text: unquoted numbers and booleans pass (constructInt/Bool/Float)", () => {
            // Talos's own guide (website/content/v1.9/kubernetes-guides/configuration/deploy-metrics-server.md:21).
            const metrics = "machine:\n  kubelet:\n    extraArgs:\n      rotate-server-certificates: true\n";
            for (const v of ["v1.9.6", "v1.12.11", "v1.13.5", "v1.13.6"])
                assert.deepEqual(talosPatchProblems(metrics, v), [], v);
            assert.deepEqual(
                talosPatchProblems({ machine: { sysctls: { "net.core.somaxconn": 65535 } } }, "v1.13.6"),
                [],
            );
            assert.deepEqual(talosPatchProblems("machine:\n  sysctls:\n    vm.nr_hugepages: 1024\n", "v1.13.6"), []);
            assert.deepEqual(
                talosPatchProblems("machine:\n  nodeLabels:\n    tier: 1\n    day: 2026-01-01\n", "v1.13.6"),
                [],
            );
            // The seed kit's gpu worker patch sets net.core.bpf_jit_harden: 1.
            assert.deepEqual(talosPatchProblems(read(KIT, "patches", "nvidia.yaml"), "v1.13.6"), []);
        });

        it('yes/on/off/y/n take a bool field (constructStr), quoted or not; a quoted "true" does not', () => {
            for (const v of ["yes", "on", "Off", "n", "'yes'", "true", "False"])
                assert.deepEqual(talosPatchProblems(`machine:\n  install:\n    wipe: ${v}\n`, "v1.13.6"), [], v);
            assert.deepEqual(talosPatchProblems('machine:\n  install:\n    wipe: "true"\n', "v1.13.6"), [
                'machine.install.wipe: is "true", Talos 1.13 wants true or false',
            ]);
        });

        it("integers as Go's ParseInt base 0 reads them, underscores dropped (resolver.go); a quoted number is text", () => {
            const mount = (size: string) =>
                `machine:\n  kubelet:\n    extraMounts:\n      - destination: /x\n        type: bind\n        source: /x\n        uidMappings:\n          - size: ${size}\n            containerID: 0\n            hostID: 0\n`;
            for (const v of ["1_000", "0b1", "0x10", "0o17", "065536", "1e3"])
                assert.deepEqual(talosPatchProblems(mount(v), "v1.13.6"), [], v);
            assert.match(
                talosPatchProblems(mount('"1000"'), "v1.13.6").join(),
                /size: is "1000", Talos 1.13 wants a whole number/,
            );
        });

        it("YAML errors are refusals with line and column, never an exception (duplicate keys, unterminated strings, undefined aliases)", () => {
            assert.deepEqual(talosPatchProblems("machine:\n  sysctls:\n    a: '1'\n    a: '2'\n", "v1.13.6"), [
                "not valid YAML (Omni refuses it): line 4, column 5: Map keys must be unique",
            ]);
            assert.deepEqual(talosPatchProblems("machine:\n  kubelet:\n    extraArgs: *args\n", "v1.13.6"), [
                "not valid YAML (Omni refuses it): line 3, column 16: alias *args has no anchor &args before it",
            ]);
            assert.match(
                talosPatchProblems('machine:\n  kubelet:\n    image: "x\n', "v1.13.6")[0],
                /^not valid YAML \(Omni refuses it\): line \d+, column \d+: /,
            );
            // Anchors, aliases and merge keys are YAML: they pass.
            const merged =
                "x: &args {v: '2'}\nmachine:\n  kubelet:\n    extraArgs:\n      <<: *args\n      node-ip: 10.0.0.1\n";
            assert.match(talosPatchProblems(merged, "v1.13.6").join(), /^x: unknown key/);
        });

        it("an unquoted value Talos reads as different text is a warning, never a refusal", () => {
            const verdict = talosPatchCheck(
                "machine:\n  sysctls:\n    kernel.x: 0x1F\n    kernel.y: 1024\n    kernel.z: on\n",
                "v1.13.6",
            );
            assert.deepEqual(verdict.problems, []);
            assert.deepEqual(verdict.warnings, [
                'machine.sysctls["kernel.x"]: Talos reads the unquoted 0x1F as the text "0x1F" (YAML readers take it for the number 31): quote it to make that plain',
                'machine.sysctls["kernel.z"]: Talos reads the unquoted on as the text "on" (YAML 1.1 readers take it for true): quote it to make that plain',
            ]);
        });
    });

    describe("the schema corrected where Talos's Go types differ (each correction names the Go type)", () => {
        it("logging endpoint: a URL string (v1alpha1_types.go LoggingDestination.LoggingEndpoint *Endpoint)", () => {
            const patch =
                "machine:\n  logging:\n    destinations:\n      - endpoint: udp://127.0.0.1:12345\n        format: json_lines\n";
            for (const v of ["v1.9.6", "v1.13.6"]) assert.deepEqual(talosPatchProblems(patch, v), [], v);
        });

        it("encryption options: a list (v1alpha1 EncryptionConfig, block/encryption.go EncryptionPerfOptions []string)", () => {
            const legacy =
                "machine:\n  systemDiskEncryption:\n    state:\n      provider: luks2\n      options: [no_read_workqueue, no_write_workqueue]\n";
            assert.deepEqual(talosPatchProblems(legacy, "v1.9.6"), []);
            const volume =
                "apiVersion: v1alpha1\nkind: VolumeConfig\nname: STATE\nencryption:\n  provider: LUKS2\n  options: [same_cpu_crypt]\n";
            for (const v of ["v1.11.6", "v1.12.11", "v1.13.6"]) assert.deepEqual(talosPatchProblems(volume, v), [], v);
        });

        it('disk sizes: "100 MB" (DiskSize, InstallDiskSizeMatcher, block ByteSize/Size: humanize.ParseBytes)', () => {
            const partition =
                "machine:\n  disks:\n    - device: /dev/sdb\n      partitions:\n        - mountpoint: /var/mnt/x\n          size: 100 MB\n";
            assert.deepEqual(talosPatchProblems(partition, "v1.13.6"), []);
            assert.deepEqual(talosPatchProblems(partition.replace("100 MB", "1073741824"), "v1.13.6"), []);
            assert.deepEqual(
                talosPatchProblems("machine:\n  install:\n    diskSelector:\n      size: '>= 1TB'\n", "v1.13.6"),
                [],
            );
            const volume = (max: string) =>
                `apiVersion: v1alpha1\nkind: VolumeConfig\nname: EPHEMERAL\nprovisioning:\n  minSize: 2.5GiB\n  maxSize: ${max}\n`;
            assert.deepEqual(talosPatchProblems(volume("50%"), "v1.13.6"), []);
            assert.match(talosPatchProblems(volume("50%"), "v1.11.6").join(), /maxSize: is "50%", Talos wants a size/);
        });

        it("MAC and IP addresses in any case, IPv6 zones (nethelpers.HardwareAddr, netip.ParseAddr)", () => {
            const bond =
                "apiVersion: v1alpha1\nkind: BondConfig\nname: bond0\nlinks: [eth0]\nhardwareAddr: 00:1A:2b:3C:4d:5E\nbondMode: Active-Backup\narpIpTargets: [FD00::1, 10.0.0.1]\n";
            assert.deepEqual(talosPatchProblems(bond, "v1.13.6"), []);
            const link =
                "apiVersion: v1alpha1\nkind: LinkConfig\nname: eth0\nroutes:\n  - gateway: fe80::1%eth0\n    destination: FD00::/64\n";
            assert.deepEqual(talosPatchProblems(link, "v1.13.6"), []);
        });

        it("ArgValue: a list of strings from Talos v1.13.6 only (siderolabs/gen v0.8.7), a string on every version", () => {
            const list = { machine: { kubelet: { extraArgs: { "feature-gates": ["A=true", "B=true"] } } } };
            assert.deepEqual(talosPatchProblems(list, "v1.13.6"), []);
            assert.match(talosPatchProblems(list, "v1.13.0").join(), /a list of values needs Talos v1\.13\.6 or newer/);
        });

        it("fields a patch release added are refused on earlier patches of the minor (schema-patch-releases.json)", () => {
            const facts = JSON.parse(read(UPSTREAM, "schema-patch-releases.json")) as {
                added: Record<string, [string, string, string][]>;
            };
            const docs: Record<string, (prop: string) => unknown> = {
                "runtime.OOMV1Alpha1": (p) => `apiVersion: v1alpha1\nkind: OOMConfig\n${p}: true\n`,
                "v1alpha1.KubeSpanFilters": (p) => ({
                    machine: { network: { kubespan: { filters: { [p]: ["10.0.0.0/8"] } } } },
                }),
            };
            for (const [minor, fields] of Object.entries(facts.added))
                for (const [def, prop, since] of fields) {
                    const [, , patch] = since.split(".").map(Number);
                    assert.deepEqual(
                        talosPatchProblems(docs[def](prop), `v${since}`),
                        [],
                        `${def}.${prop} on ${since}`,
                    );
                    assert.match(
                        talosPatchProblems(docs[def](prop), `v${minor}.${patch - 1}`).join(),
                        new RegExp(`added it`),
                        since,
                    );
                }
        });
    });

    describe("refused: every case of test/fixtures/talos-refused.json, each with the upstream line that refuses it", () => {
        const corpus = JSON.parse(read(__dirname, "fixtures", "talos-refused.json")) as {
            cases: { talos: string; patch: string; says: string; upstream: string; passes?: boolean }[];
        };
        for (const c of corpus.cases)
            it(`${c.upstream.split(" (")[0]}: ${c.says || "passes"}`, () => {
                const problems = talosPatchProblems(c.patch, c.talos);
                if (c.passes) assert.deepEqual(problems, []);
                else
                    assert.ok(
                        problems.some((p) => p.includes(c.says)),
                        `${c.upstream}\n${problems.join("\n")}`,
                    );
            });
    });

    describe("Talos's documented examples pass (test/fixtures/talos-docs: the configuration reference and guides at each tag)", () => {
        // Examples the documentation prints that Talos itself refuses, each with the Go type or rule that refuses it.
        const UPSTREAM_REFUSES: { example: RegExp; says: RegExp; why: string }[] = [
            {
                example: /logging\.destinations\.\.endpoint/,
                says: /Talos wants a URL tcp:\/\/host:port/,
                why: "the Endpoint type's examples (https://…) shown under logging: v1alpha1_logging.go:36 accepts tcp and udp only",
            },
            {
                example: /^Config\.cluster\.controlPlane\.endpoint$/,
                says: /does not match the pattern \^https:\/\//,
                why: "the Endpoint type's examples (udp://, tcp://) shown under controlPlane: v1alpha1_validation.go ValidateEndpointURI",
            },
            {
                example: /interfaces\.\.deviceSelector$/,
                says: /deviceSelector: is a list, Talos 1\.\d+ wants a mapping/,
                why: "v1alpha1_types.go:1719 (v1.9.6) DeviceSelector *NetworkDeviceSelector is one mapping",
            },
            {
                example: /bond\.deviceSelectors\.$/,
                says: /deviceSelectors: is a mapping, Talos 1\.\d+ wants a list/,
                why: "v1alpha1_types.go:1872 (v1.9.6) BondDeviceSelectors []NetworkDeviceSelector is a list",
            },
            {
                example: /install-kubevirt\.md|multus\.md|rpi_generic\.md|vmware\.md/,
                says: /unknown key for Talos/,
                why: "guides that write machine.interfaces, machine.kernel.extraArgs, cluster.network.cni.extraArgs: no such fields in v1alpha1_types.go",
            },
            {
                example: /static-pods\.md/,
                says: /^not valid YAML/,
                why: "the guide's pod is mis-indented (kind: under apiVersion's value): go-yaml refuses it too",
            },
        ];
        const OMNI = /Omni sets this itself|Omni refuses a/;
        const TAGS: Record<string, string> = {
            "1.9": "v1.9.6",
            "1.10": "v1.10.9",
            "1.11": "v1.11.6",
            "1.12": "v1.12.11",
            "1.13": "v1.13.9",
        };
        for (const minor of talosSchemaMinors)
            it(`${minor}: every example of the configuration reference${fs.existsSync(path.join(__dirname, "fixtures", "talos-docs", `guides-${minor}.json`)) ? " and the guides" : ""}`, () => {
                const corpus = docCorpus(minor);
                assert.equal(corpus.tag, TAGS[minor]);
                const headers = pageHeaders(corpus);
                const patches = corpus.examples.map((e) => ({
                    id: `${e.source} ${e.anchor ?? ""}`,
                    place: e.anchor ?? "",
                    text: examplePatch(e, headers.get(e.source.split(":")[0]) ?? ""),
                }));
                const guides = path.join(__dirname, "fixtures", "talos-docs", `guides-${minor}.json`);
                if (fs.existsSync(guides))
                    for (const e of (
                        JSON.parse(fs.readFileSync(guides, "utf8")) as { examples: { source: string; yaml: string }[] }
                    ).examples)
                        patches.push({ id: e.source, place: e.source, text: e.yaml });
                assert.ok(patches.length > 200, `${patches.length}`);
                let known = 0;
                for (const p of patches) {
                    const problems = talosPatchProblems(p.text, corpus.tag).filter((x) => !OMNI.test(x));
                    if (problems.length === 0) continue;
                    const refusal = UPSTREAM_REFUSES.find((r) => r.example.test(p.place));
                    assert.ok(
                        refusal && problems.every((x) => refusal.says.test(x.replace(/^document \d+ \([^)]*\): /, ""))),
                        `${p.id}\n${problems.join("\n")}\n${p.text}`,
                    );
                    known++;
                }
                assert.ok(known <= 10, `${known} known refusals`);
            });
    });

    describe("`$patch: delete` and documents of one name (configloader/internal/decoder/delete.go, container.go at v1.14.0-beta.1)", () => {
        it("deletes a list item by a key, a key of a mapping, a whole named document", () => {
            const ok = [
                "machine:\n  kubelet:\n    extraMounts:\n      - destination: /var/x\n        $patch: delete\n  network:\n    $patch: delete\n",
                "apiVersion: v1alpha1\nkind: LinkConfig\nname: eth0\n$patch: delete\n",
            ];
            for (const p of ok) assert.deepEqual(talosPatchProblems(p, "v1.13.6"), [], p);
        });

        it("a LinkConfig and a VLANConfig of different names, and one kind per name, pass", () => {
            const two =
                "apiVersion: v1alpha1\nkind: LinkConfig\nname: eth0\nmtu: 9000\n---\napiVersion: v1alpha1\nkind: VLANConfig\nname: eth0.10\nvlanID: 10\nparent: eth0\n";
            assert.deepEqual(talosPatchProblems(two, "v1.13.6"), []);
        });
    });

    describe("closest", () => {
        it("suggests only what is near: a typo, not an unrelated word", () => {
            assert.equal(closest("extraArg", ["extraArgs", "extraMounts", "image"]), "extraArgs");
            assert.equal(closest("nodeLables", ["nodeLabels", "nodeTaints"]), "nodeLabels");
            assert.equal(closest("zzz", ["extraArgs", "image"]), undefined);
        });
    });
});

describe("cluster templates: patches checked against the cluster's Talos version", () => {
    const nvidia = path.join(KIT, "patches", "nvidia.yaml");
    const cluster = (over: Partial<ClusterSpec> = {}): ClusterSpec => ({
        name: "talos-prod-01",
        talosVersion: "v1.13.6",
        kubernetesVersion: "v1.36.2",
        controlPlane: { machineClass: "cp", size: 1 },
        workers: [{ name: "gpu", machineClass: "gpu", size: 1, patches: [{ file: nvidia }] }],
        ...over,
    });
    const render = (spec: ClusterSpec) => renderClusterTemplate(spec, ["cp", "gpu"]);
    const issues = (spec: ClusterSpec) => {
        try {
            render(spec);
        } catch (e) {
            assert.ok(e instanceof ConfigError, String(e));
            return e.issues.map((i) => `${i.key}: ${i.message}`);
        }
        assert.fail("expected a ConfigError");
    };

    it("renders the seed kit's file patches", () => {
        assert.match(render(cluster()).yaml, /nvidia_uvm/);
    });

    it("names the cluster, the machine set, the patch and the path, and suggests the fix", () => {
        const typo = { name: "kubelet", inline: { machine: { kubelet: { extraArg: { v: "2" } } } } };
        assert.deepEqual(issues(cluster({ patches: [typo] })), [
            "clusters.patches[0]: cluster talos-prod-01, all machines, patch kubelet: machine.kubelet.extraArg: unknown key for Talos 1.13: did you mean `extraArgs`?",
        ]);
        // The error as the plan prints it: the patch's name as the value, not the whole cluster.
        assert.throws(
            () => render(cluster({ patches: [typo] })),
            (e: Error) =>
                e.message.includes(
                    '  - clusters.patches[0] (got "kubelet"): cluster talos-prod-01, all machines, patch kubelet: machine.kubelet.extraArg:',
                ),
        );
        assert.deepEqual(issues(cluster({ controlPlane: { machineClass: "cp", size: 1, patches: [typo] } })), [
            "clusters.controlPlane.patches[0]: cluster talos-prod-01, ControlPlane, patch kubelet: machine.kubelet.extraArg: unknown key for Talos 1.13: did you mean `extraArgs`?",
        ]);
    });

    it("names a file patch by its file", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "talos-patch-"));
        const file = path.join(dir, "kubelet.yaml");
        fs.writeFileSync(file, "machine:\n  kubelet:\n    extraArgs:\n      - --v=2\n");
        try {
            assert.deepEqual(
                issues(cluster({ workers: [{ name: "gpu", machineClass: "gpu", size: 1, patches: [{ file }] }] })),
                [
                    `clusters.workers[0].patches[0]: cluster talos-prod-01, Workers gpu, patch ${file}: machine.kubelet.extraArgs: is a list, Talos 1.13 wants a mapping`,
                ],
            );
        } finally {
            fs.rmSync(dir, { recursive: true });
        }
    });

    it("judges the same patch by each cluster's Talos version", () => {
        const uki = { name: "uki", inline: { machine: { install: { grubUseUKICmdline: true } } } };
        assert.doesNotThrow(() => render(cluster({ patches: [uki] })));
        assert.deepEqual(issues(cluster({ talosVersion: "v1.11.6", kubernetesVersion: "v1.34.0", patches: [uki] })), [
            "clusters.patches[0]: cluster talos-prod-01, all machines, patch uki: machine.install.grubUseUKICmdline: unknown key for Talos 1.11",
        ]);
    });

    it("the generated patches (Cilium CNI, node labels) fit every vendored minor", () => {
        // Each minor with a Kubernetes version it supports (Talos machinery compatibility/talos1NN).
        const kubernetes: Record<string, string> = {
            "1.9": "v1.32.0",
            "1.10": "v1.33.0",
            "1.11": "v1.34.0",
            "1.12": "v1.35.0",
            "1.13": "v1.36.2",
        };
        for (const minor of talosSchemaMinors) {
            const spec = cluster({ talosVersion: `v${minor}.0`, kubernetesVersion: kubernetes[minor] });
            spec.workers![0].nodeLabels = { "topology.kubernetes.io/zone": "a" };
            const yaml = render(spec).yaml;
            assert.match(yaml, /omni-scale-cilium-cni[\s\S]*omni-scale-node-labels/);
            assert.deepEqual(talosPatchTemplateProblems(yaml), [], minor);
        }
    });

    it("nodeLabels the node would refuse fail at render, naming the key (labels/validate.go via v1alpha1_validation.go)", () => {
        const spec = cluster();
        spec.workers![0].nodeLabels = { "example.com/team": "platform engineering", "Bad.Prefix/x": "a" };
        assert.deepEqual(issues(spec), [
            "clusters.workers[0].nodeLabels.example.com/team: the label value may hold only letters, digits, -, _ and ., starting and ending with a letter or digit: Talos refuses it",
            'clusters.workers[0].nodeLabels.Bad.Prefix/x: the label key has the prefix "Bad.Prefix", which is not a DNS subdomain (lower case letters, digits, - and .): Talos refuses it',
        ]);
    });

    it("valid but surprising patch values are warnings: rendered for the program to log, and the advisory policy's", () => {
        const sysctl = { name: "sysctl", inline: "machine:\n  sysctls:\n    kernel.x: 0x1F\n" };
        const rendered = render(cluster({ patches: [sysctl] }));
        const warning =
            'cluster talos-prod-01, all machines, patch sysctl: machine.sysctls["kernel.x"]: Talos reads the unquoted 0x1F as the text "0x1F" (YAML readers take it for the number 31): quote it to make that plain';
        assert.deepEqual(rendered.warnings, [warning]);
        assert.deepEqual(talosPatchTemplateWarnings(rendered.yaml), [warning]);
        assert.deepEqual(talosPatchTemplateProblems(rendered.yaml), []);
        assert.equal(talosConfigPatchesPlain.enforcementLevel, "advisory");
        assert.deepEqual(render(cluster()).warnings, []);
    });

    it("a cluster on a Talos minor without a schema, with patches, fails once at talosVersion", () => {
        assert.deepEqual(
            issues(cluster({ talosVersion: "v1.14.0" })).map((i) => i.split(": ")[0]),
            ["clusters.talosVersion"],
        );
    });

    it("talosPatchTemplateProblems checks a template as the policy sees it: generated patches too, named by set", () => {
        const yaml = render(cluster()).yaml;
        assert.deepEqual(talosPatchTemplateProblems(yaml), []);
        const broken = yaml.replace("- name: nvidia_uvm", "- nmae: nvidia_uvm");
        assert.deepEqual(talosPatchTemplateProblems(broken), [
            `cluster talos-prod-01, Workers gpu, patch ${nvidia}: machine.kernel.modules[1].nmae: unknown key for Talos 1.13: did you mean \`name\`?`,
        ]);
    });
});

describe("Talos validators kept between processes (ajv's standalone code, .build/talos-validators)", () => {
    const REPO_ROOT = path.join(__dirname, "..");
    const corpus = (
        JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "talos-refused.json"), "utf8")) as {
            cases: { talos: string; patch: string }[];
        }
    ).cases.filter((c) => c.talos.startsWith("v1.13."));
    /** The verdicts of a fresh process on `cases`, with its validators kept in `cache`. */
    const verdicts = (cache: string, cases = corpus) => {
        const run = spawnSync(
            process.execPath,
            [
                "-r",
                path.join(REPO_ROOT, "src", "plan", "register.js"),
                "-e",
                `const { talosPatchProblems } = require(${JSON.stringify(path.join(REPO_ROOT, "components", "omni", "talos-patches.ts"))});
                 const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
                 process.stdout.write(JSON.stringify(cases.map((c) => talosPatchProblems(c.patch, c.talos))));`,
            ],
            { input: JSON.stringify(cases), encoding: "utf8", env: { ...process.env, OMNI_SCALE_CACHE: cache } },
        );
        assert.equal(run.status, 0, run.stderr);
        return JSON.parse(run.stdout) as string[][];
    };

    it("judges as a compiled validator: the process that compiles keeps its code, the next loads it, a broken file is written again, an unwritable place compiles", () => {
        const cache = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-validators-"));
        try {
            const here = corpus.map((c) => talosPatchProblems(c.patch, c.talos));
            assert.ok(
                here.filter((p) => p.some((m) => m.includes("Talos 1.13 wants"))).length > 0,
                "schema errors among them",
            );
            assert.deepEqual(verdicts(cache), here, "compiled");
            const kept = fs.readdirSync(path.join(cache, "talos-validators"));
            for (const f of kept) assert.match(f, /^1\.13-[\w.]+-[0-9a-f]{16}\.js$/);
            assert.ok(
                kept.some((f) => f.startsWith("1.13-v1alpha1.Config-")),
                kept.join(", "),
            );
            // Cut: a document kind's validator, compiled again far faster than v1alpha1.Config's (a tenth its size).
            const cut = kept.find((f) => f.startsWith("1.13-network.") || f.startsWith("1.13-block."));
            assert.ok(cut, kept.join(", "));
            const file = path.join(cache, "talos-validators", cut);
            const written = fs.statSync(file).mtimeMs;
            assert.deepEqual(verdicts(cache), here, "loaded");
            assert.equal(fs.statSync(file).mtimeMs, written, "loaded, not compiled and written again");
            fs.writeFileSync(file, fs.readFileSync(file, "utf8").slice(0, 1000));
            assert.deepEqual(verdicts(cache), here, "after a cut file");
            assert.doesNotThrow(() => new Function(fs.readFileSync(file, "utf8")), "written whole again");
            // A place it cannot write (a read-only install): compiled in each process, the same verdicts. The
            // documents of other kinds only, so as not to compile v1alpha1.Config a third time.
            const documents = corpus.flatMap((c, i) => (/^(machine|cluster):/m.test(c.patch) ? [] : [i]));
            assert.ok(documents.length >= 5, `${documents.length}`);
            fs.writeFileSync(path.join(cache, "not-a-directory"), "");
            assert.deepEqual(
                verdicts(
                    path.join(cache, "not-a-directory"),
                    documents.map((i) => corpus[i]),
                ),
                documents.map((i) => here[i]),
                "unwritable",
            );
        } finally {
            fs.rmSync(cache, { recursive: true, force: true });
        }
    });
});

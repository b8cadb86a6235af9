import { strict as assert } from "node:assert";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { runProgram, maskSecrets, unwrapSecrets, isSecret } from "../src/plan/capture";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import {
    analyzeInProcess,
    analyzeRequestsInProcess,
    openPack,
    previewRequests,
    previewStruct,
    sentRequests,
} from "../src/plan/analyze";
import { GENERATED_AT_UP } from "../src/plan/mocks";
import { unknownValue as UNKNOWN_VALUE } from "@pulumi/pulumi/runtime/rpc";
import { miniPack } from "./fixtures/mini-pack/policies";

class Box extends pulumi.ComponentResource {
    constructor(name: string, tag: string, opts?: pulumi.ComponentResourceOptions) {
        super("test:index:Box", name, {}, opts);
        const image = new docker.RemoteImage(`${name}-image`, { name: `nginx:${tag}` }, { parent: this });
        const volume = new docker.Volume(
            `${name}-data`,
            {},
            { parent: this, protect: tag !== "latest", retainOnDelete: true },
        );
        new docker.Container(
            `${name}-app`,
            {
                image: image.imageId,
                envs: [pulumi.secret("PASSWORD=hunter2")],
                volumes: [{ volumeName: volume.name, containerPath: "/data" }],
            },
            { parent: this, dependsOn: [volume] },
        );
        this.registerOutputs({});
    }
}

const program = (tag: string) => () => {
    const box = new Box("box", tag);
    return { urn: box.urn, password: pulumi.secret("s3cret") };
};

describe("plan engine", () => {
    describe("capture", () => {
        it("records every registration with parent, options and dependencies", async () => {
            const { resources, outputs } = await runProgram(program("1.27"), { stack: "test" });
            const names = resources.map((r) => r.name);
            assert.deepEqual(names.slice(0, 2), ["omni-scale-test", "box"]);
            const volume = resources.find((r) => r.name === "box-data")!;
            const app = resources.find((r) => r.name === "box-app")!;
            const box = resources.find((r) => r.name === "box")!;
            assert.equal(volume.protect, true);
            assert.equal(volume.retainOnDelete, true);
            assert.equal(app.parent, box.urn);
            assert.ok(app.dependsOn.includes(volume.urn), "explicit dependsOn is captured");
            const image = resources.find((r) => r.name === "box-image")!;
            assert.ok(app.dependsOn.includes(image.urn), "implicit input dependency is captured");
            // The mock computed a realistic image id, which flowed into the container's input.
            assert.match(String(app.inputs.image), /^sha256:[0-9a-f]{64}$/);
            assert.ok(isSecret(outputs.password));
        });

        it("keeps secrets wrapped, masks them for printing and unwraps them for policies", async () => {
            const { resources } = await runProgram(program("1.27"), { stack: "test" });
            const app = resources.find((r) => r.name === "box-app")!;
            assert.deepEqual(maskSecrets(app.inputs).envs, ["[secret]"]);
            assert.deepEqual(unwrapSecrets(app.inputs).envs, ["PASSWORD=hunter2"]);
        });

        it("gives each run a fresh capture", async () => {
            const first = await runProgram(program("1.27"), { stack: "a" });
            const second = await runProgram(program("1.27"), { stack: "b" });
            assert.equal(first.resources.length, second.resources.length);
            assert.ok(second.resources.every((r) => r.urn.startsWith("urn:pulumi:b::")));
        });

        it("hands each registration to onRegistered as it is captured", async () => {
            const seen: string[] = [];
            const { resources } = await runProgram(program("1.27"), {
                stack: "t",
                onRegistered: (r) => seen.push(r.urn),
            });
            assert.deepEqual(
                seen,
                resources.map((r) => r.urn),
            );
        });

        it("lets what a failed run registered complete within that run, not fail the next one", async () => {
            // Outputs that settle after the program failed, as a component's do when a sibling refuses its settings.
            class Late extends pulumi.ComponentResource {
                constructor(name: string) {
                    super("test:index:Late", name);
                    this.registerOutputs({ ready: new Promise((resolve) => setTimeout(() => resolve(true), 50)) });
                }
            }
            await assert.rejects(
                runProgram(
                    () => {
                        new Late("late");
                        throw new Error("refused after registering");
                    },
                    { stack: "a" },
                ),
                /refused after registering/,
            );
            const next = await runProgram(program("1.27"), { stack: "b" });
            assert.ok(next.resources.some((r) => r.name === "box"));
        });

        it("takes no stack trace for a resource's source position (the engine's, which mocks never read)", () => {
            // eslint-disable-next-line @typescript-eslint/no-var-requires
            const { Resource } = require("@pulumi/pulumi/resource");
            assert.deepEqual(Resource.stackTrace(0), [], "what new Resource() sends as its source position");
        });
    });

    describe("analyzer (in process)", () => {
        it("reports a violating resource and stays quiet for a clean one", async () => {
            const bad = await analyzeInProcess(
                "mini-pack",
                miniPack,
                (await runProgram(program("latest"), { stack: "t" })).resources,
            );
            const noLatest = bad.filter((v) => v.policy === "no-latest");
            assert.equal(noLatest.length, 1);
            assert.equal(noLatest[0].enforcementLevel, "mandatory");
            assert.equal(noLatest[0].resourceName, "box-image");
            assert.match(noLatest[0].message, /Images must be pinned\.\nimage nginx:latest uses latest/);
            const stack = bad.filter((v) => v.policy === "volumes-protected");
            assert.equal(stack.length, 1);
            assert.equal(stack[0].resourceName, "box-data");

            const clean = await analyzeInProcess(
                "mini-pack",
                miniPack,
                (await runProgram(program("1.27"), { stack: "t" })).resources,
            );
            assert.deepEqual(
                clean.filter((v) => v.enforcementLevel === "mandatory"),
                [],
            );
        });

        it("hands secret inputs to policies as plaintext, as the engine does", async () => {
            const v = await analyzeInProcess(
                "mini-pack",
                miniPack,
                (await runProgram(program("1.27"), { stack: "t" })).resources,
            );
            const seen = v.find((x) => x.policy === "secret-env-visible");
            assert.ok(seen);
            assert.match(seen.message, /saw PASSWORD=hunter2/);
            assert.equal(seen.enforcementLevel, "advisory");
        });

        it("gives the same violations from the bytes a preview sends, decoded as the pack's gRPC server decodes them", async () => {
            for (const tag of ["latest", "1.27"]) {
                const { resources } = await runProgram(program(tag), { stack: "t" });
                const sent = sentRequests(resources);
                assert.equal(sent.analyze.length, resources.filter((r) => !r.read).length);
                const fromBytes = await analyzeRequestsInProcess("mini-pack", miniPack, sent);
                assert.ok(fromBytes.length > 0, "the secret-env policy always speaks");
                assert.deepEqual(fromBytes, await analyzeInProcess("mini-pack", miniPack, resources));
                const built = previewRequests(resources);
                assert.deepEqual(await analyzeRequestsInProcess("mini-pack", miniPack, built), fromBytes);
            }
        });
    });

    describe("analyze requests", () => {
        it("builds each resource's properties as google-protobuf's Struct.fromJavaScript does, byte for byte, generated values unknown", () => {
            const props = {
                name: "omni",
                port: 8090,
                ratio: -0.25,
                on: true,
                off: false,
                none: null,
                empty: {},
                list: [],
                text: "ünïcode ✓\nline two",
                nested: { a: [1, "two", { three: [null, false, { deep: "x".repeat(3000) }] }], b: { c: { d: {} } } },
                token: `tskey-${GENERATED_AT_UP}`,
                args: ["--id", `--key=${GENERATED_AT_UP}`],
            };
            const asSent = {
                ...props,
                token: UNKNOWN_VALUE,
                args: ["--id", UNKNOWN_VALUE],
            };
            const ours = previewStruct(props);
            assert.deepEqual(
                Buffer.from(ours.serializeBinary()),
                Buffer.from(Struct.fromJavaScript(asSent).serializeBinary()),
            );
            assert.deepEqual(ours.toJavaScript(), asSent);
            assert.throws(() => previewStruct({ missing: undefined }), /undefined has no protobuf Value/);
        });
    });

    describe("analyzer (pack process over gRPC)", () => {
        const packDir = path.join(__dirname, "fixtures", "mini-pack");

        it("runs the real pack process, applies schema defaults and the user's policy config, resource by resource as they register", async () => {
            const pack = openPack(packDir);
            try {
                // As a plan does: each resource is analyzed when it registers, the stack at the end.
                const streamed = pack.begin();
                const { resources } = await runProgram(program("latest"), {
                    stack: "t",
                    onRegistered: streamed.resource,
                });
                const defaults = await streamed.finish(resources);
                assert.ok(
                    defaults.violations.some((v) => v.policy === "no-latest" && v.enforcementLevel === "mandatory"),
                );
                assert.deepEqual(defaults.policies.map((p) => p.name).sort(), [
                    "no-latest",
                    "secret-env-visible",
                    "volumes-protected",
                ]);
                assert.deepEqual(
                    (await pack.analyze(resources)).violations,
                    defaults.violations,
                    "the same as analyzed after the program",
                );

                // One pack process serves analysis after analysis, each configured anew.
                const relaxed = await pack.analyze(resources, {
                    "no-latest": { enforcementLevel: "advisory", forbiddenTag: "edge" },
                });
                assert.ok(
                    !relaxed.violations.some((v) => v.policy === "no-latest"),
                    "config changed what the policy forbids",
                );
                assert.equal(relaxed.policies.find((p) => p.name === "no-latest")!.enforcementLevel, "advisory");

                const disabled = await pack.analyze(resources, { "volumes-protected": "disabled" });
                assert.ok(!disabled.violations.some((v) => v.policy === "volumes-protected"));
            } finally {
                pack.close();
            }
        });

        it("keeps serving after it compiled the Talos schemas a plan named, known or not (pack-warm.ts)", async () => {
            const pack = openPack(packDir);
            try {
                const { resources } = await runProgram(program("latest"), { stack: "t" });
                const before = await pack.analyze(resources);
                pack.warmTalos(["v1.13.6", "v1.13.6", "v9.9.9", "not a version"]);
                assert.deepEqual((await pack.analyze(resources)).violations, before.violations);
            } finally {
                pack.close();
            }
        });
    });
});

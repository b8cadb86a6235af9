import { strict as assert } from "node:assert";
import * as docker from "@pulumi/docker";
import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { Struct, Value } from "google-protobuf/google/protobuf/struct_pb";
import { foldByResourceType, shareDeserializedProperties } from "../policy/props";

// The SDK's analyzer protocol and its per-resource RPC, as the pack serves it (no .d.ts for these internals).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const analyzerproto = require("@pulumi/pulumi/proto/analyzer_pb");
// eslint-disable-next-line @typescript-eslint/no-var-requires
const policyServer = require("@pulumi/policy/server");

/** What @pulumi/policy answers for one resource: its diagnostics and the policies it calls not applicable. */
async function analyzeOne(
    policy: ResourceValidationPolicy,
    type: string,
    props: Record<string, unknown>,
): Promise<{ messages: string[]; notApplicable: string[] }> {
    const req = new analyzerproto.AnalyzeRequest();
    req.setType(type);
    req.setName("r");
    req.setUrn(`urn:pulumi:t::p::${type}::r`);
    req.setProperties(Struct.fromJavaScript(props as never));
    req.setOptions(new analyzerproto.AnalyzerResourceOptions());
    const rpc = policyServer.makeAnalyzeRpcFun("t", "0.0.0", "mandatory", [policy]);
    const resp: any = await new Promise((resolve, reject) =>
        rpc({ request: req }, (e: unknown, r: unknown) => (e ? reject(e) : resolve(r))),
    );
    return {
        messages: resp.getDiagnosticsList().map((d: any) => d.getMessage()),
        notApplicable: resp.getNotApplicableList().map((n: any) => `${n.getPolicyName()}: ${n.getReason()}`),
    };
}

const CONTAINER = "docker:index/container:Container";
const VOLUME = "docker:index/volume:Volume";
const IMAGE = "docker:index/remoteImage:RemoteImage";

describe("policy props: one validation per resource type (foldByResourceType)", () => {
    const perType: ResourceValidationPolicy = {
        name: "per-type",
        description: "test",
        validateResource: [
            validateResourceOfType(docker.Container, (c, _args, report) => report(`container ${c.name}`)),
            validateResourceOfType(docker.Volume, (v, _args, report) => report(`volume ${v.name}`)),
        ],
    };
    const folded = foldByResourceType(perType);

    it("runs the validation of the resource's type, as the list does", async () => {
        assert.equal(typeof folded.validateResource, "function");
        for (const [type, name, message] of [
            [CONTAINER, "omni", "container omni"],
            [VOLUME, "data", "volume data"],
        ]) {
            const expected = await analyzeOne(perType, type, { name });
            assert.equal(expected.messages.filter((m) => m.includes(message)).length, 1, expected.messages.join("\n"));
            const got = await analyzeOne(folded, type, { name });
            assert.deepEqual(got.messages, expected.messages);
            assert.deepEqual(got.notApplicable, []);
        }
    });

    it("tells the engine the policy does not apply to other types, as the list does", async () => {
        assert.deepEqual((await analyzeOne(perType, IMAGE, { name: "x" })).notApplicable, [
            `per-type: Policy only applies to resources of type '${CONTAINER}'`,
            `per-type: Policy only applies to resources of type '${VOLUME}'`,
        ]);
        const notApplicable = [`per-type: Policy only applies to resources of types '${CONTAINER}', '${VOLUME}'`];
        // Every resource of another type, not only the first (the policy throws the Error it made the first time again).
        for (const type of [IMAGE, "tailscale:index/tailnetKey:TailnetKey", IMAGE])
            assert.deepEqual(await analyzeOne(folded, type, { name: "x" }), { messages: [], notApplicable });
        assert.deepEqual((await analyzeOne(folded, VOLUME, { name: "data" })).notApplicable, []);
    });

    it("keeps lists with an untyped validation or two validations of one type, and single validations", () => {
        const untyped: ResourceValidationPolicy = {
            ...perType,
            validateResource: [perType.validateResource as never, () => undefined].flat(),
        };
        const twice: ResourceValidationPolicy = {
            ...perType,
            validateResource: [
                validateResourceOfType(docker.Container, () => undefined),
                validateResourceOfType(docker.Container, () => undefined),
            ],
        };
        const single: ResourceValidationPolicy = {
            ...perType,
            validateResource: validateResourceOfType(docker.Container, () => undefined),
        };
        for (const p of [untyped, twice, single]) assert.equal(foldByResourceType(p), p);
    });
});

describe("policy props: one deserialization per request (shareDeserializedProperties)", () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const deserialize = require("@pulumi/policy/deserialize");
    shareDeserializedProperties();

    it("gives every analysis of a request the same properties, and a remediation its own copy", () => {
        const struct = Struct.fromJavaScript({ name: "omni", labels: { a: "b" } });
        const first = deserialize.deserializeProperties(struct, false);
        assert.deepEqual(first, { name: "omni", labels: { a: "b" } });
        assert.equal(deserialize.deserializeProperties(struct, false), first);
        assert.notEqual(deserialize.deserializeProperties(Struct.fromJavaScript({ name: "omni" }), false), first);
        const remediation = deserialize.deserializeProperties(struct, true);
        assert.notEqual(remediation, first);
        assert.equal(remediation.name, "omni");
    });

    it("deserializes a property when a policy first reads it, with @pulumi/policy's own rules, and keeps it", () => {
        const struct = Struct.fromJavaScript({
            name: "omni",
            // How the engine sends a secret (rpc.js specialSigKey and specialSecretSig).
            key: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "s3cret" },
            labels: { a: "b" },
        });
        // A Value with no kind, which google-protobuf refuses to convert: read, it throws; unread, it costs nothing.
        struct.getFieldsMap().set("broken", new Value());
        const props = deserialize.deserializeProperties(struct, false);
        assert.deepEqual(Object.keys(props), ["broken", "key", "labels", "name"]);
        assert.equal(props.name, "omni");
        assert.equal(props.key, "s3cret");
        assert.deepEqual(props.labels, { a: "b" });
        assert.equal(props.labels, props.labels);
        assert.throws(() => props.broken, /Unexpected struct type/);
    });

    it("hands each untyped policy the resource's properties, unknowns still unknown", async () => {
        const seen: unknown[] = [];
        const reader = (name: string): ResourceValidationPolicy => ({
            name,
            description: "test",
            validateResource: (args, report) => {
                seen.push(args.props.name);
                try {
                    report(String(args.props.image));
                } catch (e) {
                    report(`${name}: ${(e as Error).constructor.name}`);
                }
            },
        });
        const req = new analyzerproto.AnalyzeRequest();
        req.setType(CONTAINER);
        req.setName("r");
        req.setUrn(`urn:pulumi:t::p::${CONTAINER}::r`);
        // How the engine sends a value only `pulumi up` knows (rpc.js unknownValue).
        req.setProperties(Struct.fromJavaScript({ name: "omni", image: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" }));
        req.setOptions(new analyzerproto.AnalyzerResourceOptions());
        const rpc = policyServer.makeAnalyzeRpcFun("t", "0.0.0", "mandatory", [reader("one"), reader("two")]);
        const resp: any = await new Promise((resolve, reject) =>
            rpc({ request: req }, (e: unknown, r: unknown) => (e ? reject(e) : resolve(r))),
        );
        assert.deepEqual(seen, ["omni", "omni"]);
        assert.deepEqual(
            resp.getDiagnosticsList().map((d: any) => d.getMessage().split("\n").pop()),
            ["one: UnknownValueError", "two: UnknownValueError"],
        );
    });
});

import { strict as assert } from "node:assert";
import { BinaryReader, BinaryWriter } from "google-protobuf";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { previewStruct } from "../src/plan/analyze";
import { examplePlan } from "./plan-run";
import { decodeStructsAsArrays, generatedStructReader } from "../policy/struct-decode";

// The analyzer messages the engine sends and the pack's gRPC server decodes (no .d.ts for these internals).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const analyzerproto = require("@pulumi/pulumi/proto/analyzer_pb");

decodeStructsAsArrays();

/** A Struct's bytes read by google-protobuf's generated reader and by the installed one. */
function bothReads(bytes: Uint8Array): { generated: Struct; arrayForm: Struct } {
    const generated = generatedStructReader()(new Struct(), new BinaryReader(bytes)) as Struct;
    return { generated, arrayForm: Struct.deserializeBinary(bytes) };
}

function assertSameRead(bytes: Uint8Array): Struct {
    const { generated, arrayForm } = bothReads(bytes);
    assert.deepEqual(arrayForm.toJavaScript(), generated.toJavaScript());
    assert.deepEqual(Buffer.from(arrayForm.serializeBinary()), Buffer.from(generated.serializeBinary()));
    return arrayForm;
}

/** Bytes written field by field, for what an encoder may send that Struct.fromJavaScript never makes. */
function written(write: (w: BinaryWriter) => void): Uint8Array {
    const w = new BinaryWriter();
    write(w);
    return w.getResultBuffer();
}

const entry = (w: BinaryWriter, key: string | undefined, value?: (w: BinaryWriter) => void) =>
    w.writeMessage(1, {}, (_: unknown, e: BinaryWriter) => {
        if (key !== undefined) e.writeString(1, key);
        if (value) e.writeMessage(2, {}, (_v: unknown, v: BinaryWriter) => value(v));
    });

describe("the pack's Struct reader (policy/struct-decode.ts)", () => {
    it("is installed where the analyzer's messages decode their properties", () => {
        const req = new analyzerproto.AnalyzeRequest();
        req.setType("docker:index/container:Container");
        req.setProperties(Struct.fromJavaScript({ image: "ghcr.io/siderolabs/omni:v1.10.4" }));
        const read = analyzerproto.AnalyzeRequest.deserializeBinary(req.serializeBinary());
        assert.notEqual(Struct.deserializeBinaryFromReader, generatedStructReader());
        assert.deepEqual(read.getProperties().toJavaScript(), { image: "ghcr.io/siderolabs/omni:v1.10.4" });
    });

    it("reads what each example stack's preview sends as google-protobuf reads it (inputs and outputs)", async () => {
        for (const stack of ["quantum", "matrix"] as const) {
            const { resources } = await examplePlan(stack);
            assert.ok(resources.length > 10, `${stack}: ${resources.length} resources`);
            for (const r of resources.filter((r) => !r.read)) {
                for (const props of [r.inputs, r.state]) assertSameRead(previewStruct(props).serializeBinary());
            }
        }
    });

    it("reads every kind, nesting, empty values, non-ASCII text and a byte order mark as google-protobuf does", () => {
        const props = {
            s: "omni",
            empty: "",
            text: "\uFEFFgrüße ☸ 🐧 \u{10FFFF}",
            n: 2.5,
            zero: 0,
            negative: -1e300,
            t: true,
            f: false,
            none: null,
            list: [1, "two", [3, [4]], { five: 5 }, null, [], {}],
            nested: { a: { b: { c: ["d"] } } },
            emptyObject: {},
            emptyList: [],
            "": "empty key",
        };
        const read = assertSameRead(Struct.fromJavaScript(props as never).serializeBinary());
        assert.deepEqual(read.toJavaScript(), props);
    });

    it("reads repeated keys (the last wins), entries without key or value, unknown fields and a kind given twice", () => {
        const bytes = written((w) => {
            entry(w, "k", (v) => v.writeString(3, "first"));
            entry(w, "k", (v) => v.writeString(3, "last"));
            // A Value with two kinds on the wire: the one read last is set (a oneof).
            entry(w, "twice", (v) => {
                v.writeString(3, "text");
                v.writeDouble(2, 7);
            });
            entry(w, undefined, (v) => v.writeBool(4, true));
            entry(w, "unknown", (v) => {
                v.writeString(9, "ignored");
                v.writeMessage(5, {}, (_: unknown, s: BinaryWriter) => {
                    s.writeInt32(7, 1);
                    entry(s, "inner", (iv) => iv.writeEnum(1, 0));
                });
            });
            w.writeString(5, "an unknown field of the Struct");
        });
        const read = assertSameRead(bytes);
        assert.deepEqual(read.toJavaScript(), { k: "last", twice: 7, "": true, unknown: { inner: null } });
    });

    it("refuses a Value without a kind when it is read, as google-protobuf does", () => {
        const { generated, arrayForm } = bothReads(written((w) => entry(w, "nothing")));
        assert.throws(() => generated.toJavaScript(), /Unexpected struct type/);
        assert.throws(() => arrayForm.toJavaScript(), /Unexpected struct type/);
    });

    it("adds to a Struct whose map is in use, as google-protobuf does", () => {
        const into = Struct.fromJavaScript({ kept: "yes" });
        assert.deepEqual(into.toJavaScript(), { kept: "yes" });
        Struct.deserializeBinaryFromReader(
            into,
            new BinaryReader(Struct.fromJavaScript({ added: 1 }).serializeBinary()),
        );
        assert.deepEqual(into.toJavaScript(), { kept: "yes", added: 1 });
    });
});

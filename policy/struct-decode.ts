import { createRequire } from "node:module";

/**
 * How the pack decodes the properties in each request the engine sends (`analyze`, `analyzeStack`): a
 * google.protobuf.Struct, read straight into google-protobuf's array form.
 *
 * google-protobuf's generated readers (struct_pb.js) make a message object for every nested Struct, ListValue and
 * Value and attach each to its parent, and each attachment copies the child's whole subtree into the parent's array
 * again (`toArray` in setWrapperField, google-protobuf 3.21): for a cluster with 100 patches that was 45 ms of the
 * pack's CPU per preview, more than every policy together. The array form is what a message holds anyway; its
 * message objects are made when something reads them, as for any message built from an array. Same wire format,
 * same messages: test/struct-decode.test.ts compares both readers on the requests of the example stacks and on edge
 * cases (every kind, empty and repeated keys, unknown fields, a kind given twice).
 */

interface Reader {
    nextField(): boolean;
    isEndGroup(): boolean;
    getFieldNumber(): number;
    skipField(): void;
    readString(): string;
    readBytes(): Uint8Array;
    readDouble(): number;
    readBool(): boolean;
    readEnum(): number;
    readMessage<T>(into: T, read: (into: T, reader: Reader) => void): void;
}

/** A google.protobuf.Value in array form: one slot per field number (null_value 1 … list_value 6), one kind set. */
type ValueArray = unknown[];
/** A Struct's map entry in array form: key, value. */
type Entry = [string, ValueArray];

// A string field is its UTF-8 bytes (proto3 strings are valid UTF-8: the engine's Go encoder refuses others), decoded
// natively: google-protobuf decodes byte by byte in JavaScript, which for a dynamic resource's serialized provider
// (60 kB, twice per preview) was most of the rest. A byte order mark is kept, as google-protobuf keeps it.
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const readString = (reader: Reader) => utf8.decode(reader.readBytes());

/** A reader of a message's repeated field 1: each occurrence read by `read` into what `make` returns, then kept. */
function readEach<T>(make: () => T, read: (item: T, reader: Reader) => void) {
    return (items: T[], reader: Reader): void => {
        while (reader.nextField()) {
            if (reader.isEndGroup()) break;
            if (reader.getFieldNumber() !== 1) {
                reader.skipField();
                continue;
            }
            const item = make();
            reader.readMessage(item, read);
            items.push(item);
        }
    };
}

// A Struct's map entries (jspb.Map.deserializeBinary's defaults: key "", a Value with no kind), a ListValue's values.
const readEntries = readEach<Entry>(() => ["", []], readEntry);
const readValues = readEach<ValueArray>(() => [], readValue);

function readEntry(entry: Entry, reader: Reader): void {
    while (reader.nextField()) {
        if (reader.isEndGroup()) break;
        const field = reader.getFieldNumber();
        if (field === 1) entry[0] = readString(reader);
        else if (field === 2) {
            const value: ValueArray = [];
            reader.readMessage(value, readValue);
            entry[1] = value;
        } else reader.skipField();
    }
}

function readValue(value: ValueArray, reader: Reader): void {
    while (reader.nextField()) {
        if (reader.isEndGroup()) break;
        const field = reader.getFieldNumber();
        let kind: unknown;
        switch (field) {
            case 1:
                kind = reader.readEnum();
                break;
            case 2:
                kind = reader.readDouble();
                break;
            case 3:
                kind = readString(reader);
                break;
            case 4:
                kind = reader.readBool();
                break;
            case 5: {
                const entries: Entry[] = [];
                reader.readMessage(entries, readEntries);
                kind = [entries];
                break;
            }
            case 6: {
                const values: ValueArray[] = [];
                reader.readMessage(values, readValues);
                kind = [values];
                break;
            }
            default:
                reader.skipField();
                continue;
        }
        // A oneof: the kind read last is the one set (the generated setters clear the others).
        value.length = 0;
        for (let i = 0; i < field - 1; i++) value.push(null);
        value.push(kind);
    }
}

type StructReader = (msg: object, reader: Reader) => object;

interface StructClass {
    deserializeBinaryFromReader: StructReader;
    /** google-protobuf's own reader, once the array-form one is installed. */
    generatedReader?: StructReader;
}

/** The Struct class of the google-protobuf copy that @pulumi/pulumi's analyzer messages use. */
function analyzerStruct(): { Struct: StructClass; jspb: Jspb } {
    const fromAnalyzer = createRequire(require.resolve("@pulumi/pulumi/proto/analyzer_pb"));
    return {
        Struct: (fromAnalyzer("google-protobuf/google/protobuf/struct_pb") as { Struct: StructClass }).Struct,
        jspb: fromAnalyzer("google-protobuf") as Jspb,
    };
}

interface Jspb {
    Message: { getField(msg: object, field: number): unknown; setField(msg: object, field: number, v: unknown): void };
}

/** google-protobuf's own Struct reader (test/struct-decode.test.ts compares the two). */
export const generatedStructReader = (): StructReader => {
    const { Struct } = analyzerStruct();
    return Struct.generatedReader ?? Struct.deserializeBinaryFromReader;
};

/**
 * Installs the array-form reader as google.protobuf.Struct's reader in the google-protobuf copy that @pulumi/pulumi's
 * analyzer messages use (the one the pack's gRPC server decodes with). Once per process.
 */
export function decodeStructsAsArrays(): void {
    const { Struct, jspb } = analyzerStruct();
    if (Struct.generatedReader) return;
    const generated = Struct.deserializeBinaryFromReader;
    Struct.deserializeBinaryFromReader = (msg, reader) => {
        // A Struct whose map exists already (a merge into a message in use) is read by the generated reader, which
        // adds to that map; the decoders of the analyzer's messages always read into a new one.
        if (jspb.Message.getField(msg, 1) != null) return generated(msg, reader);
        const entries: Entry[] = [];
        readEntries(entries, reader);
        jspb.Message.setField(msg, 1, entries);
        return msg;
    };
    Struct.generatedReader = generated;
}

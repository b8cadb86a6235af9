import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { packagedProvider } from "../components/core/packaged-provider";
import { runProgram } from "../src/plan/capture";

const REPO = path.join(__dirname, "..");

describe("packagedProvider: how a dynamic provider is handed to the SDK to serialize", () => {
    const provider = {
        async create(inputs: { n: number }) {
            return { id: "x", outs: { n: inputs.n + 1 } };
        },
        async diff() {
            return { changes: false };
        },
        kind: "not a method",
    };

    it("from the TypeScript sources: the provider itself (serialized by value, as `pulumi up` in a checkout does)", () => {
        assert.equal(packagedProvider(provider, "x", "y", "/repo/components/hub/etcd-key.ts"), provider);
    });

    it("from compiled JavaScript: only its methods, each requiring the exported module and calling it there", () => {
        const forwarder = packagedProvider(provider, "node:path", "posix", "/pkg/bin/components/hub/etcd-key.js");
        assert.deepEqual(Object.keys(forwarder), ["create", "diff"]);
        // A stand-in module: node:path's posix has a `join`; the call and its arguments reach it, not this object.
        const joining = packagedProvider(
            { join: (...parts: string[]) => parts.join("") },
            "node:path",
            "posix",
            "/pkg/bin/x.js",
        );
        assert.equal(joining.join("a", "b"), "a/b");
    });

    it("one forwarder per provider, so that the SDK serializes it once for all the resources that use it", async () => {
        const file = "/pkg/bin/components/hub/etcd-key.js";
        const forwarder = packagedProvider(provider, "node:path", "posix", file);
        assert.equal(packagedProvider(provider, "node:path", "posix", file), forwarder);
        assert.notEqual(packagedProvider(provider, "node:path", "win32", file), forwarder, "another export");
        // Through the SDK's own dynamic resources (dynamic/index.js serializeProvider), counting its serializations.
        const calls: unknown[] = [];
        const serializer = require("@pulumi/pulumi/runtime/closure/serializeClosure") as {
            serializeFunction(f: () => unknown, args?: object): Promise<unknown>;
        };
        const own = serializer.serializeFunction;
        serializer.serializeFunction = (f, args) => {
            calls.push(f());
            return own(f, args);
        };
        class Forwarded extends pulumi.dynamic.Resource {}
        try {
            await runProgram(
                () => {
                    for (const name of ["a", "b", "c"])
                        new Forwarded(packagedProvider(provider, "node:path", "posix", file), name, {});
                },
                { stack: "t" },
            );
        } finally {
            serializer.serializeFunction = own;
        }
        assert.deepEqual(calls, [forwarder], "one serialization for three resources");
    });

    it("every subpath the components name is exported and resolves to the module exporting that provider", () => {
        const exportsMap = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")).exports;
        const used = ["components/hub/etcd-key.ts", "components/omni/machine-class.ts", "components/omni/cluster.ts"]
            .map((f) => fs.readFileSync(path.join(REPO, f), "utf8"))
            .flatMap((text) => [...text.matchAll(/packagedProvider\(\s*(\w+),\s*"omni-scale(\/[^"]+)",\s*"(\w+)"/g)]);
        assert.equal(used.length, 3);
        for (const [, object, subpath, name] of used) {
            assert.equal(object, name, "the export name is the provider's own");
            assert.ok(exportsMap[`.${subpath}`], `package.json exports ./${subpath}`);
            // The package's own name resolves through "exports" from inside it, as from a program (the built bin/).
            const module = require(`omni-scale${subpath}`);
            assert.equal(typeof module[name]?.create, "function", `omni-scale${subpath} exports ${name}`);
        }
    });
});

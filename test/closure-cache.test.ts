import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { SerializedFunction } from "@pulumi/pulumi/runtime";
import { etcdKeyProvider } from "../components/hub/etcd-key";
import { cacheProviderSerialization } from "../src/plan/closure-cache";
import { packagedProvider } from "../components/core/packaged-provider";
import { loaderProject } from "./loader-project";

// The module whose export the cache replaces, as @pulumi/pulumi/dynamic calls it.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const sdk = require("@pulumi/pulumi/runtime/closure/serializeClosure") as {
    serializeFunction(f: Function, args?: object): Promise<SerializedFunction>;
};

describe("dynamic provider serialization cache (src/plan/closure-cache.ts)", () => {
    const real = sdk.serializeFunction;
    let dir: string;
    let calls: number;
    let containsSecrets: boolean;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-closures-"));
        calls = 0;
        containsSecrets = false;
        // The SDK's serializer, counted (and, for one case, reporting secrets).
        sdk.serializeFunction = async (f, args) => {
            calls++;
            const serialized = await real(f, args);
            return { ...serialized, containsSecrets: serialized.containsSecrets || containsSecrets };
        };
    });
    afterEach(() => {
        sdk.serializeFunction = real;
        fs.rmSync(dir, { recursive: true, force: true });
    });

    // Shaped as @pulumi/pulumi/dynamic asks for a provider: `serializeFunction(() => provider, { allowSecrets: true })`.
    const provider = etcdKeyProvider;
    const thunk = () => provider;
    const serialize = (f: Function = thunk, args: object = { allowSecrets: true }) => sdk.serializeFunction(f, args);

    it("serves what the SDK serialized until the code changes, then serializes afresh", async () => {
        let code = "code-1";
        const sdkOwn = sdk.serializeFunction;
        const uninstall = cacheProviderSerialization(dir, () => code);
        try {
            const first = await serialize();
            assert.equal(calls, 1);
            assert.match(first.text, /async function \/\*generateEtcdKey\*\//);
            assert.equal(fs.readdirSync(dir).length, 1);
            assert.deepEqual(await serialize(), first, "the second time comes from the cache");
            assert.equal(calls, 1);

            code = "code-2";
            assert.deepEqual(await serialize(), first);
            assert.equal(calls, 2, "other code: serialized again");
            assert.equal(fs.readdirSync(dir).length, 1, "the entry is replaced, not added to");
            await serialize(thunk, { allowSecrets: false });
            assert.equal(calls, 3, "other options: serialized again");
        } finally {
            uninstall();
        }
        assert.equal(sdk.serializeFunction, sdkOwn, "uninstall puts back what was there");
        const [entry] = fs.readdirSync(dir);
        assert.match(entry, /^etcd-key\.ts\.etcdKeyProvider\.[0-9a-f]{16}\.json$/);
    });

    it("serializes every time what it cannot key: providers no module exports, other functions, secrets, code it does not know", async () => {
        const local = { create: async () => ({ id: "x" }) };
        const unexported = () => local;
        const other = () => 42;
        let code: string | undefined = "code";
        const uninstall = cacheProviderSerialization(dir, () => code);
        try {
            for (const f of [unexported, unexported, other, other]) await serialize(f);
            assert.equal(calls, 4);
            containsSecrets = true;
            await serialize();
            await serialize();
            assert.equal(calls, 6, "a text with secrets is never written");
            containsSecrets = false;
            code = undefined;
            await serialize();
            await serialize();
            assert.equal(calls, 8, "a process that did not load its code through register.js");
            assert.deepEqual(fs.readdirSync(dir), []);
        } finally {
            uninstall();
        }
    });

    it("only reads with write: false (npm test's workers): serves what a writer kept, keeps nothing of its own", async () => {
        const reader = cacheProviderSerialization(dir, () => "code", { write: false });
        try {
            await serialize();
            await serialize();
            assert.equal(calls, 2, "nothing kept: serialized each time");
            assert.deepEqual(fs.readdirSync(dir), []);
        } finally {
            reader();
        }
        const writer = cacheProviderSerialization(dir, () => "code");
        let kept: SerializedFunction;
        try {
            kept = await serialize();
        } finally {
            writer();
        }
        assert.equal(calls, 3);
        assert.equal(fs.readdirSync(dir).length, 1);
        const again = cacheProviderSerialization(dir, () => "code", { write: false });
        try {
            assert.deepEqual(await serialize(), kept, "the writer's text");
            assert.equal(calls, 3);
        } finally {
            again();
        }
    });

    it("keeps nothing serialized where Node's eval globals are (node -e): the SDK names a captured module by its global there", async () => {
        // `node -e`, `-p` and the REPL make every built-in module a global (`sys` is util); a provider host has none.
        const nodeUtil = require("node:util");
        const globals = { fs: require("node:fs"), sys: nodeUtil };
        for (const [name, value] of Object.entries(globals))
            Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
        const uninstall = cacheProviderSerialization(dir, () => "code");
        try {
            assert.match((await real(() => nodeUtil.format("%s", 1))).text, /\bglobal\.sys\b/);
            await serialize();
            await serialize();
            assert.equal(calls, 2, "serialized each time");
            assert.deepEqual(fs.readdirSync(dir), []);
        } finally {
            uninstall();
            for (const name of Object.keys(globals)) delete (globalThis as Record<string, unknown>)[name];
        }
        const again = cacheProviderSerialization(dir, () => "code");
        try {
            await serialize();
            assert.equal(fs.readdirSync(dir).length, 1, "kept once the globals are gone");
        } finally {
            again();
        }
    });

    it("serves a forwarder of the compiled package, keyed by its code and where it forwards, from any process", async () => {
        // What the installed package hands the SDK (packaged-provider.ts); no loader knows the sources there.
        const forwarderOf = (subpath: string, name: string, of: object) =>
            packagedProvider(of, subpath, name, `/project/node_modules/omni-scale/bin/${name}.js`);
        const uninstall = cacheProviderSerialization(dir, () => undefined);
        try {
            let provider = forwarderOf("omni-scale/providers/etcd-key", "etcdKeyProvider", etcdKeyProvider);
            const forwarding = () => provider;
            const first = await serialize(forwarding);
            assert.match(first.text, /omni-scale\/providers\/etcd-key/);
            assert.deepEqual(await serialize(forwarding), first, "the second time comes from the cache");
            assert.equal(calls, 1);
            provider = forwarderOf("omni-scale/providers/omni", "clusterProvider", {
                create: async () => ({ id: "c" }),
            });
            assert.match((await serialize(forwarding)).text, /clusterProvider/);
            assert.equal(calls, 2, "another forwarder: serialized, and kept beside the first");
            assert.equal(fs.readdirSync(dir).length, 2);
            // By value, a provider's text is cached only where the loader knows the code (here it does not).
            await serialize();
            await serialize();
            assert.equal(calls, 4);
        } finally {
            uninstall();
        }
    });

    it("serializes a provider afresh in the next process after an edit to it or to what it imports, not to other code", () => {
        // A project of its own, as the plan runs: the cache beside the loader, a provider module, and a main that
        // installs the cache as src/plan/main.ts does and prints what it got and how often the SDK serialized.
        const root = path.join(__dirname, "..");
        const project = loaderProject();
        try {
            // The cache module and what it imports, where they are in the repository.
            for (const module of [
                path.join("src", "plan", "closure-cache.ts"),
                path.join("components", "core", "packaged-provider.ts"),
                path.join("components", "core", "cache-dir.ts"),
            ]) {
                fs.mkdirSync(path.dirname(path.join(project.dir, module)), { recursive: true });
                fs.copyFileSync(path.join(root, module), path.join(project.dir, module));
            }
            // The provider module imports a greeting (captured by value); main.ts also loads a module it does not.
            const write = (file: string, text: string) => {
                fs.mkdirSync(path.dirname(path.join(project.dir, file)), { recursive: true });
                fs.writeFileSync(path.join(project.dir, file), text);
            };
            const provider = (kind: string) =>
                `import { greeting } from "./lib/greeting";\nexport const provider = { kind: "${kind}", async create() { return { id: greeting(), outs: {} }; } };\n`;
            const greeting = (word: string) => `export function greeting() { return "${word}"; }\n`;
            write(
                "main.ts",
                [
                    'import { cacheProviderSerialization, importedCodeKey } from "./src/plan/closure-cache";',
                    'import * as mod from "./provider";',
                    'import { unrelated } from "./unrelated";',
                    "void unrelated;",
                    "// Shaped as @pulumi/pulumi/dynamic asks: `() => provider`, a local name (an imported one would read `provider_1.provider`).",
                    "const provider = mod.provider;",
                    'const sdk = require("@pulumi/pulumi/runtime/closure/serializeClosure");',
                    "// The SDK's own serializer, counted; the cache goes on top of it.",
                    "const serialize = sdk.serializeFunction;",
                    "let serialized = 0;",
                    "sdk.serializeFunction = (f: Function, a: object) => (serialized++, serialize(f, a));",
                    'const register = require("./src/plan/register");',
                    'cacheProviderSerialization(require("path").join(__dirname, ".build", "closures"), importedCodeKey(register.codeKeyOf));',
                    "sdk.serializeFunction(() => provider, { allowSecrets: true }).then((s: { text: string }) => console.log(JSON.stringify({ text: s.text, serialized })));",
                ].join("\n"),
            );
            const run = () => {
                const out = project.run("main.ts");
                assert.equal(out.status, 0, out.stderr);
                return JSON.parse(out.stdout) as { text: string; serialized: number };
            };
            write("provider.ts", provider("first"));
            write("lib/greeting.ts", greeting("hello"));
            write("unrelated.ts", "export const unrelated = 1;\n");
            const first = run();
            assert.match(first.text, /kind: "first"/);
            assert.match(first.text, /return "hello"/, "the imported greeting is in the text");
            assert.equal(first.serialized, 1);
            assert.deepEqual(
                run(),
                { text: first.text, serialized: 0 },
                "unchanged code: the same text, from the cache",
            );
            write("unrelated.ts", "export const unrelated = 2;\n");
            assert.deepEqual(
                run(),
                { text: first.text, serialized: 0 },
                "a module the provider does not import: still from the cache",
            );
            write("lib/greeting.ts", greeting("goodbye"));
            const imported = run();
            assert.match(imported.text, /return "goodbye"/, "an edit to what the provider imports: serialized afresh");
            assert.equal(imported.serialized, 1);
            write("provider.ts", provider("second"));
            const edited = run();
            assert.match(edited.text, /kind: "second"/, "the edited provider is what the next process serializes");
            assert.equal(edited.serialized, 1);
            assert.equal(fs.readdirSync(path.join(project.dir, ".build", "closures")).length, 1);
        } finally {
            fs.rmSync(project.dir, { recursive: true, force: true });
        }
    });

    it("serializes every time where it cannot write its directory", async () => {
        const blocked = path.join(dir, "blocked");
        // A file where the directory would be: mkdir fails even for root.
        fs.writeFileSync(blocked, "");
        const uninstall = cacheProviderSerialization(path.join(blocked, "closures"), () => "code");
        try {
            const first = await serialize();
            assert.deepEqual(await serialize(), first);
            assert.equal(calls, 2);
        } finally {
            uninstall();
        }
    });
});

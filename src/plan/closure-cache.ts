import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { SerializedFunction, SerializeFunctionArgs } from "@pulumi/pulumi/runtime";
import { forwardsOf } from "../../components/core/packaged-provider";
import { cacheDir } from "../../components/core/cache-dir";
import { writeCacheFile } from "../../components/core/cache-file";

/**
 * The plan's cache of what the SDK serializes for a dynamic provider (`__provider`, e.g. the etcd key's).
 *
 * Serializing a function costs about 0.3 s whatever the function: the SDK enables the V8 debugger, which reports
 * (and hashes) every script the process loaded, and parses the function text with TypeScript (see defer-sdk.js).
 * The text depends only on code: the provider's functions and what they capture, all of it module code of ours
 * (captured by value) or of node_modules (captured as `require`). So it is kept per provider under `.build/closures`
 * (cache-dir.ts), keyed by the code of the provider's module and of every module it imports by a relative path,
 * transitively (`importedCodeKey`, with register.js's `codeKeyOf`: those sources, tsconfig.json, the lockfile, the
 * loader), the Node version, the provider's module and export name, and the serialize options. An edit to any of
 * them serializes afresh; an edit elsewhere (a policy, a test) does not.
 *
 * Cached: only a provider that a module of ours exports (its captures are module code, not values of a run), or a
 * forwarder of the compiled package (keyed by packaged-provider.ts's code, where it forwards and the SDK's version),
 * and whose text holds no secrets. Anything else is serialized as the SDK does, every time.
 */

const SDK_SERIALIZER = "@pulumi/pulumi/runtime/closure/serializeClosure";
/** How `@pulumi/pulumi/dynamic` asks for a provider: `serializeFunction(() => provider, …)`. */
const PROVIDER_THUNK = "() => provider";
const NODE_MODULES = `${path.sep}node_modules${path.sep}`;

type Serialize = (func: Function, args?: SerializeFunctionArgs) => Promise<SerializedFunction>;

interface Entry {
    key: string;
    serialized: SerializedFunction;
}

/** The module of ours that exports `value`, and under which name. */
function exporter(value: object): { file: string; name: string } | undefined {
    for (const [file, mod] of Object.entries(require.cache)) {
        if (!mod || file.includes(NODE_MODULES) || typeof mod.exports !== "object" || mod.exports === null) continue;
        for (const [name, exported] of Object.entries(mod.exports)) if (exported === value) return { file, name };
    }
    return undefined;
}

/** The key of the code a provider module's serialized text depends on; undefined: not cached. */
type CodeKey = (moduleFile: string) => string | undefined;

// A module's imports by relative path: import … from, export … from, import "…", require("…"), import("…").
const RELATIVE_IMPORT = /(?:\bfrom|\bimport|\brequire\(|\bimport\()\s*["'](\.\.?\/[^"']+)["']/g;

/** The source file a relative import names, as Node and the loader resolve it. */
function sourceFile(base: string): string | undefined {
    for (const file of [base, `${base}.ts`, `${base}.js`, path.join(base, "index.ts"), path.join(base, "index.js")])
        if (fs.statSync(file, { throwIfNoEntry: false })?.isFile()) return file;
    return undefined;
}

/**
 * For a checkout: a provider module's code key over it and every module it imports by a relative path, transitively
 * (what its serialized text can capture by value). An import that names no file is not guessed at: not cached.
 */
export function importedCodeKey(codeKeyOf: (files: string[]) => string): CodeKey {
    return (moduleFile) => {
        const files = new Set<string>();
        const visit = (file: string): boolean => {
            if (files.has(file)) return true;
            files.add(file);
            for (const [, spec] of fs.readFileSync(file, "utf8").matchAll(RELATIVE_IMPORT)) {
                const imported = sourceFile(path.resolve(path.dirname(file), spec));
                if (!imported || !visit(imported)) return false;
            }
            return true;
        };
        return visit(moduleFile) ? codeKeyOf([...files]) : undefined;
    };
}

/**
 * A forwarder of the compiled package (packaged-provider.ts): its text is the forwarding function and the strings it
 * captures, so it is keyed by that module's code, where it forwards, its methods and the SDK that serializes it.
 */
function forwarderSource(provider: object): { code: string; file: string; name: string } | undefined {
    const forwards = forwardsOf(provider);
    if (!forwards) return undefined;
    const file = require.resolve("../../components/core/packaged-provider");
    const sdkVersion = (require("@pulumi/pulumi/package.json") as { version: string }).version;
    const code = JSON.stringify([fs.readFileSync(file, "utf8"), sdkVersion, Object.keys(provider)]);
    return { code, file, name: `${forwards.subpath}#${forwards.exportName}` };
}

/** Where a provider's entry lives, and the key its text must match; undefined for what is not cached. */
function entryFor(func: Function, args: SerializeFunctionArgs | undefined, dir: string, codeKey: CodeKey) {
    if (func.toString() !== PROVIDER_THUNK) return undefined;
    const provider = func();
    if (typeof provider !== "object" || provider === null) return undefined;
    const forwarder = forwarderSource(provider);
    const exported = forwarder ? undefined : exporter(provider);
    const code = forwarder?.code ?? (exported && codeKey(exported.file));
    const source = forwarder ?? exported;
    if (code === undefined || !source) return undefined;
    const key = crypto
        .createHash("sha256")
        .update(JSON.stringify([code, process.version, source.file, source.name, args ?? {}]))
        .digest("hex");
    const id = crypto.createHash("sha256").update(`${source.file}#${source.name}`).digest("hex").slice(0, 16);
    const name = source.name.replace(/\W+/g, "-");
    return { file: path.join(dir, `${path.basename(source.file)}.${name}.${id}.json`), key };
}

/**
 * Serves the SDK's provider serialization from `dir` (one file per provider, replaced when its key changes); returns
 * the function that puts the SDK's own back. With `write: false` it only reads: what it serializes is not kept.
 */
export function cacheProviderSerialization(
    dir: string,
    codeKey: CodeKey,
    { write = true }: { write?: boolean } = {},
): () => void {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const sdk = require(SDK_SERIALIZER) as { serializeFunction: Serialize };
    const serialize = sdk.serializeFunction;
    sdk.serializeFunction = async (func, args) => {
        const entry = entryFor(func, args, dir, codeKey);
        if (!entry) return serialize(func, args);
        try {
            const cached = JSON.parse(fs.readFileSync(entry.file, "utf8")) as Entry;
            if (cached.key === entry.key) return cached.serialized;
        } catch {
            // Not serialized yet with this code.
        }
        const serialized = await serialize(func, args);
        if (write && !serialized.containsSecrets && !evalGlobals())
            writeCacheFile(entry.file, JSON.stringify({ key: entry.key, serialized } satisfies Entry));
        return serialized;
    };
    return () => {
        sdk.serializeFunction = serialize;
    };
}

/**
 * Whether this process has Node's eval globals (`node -e`, `-p`, the REPL: every built-in module a global). The SDK
 * names a captured value found on the global object as `global.<name>` instead of requiring it
 * (@pulumi/pulumi v3.270.0 runtime/closure/createClosure.js, addEntriesForWellKnownGlobalObjectsAsync), so a provider
 * serialized there uses `fs` or `global.sys` that the provider host does not have: such a text is never kept.
 */
function evalGlobals(): boolean {
    return Object.getOwnPropertyDescriptor(globalThis, "fs") !== undefined;
}

let installed = false;

/**
 * A plan process's provider texts from the package's cache while their code is unchanged: from a checkout, when the
 * process loads its TypeScript through register.js (the plan's, the bench's); from the compiled package, its forwarders
 * (packaged-provider.ts). Only processes that run plans and nothing else keep what they serialize: it is kept for every
 * later plan, so it must come from a process no test has patched. Others may read (`write: false`), as npm test's
 * workers do. `pulumi up` never uses it.
 */
export function cacheProviders({ write = true }: { write?: boolean } = {}): void {
    if (installed) return;
    installed = true;
    const register = require.cache[path.join(__dirname, "register.js")]?.exports as
        { codeKeyOf(files: string[]): string } | undefined;
    cacheProviderSerialization(cacheDir("closures"), register ? importedCodeKey(register.codeKeyOf) : () => undefined, {
        write,
    });
}

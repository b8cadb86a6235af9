import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { SerializedFunction, SerializeFunctionArgs } from "@pulumi/pulumi/runtime";
import { forwardsOf } from "../../components/core/packaged-provider";

/**
 * The plan's cache of what the SDK serializes for a dynamic provider (`__provider`, e.g. the etcd key's).
 *
 * Serializing a function costs about 0.3 s whatever the function: the SDK enables the V8 debugger, which reports
 * (and hashes) every script the process loaded, and parses the function text with TypeScript (see defer-sdk.js).
 * The text depends only on code: the provider's functions and what they capture, all of it module code of ours
 * (captured by value) or of node_modules (captured as `require`). So it is kept per provider under `.build/closures`
 * (cache-dir.ts), keyed by every TypeScript source the process loaded (register.js's `loadedCodeKey`: sources,
 * tsconfig.json, the lockfile, the loader), the Node version, the provider's module and export name, and the
 * serialize options. An edit to any of them serializes afresh.
 *
 * Cached: only a provider that a module of ours exports (its captures are module code, not values of a run), or a
 * forwarder of the compiled package (keyed by packaged-provider.ts's code, where it forwards and the SDK's version),
 * and whose text holds no secrets. Anything else is serialized as the SDK does, every time.
 */

const SDK_SERIALIZER = "@pulumi/pulumi/runtime/closure/serializeClosure";
/** How `@pulumi/pulumi/dynamic` asks for a provider: `serializeFunction(() => provider, …)`. */
const PROVIDER_THUNK = "() => provider";
const NODE_MODULES = `${path.sep}node_modules${path.sep}`;

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { writeCacheFile } = require("./cache-file") as { writeCacheFile(file: string, text: string): boolean };

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
function entryFor(
    func: Function,
    args: SerializeFunctionArgs | undefined,
    dir: string,
    codeKey: () => string | undefined,
) {
    if (func.toString() !== PROVIDER_THUNK) return undefined;
    const provider = func();
    if (typeof provider !== "object" || provider === null) return undefined;
    const forwarder = forwarderSource(provider);
    const code = forwarder?.code ?? codeKey();
    const source = forwarder ?? (code === undefined ? undefined : exporter(provider));
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
 * the function that puts the SDK's own back.
 */
export function cacheProviderSerialization(dir: string, codeKey: () => string | undefined): () => void {
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
        if (!serialized.containsSecrets)
            writeCacheFile(entry.file, JSON.stringify({ key: entry.key, serialized } satisfies Entry));
        return serialized;
    };
    return () => {
        sdk.serializeFunction = serialize;
    };
}

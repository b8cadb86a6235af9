/**
 * A dynamic provider as the Pulumi SDK serializes it into each resource (`__provider`), for the dynamic-provider host
 * to load again: the host evaluates that text with `require` resolving from the program's directory.
 *
 * Serialized by value, a provider of the installed package would not load there: the SDK writes each module under
 * node_modules as `require("omni-scale/bin/…")`, which the package's `exports` does not offer; and for a package
 * linked from a folder (outside node_modules) it captures our modules whole and writes requires of their
 * dependencies (openpgp, yaml) that the program cannot resolve. So the compiled package hands the SDK a forwarder
 * instead: each method requires the provider's module by an exported subpath of the package
 * (package.json `exports`, e.g. `omni-scale/providers/etcd-key`) and calls it. That `require` is left as is by the
 * serializer (a host global), resolves from the program like the program's own `import`, and the module's own
 * requires then resolve from where the package is.
 *
 * From the TypeScript sources (this repository's stacks under `pulumi up`, the offline plan) the provider is
 * serialized by value, as `pulumi up` always did there: a checkout's modules are local files the host can load.
 */
export function packagedProvider<T extends object>(provider: T, subpath: string, exportName: string, file: string): T {
    if (file.endsWith(".ts")) return provider;
    // One forwarder per provider and subpath: the SDK serializes a provider once per process, for the first resource
    // that uses that object (@pulumi/pulumi dynamic/index.js, `providerCache`), and a serialization costs a quarter to
    // half a second; a forwarder per resource was serialized for each of a program's classes and clusters.
    const key = `${subpath}#${exportName}`;
    const made = forwarders.get(provider)?.get(key);
    if (made) return made as T;
    const forwarder: Record<string, unknown> = {};
    for (const [method, value] of Object.entries(provider)) {
        // The host checks which methods a provider has (`check`, `diff`, `read`…): forward only those.
        if (typeof value !== "function") continue;
        forwarder[method] = function forward(...args: unknown[]) {
            return require(subpath)[exportName][method](...args);
        };
    }
    forwarding.set(forwarder, { subpath, exportName });
    forwarders.set(provider, (forwarders.get(provider) ?? new Map()).set(key, forwarder));
    return forwarder as T;
}

const forwarders = new WeakMap<object, Map<string, object>>();

/** Where a forwarder's calls go (the plan's cache of serialized providers keys a forwarder by it). */
export interface Forwards {
    subpath: string;
    exportName: string;
}

// Beside the forwarders, not on them: the SDK serializes a provider object's every property.
const forwarding = new WeakMap<object, Forwards>();

/** What `provider` forwards to, when packagedProvider made it. */
export const forwardsOf = (provider: object): Forwards | undefined => forwarding.get(provider);

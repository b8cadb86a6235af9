// @ts-check
"use strict";
/**
 * Loads the Pulumi SDK's closure-serialization dependencies when they are first used, not when `@pulumi/pulumi`
 * loads. `runtime/index.js` requires `closure/serializeClosure` and `closure/codePaths` up front, and with them
 * TypeScript (parseFunction.js), `@npmcli/arborist` and `normalize-package-data` (codePaths.js): about 350 ms of the
 * SDK's 480 ms load on this machine, for code a program runs only when it serializes a function (a dynamic provider,
 * see closure-cache.ts) or packages code paths (never, here). The SDK means these to load on demand
 * (`dynamic/index.js`: "Load runtime/closure on demand, as its dependencies are slow to load").
 *
 * The same for the Automation API (`index.js` requires `./automation` up front: about 45 ms, for programs that drive the
 * Pulumi CLI, which no plan, pack or program of ours does), and for zod's translated messages (`v4/classic/external`
 * and `v4/core/index` require every locale for `z.locales`: about 35 ms; zod's English, which we use, is loaded apart
 * by `v4/classic/schemas`).
 *
 * Each is replaced, for the files named here only, by a stand-in that loads the real module on first access and
 * forwards to it. The stand-in answers the two interop helpers those files wrap their requires in as the real
 * module would: `__importStar` keeps it (it claims `__esModule`), and `default` is the module itself, as
 * `__importDefault` makes it for a CommonJS module.
 */
const Module = require("node:module");
const path = require("node:path");

const SDK_DIR = `${path.sep}@pulumi${path.sep}pulumi${path.sep}`;
const CLOSURE_DIR = `${SDK_DIR}runtime${path.sep}closure${path.sep}`;
const ZOD_DIR = `${path.sep}node_modules${path.sep}zod${path.sep}v4${path.sep}`;
const CLOSURE_DEPENDENCIES = new Set(["../../typescript-shim", "@npmcli/arborist", "normalize-package-data"]);

/**
 * Whether `parent` requiring `request` gets a stand-in.
 * @param {string} request
 * @param {string | undefined} parent
 */
function isDeferred(request, parent) {
    if (!parent) return false;
    if (CLOSURE_DEPENDENCIES.has(request)) return parent.includes(CLOSURE_DIR);
    if (request === "../locales/index.cjs") return parent.includes(ZOD_DIR);
    return request === "./automation" && parent.endsWith(`${SDK_DIR}index.js`);
}

/**
 * @param {() => any} load
 * @returns {any}
 */
function deferred(load) {
    /** @type {any} */
    let real;
    const target = () => (real ??= load());
    return new Proxy(
        {},
        {
            get: (_, key) => {
                if (key === "__esModule") return true;
                const m = target();
                return key === "default" && !m.__esModule ? m : m[key];
            },
            has: (_, key) => key in target(),
            ownKeys: () => Reflect.ownKeys(target()),
            getOwnPropertyDescriptor: (_, key) => {
                const d = Object.getOwnPropertyDescriptor(target(), key);
                // A proxy may not report a property as non-configurable that its (empty) target lacks.
                return d && { ...d, configurable: true };
            },
        },
    );
}

/** @type {any} */
const loader = Module;
const load = loader._load;
/**
 * @param {string} request
 * @param {NodeJS.Module | undefined} parent
 * @param {boolean} isMain
 */
loader._load = function deferSdkDependencies(request, parent, isMain) {
    if (isDeferred(request, parent?.filename)) {
        return deferred(() => load.call(loader, request, parent, isMain));
    }
    return load.call(loader, request, parent, isMain);
};

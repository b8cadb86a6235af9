// @ts-check
"use strict";
/**
 * `node -r ./src/plan/register.js`: runs the project's TypeScript as `ts-node --transpile-only` does (TypeScript's
 * transpileModule with tsconfig.json's options, inline source maps), from a cache under .build/ts. An output is keyed
 * by the hash of its source, tsconfig.json, the lockfile and this file, so an edit to any of them is transpiled
 * before it runs: nothing runs stale. The plan, the pack it starts, mocha, the bench and `pulumi preview`/`up`
 * (pulumi-program.js) load their sources this way.
 *
 * Not esbuild: Pulumi serializes each dynamic provider from the transpiled function text, which the plan prints, and
 * only TypeScript's own output keeps that text as ts-node, the SDK's loader, produces it.
 */
const crypto = require("node:crypto");
const fs = require("node:fs");
const Module = require("node:module");
const { SourceMap } = Module;
const path = require("node:path");

const { writeCacheFile } = require("../../components/core/cache-file");

// Every process that runs our TypeScript (plan, pack, tests, bench) keeps V8's compiled code and loads the SDK without
// its closure serializer's heavy dependencies until they are used.
require("./preload");

const ROOT = path.resolve(__dirname, "..", "..");
const CACHE = path.join(ROOT, ".build", "ts");
const NODE_MODULES = `${path.sep}node_modules${path.sep}`;
const INLINE_MAP = "//# sourceMappingURL=data:application/json;charset=utf-8;base64,";

/** @type {string | undefined} */
let settingsHash;

/** What every output depends on besides its own source. */
function settings() {
    if (settingsHash === undefined) {
        const hash = crypto.createHash("sha256");
        for (const file of [__filename, path.join(ROOT, "tsconfig.json"), path.join(ROOT, "package-lock.json")]) {
            hash.update(fs.readFileSync(file));
        }
        settingsHash = hash.digest("hex");
    }
    return settingsHash;
}

/** @type {typeof import("typescript") | undefined} */
let ts;
/** @type {import("typescript").CompilerOptions | undefined} */
let options;

/** tsconfig.json's options as ts-node 10.9 passes them to transpileModule (ts-node/dist/configuration.js: fixConfig, TS_NODE_COMPILER_OPTIONS). */
function compilerOptions() {
    if (!ts || !options) {
        ts = require("typescript");
        const file = path.join(ROOT, "tsconfig.json");
        const parsed = ts.parseJsonConfigFileContent(
            ts.readConfigFile(file, ts.sys.readFile).config,
            ts.sys,
            ROOT,
            undefined,
            file,
        );
        const { out, outFile, composite, declarationDir, declarationMap, emitDeclarationOnly, ...kept } =
            parsed.options;
        options = {
            ...kept,
            sourceMap: true,
            inlineSourceMap: false,
            inlineSources: true,
            declaration: false,
            noEmit: false,
            outDir: path.join(ROOT, ".ts-node"),
        };
    }
    return { ts, options };
}

/**
 * @param {string} source
 * @param {string} filename
 */
function transpile(source, filename) {
    const { ts, options } = compilerOptions();
    const out = ts.transpileModule(source, { fileName: filename, compilerOptions: options, reportDiagnostics: true });
    // As ts-node, leave out 6059 (a file outside rootDir), 18002 and 18003 (no inputs).
    const errors = (out.diagnostics ?? []).filter(
        (d) => d.category === ts.DiagnosticCategory.Error && ![6059, 18002, 18003].includes(d.code),
    );
    if (errors.length > 0) {
        throw new SyntaxError(
            ts.formatDiagnostics(errors, {
                getCanonicalFileName: (f) => f,
                getCurrentDirectory: () => ROOT,
                getNewLine: () => "\n",
            }),
        );
    }
    const map = JSON.parse(/** @type {string} */ (out.sourceMapText));
    map.file = filename;
    map.sources = [filename];
    delete map.sourceRoot;
    return `${out.outputText.replace(/\/\/# sourceMappingURL=\S+\s*$/, "")}${INLINE_MAP}${Buffer.from(JSON.stringify(map)).toString("base64")}`;
}

/** @param {string} name */
const escapeRegExp = (name) => name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * The JavaScript of `filename`, from the cache when its key matches.
 * @param {string} filename
 */
function javascriptOf(filename) {
    const source = fs.readFileSync(filename, "utf8");
    const key = crypto
        .createHash("sha256")
        .update(settings())
        .update(filename)
        .update(source)
        .digest("hex")
        .slice(0, 32);
    const rel = path.relative(ROOT, filename);
    if (rel.startsWith("..") || path.isAbsolute(rel)) return transpile(source, filename);
    const dir = path.join(CACHE, path.dirname(rel));
    const base = path.basename(rel);
    const cached = path.join(dir, `${base}.${key}.js`);
    try {
        return fs.readFileSync(cached, "utf8");
    } catch {
        // Not transpiled yet in this version.
    }
    const js = transpile(source, filename);
    if (writeCacheFile(cached, js)) {
        const older = new RegExp(`^${escapeRegExp(base)}\\.[0-9a-f]{32}\\.js$`);
        for (const entry of fs.readdirSync(dir)) {
            if (older.test(entry) && entry !== path.basename(cached)) fs.rmSync(path.join(dir, entry), { force: true });
        }
    }
    return js;
}

/**
 * The inline source map of each module loaded through here (base64), parsed the first time a stack trace needs it.
 * @type {Map<string, string | SourceMap>}
 */
const sourceMaps = new Map();

const previous = require.extensions[".ts"];
require.extensions[".ts"] = function loadTypeScript(module, filename) {
    if (filename.includes(NODE_MODULES)) return (previous ?? require.extensions[".js"])(module, filename);
    const js = javascriptOf(filename);
    // V8 gets the code without its map: the map would be copied into every inspector event (closure serialization).
    const at = js.lastIndexOf(INLINE_MAP);
    sourceMaps.set(filename, js.slice(at + INLINE_MAP.length));
    /** @type {any} */ (module)._compile(js.slice(0, at), filename);
};

/** @param {NodeJS.CallSite} frame */
function frameText(frame) {
    const text = String(frame);
    const file = frame.getFileName();
    let map = file === undefined ? undefined : sourceMaps.get(file);
    if (map === undefined || file === undefined) return text;
    if (typeof map === "string") {
        map = new SourceMap(JSON.parse(Buffer.from(map, "base64").toString("utf8")));
        sourceMaps.set(file, map);
    }
    const line = frame.getLineNumber() ?? 0;
    const column = frame.getColumnNumber() ?? 0;
    const entry = map.findEntry(line - 1, column - 1);
    if (!("originalLine" in entry)) return text;
    return text.replace(`${file}:${line}:${column}`, `${file}:${entry.originalLine + 1}:${entry.originalColumn + 1}`);
}

/**
 * Stack traces name the .ts lines, formatted as Node formats them. Only frames of these modules are mapped, and only
 * when a trace is read: with --enable-source-maps Node maps every frame of every trace, and the SDK records one per
 * promise (about a third of a plan's time).
 */
Error.prepareStackTrace = (error, frames) => {
    let header;
    try {
        header = Error.prototype.toString.call(error);
    } catch {
        header = "Error";
    }
    return header + frames.map((frame) => `\n    at ${frameText(frame)}`).join("");
};

/**
 * One key for the code of `files` as this loader transpiles them now: their sources, tsconfig.json, the lockfile and
 * this file (what each output's key covers).
 * @param {string[]} files
 */
function codeKeyOf(files) {
    const hash = crypto.createHash("sha256").update(settings());
    for (const file of [...files].sort()) hash.update(`${file}\0`).update(fs.readFileSync(file)).update("\n");
    return hash.digest("hex");
}

module.exports = { javascriptOf, codeKeyOf, compilerOptions: () => compilerOptions().options };

import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";

const COMPONENTS = path.join(__dirname, "..", "components");
const IMPORT = /(?:from|import|require\()\s*["']([^"']+)["']/g;
const SDK = /^@pulumi\/|^@pulumiverse\/|^@muhlba91\//;

function sources(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        return e.isDirectory() ? sources(p) : e.name.endsWith(".ts") ? [p] : [];
    });
}

function imports(file: string): string[] {
    return [...fs.readFileSync(file, "utf8").matchAll(IMPORT)].map((m) => m[1]);
}

function resolve(from: string, spec: string): string {
    const base = path.resolve(path.dirname(from), spec);
    // As Node and the loader resolve it: a TypeScript module, a JavaScript one (cache-file.js), or a folder's index.
    return [`${base}.ts`, `${base}.js`].find((f) => fs.existsSync(f)) ?? path.join(base, "index.ts");
}

describe("layout", () => {
    const files = sources(COMPONENTS).filter((f) => path.dirname(f) !== COMPONENTS);
    const rel = (f: string) => path.relative(COMPONENTS, f);

    it("groups the components by domain, each folder with an index of what it offers", () => {
        assert.deepEqual(
            fs
                .readdirSync(COMPONENTS)
                .filter((e) => !e.endsWith(".ts"))
                .sort(),
            ["core", "edge", "hub", "omni", "proxmox", "tailscale"],
        );
        for (const dir of ["core", "edge", "hub", "omni", "proxmox"])
            assert.ok(fs.existsSync(path.join(COMPONENTS, dir, "index.ts")), dir);
    });

    it("keeps pure modules (no Pulumi SDK) free of modules that load the SDK, however indirectly", () => {
        const usesSdk = (f: string) => imports(f).some((s) => SDK.test(s));
        const pure = files.filter((f) => !usesSdk(f) && !f.endsWith("index.ts"));
        assert.ok(pure.length > 15, `found ${pure.length} pure modules`);
        for (const file of pure) {
            const seen = new Set<string>();
            const visit = (f: string, chain: string[]) => {
                for (const spec of imports(f).filter((s) => s.startsWith("."))) {
                    const dep = resolve(f, spec);
                    if (seen.has(dep)) continue;
                    seen.add(dep);
                    assert.ok(
                        !usesSdk(dep),
                        `${[...chain, dep].map(rel).join(" → ")} loads the Pulumi SDK from a pure module`,
                    );
                    visit(dep, [...chain, dep]);
                }
            };
            visit(file, [file]);
        }
    });
});

import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Ajv2020 } from "ajv/dist/2020";
import * as YAML from "yaml";
import { FIX, replaceSection, SCHEMA_FILE, SECTIONS, staleFiles } from "../src/docs/generate";
import { configRows } from "../src/docs/reference";
import { CLOUDFLARE_TOKEN_PERMISSIONS, privilegesForProviderData } from "../components";
import { planStack } from "../src/plan/plan";
import { editedStacks, removeStackDirs } from "./stack-files";
import { DEBIAN_PACKAGES } from "./tools";

const root = path.join(__dirname, "..");
const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8");

describe("docs from one source (npm run docs)", () => {
    it("has every generated section and the stack file schema as the code generates them", () => {
        assert.deepEqual(staleFiles(root), [], `stale generated docs: run \`${FIX}\` and commit the result`);
    });

    it("finds a section that drifted from the code, or lost its markers", () => {
        const copy = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-docs-"));
        try {
            for (const file of [...new Set(SECTIONS.map((s) => s.file)), SCHEMA_FILE]) {
                fs.mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
                fs.copyFileSync(path.join(root, file), path.join(copy, file));
            }
            assert.deepEqual(staleFiles(copy), []);
            const deployment = path.join(copy, "docs/DEPLOYMENT.md");
            // A hand edit inside a generated table (the default of hub.accountName).
            fs.writeFileSync(
                deployment,
                read("docs/DEPLOYMENT.md").replace("| `hub.accountName` | `omni` |", "| `hub.accountName` | `hub` |"),
            );
            assert.deepEqual(staleFiles(copy), ["docs/DEPLOYMENT.md is not what the code generates"]);
            fs.writeFileSync(deployment, read("docs/DEPLOYMENT.md").replace("<!-- generated:config:hub:end -->", ""));
            assert.deepEqual(staleFiles(copy), [
                "docs/DEPLOYMENT.md has no <!-- generated:config:hub:begin --> … <!-- generated:config:hub:end --> pair",
            ]);
        } finally {
            fs.rmSync(copy, { recursive: true, force: true });
        }
    });

    it("replaces only what lies between a section's markers", () => {
        const text = "a\n<!-- generated:x:begin -->\nold\n<!-- generated:x:end -->\nb\n";
        assert.equal(
            replaceSection(text, "x", "new"),
            "a\n<!-- generated:x:begin -->\nnew\n<!-- generated:x:end -->\nb\n",
        );
    });

    it("describes every key it lists in the schemas themselves (the provider's own providerData keys aside)", () => {
        const undescribed = (["hub", "workloads"] as const).flatMap((role) =>
            configRows(role)
                .filter((r) => !r.description && !r.key.startsWith("machineClasses[].providerData."))
                .map((r) => r.key),
        );
        // A discriminator, and the two fields of a META entry its parent describes.
        assert.deepEqual(undescribed, [
            "hub.tls.mode",
            "machineClasses[].metaValues[].key",
            "machineClasses[].metaValues[].value",
        ]);
    });

    it("lists every policy of the pack with its own level and description", () => {
        const table = read("README.md");
        assert.match(table, /^\| `provider-id-consistent` \| mandatory \(stack\) \| Every machine class's providerid/m);
        assert.match(table, /^\| `tailnet-key-hygiene` \| advisory \|/m);
        assert.match(
            table,
            /^\| `proxmox-provider-patched-tag` \| mandatory \| .* \| `patchedTags` \(`\["local-fix"\]`\), `minimumVersion` \(`0\.1\.0`\) \|$/m,
        );
    });
});

describe("the stack file schema (schema/stack.schema.json, JSON Schema 2020-12)", () => {
    const schema = JSON.parse(read(SCHEMA_FILE));
    // Formats (uuid, email, uri) are left to editors; the keys and shapes are what this checks.
    const validator = new Ajv2020({ allErrors: true, strict: false, validateFormats: false }).compile(schema);
    // A plain boolean: ajv's type guard would narrow the document under test to `unknown`.
    const validate = (doc: unknown): boolean => validator(doc);
    const stackFile = (name: string): any => YAML.parse(read(name), { merge: true });
    const errors = () =>
        (validator.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);

    it("is what both example stack files declare on their first line", () => {
        for (const file of ["Pulumi.quantum.yaml", "Pulumi.matrix.yaml"])
            assert.equal(read(file).split("\n")[0], `# yaml-language-server: $schema=./${SCHEMA_FILE}`, file);
    });

    it("accepts both example stack files", () => {
        for (const file of ["Pulumi.quantum.yaml", "Pulumi.matrix.yaml"])
            assert.ok(validate(stackFile(file)), `${file}: ${errors().join("; ")}`);
    });

    it("rejects a misspelled key, at the top and inside a setting", () => {
        const top = stackFile("Pulumi.quantum.yaml");
        top.config["omni-scale:hubb"] = top.config["omni-scale:hub"];
        assert.equal(validate(top), false);
        assert.ok(
            errors().some((e) => e.startsWith("/config must be equal to one of the allowed values")),
            errors().join("; "),
        );

        const nested = stackFile("Pulumi.quantum.yaml");
        nested.config["omni-scale:hub"].omniDomian = "omni.example.com";
        assert.equal(validate(nested), false);
        assert.deepEqual(errors(), [
            '/config/omni-scale:hub must NOT have additional properties {"additionalProperty":"omniDomian"}',
        ]);

        const worker = stackFile("Pulumi.matrix.yaml");
        worker.config["omni-scale:clusters"][0].workers[0].nodelabels = {};
        assert.equal(validate(worker), false);
    });

    it("takes secrets only as `secure:` values, and leaves other providers' keys alone", () => {
        const doc = stackFile("Pulumi.quantum.yaml");
        doc.config["omni-scale:tlsPrivateKey"] = { secure: "v1:abc" };
        doc.config["proxmoxve:endpoint"] = "https://192.168.3.5:8006";
        doc.config["tailscale:apiKey"] = { secure: "v1:def" };
        assert.ok(validate(doc), errors().join("; "));
        doc.config["omni-scale:tlsPrivateKey"] = "-----BEGIN PRIVATE KEY-----";
        assert.equal(validate(doc), false);
    });

    it("refuses the other role's keys, a missing role, and keys Omni's template model refuses", () => {
        const hub = stackFile("Pulumi.quantum.yaml");
        hub.config["omni-scale:clusters"] = [];
        assert.equal(validate(hub), false);
        delete hub.config["omni-scale:clusters"];
        delete hub.config["omni-scale:role"];
        assert.equal(validate(hub), false);

        const matrix = stackFile("Pulumi.matrix.yaml");
        matrix.config["omni-scale:clusters"][0].kernelArgs = ["console=ttyS0"];
        assert.equal(validate(matrix), false);
    });
});

describe("what npm test needs (README, .ci/run)", () => {
    it("the README's one-line install and .ci/run name every Debian package the real-tool tests need", () => {
        const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
        const line = readme.match(/^sudo apt-get install -y (.+)$/m);
        assert.ok(line, "README shows an apt-get install line for the tests");
        const ci = fs.readFileSync(path.join(__dirname, "..", ".ci", "run"), "utf8");
        for (const pkg of new Set(Object.values(DEBIAN_PACKAGES))) {
            assert.ok(line[1].split(" ").includes(pkg), `README's install line lacks ${pkg}`);
            assert.ok(ci.includes(`need+=(${pkg})`), `.ci/run does not install ${pkg}`);
        }
    });
});

/** Statements the docs make about the code, each held to what the code does (a docs-against-code check found them wrong). */
describe("docs say what the code does", function () {
    this.timeout(120000);
    after(removeStackDirs);
    const docs = ["README.md", "docs/DEPLOYMENT.md", "docs/OPERATIONS.md", "docs/TROUBLESHOOTING.md"];

    it("the Cloudflare token's permissions: the ones the code asks for, in the generated reference and everywhere", () => {
        const token = configRows("hub").find((r) => r.key === "cloudflareApiToken");
        assert.ok(token?.rule.includes(CLOUDFLARE_TOKEN_PERMISSIONS), token?.rule);
        for (const file of docs) assert.doesNotMatch(read(file), /Zone\.DNS/, file);
    });

    it("Mapping.Use: the stack adds it for passthrough classes, so no doc asks for it by hand", () => {
        assert.deepEqual(privilegesForProviderData([{ pci_devices: [{ mapping: "gpu0" }] }]), ["Mapping.Use"]);
        for (const file of docs) assert.doesNotMatch(read(file), /add `?Mapping\.Use|needs `?Mapping\.Use`? in/, file);
    });

    it("the offline plan compares with no last deployment: a renamed protected cluster passes it (preview and up refuse it)", async () => {
        const renamed = editedStacks({
            matrix: (c) => {
                c["omni-scale:clusters"][0].name = "talos-prod-02";
            },
        });
        // What `npm run plan` does: no previous outputs (test/cluster-protection.test.ts gives them, as preview does).
        const plan = await planStack({ stack: "matrix", configFile: renamed.matrix, skipPolicies: true, silent: true });
        assert.deepEqual((plan.outputs as { clusters: string[] }).clusters, ["talos-prod-02"]);
        assert.doesNotMatch(read("docs/OPERATIONS.md"), /\(and `npm run plan`\) fail/);
        assert.match(read("docs/OPERATIONS.md"), /`npm run plan` cannot catch it/);
    });
});

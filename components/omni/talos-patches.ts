import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import Ajv2020, { ErrorObject, ValidateFunction } from "ajv/dist/2020";
import * as semver from "semver";
import * as YAML from "yaml";

/**
 * Talos machine config patches checked offline against the config schema Talos publishes for the cluster's minor
 * (vendored in ./talos-schemas, see its README), the way Omni v1.10.4 and Talos load a patch:
 * - Omni validates every patch with Talos's config loader (omni v1.10.4 `client/pkg/omni/resources/omni/config_patch.go`
 *   `ValidateConfigPatch`: `configloader.NewFromBytes(data, WithAllowPatchDelete())`), which takes YAML mappings only
 *   and decodes each with known fields enforced (talos `pkg/machinery/config/configloader/internal/decoder/decoder.go`).
 *   So a patch is strategic merge: a JSON-6902 patch (a list of operations) is refused, and `$patch: delete` is allowed.
 * - Omni then refuses the fields it controls itself (config_patch.go `forbiddenFields`, `forbiddenDocuments`, the
 *   os:admin role).
 * - A patch is a partial config: the schema's `required` is dropped, unknown keys and wrong types stay errors.
 * - Talos still decodes deprecated v1alpha1 fields its schema leaves out (`docgen:nodoc` in talos
 *   `pkg/machinery/config/types/v1alpha1/v1alpha1_types.go`, e.g. `machine.registries` since 1.12): they are taken
 *   from the newest older schema that still describes them, or from LEGACY_FIELDS.
 */

const SCHEMA_DIR = [
    path.join(__dirname, "talos-schemas"),
    // The compiled library runs from bin/components/omni; the schemas ship in components/omni (package.json files).
    path.resolve(__dirname, "..", "..", "..", "components", "omni", "talos-schemas"),
].find((dir) => fs.existsSync(dir))!;

interface Sources {
    schemas: Record<string, { tag: string; commit: string; path: string; blob: string }>;
}

/** Where each vendored schema came from (talos-schemas/sources.json). */
export const talosSchemaSources: Sources["schemas"] = (
    JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, "sources.json"), "utf8")) as Sources
).schemas;

/** Talos minors with a vendored schema, oldest first. */
export const talosSchemaMinors = Object.keys(talosSchemaSources).sort((a, b) => semver.compare(`${a}.0`, `${b}.0`));

/** The vendored schema of a minor, as published (upstream bytes, gunzipped). */
export function vendoredTalosSchema(minor: string): Buffer {
    return zlib.gunzipSync(fs.readFileSync(path.join(SCHEMA_DIR, `${minor}.json.gz`)));
}

type Schema = Record<string, unknown> & {
    $defs?: Record<string, Schema>;
    properties?: Record<string, Schema>;
    additionalProperties?: Schema | boolean;
    patternProperties?: Record<string, Schema>;
    items?: Schema;
    $ref?: string;
    oneOf?: Schema[];
    type?: string;
    enum?: unknown[];
};

/** v1alpha1 fields Talos v1.9.6–v1.13.9 decodes (v1alpha1_types.go, `docgen:nodoc`) that no vendored schema describes. */
const LEGACY_FIELDS: Record<string, Record<string, Schema>> = {
    "v1alpha1.Config": { persist: { type: "boolean" } },
    "v1alpha1.ClusterConfig": { allowSchedulingOnMasters: { type: "boolean" } },
    "v1alpha1.InstallConfig": { bootloader: { type: "boolean" } },
    "v1alpha1.EtcdConfig": { subnet: { type: "string" } },
    "v1alpha1.Device": { cidr: { type: "string" } },
    "v1alpha1.Vlan": { cidr: { type: "string" } },
};

const V1ALPHA1 = "v1alpha1.Config";

/** security/image_verification.go registers ImageVerificationConfig in 1.13, and the 1.13 schema does not describe it. */
const UNDESCRIBED_KINDS: Record<string, string[]> = { "1.13": ["ImageVerificationConfig"] };

/**
 * Where Talos's decoder differs from its published schema, found by checking Talos's own documents (the testdata of
 * `pkg/machinery/config/types` at each vendored tag; test/talos-patches.test.ts keeps them passing).
 */
function correctSchema(minor: string, defs: Record<string, Schema>) {
    // network/kubespan_endpoints.go registers the kind KubeSpanEndpointsConfig; the schema calls it KubeSpanEndpoints.
    const kubespan = defs["network.KubespanEndpointsConfigV1Alpha1"]?.properties?.kind;
    if (kubespan) kubespan.enum = ["KubeSpanEndpointsConfig"];
    // cri/registry_tls.go: clientIdentity is a meta.CertificateAndKey, whose keys are cert and key (the schema: crt).
    const identity = defs["cri.RegistryTLSConfigV1Alpha1"]?.properties?.clientIdentity;
    if (identity?.properties?.crt) {
        const { crt, ...rest } = identity.properties;
        identity.properties = { cert: crt, ...rest };
    }
    // network/routing_rule.go: action is a nethelpers.RoutingRuleAction, written by name ("unicast"); the schema: integer.
    const action = defs["network.RoutingRuleConfigV1Alpha1"]?.properties?.action;
    if (action) action.type = "string";
    // Kinds Talos registers that the schema leaves out: known, their content not checked.
    for (const kind of UNDESCRIBED_KINDS[minor] ?? [])
        defs[`undescribed.${kind}`] = { properties: { apiVersion: { enum: ["v1alpha1"] }, kind: { enum: [kind] } } };
}

/** Omni's refusals (omni v1.10.4 config_patch.go): fields of the v1alpha1 document it controls itself. */
const OMNI_FORBIDDEN_FIELDS = [
    "cluster.clusterName",
    "cluster.id",
    "cluster.controlPlane.endpoint",
    "cluster.token",
    "cluster.secret",
    "cluster.aescbcEncryptionSecret",
    "cluster.secretboxEncryptionSecret",
    "cluster.ca",
    "cluster.acceptedCAs",
    "cluster.serviceAccount",
    "machine.token",
    "machine.ca",
    "machine.type",
    "machine.install.extensions",
    "machine.acceptedCAs",
];
/** config_patch.go `forbiddenDocuments` (kinds of Talos 1.14 machinery, which Omni v1.10.4 builds with). */
const OMNI_FORBIDDEN_KINDS = [
    "UnattendedInstallConfig",
    "DiscoveryIdentityConfig",
    "KubeClusterConfig",
    "KubeEtcdEncryptionConfig",
    "KubeAPIServerCAConfig",
    "KubeAggregatorCAConfig",
];
/** config_patch.go `documentForbiddenFields` and the os:admin role in `forbiddenSliceElements`. */
const OMNI_FORBIDDEN_KIND_FIELDS: Record<string, string[]> = { KubeServiceAccountConfig: ["issuer.privateKey"] };
const OMNI_FORBIDDEN_ROLES: Record<string, string> = {
    [V1ALPHA1]: "machine.features.kubernetesTalosAPIAccess.allowedRoles",
    KubeTalosAPIAccessConfig: "allowedRoles",
};
const ADMIN_ROLE = "os:admin";

/** Keys whose presence makes Talos's decoder read a kind-less document as the v1alpha1 config (decoder.go). */
const V1ALPHA1_KEYS = ["machine", "cluster", "debug", "persist"];

interface Minor {
    minor: string;
    ajv: Ajv2020;
    defs: Record<string, Schema>;
    /** "apiVersion/kind" → $defs name. */
    kinds: Map<string, string>;
    validators: Map<string, ValidateFunction>;
}

const minors = new Map<string, Minor>();

function parseSchema(minor: string): Schema {
    return JSON.parse(vendoredTalosSchema(minor).toString("utf8")) as Schema;
}

/** A patch is partial: drop `required` everywhere. */
function withoutRequired(s: unknown): unknown {
    if (Array.isArray(s)) return s.map(withoutRequired);
    if (s === null || typeof s !== "object") return s;
    return Object.fromEntries(
        Object.entries(s)
            .filter(([k, v]) => !(k === "required" && Array.isArray(v)))
            .map(([k, v]) => [k, withoutRequired(v)]),
    );
}

/** The schema a patch for this minor is checked with: published, plus deprecated fields Talos still decodes, without required. */
function acceptedSchema(minor: string): Schema {
    const schema = parseSchema(minor);
    const defs = schema.$defs!;
    const older = talosSchemaMinors.slice(0, talosSchemaMinors.indexOf(minor)).reverse();
    for (const old of older) {
        const oldDefs = parseSchema(old).$defs!;
        for (const [name, def] of Object.entries(oldDefs)) {
            if (!name.startsWith("v1alpha1.")) continue;
            if (!defs[name]) defs[name] = def;
            else if (def.properties && defs[name].properties)
                defs[name].properties = { ...def.properties, ...defs[name].properties };
        }
    }
    correctSchema(minor, defs);
    for (const [name, fields] of Object.entries(LEGACY_FIELDS))
        defs[name].properties = { ...fields, ...defs[name].properties };
    return withoutRequired(schema) as Schema;
}

function loadMinor(minor: string): Minor {
    let m = minors.get(minor);
    if (m) return m;
    const schema = acceptedSchema(minor);
    // validateFormats off: Talos's decoder does not check `format: uri`; annotations (markdownDescription…) need strict off.
    // Start-up cost, paid in the program and in the pack: ajv's optimizer passes take about half of compiling
    // v1alpha1.Config (a patch still checks in microseconds), and checking the vendored schema against the draft 2020-12
    // meta-schema (validateSchema) costs about 30 ms per process; test/talos-patches.test.ts checks each schema once.
    const ajv = new Ajv2020({
        allErrors: true,
        strict: false,
        validateFormats: false,
        verbose: true,
        validateSchema: false,
        code: { optimize: false },
    });
    ajv.addSchema(schema, minor);
    const kinds = new Map<string, string>();
    for (const [name, def] of Object.entries(schema.$defs!)) {
        const kind = def.properties?.kind?.enum?.[0];
        const apiVersion = def.properties?.apiVersion?.enum?.[0];
        if (typeof kind === "string") kinds.set(`${String(apiVersion)}/${kind}`, name);
    }
    m = { minor, ajv, defs: schema.$defs!, kinds, validators: new Map() };
    minors.set(minor, m);
    return m;
}

function validator(m: Minor, def: string): ValidateFunction {
    let v = m.validators.get(def);
    if (!v) {
        v = m.ajv.getSchema(`${m.minor}#/$defs/${def}`)!;
        m.validators.set(def, v);
    }
    return v;
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const row = [i];
        for (let j = 1; j <= b.length; j++)
            row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = row;
    }
    return prev[b.length];
}

/** The closest known name, when it is close enough to be a typo. */
export function closest(name: string, known: string[]): string | undefined {
    let best: { k: string; d: number } | undefined;
    for (const k of known) {
        const d = distance(name.toLowerCase(), k.toLowerCase());
        if (!best || d < best.d) best = { k, d };
    }
    return best && best.d <= Math.max(2, Math.floor(name.length / 3)) ? best.k : undefined;
}

const didYouMean = (name: string, known: string[]) => {
    const k = closest(name, known);
    return k ? `: did you mean \`${k}\`?` : "";
};

/** A JSON path as a reader writes it: machine.kubelet.extraMounts[0].type, machine.sysctls["net.core.x"]. */
function jsonPath(segments: (string | number)[]): string {
    return segments
        .map((s, i) =>
            typeof s === "number" || /^\d+$/.test(s)
                ? `[${s}]`
                : /^[A-Za-z_$][\w$-]*$/.test(s)
                  ? `${i === 0 ? "" : "."}${s}`
                  : `[${JSON.stringify(s)}]`,
        )
        .join("");
}

const pointerSegments = (pointer: string) =>
    pointer
        .split("/")
        .slice(1)
        .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));

function resolve(m: Minor, s: Schema | undefined): Schema | undefined {
    while (s?.$ref) s = m.defs[s.$ref.replace("#/$defs/", "")];
    return s;
}

/** What a schema expects, in words ("a string or a list of strings"). */
function describe(m: Minor, s: Schema | undefined): string {
    const r = resolve(m, s);
    if (!r) return "anything";
    if (r.oneOf) return r.oneOf.map((o) => describe(m, o)).join(" or ");
    if (r.enum) return `one of ${r.enum.map((v) => JSON.stringify(v)).join(", ")}`;
    switch (r.type) {
        case "object":
            return "a mapping";
        case "array":
            return r.items ? `a list of ${describe(m, r.items).replace(/^an? /, "")}s` : "a list";
        case "integer":
            return "a whole number";
        case "boolean":
            return "true or false";
        default:
            return r.type ? `a ${r.type}` : "anything";
    }
}

/** A value as a message shows it: scalars as written (long ones cut, e.g. a PEM block), collections by their form. */
function kindOf(v: unknown): string {
    if (v === null) return "null";
    if (Array.isArray(v)) return "a list";
    if (typeof v === "object") return "a mapping";
    const text = JSON.stringify(v) ?? String(v);
    return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

/** One problem per bad place; the branch errors of a oneOf collapse into it. */
function schemaProblems(m: Minor, errors: ErrorObject[], prefix: string): string[] {
    const oneOfs = errors.filter((e) => e.keyword === "oneOf").map((e) => `${e.schemaPath}/`);
    return errors
        .filter((e) => !oneOfs.some((p) => e.schemaPath.startsWith(p)))
        .map((e) => {
            const at = pointerSegments(e.instancePath);
            if (e.keyword === "additionalProperties") {
                const key = (e.params as { additionalProperty: string }).additionalProperty;
                const known = Object.keys((e.parentSchema as Schema).properties ?? {});
                return `${prefix}${jsonPath([...at, key])}: unknown key for Talos ${m.minor}${didYouMean(key, known)}`;
            }
            const want = describe(m, e.parentSchema as Schema);
            if (e.keyword === "pattern")
                return `${prefix}${jsonPath(at)}: ${kindOf(e.data)} does not match the pattern ${(e.params as { pattern: string }).pattern}`;
            return `${prefix}${jsonPath(at)}: is ${kindOf(e.data)}, Talos ${m.minor} wants ${want}`;
        });
}

/** Whether a path can exist in the schema; otherwise why not (for JSON-6902 paths and `$patch: delete`). */
function pathProblem(m: Minor, def: string, segments: string[]): string | undefined {
    let s = resolve(m, m.defs[def]);
    for (const [i, seg] of segments.entries()) {
        const here = jsonPath(segments.slice(0, i + 1));
        if (!s) return undefined;
        if (s.oneOf) return undefined; // a value of several forms: not followed further
        if (s.properties?.[seg]) s = resolve(m, s.properties[seg]);
        else if (typeof s.additionalProperties === "object") s = resolve(m, s.additionalProperties);
        else if (s.patternProperties) s = resolve(m, Object.values(s.patternProperties)[0]);
        else if (s.type === "array" && (/^\d+$/.test(seg) || seg === "-")) s = resolve(m, s.items);
        else if (s.type === "array") return `${here}: ${describe(m, s)} is indexed by a number or "-"`;
        else if (s.properties)
            return `${here}: no such key in Talos ${m.minor}${didYouMean(seg, Object.keys(s.properties))}`;
        else return `${here}: ${jsonPath(segments.slice(0, i))} is ${describe(m, s)}, it has no keys`;
    }
    return undefined;
}

function getField(doc: unknown, dotted: string): unknown {
    return dotted
        .split(".")
        .reduce<unknown>(
            (o, k) => (o !== null && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined),
            doc,
        );
}

const hasField = (doc: unknown, dotted: string) => {
    const parts = dotted.split(".");
    const parent = getField(doc, parts.slice(0, -1).join("."));
    return parts.length === 1
        ? Object.hasOwn(doc as object, dotted)
        : parent !== null && typeof parent === "object" && Object.hasOwn(parent, parts.at(-1)!);
};

/** Omni's refusals for one document (config_patch.go). */
function omniProblems(doc: Record<string, unknown>, kind: string, prefix: string): string[] {
    const fields = kind === V1ALPHA1 ? OMNI_FORBIDDEN_FIELDS : (OMNI_FORBIDDEN_KIND_FIELDS[kind] ?? []);
    const problems = fields
        .filter((f) => hasField(doc, f))
        .map((f) => `${prefix}${f}: Omni sets this itself and refuses a patch that overrides it: remove it`);
    const roles = OMNI_FORBIDDEN_ROLES[kind] && getField(doc, OMNI_FORBIDDEN_ROLES[kind]);
    if (Array.isArray(roles) && roles.includes(ADMIN_ROLE))
        problems.push(
            `${prefix}${OMNI_FORBIDDEN_ROLES[kind]}: Omni refuses the ${ADMIN_ROLE} role in a patch: use os:reader or os:operator`,
        );
    return problems;
}

/** Remove mappings marked `$patch: delete` (as Talos's decoder does, delete.go) and null values, returning the deletes' paths. */
function takeDeletes(doc: unknown): { value: unknown; deletes: string[][] } {
    const deletes: string[][] = [];
    const walk = (node: unknown, at: string[]): unknown => {
        if (Array.isArray(node)) {
            const out: unknown[] = [];
            node.forEach((item, i) => (isDelete(item) ? deletes.push(at) : out.push(walk(item, [...at, String(i)]))));
            return out;
        }
        if (node === null || typeof node !== "object") return node;
        const out: Record<string, unknown> = {};
        for (const [k, val] of Object.entries(node)) {
            if (isDelete(val)) deletes.push([...at, k]);
            // Go's YAML decoder leaves a field set to null at its zero value: as good as absent.
            else if (val !== null) out[k] = walk(val, [...at, k]);
        }
        return out;
    };
    return { value: walk(doc, []), deletes };
}

const isDelete = (v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) && (v as Record<string, unknown>)["$patch"] === "delete";

/**
 * A document Talos's decoder skips (delete.go `isEmptyDoc`: nothing but scalar version, kind or name). A patch of only
 * such documents holds no config, and the loader refuses it (configloader.go `ErrNoConfig`).
 */
const isEmptyDocument = (d: unknown) =>
    d !== null &&
    typeof d === "object" &&
    !Array.isArray(d) &&
    Object.entries(d).every(
        ([k, v]) => ["version", "kind", "name"].includes(k) && (v === null || typeof v !== "object"),
    );
const EMPTY_PATCH =
    "the patch is empty: Omni refuses it (Talos's config loader finds no config in it, `config not found`): give it content or remove it";

const JSON_PATCH_OPS = ["add", "remove", "replace", "move", "copy", "test"];
const JSON_PATCH_REFUSED =
    "a JSON-6902 patch (a list of operations), which Omni v1.10.4 refuses: it loads patches with Talos's config loader, which takes only strategic merge patches (YAML mappings); " +
    "write the change as a mapping (to remove a key, set it to `$patch: delete`)";

/** The form and paths of JSON-6902 operations, checked against the v1alpha1 config (the only document they patch). */
function jsonPatchProblems(m: Minor, ops: unknown[]): string[] {
    const problems = [JSON_PATCH_REFUSED];
    ops.forEach((op, i) => {
        const at = `operation ${i + 1}`;
        if (op === null || typeof op !== "object" || Array.isArray(op)) {
            problems.push(`${at}: is ${kindOf(op)}, an operation is a mapping {op, path, value}`);
            return;
        }
        const o = op as Record<string, unknown>;
        if (!JSON_PATCH_OPS.includes(String(o.op)))
            problems.push(
                `${at}: op ${JSON.stringify(o.op)} is not one of ${JSON_PATCH_OPS.join(", ")}${didYouMean(String(o.op), JSON_PATCH_OPS)}`,
            );
        for (const key of ["path", ...(o.op === "move" || o.op === "copy" ? ["from"] : [])]) {
            const p = o[key];
            if (typeof p !== "string" || (p !== "" && !p.startsWith("/"))) {
                problems.push(
                    `${at}: ${key} ${JSON.stringify(p)} is not a JSON pointer such as /machine/kubelet/extraArgs`,
                );
                continue;
            }
            const problem = pathProblem(m, V1ALPHA1, pointerSegments(p));
            if (problem) problems.push(`${at}: ${key} ${p}: ${problem}`);
        }
        if (["add", "replace", "test"].includes(String(o.op)) && !("value" in o))
            problems.push(`${at}: op ${String(o.op)} needs a value`);
        for (const key of Object.keys(o).filter((k) => !["op", "path", "value", "from"].includes(k)))
            problems.push(`${at}: unknown key ${key} (an operation has op, path, value, from)`);
    });
    return problems;
}

const looksLikeOperation = (d: unknown) =>
    d !== null && typeof d === "object" && "op" in d && "path" in d && !("kind" in d) && !("machine" in d);

/** The documents of a patch (inline in Omni's three forms, or a file's text), or its JSON-6902 operations. */
function patchDocuments(content: unknown): { docs: unknown[] } | { ops: unknown[] } {
    if (typeof content === "string") {
        const docs = YAML.parseAllDocuments(content).map((d) => d.toJS() as unknown);
        if (docs.length === 1 && Array.isArray(docs[0])) return { ops: docs[0] };
        return { docs };
    }
    const docs = Array.isArray(content) ? content : [content];
    return docs.length > 0 && docs.every(looksLikeOperation) ? { ops: docs } : { docs };
}

/** "1.13" for v1.13.6, or undefined. */
const minorOf = (talosVersion: string) => {
    const v = semver.coerce(talosVersion);
    return v ? `${v.major}.${v.minor}` : undefined;
};

/** Why patches for this Talos version cannot be checked, or undefined. */
export function talosSchemaProblem(talosVersion: string): string | undefined {
    const minor = minorOf(talosVersion);
    if (minor && talosSchemaSources[minor]) return undefined;
    return `no Talos config schema is vendored for Talos ${talosVersion}, so its machine config patches cannot be checked (vendored: ${talosSchemaMinors.join(", ")}): use one of these minors, or vendor the schema (components/omni/talos-schemas/README.md)`;
}

/** Where a document sits in a multi-document patch, for messages. */
function documentLabel(doc: Record<string, unknown>, index: number, count: number): string {
    if (count === 1) return "";
    const kind = typeof doc.kind === "string" ? doc.kind : "v1alpha1";
    return `document ${index + 1} (${kind}${typeof doc.name === "string" ? ` ${doc.name}` : ""}): `;
}

/**
 * Problems of one machine config patch for a Talos version, each "<path in the patch>: <what is wrong>[: fix]".
 * `content` is the patch as Omni's template carries it: a mapping, a list of mappings, or YAML text.
 */
export function talosPatchProblems(content: unknown, talosVersion: string): string[] {
    const schemaProblem = talosSchemaProblem(talosVersion);
    if (schemaProblem) return [schemaProblem];
    const m = loadMinor(minorOf(talosVersion)!);
    const parsed = patchDocuments(content);
    if ("ops" in parsed) return jsonPatchProblems(m, parsed.ops);
    const docs = parsed.docs.filter((d) => d !== null);
    if (docs.every(isEmptyDocument)) return [EMPTY_PATCH];
    const seen = new Map<string, number>();
    return docs.flatMap((raw, index) => {
        if (typeof raw !== "object" || Array.isArray(raw))
            return [`document ${index + 1}: is ${kindOf(raw)}: a patch document is a YAML mapping`];
        const doc = raw as Record<string, unknown>;
        const prefix = documentLabel(doc, index, docs.length);
        const here = (key: string) => `${prefix}${key}`;
        if (looksLikeOperation(doc)) return [`${here("op")}: ${JSON_PATCH_REFUSED}`];
        let def: string | undefined;
        if (doc.kind === undefined) {
            if (!V1ALPHA1_KEYS.some((k) => k in doc))
                return [
                    `${prefix}no kind: a patch document is the v1alpha1 config (machine:, cluster:) or has apiVersion and kind (e.g. apiVersion: v1alpha1, kind: ExtensionServiceConfig)`,
                ];
            def = V1ALPHA1;
        } else {
            const kind = String(doc.kind);
            if (OMNI_FORBIDDEN_KINDS.includes(kind))
                return [`${here("kind")}: Omni refuses a ${kind} document in a patch (it manages this itself)`];
            if (doc.apiVersion === undefined)
                return [`${here("apiVersion")}: missing (the ${kind} document needs one, e.g. v1alpha1)`];
            def = m.kinds.get(`${String(doc.apiVersion)}/${kind}`);
            if (!def) return [`${here("kind")}: ${unknownKind(m, kind, String(doc.apiVersion))}`];
        }
        if (isDelete(doc)) return []; // the whole document is deleted
        const { value, deletes } = takeDeletes(doc);
        const v = validator(m, def);
        const problems = v(value) ? [] : schemaProblems(m, v.errors ?? [], prefix);
        // container.go New: one v1alpha1 config, and one document per kind and name.
        const id = def === V1ALPHA1 ? "the v1alpha1 config" : `${String(doc.kind)} ${String(doc.name ?? "")}`.trim();
        const first = seen.get(id);
        if (first !== undefined)
            problems.push(
                `${prefix}repeats document ${first + 1} (${id}): Talos's config loader refuses duplicates: merge them`,
            );
        else seen.set(id, index);
        for (const d of deletes) {
            const problem = pathProblem(m, def, d);
            if (problem) problems.push(`${prefix}${problem} ($patch: delete)`);
        }
        return [...problems, ...omniProblems(doc, def === V1ALPHA1 ? V1ALPHA1 : String(doc.kind), prefix)];
    });
}

function unknownKind(m: Minor, kind: string, apiVersion: string): string {
    const names = [...m.kinds.keys()].map((k) => k.split("/")[1]);
    if (names.includes(kind)) {
        const versions = [...m.kinds.keys()].filter((k) => k.endsWith(`/${kind}`)).map((k) => k.split("/")[0]);
        return `${kind} has apiVersion ${versions.join(" or ")} in Talos ${m.minor}, not ${apiVersion}`;
    }
    const newer = talosSchemaMinors.filter(
        (minor) =>
            semver.gt(`${minor}.0`, `${m.minor}.0`) &&
            [...loadMinor(minor).kinds.keys()].some((k) => k.endsWith(`/${kind}`)),
    );
    const since = newer.length > 0 ? ` (Talos ${newer[0]} added it: upgrade the cluster's Talos first)` : "";
    return `unknown document kind ${kind} for Talos ${m.minor}${since}${since ? "" : didYouMean(kind, names)}`;
}

/** A patch as a cluster template carries it (after a `file:` is read, its text is `inline`). */
export interface TemplatePatch {
    name?: string;
    idOverride?: string;
    file?: string;
    inline?: unknown;
}

/** The machine set a template document describes, for messages: all machines, ControlPlane, Workers <name>, Machine <id>. */
export const machineSetLabel = (kind: string, name?: string) =>
    kind === "Cluster" ? "all machines" : kind === "ControlPlane" ? "ControlPlane" : `${kind} ${name}`;

/** One patch's problems, each naming the cluster, the machine set and the patch (name or file). */
export function templatePatchProblems(
    cluster: string,
    set: string,
    patch: TemplatePatch,
    talosVersion: string,
): string[] {
    const name = patch.name ?? patch.idOverride ?? patch.file;
    const file = patch.file !== undefined && patch.file !== name ? ` (file ${patch.file})` : "";
    return talosPatchProblems(patch.inline, talosVersion).map(
        (p) => `cluster ${cluster}, ${set}, patch ${name}${file}: ${p}`,
    );
}

/** The document kinds (besides the v1alpha1 config) a Talos minor's patches may carry. */
export const talosDocumentKinds = (minor: string): string[] =>
    [...loadMinor(minor).kinds.keys()].map((k) => k.split("/")[1]).sort();

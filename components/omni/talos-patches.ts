import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import type Ajv2020 from "ajv/dist/2020";
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020";
import { createHash } from "node:crypto";
import * as semver from "semver";
import { oncePerText } from "../core/hot-paths";
import { decodeNode, DecodeContext, SchemaNode, takeDeletes } from "./talos-decode";
import { nodeMetadataProblems } from "./talos-node-rules";
import { fromValue, GoNode, readPatchText, toValue } from "./talos-yaml";
import { cacheDir } from "../core/cache-dir";
import { writeCacheFile } from "../core/cache-file";

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

/** A schema node with the marks the patch decoder reads (set by correctSchema below). */
type Marked = Schema & {
    /** A Go type with its own text form (talos-node-rules.ts CUSTOM_TYPES). */
    "x-talos"?: string;
    /** A nethelpers/block enumer type with -text: UnmarshalText compares case-insensitively (`XString`: ToLower). */
    "x-ci"?: boolean;
    /** v1alpha1.ArgValue: a string, or (Talos v1.13) a list of strings. */
    "x-arg"?: boolean;
    /** The patch release of the minor that added this field. */
    "x-since"?: string;
};

/** The schema's patterns for Go types whose text Talos parses itself (network/*.go at each tag: `pattern:` over the field). */
const PATTERN_TYPES: Record<string, string> = {
    "^[0-9a-f.:]+$": "ip", // network/yaml.go Addr, netip.Addr
    "^[0-9a-f.:]+/\\d{1,3}$": "prefix", // network/yaml.go Prefix, netip.Prefix
    "^[0-9a-f:]+$": "mac", // nethelpers.HardwareAddr
    "^([0-9a-f.:]+|\\[[0-9a-f:.]+\\]):\\d{1,5}$": "addrPort", // network/yaml.go AddrPort
};

/** Fields of Go types with their own text form that the schema calls a plain string or integer. */
const FIELD_TYPES: [def: string, prop: string, type: string][] = [
    ["v1alpha1.DiskPartition", "size", "humanBytes"], // v1alpha1_types.go DiskSize (schema: integer)
    ["v1alpha1.InstallDiskSelector", "size", "diskSizeMatcher"], // v1alpha1_types.go InstallDiskSizeMatcher
    ["v1alpha1.RegistryTLSConfig", "ca", "base64"], // v1alpha1_types.go TLSCA Base64Bytes
    ["block.ProvisioningSpec", "minSize", "byteSize"], // block/volume_config.go ByteSize
    ["block.ProvisioningSpec", "maxSize", "byteSize"], // ByteSize to v1.11, block/size.go Size from v1.12 (below)
];

/** Enum fields of enumer types generated with -text (nethelpers/nethelpers.go, resources/block/block.go go:generate). */
const CASE_INSENSITIVE: Record<string, string[]> = {
    "network.BondConfigV1Alpha1": [
        "bondMode",
        "xmitHashPolicy",
        "arpValidate",
        "arpAllTargets",
        "lacpRate",
        "adSelect",
        "adLACPActive",
        "primaryReselect",
    ],
    "network.DHCPv4ConfigV1Alpha1": ["clientIdentifier"],
    "network.DHCPv6ConfigV1Alpha1": ["clientIdentifier"],
    "network.DefaultActionConfigV1Alpha1": ["ingress"],
    "network.HostnameConfigV1Alpha1": ["auto"],
    "network.RulePortSelector": ["protocol"],
    "network.VLANConfigV1Alpha1": ["vlanMode"],
    "block.EncryptionSpec": ["provider"],
    "block.FilesystemSpec": ["type"],
    "block.UserVolumeConfigV1Alpha1": ["volumeType"],
    "block.ExternalVolumeConfigV1Alpha1": ["filesystemType"],
};

/**
 * Fields a patch release added within a minor (the schema at each patch tag of siderolabs/talos, compared: see
 * test/fixtures/upstream/talos/schema-patch-releases.json). The vendored schema is the newest patch's.
 */
const PATCH_ADDED: Record<string, [def: string, prop: string, since: string][]> = {
    "1.12": [
        ["v1alpha1.KubeSpanFilters", "excludeAdvertisedNetworks", "1.12.4"],
        ["runtime.OOMV1Alpha1", "strictCgroupClassOrdering", "1.12.9"],
    ],
    "1.13": [["runtime.OOMV1Alpha1", "strictCgroupClassOrdering", "1.13.4"]],
};

/** Every schema node under a root, with a callback (for marking patterns). */
function eachNode(s: unknown, visit: (n: Marked) => void) {
    if (Array.isArray(s)) s.forEach((x) => eachNode(x, visit));
    else if (s !== null && typeof s === "object") {
        visit(s as Marked);
        for (const v of Object.values(s)) eachNode(v, visit);
    }
}

/**
 * Where Talos's decoder differs from its published schema, found by reading the Go types at each vendored tag and by
 * checking Talos's own documents and documented examples (test/talos-patches.test.ts keeps them passing).
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
    const prop = (def: string, name: string) => defs[def]?.properties?.[name] as Marked | undefined;
    // v1alpha1_types.go LoggingDestination.LoggingEndpoint is an *Endpoint, a URL string (UnmarshalYAML: url.Parse);
    // the schema describes an empty object, refusing the configuration reference's own example.
    const endpoint = prop("v1alpha1.LoggingDestination", "endpoint");
    if (endpoint) replace(endpoint, { type: "string", "x-talos": "loggingEndpoint" });
    // v1alpha1_types.go EncryptionConfig and block/encryption.go EncryptionSpec: options is a []string (the schema: one
    // enum value until v1.13.4); the node checks each value (luks.ValidatePerfOption).
    for (const def of ["v1alpha1.EncryptionConfig", "block.EncryptionSpec"]) {
        const options = prop(def, "options");
        if (options?.enum) replace(options, { type: "array", items: { enum: options.enum } });
    }
    for (const [def, name, type] of FIELD_TYPES) {
        const field = prop(def, name);
        if (field) replace(field, { type: "string", "x-talos": type });
    }
    // block/size.go: maxSize is a Size (a ByteSize or a percentage) from v1.12.
    const maxSize = prop("block.ProvisioningSpec", "maxSize");
    if (maxSize && semver.gte(`${minor}.0`, "1.12.0")) maxSize["x-talos"] = "size";
    // network/port_range.go PortRange: a uint16 or "lo-hi" (the schema: an integer or any string).
    const ports = prop("network.RulePortSelector", "ports");
    if (ports?.items) ports.items = { "x-talos": "portRange" } as Marked;
    for (const [def, names] of Object.entries(CASE_INSENSITIVE))
        for (const name of names) {
            const field = prop(def, name);
            if (field?.enum) field["x-ci"] = true;
        }
    for (const [def, name, since] of PATCH_ADDED[minor] ?? []) {
        const field = prop(def, name);
        if (field) field["x-since"] = since;
    }
    eachNode(defs, (n) => {
        if (typeof n.pattern === "string" && PATTERN_TYPES[n.pattern]) {
            n["x-talos"] = PATTERN_TYPES[n.pattern];
            delete n.pattern;
        }
        // v1alpha1_types.go ArgValue (v1.13): UnmarshalYAML takes a string first, then a list of strings.
        const [a, b] = n.oneOf ?? [];
        if (n.oneOf?.length === 2 && a.type === "string" && b.type === "array") n["x-arg"] = true;
    });
}

/** Replace a schema node's content in place (it may be shared by reference). */
function replace(node: Schema, content: Schema) {
    for (const k of Object.keys(node)) if (k !== "title") delete node[k];
    Object.assign(node, content);
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
    /** ajv with the minor's schema, made when a validator is compiled (not when all are kept in VALIDATOR_CACHE). */
    ajv?: Ajv2020;
    schema: Schema;
    defs: Record<string, Schema>;
    /** "apiVersion/kind" → $defs name. */
    kinds: Map<string, string>;
    validators: Map<string, ValidateFunction>;
    /** Names this minor's schema with ajv's version and options, for the validator cache. */
    key: string;
}

// validateFormats off: Talos's decoder does not check `format: uri`; annotations (markdownDescription…) need strict off.
// ajv's optimizer passes took about half of compiling v1alpha1.Config (a patch still checks in microseconds), and
// checking the vendored schema against the draft 2020-12 meta-schema (validateSchema) about 30 ms per process;
// test/talos-patches.test.ts checks each schema once. `source` keeps the code the validator cache writes.
const AJV_OPTIONS = {
    allErrors: true,
    strict: false,
    validateFormats: false,
    verbose: true,
    validateSchema: false,
    code: { optimize: false, source: true },
};
const AJV_VERSION = (require("ajv/package.json") as { version: string }).version;

/** Where compiled validators are kept between processes: the package's .build, beside the plan's other caches. */
const VALIDATOR_CACHE = cacheDir("talos-validators");

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
    // A document is checked against its kind's $def, never the root's oneOf over every kind. ajv compiles the root
    // before it resolves a $def of it: without the oneOf that is nothing, and a process compiles only the kinds it
    // checks (ajv v8 compile/index.js resolveSchema).
    delete schema.oneOf;
    return withoutRequired(schema) as Schema;
}

function loadMinor(minor: string): Minor {
    let m = minors.get(minor);
    if (m) return m;
    const schema = acceptedSchema(minor);
    const kinds = new Map<string, string>();
    for (const [name, def] of Object.entries(schema.$defs!)) {
        const kind = def.properties?.kind?.enum?.[0];
        const apiVersion = def.properties?.apiVersion?.enum?.[0];
        if (typeof kind === "string") kinds.set(`${String(apiVersion)}/${kind}`, name);
    }
    const key = createHash("sha256")
        .update(JSON.stringify([AJV_VERSION, AJV_OPTIONS, schema]))
        .digest("hex");
    m = { minor, schema, defs: schema.$defs!, kinds, validators: new Map(), key: key.slice(0, 16) };
    minors.set(minor, m);
    return m;
}

function validator(m: Minor, def: string): ValidateFunction {
    let v = m.validators.get(def);
    if (!v) {
        v = keptValidator(m, def);
        m.validators.set(def, v);
    }
    return v;
}

/**
 * ajv's validator of a $def, from the code a process generated earlier for the same schema, ajv version and options
 * (ajv's standalone code, in VALIDATOR_CACHE); else compiled now and its code kept. Compiling v1alpha1.Config took
 * 0.15–0.25 s in every process that checks a patch (each preview's program, the pack); loading its code about 15 ms.
 */
function keptValidator(m: Minor, def: string): ValidateFunction {
    const file = path.join(VALIDATOR_CACHE, `${m.minor}-${def}-${m.key}.js`);
    if (fs.existsSync(file)) {
        try {
            return require(file) as ValidateFunction;
        } catch {
            // A file cut short (a process killed while writing it before the rename) is written again below.
        }
    }
    // ajv itself (about 70 ms to load) only to compile.
    if (!m.ajv) {
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const Ajv = (require("ajv/dist/2020") as { default: typeof Ajv2020 }).default;
        m.ajv = new Ajv(AJV_OPTIONS);
        m.ajv.addSchema(m.schema, m.minor);
    }
    const v = m.ajv.getSchema(`${m.minor}#/$defs/${def}`)!;
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const standaloneCode = (require("ajv/dist/standalone") as typeof import("ajv/dist/standalone")).default;
    // A read-only install compiles in each process.
    writeCacheFile(file, standaloneCode(m.ajv, v));
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

/** The value at a path of keys (["machine", "token"]), or undefined. */
const getField = (doc: unknown, keys: string[]): unknown =>
    keys.reduce<unknown>(
        (o, k) => (o !== null && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined),
        doc,
    );

const hasField = (doc: unknown, keys: string[]) => {
    const parent = getField(doc, keys.slice(0, -1));
    return parent !== null && typeof parent === "object" && Object.hasOwn(parent, keys.at(-1)!);
};

/** The forbidden fields of each kind, with their keys (split once: every v1alpha1 document is checked for each). */
const FORBIDDEN_FIELD_KEYS: Record<string, { field: string; keys: string[] }[]> = Object.fromEntries(
    Object.entries({ [V1ALPHA1]: OMNI_FORBIDDEN_FIELDS, ...OMNI_FORBIDDEN_KIND_FIELDS }).map(([kind, fields]) => [
        kind,
        fields.map((field) => ({ field, keys: field.split(".") })),
    ]),
);

/** Omni's refusals for one document (config_patch.go). */
function omniProblems(doc: Record<string, unknown>, kind: string, prefix: string): string[] {
    const problems = (FORBIDDEN_FIELD_KEYS[kind] ?? [])
        .filter(({ keys }) => hasField(doc, keys))
        .map(
            ({ field }) => `${prefix}${field}: Omni sets this itself and refuses a patch that overrides it: remove it`,
        );
    const roles = OMNI_FORBIDDEN_ROLES[kind] && getField(doc, OMNI_FORBIDDEN_ROLES[kind].split("."));
    if (Array.isArray(roles) && roles.includes(ADMIN_ROLE))
        problems.push(
            `${prefix}${OMNI_FORBIDDEN_ROLES[kind]}: Omni refuses the ${ADMIN_ROLE} role in a patch: use os:reader or os:operator`,
        );
    return problems;
}

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

/** The documents of a patch (inline in Omni's three forms, or a file's text), its JSON-6902 operations, or its YAML errors. */
function patchDocuments(content: unknown): { docs: GoNode[] } | { ops: unknown[] } | { errors: string[] } {
    if (typeof content === "string") {
        const { docs, errors } = readPatchText(content);
        if (errors.length > 0) return { errors };
        if (docs.length === 1 && docs[0].kind === "seq") return { ops: toValue(docs[0]) as unknown[] };
        return { docs };
    }
    const docs = Array.isArray(content) ? content : [content];
    return docs.length > 0 && docs.every(looksLikeOperation)
        ? { ops: docs }
        : { docs: docs.filter((d) => d !== null && d !== undefined).map(fromValue) };
}

/** A Talos version as the check reads it (semver.coerce), per version text: every patch of a cluster names the same. */
const releases = new Map<string, semver.SemVer | null>();
const releaseOf = (talosVersion: string) => {
    if (!releases.has(talosVersion)) releases.set(talosVersion, semver.coerce(talosVersion));
    return releases.get(talosVersion)!;
};

/** "1.13" for v1.13.6, or undefined. */
const minorOf = (talosVersion: string) => {
    const v = releaseOf(talosVersion);
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
 * Kinds whose documents of the same name conflict (container.go `New`: ConflictsWithKinds): every network link kind
 * with every other (network/link.go `conflictingLinkKinds`), the two VIP kinds, the two user volume kinds.
 */
const CONFLICTING_KINDS = [
    [
        "BondConfig",
        "BridgeConfig",
        "DummyLinkConfig",
        "LinkConfig",
        "VethConfig",
        "VLANConfig",
        "VRFConfig",
        "WireguardConfig",
    ],
    ["Layer2VIPConfig", "HCloudVIPConfig"],
    ["ExistingVolumeConfig", "UserVolumeConfig"],
];

/** A patch's verdict: what Omni or the node refuses, and what is valid but reads differently than it looks. */
export interface TalosPatchVerdict {
    problems: string[];
    warnings: string[];
}

/**
 * Problems of one machine config patch for a Talos version, each "<path in the patch>: <what is wrong>[: fix]".
 * `content` is the patch as Omni's template carries it: a mapping, a list of mappings, or YAML text.
 */
export const talosPatchProblems = (content: unknown, talosVersion: string): string[] =>
    talosPatchCheck(content, talosVersion).problems;

/**
 * Verdicts on patch texts: a plan checks each patch when the template renders and again for its warnings, and the
 * policy pack once more per template (a patch's verdict depends only on its text and version).
 */
const textVerdict = oncePerText((key: string): TalosPatchVerdict => {
    const split = key.indexOf("\n");
    return checkPatch(key.slice(split + 1), key.slice(0, split));
}, 512);

/** The verdict on one patch (talosPatchProblems) with its warnings: unquoted values Talos reads as text. */
export function talosPatchCheck(content: unknown, talosVersion: string): TalosPatchVerdict {
    if (typeof content !== "string") return checkPatch(content, talosVersion);
    const verdict = textVerdict(`${talosVersion}\n${content}`);
    return { problems: [...verdict.problems], warnings: [...verdict.warnings] };
}

function checkPatch(content: unknown, talosVersion: string): TalosPatchVerdict {
    const warnings: string[] = [];
    const refuse = (problems: string[]) => ({ problems, warnings });
    const schemaProblem = talosSchemaProblem(talosVersion);
    if (schemaProblem) return refuse([schemaProblem]);
    const m = loadMinor(minorOf(talosVersion)!);
    const talos = releaseOf(talosVersion)!;
    const parsed = patchDocuments(content);
    if ("errors" in parsed) return refuse(parsed.errors.map((e) => `not valid YAML (Omni refuses it): ${e}`));
    if ("ops" in parsed) return refuse(jsonPatchProblems(m, parsed.ops));
    const docs = parsed.docs;
    const raws = docs.map(toValue);
    if (raws.every(isEmptyDocument)) return refuse([EMPTY_PATCH]);
    const seen = new Map<string, number>();
    const problems = docs.flatMap((node, index) => {
        const raw = raws[index];
        if (node.kind !== "map" || raw === null || typeof raw !== "object" || Array.isArray(raw))
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
        const { rest, deletes, problems: deleteProblems } = takeDeletes(node);
        const out = deleteProblems.map((p) => `${prefix}${p}`);
        if (deletes.some((d) => d.length === 0)) {
            // delete.go:230 findValue: deleting a whole document needs its apiVersion and kind.
            if (def === V1ALPHA1)
                out.push(
                    `${prefix}$patch: delete on the v1alpha1 config: Talos's config loader refuses it ("missing apiVersion in document for which $patch: delete is used", delete.go): delete the keys instead`,
                );
            return out;
        }
        const ctx: DecodeContext = {
            defs: m.defs as Record<string, SchemaNode>,
            talos,
            where: (path) => `${prefix}${jsonPath(path)}`,
            problems: out,
            warnings,
        };
        // Without a `$patch: delete`, the rest is the document itself.
        const restRaw = rest === node ? raw : rest && toValue(rest);
        const value = rest && !isEmptyDocument(restRaw) ? decodeNode(ctx, rest, m.defs[def], []) : undefined;
        const v = validator(m, def);
        if (value !== undefined && !v(value)) out.push(...schemaProblems(m, v.errors ?? [], prefix));
        // container.go New: one v1alpha1 config, one document per kind and name, no conflicting kinds of one name.
        const name = String(doc.name ?? "");
        const group = CONFLICTING_KINDS.findIndex((g) => g.includes(String(doc.kind)));
        const id = def === V1ALPHA1 ? "the v1alpha1 config" : `${String(doc.kind)} ${name}`.trim();
        const key = def === V1ALPHA1 ? id : group >= 0 ? `group ${group}/${name}` : id;
        const first = seen.get(key);
        if (first !== undefined) {
            const firstDoc = raws[first] as Record<string, unknown>;
            out.push(
                firstDoc.kind === doc.kind
                    ? `${prefix}repeats document ${first + 1} (${id}): Talos's config loader refuses duplicates: merge them`
                    : `${prefix}configures ${name} as document ${first + 1} (${String(firstDoc.kind)} ${name}) does: Talos's config loader refuses conflicting documents of one name (container.go): keep one`,
            );
        } else seen.set(key, index);
        for (const d of deletes) {
            const problem = pathProblem(m, def, d);
            if (problem) out.push(`${prefix}${problem} ($patch: delete)`);
        }
        if (def === V1ALPHA1 && value && typeof value === "object") {
            const machine = (value as { machine?: Record<string, unknown> }).machine;
            if (machine) out.push(...nodeMetadataProblems(machine, (k) => `${prefix}machine.${k}`));
        }
        return [...out, ...omniProblems(doc, def === V1ALPHA1 ? V1ALPHA1 : String(doc.kind), prefix)];
    });
    return { problems, warnings };
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

/** One patch's verdict, each message naming the cluster, the machine set and the patch (name or file). */
export function templatePatchCheck(
    cluster: string,
    set: string,
    patch: TemplatePatch,
    talosVersion: string,
): TalosPatchVerdict {
    const name = patch.name ?? patch.idOverride ?? patch.file;
    const file = patch.file !== undefined && patch.file !== name ? ` (file ${patch.file})` : "";
    const label = (p: string) => `cluster ${cluster}, ${set}, patch ${name}${file}: ${p}`;
    const { problems, warnings } = talosPatchCheck(patch.inline, talosVersion);
    return { problems: problems.map(label), warnings: warnings.map(label) };
}

/** One patch's problems (templatePatchCheck without its warnings). */
export const templatePatchProblems = (cluster: string, set: string, patch: TemplatePatch, talosVersion: string) =>
    templatePatchCheck(cluster, set, patch, talosVersion).problems;

/** The document kinds (besides the v1alpha1 config) a Talos minor's patches may carry. */
export const talosDocumentKinds = (minor: string): string[] =>
    [...loadMinor(minor).kinds.keys()].map((k) => k.split("/")[1]).sort();

import * as grpc from "@grpc/grpc-js";
import type { PolicyPackArgs } from "@pulumi/policy";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
// How the engine sends a value not known until `pulumi up`.
import { unknownValue } from "@pulumi/pulumi/runtime/rpc";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { CapturedResource } from "./capture";
import { GENERATED_AT_UP } from "./mocks";
import { PackProcess, startPack, warmTalosSchemas } from "./pack-process";
import { allLevel, PackPolicy, policyConfigIssues } from "./policy-config";
import { ConfigError } from "../../components/core/validation";

// The analyzer protocol and server code that `pulumi preview --policy-pack` drives (no .d.ts for these internals).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const analyzerproto = require("@pulumi/pulumi/proto/analyzer_pb");
// eslint-disable-next-line @typescript-eslint/no-var-requires
const analyzerrpc = require("@pulumi/pulumi/proto/analyzer_grpc_pb");

export type EnforcementLevel = "advisory" | "mandatory" | "remediate" | "disabled";
const LEVELS: EnforcementLevel[] = ["advisory", "mandatory", "disabled", "remediate"]; // proto enum order

export interface Violation {
    policy: string;
    enforcementLevel: EnforcementLevel;
    resourceType?: string;
    resourceName?: string;
    urn?: string;
    message: string;
}

/** Per-policy configuration as in a `--policy-pack-config` JSON file. */
export type PolicyConfig = Record<
    string,
    EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)
>;

/** The two RPCs the engine makes per preview: one `analyze` per resource, one `analyzeStack`. */
interface AnalyzerRpc {
    analyze(req: any, cb: (err: any, resp: any) => void): void;
    analyzeStack(req: any, cb: (err: any, resp: any) => void): void;
}

function options(r: CapturedResource) {
    const opts = new analyzerproto.AnalyzerResourceOptions();
    opts.setProtect(r.protect);
    opts.setIgnorechangesList(r.ignoreChanges);
    opts.setAdditionalsecretoutputsList(r.additionalSecretOutputs);
    if (r.parent) opts.setParent(r.parent);
    return opts;
}

/** Registrations the engine analyzes: resources the program registers (reads such as StackReferences are not). */
const analyzable = (resources: CapturedResource[]) => resources.filter((r) => !r.read);

/**
 * The Struct of `props` a preview sends, where a value made from one generated at `up` (mocks.ts) is unknown, so
 * policies skip it as there. Built in the message's array form in one pass: google-protobuf's Struct.fromJavaScript
 * copies each nested message into its parent again at every level (`toArray` in setWrapperField), which took 30 ms
 * for a cluster with 100 patches. The bytes are the same (test/plan-engine.test.ts).
 */
export function previewStruct(props: Record<string, unknown>): Struct {
    return new StructOfArray([structFields(props)]);
}

/** Every google-protobuf message takes its array form (jspb.Message.initialize); the typings leave it out. */
const StructOfArray = Struct as unknown as new (data: unknown[]) => Struct;

const structFields = (o: object) => Object.entries(o).map(([k, v]) => [k, valueArray(v)]);

/** A google.protobuf.Value in array form: one slot per field number (null_value 1 … list_value 6). */
function valueArray(v: unknown): unknown[] {
    switch (typeof v) {
        case "string":
            return [null, null, v.includes(GENERATED_AT_UP) ? unknownValue : v];
        case "number":
            return [null, v];
        case "boolean":
            return [null, null, null, v];
        case "object":
            if (v === null) return [0];
            if (Array.isArray(v)) return [null, null, null, null, null, [v.map(valueArray)]];
            return [null, null, null, null, [structFields(v)]];
    }
    throw new Error(`a resource property of type ${typeof v} has no protobuf Value`);
}

/** Sets what AnalyzeRequest and AnalyzerResource share; resource policies see inputs, stack policies outputs. */
function describe<T>(msg: T, r: CapturedResource, props: Record<string, unknown>): T {
    const m = msg as any;
    m.setType(r.type);
    m.setName(r.name);
    m.setUrn(r.urn);
    m.setProperties(previewStruct(props));
    m.setOptions(options(r));
    return msg;
}

const analyzeRequest = (r: CapturedResource) => describe(new analyzerproto.AnalyzeRequest(), r, r.inputs);

function analyzeStackRequest(resources: CapturedResource[]) {
    const req = new analyzerproto.AnalyzeStackRequest();
    req.setResourcesList(
        resources.map((r) => {
            // Stack policies see outputs, as after an update.
            const ar = describe(new analyzerproto.AnalyzerResource(), r, r.state);
            if (r.parent) ar.setParent(r.parent);
            ar.setDependenciesList(r.dependsOn);
            return ar;
        }),
    );
    return req;
}

const call = <T>(fn: (req: any, cb: (err: any, resp: T) => void) => void, req: any) =>
    new Promise<T>((resolve, reject) => fn(req, (err, resp) => (err ? reject(err) : resolve(resp))));

/** A preview's analysis as the engine runs it: each resource when it registers, the stack once the program is done. */
export interface Analysis {
    /** Starts analyzing a registration (reads, such as StackReferences, are not analyzed). */
    resource(r: CapturedResource): void;
    /** Analyzes what was not analyzed yet and the stack: the violations in registration order, the stack's last. */
    finish(resources: CapturedResource[]): Promise<Violation[]>;
}

/** The violations of one response; `fallback` is the resource a per-resource request analyzed. */
function violationsOf(resp: any, byUrn: Map<string, CapturedResource>, fallback?: CapturedResource): Violation[] {
    return resp.getDiagnosticsList().map((d: any) => {
        const r = byUrn.get(d.getUrn()) ?? fallback;
        return {
            policy: d.getPolicyname(),
            enforcementLevel: LEVELS[d.getEnforcementlevel()],
            resourceType: r?.type,
            resourceName: r?.name,
            urn: d.getUrn() || r?.urn,
            message: d.getMessage(),
        };
    });
}

const byUrnOf = (targets: CapturedResource[]) => new Map(targets.map((r) => [r.urn, r]));

function analysis(rpc: Promise<AnalyzerRpc>): Analysis {
    const responses = new Map<string, Promise<any>>();
    const resource = (r: CapturedResource) => {
        if (r.read || responses.has(r.urn)) return;
        const response = rpc.then((c) => call(c.analyze.bind(c), analyzeRequest(r)));
        // Read by finish; a plan that fails before then never reads it.
        response.catch(() => undefined);
        responses.set(r.urn, response);
    };
    return {
        resource,
        async finish(resources) {
            const targets = analyzable(resources);
            targets.forEach(resource);
            const byUrn = byUrnOf(targets);
            const perResource = await Promise.all(
                targets.map(async (r) => violationsOf(await responses.get(r.urn)!, byUrn, r)),
            );
            const c = await rpc;
            const stack = violationsOf(await call(c.analyzeStack.bind(c), analyzeStackRequest(targets)), byUrn);
            return [...perResource.flat(), ...stack];
        },
    };
}

/** `@pulumi/policy`'s own analyzer functions for `pack`, called in this process. Policy config cannot be injected. */
function inProcessRpc(packName: string, pack: PolicyPackArgs): AnalyzerRpc {
    const level = pack.enforcementLevel ?? "advisory";
    // Loaded here: the plan itself only talks to the pack process.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const policyServer = require("@pulumi/policy/server");
    const analyze = policyServer.makeAnalyzeRpcFun(packName, "0.0.0", level, pack.policies);
    const analyzeStack = policyServer.makeAnalyzeStackRpcFun(packName, "0.0.0", level, pack.policies);
    return {
        analyze: (request, cb) => analyze({ request }, cb),
        analyzeStack: (request, cb) => analyzeStack({ request }, cb),
    };
}

/**
 * Runs policies in this process through `@pulumi/policy`'s own analyzer functions (secret unwrapping,
 * unknown handling, message format as in a real preview). Policy config cannot be injected this way.
 */
export function analyzeInProcess(
    packName: string,
    pack: PolicyPackArgs,
    resources: CapturedResource[],
): Promise<Violation[]> {
    return analyzeRequestsInProcess(packName, pack, previewRequests(resources));
}

/** A preview's requests for `resources`: each resource's `analyze` request, then the stack's `analyzeStack`. */
export interface PreviewRequests<T> {
    targets: CapturedResource[];
    analyze: T[];
    analyzeStack: T;
}

/** The requests as the engine builds them (messages). */
export function previewRequests(resources: CapturedResource[]): PreviewRequests<unknown> {
    const targets = analyzable(resources);
    return { targets, analyze: targets.map(analyzeRequest), analyzeStack: analyzeStackRequest(targets) };
}

/** The requests as bytes on the wire, as gRPC hands them to the pack's deserializer. */
export function sentRequests(resources: CapturedResource[]): PreviewRequests<Buffer> {
    const built = previewRequests(resources);
    const bytes = (m: unknown) => Buffer.from((m as { serializeBinary(): Uint8Array }).serializeBinary());
    return { targets: built.targets, analyze: built.analyze.map(bytes), analyzeStack: bytes(built.analyzeStack) };
}

/**
 * `@pulumi/policy`'s analyzer functions on a preview's requests, in this process (a pack's work for one preview,
 * without its start-up). Requests given as bytes are decoded first, as the pack's gRPC server decodes them
 * (analyzer_grpc_pb.js).
 */
export async function analyzeRequestsInProcess(
    packName: string,
    pack: PolicyPackArgs,
    requests: PreviewRequests<unknown>,
): Promise<Violation[]> {
    const rpc = inProcessRpc(packName, pack);
    const byUrn = byUrnOf(requests.targets);
    const decoded = (req: unknown, method: "analyze" | "analyzeStack") =>
        Buffer.isBuffer(req) ? analyzerrpc.AnalyzerService[method].requestDeserialize(req) : req;
    const perResource = await Promise.all(
        requests.analyze.map(async (req, i) =>
            violationsOf(await call(rpc.analyze, decoded(req, "analyze")), byUrn, requests.targets[i]),
        ),
    );
    const stack = await call(rpc.analyzeStack, decoded(requests.analyzeStack, "analyzeStack"));
    return [...perResource.flat(), ...violationsOf(stack, byUrn)];
}

/**
 * Defaults from each policy's config schema, overlaid with the user's config (as the CLI sends to `configure`): `all`
 * sets every policy's level, a policy's own level wins. A config naming a policy or key the pack lacks is refused.
 */
function policyConfigRequest(info: any, config: PolicyConfig) {
    const policies: PackPolicy[] = info.getPoliciesList().map((p: any) => ({
        name: p.getName(),
        properties: p.getConfigschema()?.getProperties()?.toJavaScript() ?? {},
        required: p.getConfigschema()?.getRequiredList() ?? [],
    }));
    const issues = policyConfigIssues(policies, config);
    if (issues.length > 0) throw new ConfigError(issues);
    const req = new analyzerproto.ConfigureAnalyzerRequest();
    const map = req.getPolicyconfigMap();
    for (const p of info.getPoliciesList()) {
        const name: string = p.getName();
        const props: Record<string, unknown> = {};
        const schema = p.getConfigschema()?.getProperties()?.toJavaScript() ?? {};
        for (const [k, s] of Object.entries<any>(schema)) if (s && s.default !== undefined) props[k] = s.default;
        const user = config[name];
        const { enforcementLevel, ...userProps } = typeof user === "string" ? { enforcementLevel: user } : (user ?? {});
        const pc = new analyzerproto.PolicyConfig();
        pc.setEnforcementlevel(LEVELS.indexOf(enforcementLevel ?? allLevel(config) ?? LEVELS[p.getEnforcementlevel()]));
        pc.setProperties(Struct.fromJavaScript({ ...props, ...userProps } as any));
        map.set(name, pc);
    }
    return req;
}

export interface PackResult {
    violations: Violation[];
    /** Policies the pack declares, with the level they ran at. */
    policies: { name: string; enforcementLevel: EnforcementLevel }[];
}

export interface PackAnalysis {
    resource(r: CapturedResource): void;
    finish(resources: CapturedResource[]): Promise<PackResult>;
}

export interface OpenPack {
    /**
     * Starts a preview's analysis: once the pack is up, getAnalyzerInfo and configure (schema defaults + `config`), then
     * `analyze` for each resource as it is given, and `analyzeStack` in `finish`, as the engine does while a program runs.
     */
    begin(config?: PolicyConfig): PackAnalysis;
    /** The whole analysis of resources registered already. */
    analyze(resources: CapturedResource[], config?: PolicyConfig): Promise<PackResult>;
    /** Has the pack compile these Talos versions' config schemas before the clusters that use them register. */
    warmTalos(talosVersions: string[]): void;
    /** Stops the pack process this started, up or not yet; call it on every way out. */
    close(): void;
}

/**
 * The policy pack in `packDir` as its own process, as the CLI runs it: `started` by the caller (who stops it: the CLI
 * when it exits, tests after their plans), or started now and stopped by `close`. Starting it before the program runs
 * hides its start-up time behind the program's.
 */
export function openPack(packDir: string, started?: PackProcess): OpenPack {
    const packProcess = started ?? startPack(packDir);
    const { child, port } = packProcess;
    let client: any;
    const begin = (config: PolicyConfig = {}): PackAnalysis => {
        const configured = (async () => {
            client = new analyzerrpc.AnalyzerClient(`127.0.0.1:${await port}`, grpc.credentials.createInsecure());
            const info = await call<any>(client.getAnalyzerInfo.bind(client), new Empty());
            const configure = policyConfigRequest(info, config);
            await call(client.configure.bind(client), configure);
            return { rpc: client as AnalyzerRpc, configure };
        })();
        // Read by finish, as every analysis is.
        configured.catch(() => undefined);
        const run = analysis(configured.then((c) => c.rpc));
        return {
            resource: run.resource,
            async finish(resources) {
                const violations = await run.finish(resources);
                const policies = [...(await configured).configure.getPolicyconfigMap().entries()].map(
                    ([name, pc]: [string, any]) => ({
                        name,
                        enforcementLevel: LEVELS[pc.getEnforcementlevel()],
                    }),
                );
                return { violations, policies };
            },
        };
    };
    return {
        begin,
        analyze: (resources, config) => begin(config).finish(resources),
        warmTalos: (talosVersions) => warmTalosSchemas(packProcess, talosVersions),
        close() {
            client?.close();
            if (!started) child.kill();
        },
    };
}

/** Runs the pack in `packDir` over the resources over loopback gRPC, the path `pulumi preview --policy-pack` takes. */
export async function analyzeWithPack(
    packDir: string,
    resources: CapturedResource[],
    config: PolicyConfig = {},
): Promise<PackResult> {
    const pack = openPack(packDir);
    try {
        return await pack.analyze(resources, config);
    } finally {
        pack.close();
    }
}

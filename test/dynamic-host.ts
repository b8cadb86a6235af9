import { ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import type * as http2 from "node:http2";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";

/**
 * @pulumi/pulumi's dynamic-provider host (`cmd/dynamic-provider/index.js`) run as the engine runs it: a process that
 * prints its gRPC port, loads each provider from the serialized text in `__provider` (require-from-string), and
 * answers the ResourceProvider calls. Its stdout after the port is what the engine shows as the provider's output.
 */

/* eslint-disable @typescript-eslint/no-var-requires */
const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const provproto = require("@pulumi/pulumi/proto/provider_pb");
const statusproto = require("@pulumi/pulumi/proto/status_pb");
const { Struct } = require("google-protobuf/google/protobuf/struct_pb");
const serializeClosure = require("@pulumi/pulumi/runtime/closure/serializeClosure");
/* eslint-enable @typescript-eslint/no-var-requires */

const HOST = require.resolve("@pulumi/pulumi/cmd/dynamic-provider/index.js");

/**
 * A partial failure's properties travel in the `grpc-status-details-bin` trailer, the serialized provider among them
 * (about 60 kB). The engine's grpc-go client accepts header lists up to 16 MB (grpc-go `defaultClientMaxHeaderListSize`);
 * grpc-js's client advertises Node's HTTP/2 default (64 kB) and has no option for it, so this client asks for what the
 * engine accepts.
 */
const ENGINE_MAX_HEADER_LIST = 16 << 20;
// eslint-disable-next-line @typescript-eslint/no-var-requires
const http2Module = require("node:http2") as { connect: typeof http2.connect };
const connect = http2Module.connect;
http2Module.connect = ((authority: string, options: http2.ClientSessionOptions = {}, listener?: any) =>
    connect(
        authority,
        { ...options, settings: { ...options.settings, maxHeaderListSize: ENGINE_MAX_HEADER_LIST } },
        listener,
    )) as typeof http2.connect;

/** The provider's text as `@pulumi/pulumi/dynamic` serializes it (`serializeFunction(() => provider, { allowSecrets: true })`). */
export async function serializedProvider(provider: object): Promise<string> {
    return (await serializeClosure.serializeFunction(() => provider, { allowSecrets: true })).text;
}

/** A failed call: the host's message, and the resource it reports created anyway (ErrorResourceInitFailed), if any. */
export interface HostError {
    message: string;
    initFailed?: { id: string; properties: Record<string, any>; reasons: string[] };
}

export class DynamicHost {
    private constructor(
        private readonly child: ChildProcessWithoutNullStreams,
        private readonly client: any,
        private readonly out: string[],
    ) {}

    /** Starts the host in `cwd` (where the serialized provider's `require`s resolve) with `env`. */
    static async start(cwd: string, env: NodeJS.ProcessEnv): Promise<DynamicHost> {
        const child = spawn(process.execPath, [HOST, "127.0.0.1:1"], { cwd, env });
        const out: string[] = [];
        const port = await new Promise<string>((resolve, reject) => {
            let buffered = "";
            child.stdout.on("data", (b: Buffer) => {
                buffered += b.toString();
                const lines = buffered.split("\n");
                buffered = lines.pop()!;
                out.push(...lines);
                resolve(out[0]);
            });
            child.on("exit", (code) => reject(new Error(`the dynamic-provider host exited (${code})`)));
        });
        const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
            "grpc.max_metadata_size": ENGINE_MAX_HEADER_LIST,
        });
        return new DynamicHost(child, client, out);
    }

    /** The first line the providers printed (their progress) that matches, waiting for the pipe up to 10 s. */
    async printedLine(pattern: RegExp): Promise<string | undefined> {
        for (let i = 0; i < 100; i++) {
            const line = this.out.find((l) => pattern.test(l));
            if (line !== undefined) return line;
            await new Promise((r) => setTimeout(r, 100));
        }
        return undefined;
    }

    private call(method: string, request: any): Promise<any> {
        return new Promise((resolve, reject) =>
            this.client[method](request, (err: grpc.ServiceError | null, resp: any) =>
                err ? reject(err) : resolve(resp),
            ),
        );
    }

    private static failure(err: grpc.ServiceError): HostError {
        const bin = err.metadata?.get("grpc-status-details-bin")[0];
        if (!bin) return { message: err.details };
        const status = statusproto.Status.deserializeBinary(new Uint8Array(bin as Buffer));
        const detail = status.getDetailsList()[0];
        const init = provproto.ErrorResourceInitFailed.deserializeBinary(detail.getValue_asU8());
        return {
            message: err.details,
            initFailed: {
                id: init.getId(),
                properties: init.getProperties().toJavaScript(),
                reasons: init.getReasonsList(),
            },
        };
    }

    async check(olds: object, news: object): Promise<{ property: string; reason: string }[]> {
        const req = new provproto.CheckRequest();
        req.setOlds(Struct.fromJavaScript(olds));
        req.setNews(Struct.fromJavaScript(news));
        const resp = await this.call("check", req);
        return resp.getFailuresList().map((f: any) => ({ property: f.getProperty(), reason: f.getReason() }));
    }

    async create(properties: object): Promise<{ id: string; properties: Record<string, any> } | HostError> {
        const req = new provproto.CreateRequest();
        req.setProperties(Struct.fromJavaScript(properties));
        try {
            const resp = await this.call("create", req);
            return { id: resp.getId(), properties: resp.getProperties().toJavaScript() };
        } catch (e) {
            return DynamicHost.failure(e as grpc.ServiceError);
        }
    }

    async update(id: string, olds: object, news: object): Promise<{ properties: Record<string, any> } | HostError> {
        const req = new provproto.UpdateRequest();
        req.setId(id);
        req.setOlds(Struct.fromJavaScript(olds));
        req.setNews(Struct.fromJavaScript(news));
        try {
            const resp = await this.call("update", req);
            return { properties: resp.getProperties().toJavaScript() };
        } catch (e) {
            return DynamicHost.failure(e as grpc.ServiceError);
        }
    }

    async diff(id: string, olds: object, news: object): Promise<{ changes: boolean }> {
        const req = new provproto.DiffRequest();
        req.setId(id);
        req.setOlds(Struct.fromJavaScript(olds));
        req.setNews(Struct.fromJavaScript(news));
        const resp = await this.call("diff", req);
        return { changes: resp.getChanges() === provproto.DiffResponse.DiffChanges.DIFF_SOME };
    }

    stop() {
        this.client.close();
        this.child.kill();
    }
}

export const REPO = path.join(__dirname, "..");

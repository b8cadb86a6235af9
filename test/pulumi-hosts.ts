import * as grpc from "@grpc/grpc-js";
import { ChildProcess, spawn } from "node:child_process";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { PackProcess } from "../src/plan/pack-process";

/**
 * The two processes the Pulumi CLI starts from a program's node_modules, started here as it starts them, for tests
 * that load what users load: a policy pack (`pulumi preview --policy-pack DIR`) and the dynamic-provider host.
 *
 * Upstream (pulumi/pulumi v3.259.0): pkg/resource/plugin/analyzer_plugin.go starts a pack through the language host's
 * RunPlugin with the engine's address as its only argument; sdk/nodejs/cmd/pulumi-language-nodejs/main.go (RunPlugin,
 * kind analyzer) resolves `@pulumi/pulumi/cmd/run-policy-pack` with `node -e require.resolve(...)` in the pack
 * directory (locateModule), runs `node <it> <engine address> <pack directory>` with the pack directory as working
 * directory, and reads the port from its first stdout line. sdk/nodejs/dist/pulumi-resource-pulumi-nodejs runs
 * `node <require.resolve('@pulumi/pulumi/cmd/dynamic-provider')> <engine address>` in the program's directory.
 */

/** Neither process dials the engine before it is asked to (nothing here serves it). */
const ENGINE = "127.0.0.1:1";

function portOf(child: ChildProcess, what: string): Promise<string> {
    return new Promise((resolve, reject) => {
        let stderr = "";
        child.stderr!.on("data", (d) => (stderr += d));
        child.stdout!.once("data", (d) => resolve(String(d).trim().split("\n")[0]));
        child.once("exit", (code, signal) => reject(new Error(`${what} exited with ${code ?? signal}: ${stderr}`)));
    });
}

function startFrom(dir: string, module: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
    const entry = require.resolve(module, { paths: [dir] });
    return spawn(process.execPath, [entry, ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: "pipe" });
}

/** The policy pack in `packDir`, as `pulumi preview --policy-pack packDir` runs it; the caller kills `child`. */
export function startPackAsCli(packDir: string, env: NodeJS.ProcessEnv = {}): PackProcess {
    const child = startFrom(packDir, "@pulumi/pulumi/cmd/run-policy-pack", [ENGINE, packDir], env);
    const port = portOf(child, `the policy pack in ${packDir}`);
    port.catch(() => undefined);
    return { child, port };
}

/** What the dynamic-provider host answers a resource's Diff with (the provider loaded and ran), or its error. */
export interface ProviderHost {
    /** Diff of a resource against itself: the host loads the provider from `inputs.__provider` and calls its diff. */
    diffUnchanged(inputs: Record<string, unknown>): Promise<"none" | "some" | "unknown">;
    close(): void;
}

/** The dynamic-provider host of the program in `programDir`, started as the Pulumi CLI starts it. */
export async function startProviderHost(programDir: string): Promise<ProviderHost> {
    const child = startFrom(programDir, "@pulumi/pulumi/cmd/dynamic-provider", [ENGINE], {});
    const port = await portOf(child, "the dynamic-provider host");
    const grpcPb = require.resolve("@pulumi/pulumi/proto/provider_grpc_pb");
    const rpc = require(grpcPb);
    const pb = require(require.resolve("@pulumi/pulumi/proto/provider_pb"));
    const client = new rpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const changes = ["unknown", "none", "some"] as const;
    return {
        diffUnchanged(inputs) {
            const req = new pb.DiffRequest();
            req.setId("id");
            req.setUrn("urn:pulumi:test::test::pulumi-nodejs:dynamic:Resource::r");
            req.setOlds(Struct.fromJavaScript(inputs as any));
            req.setNews(Struct.fromJavaScript(inputs as any));
            return new Promise((resolve, reject) =>
                client.diff(req, (err: Error | null, resp: any) =>
                    err ? reject(err) : resolve(changes[resp.getChanges()]),
                ),
            );
        },
        close() {
            client.close();
            child.kill();
        },
    };
}

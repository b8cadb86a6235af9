/**
 * `omni-scale/testing`: unit-test a program that uses the components offline, as this repository tests its own
 * stacks. The program runs under `pulumi.runtime.setMocks` (your copy of @pulumi/pulumi) with mocks that answer as each
 * provider would (ids, addresses, the generated etcd key, a cluster's kubeconfig…), and every registration is
 * recorded with its options. Nothing is contacted.
 *
 *   import { runOffline, unwrapSecrets } from "omni-scale/testing";
 *   const { resources, outputs } = await runOffline(() => myProgram(), { stack: "dev" });
 *   assert.ok(resources.some((r) => r.type === "pulumi-nodejs:dynamic:Resource" && r.inputs.kind === "omni-cluster"));
 *
 * Config is passed as the CLI passes it (`project:key` → string, objects JSON-encoded; `secretKeys` for secret ones);
 * StackReferences are answered from `stackReferences`. Values in `inputs`, `state` and `outputs` are in wire form:
 * secrets stay wrapped (`isSecret`), so a test can assert that a value is a secret; `unwrapSecrets`/`maskSecrets` read it.
 */
export { runProgram as runOffline, isSecret, unwrapSecrets, maskSecrets } from "./plan/capture";
export type { CapturedResource, RunOptions as OfflineRunOptions, RunResult as OfflineRunResult } from "./plan/capture";
export { offlineMocks } from "./plan/mocks";
export type { StackReferenceOutputs } from "./plan/mocks";

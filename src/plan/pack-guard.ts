// Preloaded (`node -r`) into each policy pack process the plan starts. A pack serves gRPC until it is killed, so
// without this it would outlive a plan that was killed outright (SIGKILL, a CI timeout): its stdin is a pipe from
// the plan, and that pipe closes whenever the plan's process ends.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
// The plan stops its pack with SIGTERM; exiting normally then lets Node write the pack's compiled code (register.js).
process.once("SIGTERM", () => process.exit(143));
// The installed pack keeps V8's compiled code too (from a checkout, register.js has set its own place already).
// eslint-disable-next-line @typescript-eslint/no-var-requires
(require("node:module") as { enableCompileCache?(): unknown }).enableCompileCache?.();
// And loads what the pack never uses only if it is used (defer-sdk.js: the SDK's closure serializer's dependencies,
// its Automation API, zod's locales); from a checkout, register.js has loaded it already.
require("./defer-sdk");

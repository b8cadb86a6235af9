// @ts-check
"use strict";
/**
 * What every process of ours sets up before it loads the Pulumi SDK: V8's compile cache in .build/v8 and the deferred
 * SDK dependencies (defer-sdk.js). register.js requires it first. Pulumi.yaml's `nodeargs` preloads it into
 * @pulumi/pulumi's run entry (`pulumi preview`/`up`), which loads the SDK before the program (pulumi-program.js, and
 * with it register.js) can: without it the run entry compiled the SDK afresh and loaded TypeScript, arborist and the
 * Automation API on every run. Not register.js itself there: the run entry installs source-map-support after its
 * preloads, and that would then map every frame of the stack the SDK records per promise.
 */
const Module = require("node:module");
const path = require("node:path");

// V8's compiled code of every module this process loads (ours as transpiled, node_modules', the SDK's) is kept in
// .build/v8 and reused by the next process: compiling is about a third of loading the SDK, the providers and the
// program. Node keys each entry by the module's path and the hash of its source, so an edit compiles afresh; it writes
// new entries when the process exits (a pack the plan stops exits so, see pack-guard.ts).
Module.enableCompileCache?.(path.join(__dirname, "..", "..", ".build", "v8"));

require("./defer-sdk");

#!/usr/bin/env node
"use strict";
// The package's bin: the compiled commands (src/cli.ts → bin/src/cli.js; `npm run build`, which `npm install` runs
// for a git dependency and `npm pack` runs before it packs). Nothing is compiled at run time.
// V8's compiled code of every module (the SDK, the providers, ours) kept between runs, in Node's default place
// (NODE_COMPILE_CACHE, else the system's temporary directory; NODE_DISABLE_COMPILE_CACHE=1 turns it off): about a third
// of loading is compiling.
require("node:module").enableCompileCache?.();
// What the commands seldom or never use (the SDK's closure serializer's dependencies, its Automation API, zod's
// locales) loads only if used (src/plan/defer-sdk.js).
require("../bin/src/plan/defer-sdk");
require("../bin/src/cli").run(process.argv.slice(2));

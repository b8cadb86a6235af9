// @ts-check
"use strict";
/**
 * Pulumi.yaml's `main`: what `pulumi preview` and `up` run (@pulumi/pulumi's run entry requires this file, `typescript:
 * false` so the SDK registers no ts-node). It loads src/index.ts through the loader the offline plan, the tests and
 * the bench use (src/plan/register.js): TypeScript's transpileModule as `ts-node --transpile-only` calls it, each
 * output cached under .build/ts by the hash of its source, tsconfig.json, the lockfile and the loader, so an edit is
 * transpiled before it runs and nothing runs stale. Type errors fail `npm test` and CI, not the deployment.
 *
 * At the project root because the CLI runs the program in main's directory, and the program reads
 * `Pulumi.<stack>.yaml` from there (src/config.ts).
 */
require("./src/plan/register");
// The run entry loaded the SDK before this file; the program's promises are made from here on (src/plan/promise-tags.ts).
require("./src/plan/promise-tags.ts").trackPromisesUntagged();
module.exports = require("./src/index.ts");

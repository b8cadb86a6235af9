#!/usr/bin/env node
"use strict";
// The package's bin: the compiled commands (src/cli.ts → bin/src/cli.js; `npm run build`, which `npm install` runs
// for a git dependency and `npm pack` runs before it packs). Nothing is compiled at run time.
require("../bin/src/cli").run(process.argv.slice(2));

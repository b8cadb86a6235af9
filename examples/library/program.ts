// What `pulumi up` runs (package.json main, compiled to bin/program.js): the platform's outputs become the stack's.
import { platform } from "./index";

export = platform();

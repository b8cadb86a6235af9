import * as pulumi from "@pulumi/pulumi";
import { currentStackConfig } from "./config";
import { programFor } from "./programs";
import { ConfigError } from "../components/validation";

// What `pulumi up -s quantum|matrix` runs: config is validated before any resource is registered.
function main(): Record<string, unknown> {
    try {
        return programFor(currentStackConfig());
    } catch (e) {
        // A RunError prints the message without a stack trace: the message already names key, value and fix.
        if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
        throw e;
    }
}

export = main();

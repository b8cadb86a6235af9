import * as pulumi from "@pulumi/pulumi";
import { currentStackConfig } from "./config";
import { programFor } from "./programs";
import { ConfigError } from "../components/core";
import { redactSecrets } from "./stack-secrets";

// What `pulumi up -s quantum|matrix` runs: config is validated before any resource is registered.
async function main(): Promise<Record<string, unknown>> {
    try {
        return await programFor(currentStackConfig());
    } catch (e) {
        // A RunError prints the message without a stack trace: the message already names key, value and fix.
        // A value zod quotes may be a secret leaf of a structured key, which the CLI does not know to hide.
        if (e instanceof ConfigError) throw new pulumi.RunError(redactSecrets(e.message));
        throw e;
    }
}

// Pulumi calls an exported function and awaits it; its result becomes the stack outputs.
export = main;

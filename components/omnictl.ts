import * as pulumi from "@pulumi/pulumi";

/**
 * How local commands talk to Omni with omnictl (domain.md §4.9): a service-account key in the environment
 * (no omniconfig file to manage), and resource content on stdin (never on the command line, where it would
 * show in process listings and logs).
 */

export interface OmniAccess {
    /** The Omni API URL, e.g. https://omni.example.com. */
    omniEndpoint: pulumi.Input<string>;
    /** An Omni service-account key; always handled as a secret. */
    serviceAccountKey: pulumi.Input<string>;
}

/** Environment for omnictl. The key is wrapped as a secret whatever the caller passed. */
export function omnictlEnvironment(access: OmniAccess): Record<string, pulumi.Input<string>> {
    return {
        OMNI_ENDPOINT: access.omniEndpoint,
        OMNI_SERVICE_ACCOUNT_KEY: pulumi.secret(access.serviceAccountKey),
    };
}

/**
 * A /bin/sh script that saves stdin to a private temp file and runs `omnictl <args> -f <file>`:
 * `omnictl apply` and `omnictl cluster template …` only read files.
 */
export function omnictlWithStdinFile(args: string): string {
    return [
        "set -eu",
        'dir="$(mktemp -d)"',
        "trap 'rm -rf \"$dir\"' EXIT",
        'cat > "$dir/resource.yaml"',
        `omnictl ${args} -f "$dir/resource.yaml"`,
    ].join("\n");
}


import * as pulumi from "@pulumi/pulumi";

/**
 * How local commands talk to Omni with omnictl (siderolabs/omni `client/pkg/omnictl`, `internal/access/client.go`): a
 * service-account key in the environment (no omniconfig file to manage). Machine classes and clusters run omnictl
 * from their dynamic providers (omni-providers.ts) with the same two variables.
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

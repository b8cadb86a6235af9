import * as pulumi from "@pulumi/pulumi";
import { shellQuote } from "../core/shell";

/**
 * How local commands talk to Omni with omnictl (siderolabs/omni `client/pkg/omnictl`, `internal/access/client.go`): a service-account key in the environment
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

/** How long a machine class waits for its provider to register before the apply fails. */
export const PROVIDER_REGISTRATION_TIMEOUT_SECONDS = 300;

/**
 * Waits until the infra provider has registered with Omni. Omni validates an auto-provision MachineClass against
 * `InfraProviderStatuses.omni.sidero.dev/<providerid>` and refuses it ("failed to get provider") until the provider
 * has connected and written that status (omni v1.10.4 `internal/backend/runtime/omni/validations/machine_class.go`,
 * `client/pkg/infra/infra.go`). A started container is not enough: the provider may still be pulling, failing to
 * reach Omni, or holding the wrong key. The loop reads omnictl's exit code: `get <type> <id>` returns the state's
 * NotFound error (`client/pkg/omnictl/get.go`), and omnictl exits 1 on any error (`cmd/omnictl/main.go`), both v1.10.4.
 */
export function waitForInfraProviderScript(
    providerId: string,
    timeoutSeconds = PROVIDER_REGISTRATION_TIMEOUT_SECONDS,
    pollSeconds = 5,
): string {
    const id = shellQuote(providerId);
    return [
        `deadline=$(( $(date +%s) + ${timeoutSeconds} ))`,
        `until out=$(omnictl get infraproviderstatuses ${id} 2>&1); do`,
        '  if [ "$(date +%s)" -ge "$deadline" ]; then',
        `    echo "infra provider ${providerId} has not registered with Omni within ${timeoutSeconds}s (no InfraProviderStatuses.omni.sidero.dev/${providerId}), and Omni refuses its machine classes until it does." >&2`,
        `    echo "Check: the provider container runs and logs no error (docker logs on the provider LXC); its --id is ${providerId}; it reaches Omni's API URL; its key is the one \\\`omnictl infraprovider create ${providerId}\\\` printed." >&2`,
        '    echo "omnictl said: $out" >&2',
        "    exit 1",
        "  fi",
        `  sleep ${pollSeconds}`,
        "done",
    ].join("\n");
}

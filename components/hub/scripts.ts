import { shellQuote as sh } from "../core/shell";

/** The shell commands the hub's browserless bootstrap runs (on the Docker host, or locally with omnictl). */

/** The long-lived automation service account created from the short-lived initial one. */
export const automationAccountName = "pulumi-automation";

/**
 * Prints the initial service account key Omni writes on its first start. The Omni image has no shell, so
 * `docker exec cat` is impossible; `docker cp … -` streams a tar that the Docker host unpacks to stdout.
 */
export function readInitialKeyScript(container: string, keyPath: string, o: { onHost?: boolean } = {}): string {
    const src = sh(`${container}:${keyPath}`);
    // On the (Linux) Docker host each try is bounded: a docker daemon that stops answering must not hold `up` forever.
    const docker = o.onHost ? "timeout -k 5 30 docker" : "docker";
    return [
        "for i in $(seq 1 60); do",
        `  ${docker} cp ${src} - 2>/dev/null | tar -xOf - 2>/dev/null && exit 0`,
        "  sleep 5",
        "done",
        `echo "Omni wrote no ${keyPath} within 5 minutes (is this its first start? see: docker logs ${container})" >&2`,
        "exit 1",
    ].join("\n");
}

/** Creates the automation account; omnictl prints its key once, on stdout. */
export function automationAccountScript(role: string): string {
    return `omnictl serviceaccount create ${sh(automationAccountName)} --role=${sh(role)} --use-user-role=false`;
}

/** Renews the automation account's key (a new key, valid for omnictl's default 365 days); printed once, on stdout. */
export function automationKeyRenewalScript(): string {
    return `omnictl serviceaccount renew ${sh(automationAccountName)}`;
}

/**
 * Registers an infra provider, or renews its key when it already exists (registered by hand, or a key
 * rotation replaced this command). Either way omnictl prints the new key once, on stdout.
 */
export function infraProviderKeyScript(id: string): string {
    return [
        "set -eu",
        `if omnictl get infraproviders ${sh(id)} >/dev/null 2>&1; then`,
        `  omnictl infraprovider renewkey ${sh(id)}`,
        "else",
        `  omnictl infraprovider create ${sh(id)}`,
        "fi",
    ].join("\n");
}

/** The key from omnictl's `OMNI_SERVICE_ACCOUNT_KEY=…` line (create, renew, renewkey all print one). */
export function serviceAccountKeyFromOutput(stdout: string): string {
    const match = /^OMNI_SERVICE_ACCOUNT_KEY=(\S+)\s*$/m.exec(stdout);
    if (!match) throw new Error("omnictl printed no OMNI_SERVICE_ACCOUNT_KEY line; see the command's stderr");
    return match[1];
}

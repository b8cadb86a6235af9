import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { hostOrIpProblem } from "../components/core/addresses";
import { sshHostKeyProblem } from "../components/core/ssh";
import { LINUX_USER } from "../components/proxmox/preflight-render";
import { known } from "./props";
import { command } from "./providers";

/** Commands run over SSH (bootstrap, Docker install, backups, the Proxmox preflight). */

export const sshConnectionsAgentAuth: ResourceValidationPolicy = {
    name: "ssh-connections-agent-auth",
    description:
        "Remote commands reach an IP address or DNS name as a valid Linux user, pin a well-formed host key if any, and authenticate with the SSH agent: " +
        "a password or private key in the program is stored in the state and shows in every diff.",
    severity: "high",
    remediationSteps:
        "Give the host as an IP or a bare DNS name and the user as a Linux login name (e.g. root, ansible); drop password/privateKey " +
        "and load the key into ssh-agent (SSH_AUTH_SOCK) on the machine that runs pulumi.",
    validateResource: validateResourceOfType(command.remote.Command, (cmd, args, report) => {
        const connection = known(() => cmd.connection);
        if (!connection) return;
        const host = known(() => connection.host);
        const hostProblem = typeof host === "string" ? hostOrIpProblem(host) : undefined;
        if (hostProblem) report(`${args.name}: connection.host ${hostProblem}`);
        const user = known(() => connection.user);
        if (typeof user === "string" && !LINUX_USER.test(user)) {
            report(
                `${args.name}: connection.user "${user}" is not a Linux user name; use the login name, e.g. root or ansible`,
            );
        }
        // The provider parses a pinned key only when it connects; a bad one would fail there, after the preview.
        const hostKey = known(() => connection.hostKey);
        const hostKeyProblem = typeof hostKey === "string" ? sshHostKeyProblem(hostKey) : undefined;
        if (hostKeyProblem) report(`${args.name}: connection.hostKey ${hostKeyProblem}`);
        for (const secret of ["password", "privateKey", "privateKeyPassword"] as const) {
            if (known(() => connection[secret]) !== undefined) {
                report(
                    `${args.name}: connection.${secret} puts SSH credentials in the program and state; remove it and authenticate with the SSH agent`,
                );
            }
        }
    }),
};

export const remoteAccessPolicies = [sshConnectionsAgentAuth];

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
    parsePreflightReport,
    PreflightResult,
    PreflightSettings,
    PreflightSettingsSchema,
    PreflightTarget,
    renderPreflightScript,
} from "./preflight-render";
import { argsKey, KeyedArgs, parseOrThrow } from "../core/validation";

export { PreflightSettingsSchema } from "./preflight-render";
export type { PreflightResult, PreflightSettings, PreflightTarget } from "./preflight-render";

export interface ProxmoxPreflightArgs extends KeyedArgs {
    settings: PreflightSettings;
    /** What the nodes must see: the hub's name, LAN IP and ports (see preflightTarget). */
    target: pulumi.Input<PreflightTarget>;
    /** Anything else whose change must re-run the checks, e.g. the hub's certificate fingerprint. */
    triggers?: pulumi.Input<unknown>[];
}

/**
 * Checks, from every Proxmox node over SSH, the path a booting Talos VM takes to Omni: the Omni name through the
 * node's own resolver and the VM network's resolvers, TCP to the hub's LAN IP on the API and machine API ports, and
 * the certificate served there, verified as Talos verifies it.
 * One command per node, all in parallel; anything given this component in `dependsOn` waits for all of them, so a
 * failed check stops `pulumi up` before a machine class or cluster asks for a VM. SSH authenticates with the
 * operator's SSH agent (SSH_AUTH_SOCK), as for the Docker hosts; no key material is in the program or state. A
 * node's `hostKey` pins the server's key; without one the command provider accepts whatever key the address presents.
 *
 * A command runs again when its script changes (the hub's name, LAN IP or ports), when a node is added or its
 * address changes, and when `triggers` or `settings.rerun` change.
 */
export class ProxmoxPreflight extends pulumi.ComponentResource {
    /** Node name → what the node saw. */
    public readonly results: pulumi.Output<Record<string, PreflightResult>>;

    constructor(name: string, args: ProxmoxPreflightArgs, opts?: pulumi.ComponentResourceOptions) {
        const s = parseOrThrow(PreflightSettingsSchema, args.settings, argsKey(name, args));
        super("omni-scale:proxmox:ProxmoxPreflight", name, {}, opts);
        const results = s.nodes.map((node) => {
            const check = new command.remote.Command(
                `${name}-${node.name}`,
                {
                    // With hostKey the provider accepts only that key; without, any (it then ignores host keys).
                    connection: { host: node.address, user: node.user, port: node.port, hostKey: node.hostKey },
                    // bash, not the login shell: the TCP checks use bash's /dev/tcp.
                    create: "bash -s",
                    stdin: pulumi.output(args.target).apply((t) =>
                        renderPreflightScript(node, t, {
                            timeoutSeconds: s.timeoutSeconds,
                            vmResolvers: s.vmResolvers,
                        }),
                    ),
                    triggers: [s.rerun, ...(args.triggers ?? [])],
                    logging: "stderr",
                },
                {
                    parent: this,
                    // Children do not inherit a component's dependsOn (e.g. the node's DNS settings must be applied first).
                    dependsOn: opts?.dependsOn,
                },
            );
            return check.stdout.apply((out) => [node.name, parsePreflightReport(out)] as const);
        });
        this.results = pulumi.all(results).apply((entries) => Object.fromEntries(entries));
        this.registerOutputs({ results: this.results });
    }
}

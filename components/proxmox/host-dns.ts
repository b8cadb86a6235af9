import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { ProxmoxHostDnsSettings, ProxmoxHostDnsSettingsSchema } from "./dns-rules";
import { argsKey, KeyedArgs, parseOrThrow } from "../core/validation";

export interface ProxmoxHostDnsArgs extends KeyedArgs {
    settings: ProxmoxHostDnsSettings;
}

/**
 * Split-horizon DNS for the Proxmox hosts: every node resolves through the local resolver(s), which answer the Omni
 * name with its LAN IP. A public resolver is a ConfigError before anything is registered.
 */
export class ProxmoxHostDns extends pulumi.ComponentResource {
    public readonly nodes: string[];

    constructor(name: string, args: ProxmoxHostDnsArgs, opts?: pulumi.ComponentResourceOptions) {
        const s = parseOrThrow(ProxmoxHostDnsSettingsSchema, args.settings, argsKey(name, args));
        super("omni-scale:proxmox:ProxmoxHostDns", name, {}, opts);
        for (const node of s.nodes) {
            new proxmoxve.DnsLegacy(
                `${name}-${node}`,
                { nodeName: node, domain: s.domain, servers: s.servers },
                { parent: this },
            );
        }
        this.nodes = s.nodes;
        this.registerOutputs({ nodes: this.nodes });
    }
}

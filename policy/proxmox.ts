import { PolicyConfigSchema, ReportViolation, ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { resolverProblem } from "../components/proxmox/dns-rules";
import { configOf, ConfigSource } from "./config";
import { proxmoxve } from "./providers";

const dnsSchema: PolicyConfigSchema = {
    properties: {
        allowedResolvers: {
            type: "array",
            items: { type: "string" },
            default: [],
            description:
                "Further resolver addresses or CIDR ranges that answer the Omni name with its LAN IP (e.g. a routed DNS server outside RFC 1918).",
        },
    },
};

/** One violation per resolver that is not local (the rule lives in components/proxmox/host-dns.ts). */
function checkResolvers(where: string, servers: readonly string[], args: ConfigSource, report: ReportViolation): void {
    const { allowedResolvers } = configOf<{ allowedResolvers: string[] }>(args, dnsSchema);
    for (const server of servers) {
        const problem = resolverProblem(server, allowedResolvers);
        if (problem) report(`${where}: ${problem}`);
    }
}

export const proxmoxDnsLocalOnly: ResourceValidationPolicy = {
    name: "proxmox-dns-local-only",
    description:
        "Proxmox nodes (and the provider's LXC) resolve through local resolvers only: public DNS (1.1.1.1, 8.8.8.8, 9.9.9.9, …) answers the Omni name " +
        "with its tailnet address, and fresh Talos VMs then fail SideroLink silently.",
    severity: "high",
    remediationSteps:
        "Set the DNS servers to the LAN resolver that answers the Omni name with the hub's LAN IP (e.g. 192.168.10.1); " +
        "a resolver outside RFC 1918/ULA/loopback/link-local must be listed in the policy config `allowedResolvers` and in " +
        "the stack's `hostDns.allowedResolvers` (or `infraProvider.lxc.dns.allowedResolvers` for the provider's LXC).",
    configSchema: dnsSchema,
    validateResource: [
        validateResourceOfType(proxmoxve.DnsLegacy, (dns, args, report) => {
            const servers = dns.servers ?? [];
            if (servers.length === 0) {
                report(
                    `node ${dns.nodeName} gets no DNS servers: set servers to the local resolver(s) that answer the Omni name with its LAN IP`,
                );
            }
            checkResolvers(`node ${dns.nodeName}`, servers, args, report);
        }),
        // An LXC without its own resolvers uses the node's, which the DnsLegacy check covers.
        validateResourceOfType(proxmoxve.ContainerLegacy, (lxc, args, report) => {
            const dns = lxc.initialization?.dns;
            checkResolvers(
                `LXC ${args.name}`,
                [...(dns?.servers ?? []), ...(dns?.server ? [dns.server] : [])],
                args,
                report,
            );
        }),
    ],
};

export const proxmoxPolicies = [proxmoxDnsLocalOnly];

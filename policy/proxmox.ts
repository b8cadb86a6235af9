import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import { PolicyConfigSchema, ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import * as ipaddr from "ipaddr.js";
import { configOf } from "./config";

/** Ranges that stay on the site: RFC 1918, IPv6 ULA, loopback, link-local. */
const LOCAL_RANGES = ["private", "uniqueLocal", "loopback", "linkLocal"];

const dnsSchema: PolicyConfigSchema = {
    properties: {
        allowedResolvers: {
            type: "array",
            items: { type: "string" },
            default: [],
            description: "Further resolver addresses or CIDR ranges that answer the Omni name with its LAN IP (e.g. a routed DNS server outside RFC 1918).",
        },
    },
};

/** Whether `server` is one of the allowed addresses or inside an allowed CIDR range. */
function allowed(server: ipaddr.IPv4 | ipaddr.IPv6, allowList: string[]): boolean {
    return allowList.some((entry) => {
        if (ipaddr.isValidCIDR(entry)) {
            const [range, bits] = ipaddr.parseCIDR(entry);
            return server.kind() === range.kind() && server.match(range, bits);
        }
        return ipaddr.isValid(entry) && ipaddr.process(entry).toString() === server.toString();
    });
}

/** Why a node resolver may answer the Omni name with a public or tailnet address, or undefined. */
function resolverProblem(server: string, allowList: string[]): string | undefined {
    if (!ipaddr.isValid(server)) return `"${server}" is not an IP address`;
    const addr = ipaddr.process(server);
    if (LOCAL_RANGES.includes(addr.range()) || allowed(addr, allowList)) return undefined;
    return `${server} is a ${addr.range() === "unicast" ? "public" : addr.range()} resolver`;
}

export const proxmoxDnsLocalOnly: ResourceValidationPolicy = {
    name: "proxmox-dns-local-only",
    description:
        "Proxmox nodes resolve through local resolvers only: public DNS (1.1.1.1, 8.8.8.8, 9.9.9.9, …) answers the Omni name with its " +
        "tailnet address, and fresh Talos VMs then fail SideroLink silently.",
    severity: "high",
    remediationSteps:
        "Set the DnsLegacy `servers` to the LAN resolver that answers the Omni name with the hub's LAN IP (e.g. 192.168.10.1); " +
        "a resolver outside RFC 1918/ULA/loopback/link-local must be listed in the policy config `allowedResolvers`.",
    configSchema: dnsSchema,
    validateResource: validateResourceOfType(proxmoxve.DnsLegacy, (dns, args, report) => {
        const { allowedResolvers } = configOf<{ allowedResolvers: string[] }>(args, dnsSchema);
        const servers = dns.servers ?? [];
        if (servers.length === 0) {
            report(`node ${dns.nodeName} gets no DNS servers: set servers to the local resolver(s) that answer the Omni name with its LAN IP`);
        }
        for (const server of servers) {
            const problem = resolverProblem(server, allowedResolvers);
            if (problem) {
                report(`node ${dns.nodeName}: ${problem}; use only local resolvers (RFC 1918, ULA, loopback, link-local) or add it to the policy config allowedResolvers`);
            }
        }
    }),
};

export const proxmoxPolicies = [proxmoxDnsLocalOnly];

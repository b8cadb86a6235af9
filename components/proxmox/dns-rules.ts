import { isIP } from "node:net";
import * as ipaddr from "ipaddr.js";
import { z } from "zod";
import { isTailnetAddress } from "../core/addresses";
import { uniqueBy } from "../core/validation";

/** Resolver rules for Proxmox hosts and the provider's LXC (split-horizon DNS): pure, shared by config, components and policies. */

/** ipaddr.js ranges that stay on the local network (RFC 1918, ULA, loopback, link-local). */
const LOCAL_RANGES = ["private", "uniqueLocal", "loopback", "linkLocal"];

const SPLIT_HORIZON =
    "Talos VMs booting on Proxmox are not on the tailnet yet and must resolve the Omni name to its LAN IP " +
    "(split-horizon DNS); a public resolver answers with the public record (the Tailscale IP) and SideroLink fails silently. " +
    "Use the LAN resolver that holds the local Omni record (e.g. the router, 192.168.x.1)";

/**
 * How to allow a resolver that answers the Omni name with the LAN IP from a public address: in the stack (the program's
 * check) and in the policy pack's config (the policy's), which each refuse it on their own.
 */
const allowHint = (server: string) =>
    `; if ${server} does answer with the LAN IP, list it in \`allowedResolvers\` beside \`servers\` ` +
    `(hostDns.allowedResolvers for the nodes, infraProvider.lxc.dns.allowedResolvers for the provider's LXC) and ` +
    `in the policy config: {"proxmox-dns-local-only": {"allowedResolvers": ["${server}"]}}`;

function inAllowList(addr: ipaddr.IPv4 | ipaddr.IPv6, allowList: readonly string[]): boolean {
    return allowList.some((entry) => {
        try {
            if (!entry.includes("/")) return ipaddr.process(entry).toString() === addr.toString();
            const [net, bits] = ipaddr.parseCIDR(entry);
            return net.kind() === addr.kind() && addr.match(net, bits);
        } catch {
            return false; // an unparsable entry allows nothing
        }
    });
}

/**
 * Why a DNS server is unfit for a Proxmox host or the provider's LXC, or undefined when it is a local resolver.
 * Private, unique-local, loopback and link-local addresses are local; `allowList` (addresses or CIDRs) admits others.
 * Pure, so the policy pack checks with the same rule the program enforces.
 */
export function resolverProblem(server: string, allowList: readonly string[] = []): string | undefined {
    if (isIP(server) === 0)
        return `"${server}" is not an IP address; Proxmox DNS servers are IP addresses, e.g. 192.168.3.1`;
    const addr = ipaddr.process(server); // IPv4-mapped IPv6 is judged as the IPv4 it carries
    if (inAllowList(addr, allowList)) return undefined;
    if (isTailnetAddress(server)) {
        return `${server} is a Tailscale address (MagicDNS answers the Omni name with its tailnet IP, and booting Talos VMs are not on the tailnet): ${SPLIT_HORIZON}${allowHint(server)}`;
    }
    if (LOCAL_RANGES.includes(addr.range())) return undefined;
    const what = addr.range() === "unicast" ? "a public resolver" : `not a LAN resolver (${addr.range()} range)`;
    return `${server} is ${what}: ${SPLIT_HORIZON}${allowHint(server)}`;
}

export const ProxmoxNodeName = z
    .string()
    .regex(
        /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/,
        "a Proxmox node name as shown by `pvesh get /nodes`, e.g. foxtrot",
    );

const dnsShape = {
    domain: z
        .string()
        .regex(
            /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*$/,
            "the DNS search domain, e.g. spaceships.work",
        )
        .describe("The DNS search domain"),
    servers: z
        .array(z.string())
        .min(1, "name at least one local resolver, e.g. [192.168.3.1]")
        .max(3, "Proxmox keeps at most 3 DNS servers")
        .describe("Local resolvers only (public ones answer the Omni name with its tailnet address)"),
    allowedResolvers: z
        .array(z.string())
        .default([])
        .describe(
            "Addresses or CIDRs accepted as resolvers although not private, e.g. a LAN resolver on a public address (the policy proxmox-dns-local-only takes the same list)",
        ),
};

function checkResolvers(d: { servers: string[]; allowedResolvers: string[] }, ctx: z.RefinementCtx): void {
    d.servers.forEach((server, i) => {
        const message = resolverProblem(server, d.allowedResolvers);
        if (message) ctx.addIssue({ code: "custom", path: ["servers", i], message, input: server });
    });
}

/** Resolver settings of one machine (the provider's LXC); only local resolvers pass. */
export const DnsSettingsSchema = z.strictObject(dnsShape).superRefine(checkResolvers);

export const ProxmoxHostDnsSettingsSchema = z
    .strictObject({
        ...dnsShape,
        nodes: z
            .array(ProxmoxNodeName)
            .min(1, "list the Proxmox nodes whose resolvers to manage, e.g. [foxtrot, golf, hotel]")
            .superRefine(uniqueBy((node) => node, "each node once"))
            .describe("Every Proxmox node that runs Talos VMs"),
    })
    .superRefine(checkResolvers);

export type DnsSettings = z.input<typeof DnsSettingsSchema>;
export type ProxmoxHostDnsSettings = z.input<typeof ProxmoxHostDnsSettingsSchema>;

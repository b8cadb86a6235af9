import { isIP } from "node:net";
import { isTailnetAddress } from "../core/addresses";

/**
 * The public half of the split horizon: a Cloudflare record that sends the Omni name to the hub's tailnet address,
 * so remote users reach Omni over the tailnet by name while the LAN resolver keeps answering the LAN IP.
 */

/** The hub node's tailnet IPv4 from a Tailscale device lookup (`addresses` lists its IPv4 and IPv6). */
export function tailnetIpv4(addresses: readonly string[] | undefined, hostname: string): string {
    const ip = (addresses ?? []).find((a) => isIP(a) === 4 && isTailnetAddress(a));
    if (!ip) {
        throw new Error(
            `Tailscale device "${hostname}" has no tailnet IPv4 address (got ${JSON.stringify(addresses ?? [])}): ` +
                "check that the hub's sidecar joined the tailnet under that name (a stale device makes Tailscale append -1; remove it in the admin console)",
        );
    }
    return ip;
}

export interface DnsRecordSpec {
    zoneId: string;
    /** The Omni domain. */
    name: string;
    ttl: number;
}

/**
 * The record's arguments (cloudflare v6 `DnsRecord`). A single A record: Cloudflare's proxy cannot reach a tailnet
 * address and would terminate TLS and gRPC itself, so it stays off; the TTL is short because the tailnet address
 * changes when the hub's node is re-registered.
 */
export function renderDnsRecord<A>(spec: DnsRecordSpec, address: A) {
    return {
        zoneId: spec.zoneId,
        name: spec.name,
        type: "A",
        content: address,
        proxied: false,
        ttl: spec.ttl,
        comment: "Omni over the tailnet (LAN resolvers answer the LAN IP); managed by Pulumi",
    };
}

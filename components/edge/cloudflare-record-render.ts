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

/** What the record needs of a device in the tailnet's device list (tailscale `getDevices`). */
export interface TailnetDevice {
    hostname: string;
    /** The full name, e.g. omni-1.tailnet.ts.net: Tailscale appends -1 when the name is taken. */
    name: string;
    nodeId?: string;
    id?: string;
    lastSeen?: string;
    tags?: readonly string[];
    addresses?: readonly string[];
}

/**
 * The hub's tailnet IPv4, from the device list: the one device with the sidecar's hostname and all its tags.
 * The short hostname is not unique: when the sidecar loses its state it joins again as a new device (name omni-1)
 * with the same hostname while the old one lingers, and a lookup by hostname alone may return the dead one. So
 * this refuses anything but exactly one match rather than guess; the fix is to remove the stale device.
 */
export function hubTailnetIpv4(
    devices: readonly TailnetDevice[] | undefined,
    hostname: string,
    tags: readonly string[],
): string {
    const all = devices ?? [];
    const named = all.filter((d) => d.hostname === hostname);
    const matches = named.filter((d) => tags.every((t) => d.tags?.includes(t)));
    const describe = (d: TailnetDevice) =>
        `${d.name} (id ${d.nodeId ?? d.id ?? "?"}, tags ${(d.tags ?? []).join(",") || "none"}, last seen ${d.lastSeen || "never"})`;
    const wanted = tags.length ? `hostname "${hostname}" and tags ${tags.join(",")}` : `hostname "${hostname}"`;
    if (matches.length === 0) {
        throw new Error(
            `no Tailscale device has ${wanted}` +
                (named.length ? `; with that hostname there are only: ${named.map(describe).join("; ")}` : "") +
                ": check that the hub's sidecar joined the tailnet with these tags (docker logs of the sidecar) and that the Tailscale API key can list devices",
        );
    }
    if (matches.length > 1) {
        throw new Error(
            `${matches.length} Tailscale devices have ${wanted}, so the public record could point at a dead one: ${matches.map(describe).join("; ")}. ` +
                "Remove the stale device(s) in the Tailscale admin console (Machines, ... > Remove), keeping the one the sidecar uses " +
                "(`docker exec <accountName>-tailscale tailscale ip -4` on the Docker host shows its address), then run pulumi up again",
        );
    }
    return tailnetIpv4(matches[0].addresses, matches[0].name);
}

/** The record's TTL unless set (Cloudflare's minimum): the tailnet address changes when the hub's node registers anew. */
export const DEFAULT_RECORD_TTL = 60;

export interface DnsRecordSpec {
    zoneId: string;
    /** The Omni domain. */
    name: string;
    /** Seconds; DEFAULT_RECORD_TTL when unset. */
    ttl?: number;
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
        ttl: spec.ttl ?? DEFAULT_RECORD_TTL,
        comment: "Omni over the tailnet (LAN resolvers answer the LAN IP); managed by Pulumi",
    };
}

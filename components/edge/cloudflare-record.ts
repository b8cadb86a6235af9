import type * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import * as tailscale from "@pulumi/tailscale";
import { DnsRecordSpec, hubTailnetIpv4, renderDnsRecord } from "./cloudflare-record-render";

export interface CloudflareRecordArgs extends DnsRecordSpec {
    /** The Tailscale hostname of the device the record points at (the hub's sidecar). */
    tailscaleHostname: string;
    /** The sidecar's tags: with the hostname they single out its device (none: the hostname alone). */
    tailscaleTags?: string[];
    /** A Cloudflare API token with Zone:Read and DNS:Edit on the zone (secret). */
    apiToken: pulumi.Input<string>;
    /** How long to look again while no device has the hostname yet (a sidecar just logged in); default 60. */
    deviceWaitSeconds?: number;
}

/** Between two looks at the device list while the sidecar is not listed yet. */
const DEVICE_POLL_MS = 2000;

/**
 * A DNS record for the Omni domain at the hub's tailnet address, read from Tailscale's device list (the one device
 * with the sidecar's hostname and tags; a stale namesake is refused, see hubTailnetIpv4) once whatever this component
 * depends on (the sidecar) is up. Give the sidecar in `dependsOn`: the lookup waits for it.
 */
export class CloudflareRecord extends pulumi.ComponentResource {
    /** The address the record points at. */
    public readonly address: pulumi.Output<string>;

    constructor(name: string, args: CloudflareRecordArgs, opts?: pulumi.ComponentResourceOptions) {
        super("omni-scale:cloudflare:CloudflareRecord", name, {}, opts);
        // Loaded here, not at the top: @pulumi/cloudflare is large and only stacks with dns.cloudflare need it, so
        // every other plan and `pulumi up` starts without it.
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const cf = require("@pulumi/cloudflare") as typeof cloudflare;
        const provider = new cf.Provider(
            `${name}-cloudflare`,
            { apiToken: pulumi.secret(args.apiToken) },
            { parent: this },
        );
        const tags = args.tailscaleTags ?? [];
        // Listed once the sidecar is healthy (logged in). Filtered by the API; checked again here, since the API's
        // matching of a list field (tags) is not documented.
        const filters = {
            filters: [
                { name: "hostname", values: [args.tailscaleHostname] },
                ...(tags.length ? [{ name: "tags", values: tags }] : []),
            ],
        };
        const list = tailscale.getDevicesOutput(filters, { parent: this, dependsOn: opts?.dependsOn });
        // A sidecar that has just logged in may not be listed yet (the old getDevice lookup had waitFor for this):
        // look again for a while before refusing. A listed namesake is judged at once.
        this.address = list.apply(async ({ devices }) => {
            const deadline = Date.now() + (args.deviceWaitSeconds ?? 60) * 1000;
            let seen = devices;
            while (!seen?.some((d) => d.hostname === args.tailscaleHostname) && Date.now() < deadline) {
                await new Promise((resolve) => setTimeout(resolve, DEVICE_POLL_MS));
                seen = (await tailscale.getDevices(filters, { parent: this })).devices;
            }
            return hubTailnetIpv4(seen, args.tailscaleHostname, tags);
        });
        new cf.DnsRecord(`${name}-record`, renderDnsRecord(args, this.address), { parent: this, provider });
        this.registerOutputs({ address: this.address });
    }
}

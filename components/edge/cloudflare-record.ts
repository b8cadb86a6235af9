import type * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import * as tailscale from "@pulumi/tailscale";
import { DnsRecordSpec, renderDnsRecord, tailnetIpv4 } from "./cloudflare-record-render";

export interface CloudflareRecordArgs extends DnsRecordSpec {
    /** The Tailscale hostname of the device the record points at (the hub's sidecar). */
    tailscaleHostname: string;
    /** A Cloudflare API token with DNS edit rights on the zone (secret). */
    apiToken: pulumi.Input<string>;
}

/**
 * A DNS record for the Omni domain at the hub's tailnet address, read from Tailscale by hostname once whatever this
 * component depends on (the sidecar) is up. Give the sidecar in `dependsOn`: the lookup waits for it.
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
        // The device appears once the sidecar has logged in; retry for a while rather than fail on a slow join.
        const device = tailscale.getDeviceOutput(
            { hostname: args.tailscaleHostname, waitFor: "120s" },
            { parent: this, dependsOn: opts?.dependsOn },
        );
        this.address = device.addresses.apply((addresses) => tailnetIpv4(addresses, args.tailscaleHostname));
        new cf.DnsRecord(`${name}-record`, renderDnsRecord(args, this.address), { parent: this, provider });
        this.registerOutputs({ address: this.address });
    }
}

// The provider resource classes the policies check, each loaded from its own file: a policy needs only a class's type
// token, and a provider's index loads every module of the provider (@muhlba91/pulumi-proxmoxve's: 40 files), which
// each pack process would load at start.
import { DnsLegacy } from "@muhlba91/pulumi-proxmoxve/dnsLegacy";
import { ContainerLegacy } from "@muhlba91/pulumi-proxmoxve/containerLegacy";
import { Command as LocalCommand } from "@pulumi/command/local/command";
import { Command as RemoteCommand } from "@pulumi/command/remote/command";
import { Container } from "@pulumi/docker/container";
import { RemoteImage } from "@pulumi/docker/remoteImage";
import { Volume } from "@pulumi/docker/volume";
import { TailnetKey } from "@pulumi/tailscale/tailnetKey";

export const docker = { Container, RemoteImage, Volume };
export const command = { local: { Command: LocalCommand }, remote: { Command: RemoteCommand } };
export const proxmoxve = { ContainerLegacy, DnsLegacy };
export const tailscale = { TailnetKey };

import { isIP } from "node:net";
import * as ipaddr from "ipaddr.js";
import { z } from "zod";
import * as YAML from "yaml";
import { defaultProviderImageRules, PinnedImageSchema, providerImageProblem } from "../core/images";
import { DnsSettingsSchema, ProxmoxNodeName } from "./dns-rules";
import {
    ConfigError,
    DEFAULT_INFRA_PROVIDER_ID,
    dnsLabel,
    InfraProviderIdSchema,
    refineWith,
    singleLineStrings,
    TailscaleTag,
} from "../core/validation";
import { sshHostKeyProblem } from "../core/ssh";
import { images } from "../core/versions";

/**
 * Pure rendering for the Omni Proxmox infra provider in its LXC (omni-infra-provider-proxmox `cmd/omni-infra-provider-proxmox/main.go`, `internal/pkg/config/config.go`):
 * settings schema, the provider's flags and config file, and the scripts run over SSH.
 */

/** Where the Proxmox config file is uploaded in the provider container. */
export const CONFIG_PATH = "/config.yaml";

/**
 * Privileges of the provider's role. The community list (docs/DEPLOYMENT.md "Proxmox") covers creating, configuring and powering
 * VMs; the rest are what the provider's own calls need, each noted below. The workload stack adds what its machine
 * classes need (`privilegesForProviderData`: `Mapping.Use` for PCI/USB devices, `Sys.Console` for HA).
 */
export const defaultProviderPrivileges = [
    "VM.Allocate",
    "VM.Config.Disk",
    "VM.Config.CPU",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.Options",
    "VM.Config.HWType",
    "VM.PowerMgmt",
    "Datastore.AllocateSpace",
    "Datastore.Audit",
    // Reading VM config and status, and counting VMs per node for placement.
    "VM.Audit",
    // The Talos ISO (ide2) and the nocloud join data drive (ide0) are CD-ROMs.
    "VM.Config.CDROM",
    // The node downloads the Talos ISO into ISO storage (download-url needs AllocateTemplate plus Sys.Audit and
    // Sys.Modify on the node) and the nocloud ISO is uploaded; Sys.Audit also lists nodes and their free memory.
    "Datastore.AllocateTemplate",
    "Sys.Audit",
    "Sys.Modify",
    // Provider v0.1.0+ puts each machine-request set's VMs in a pool it creates and deletes.
    "Pool.Allocate",
    // PVE 8+: attaching a NIC to a bridge needs SDN.Use on the bridge's zone.
    "SDN.Use",
];

const ProxmoxUrl = z.string().refine((s) => {
    try {
        const u = new URL(s);
        return u.protocol === "https:" && u.pathname.replace(/\/$/, "") === "/api2/json";
    } catch {
        return false;
    }
}, "the Proxmox API URL, e.g. https://192.168.3.5:8006/api2/json");

const Ipv4Address = z.string().refine((s) => isIP(s) === 4, "an IPv4 address, e.g. 192.168.3.1");

const Lxc = z
    .strictObject({
        node: ProxmoxNodeName.describe("The Proxmox node that runs the LXC"),
        vmId: z.number().int().min(100, "Proxmox ids start at 100").max(999999999).describe("The LXC's Proxmox id"),
        hostname: dnsLabel().default("omni-provider").describe("The LXC's hostname"),
        cores: z.number().int().min(1).default(1).describe("CPU cores"),
        memoryMb: z
            .number()
            .int()
            .min(512, "Docker + Tailscale + the provider need at least 512 MB")
            .default(1024)
            .describe("Memory in MiB (Docker, Tailscale and the provider need at least 512)"),
        swapMb: z.number().int().min(0).default(512).describe("Swap in MiB"),
        diskGb: z
            .number()
            .int()
            .min(4, "the root disk holds Docker images: at least 4 GB")
            .default(8)
            .describe("Root disk in GiB (it holds the Docker images)"),
        /** Storage of the LXC's root disk. */
        datastore: z.string().min(1).default("local-lvm").describe("The Proxmox storage of the root disk"),
        bridge: z.string().min(1).default("vmbr0").describe("The Proxmox bridge of its network interface"),
        vlan: z
            .number()
            .int()
            .min(1)
            .max(4094, "VLAN tags go up to 4094")
            .optional()
            .describe("A VLAN tag on that interface"),
        ipv4: z
            .string()
            .refine(
                (s) => s === "dhcp" || (ipaddr.isValidCIDR(s) && ipaddr.parseCIDR(s)[0].kind() === "ipv4"),
                'an IPv4 CIDR like 192.168.3.10/24, or "dhcp"',
            )
            .describe('A CIDR (e.g. 192.168.3.10/24) or "dhcp"; a static address keeps the SSH/Docker endpoint stable'),
        gateway: Ipv4Address.optional().describe("Required with a static ipv4, inside its subnet; none with dhcp"),
        dns: DnsSettingsSchema.describe(
            "The LXC's resolvers: domain, servers (local only, at most 3) and allowedResolvers, as in hostDns",
        ),
        template: z
            .strictObject({
                url: z
                    .string()
                    .regex(
                        /^https?:\/\/\S+\.(tar\.(gz|xz|zst|bz2)|tgz)$/,
                        "an LXC template URL, e.g. http://download.proxmox.com/images/system/debian-12-standard_12.7-1_amd64.tar.zst",
                    ),
                checksum: z
                    .string()
                    .regex(/^[0-9a-f]+$/i, "a hex digest")
                    .optional(),
                checksumAlgorithm: z.enum(["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]).optional(),
                /** Storage with content type vztmpl. */
                datastore: z.string().min(1).default("local"),
                /** Docker is installed with apt-get, so the template must be Debian or Ubuntu. */
                osType: z.enum(["debian", "ubuntu"]).default("debian"),
            })
            .refine((t) => (t.checksum === undefined) === (t.checksumAlgorithm === undefined), {
                message: "set checksum and checksumAlgorithm together",
                path: ["checksum"],
            })
            .describe("A Debian or Ubuntu LXC template downloaded to the node (Docker is installed with apt-get)"),
        sshPublicKeys: z
            .array(
                z
                    .string()
                    .regex(
                        /^(ssh-|ecdsa-|sk-)\S+ \S+/,
                        "an OpenSSH public key line, e.g. ssh-ed25519 AAAA... you@host",
                    ),
            )
            .min(1, "Pulumi installs Docker and runs containers over SSH: add the public key of your SSH agent")
            .describe("OpenSSH public keys (your SSH agent's): Pulumi installs Docker and runs containers over SSH"),
        sshHostKey: z
            .string()
            .superRefine(refineWith(sshHostKeyProblem))
            .optional()
            .describe(
                "The LXC's SSH host key (`ssh-ed25519 AAAA…`, its /etc/ssh/ssh_host_ed25519_key.pub once created): the Docker install and the Docker provider then accept only it; without it they trust the key of the first connection",
            ),
        sshUser: z
            .string()
            .regex(/^[a-z_][a-z0-9_-]*$/)
            .default("root")
            .describe(
                "Proxmox installs the keys for root; another user must exist in the template with the keys and passwordless sudo",
            ),
    })
    .superRefine((l, ctx) => {
        if (l.ipv4 === "dhcp") {
            if (l.gateway !== undefined)
                ctx.addIssue({
                    code: "custom",
                    path: ["gateway"],
                    input: l.gateway,
                    message: 'leave gateway out with ipv4 "dhcp" (DHCP provides it)',
                });
            return;
        }
        if (l.gateway === undefined) {
            ctx.addIssue({
                code: "custom",
                path: ["gateway"],
                message: "a static ipv4 needs a gateway (apt-get and image pulls need a default route)",
            });
        } else if (
            isIP(l.gateway) === 4 &&
            ipaddr.isValidCIDR(l.ipv4) &&
            !ipaddr.parse(l.gateway).match(ipaddr.parseCIDR(l.ipv4))
        ) {
            ctx.addIssue({
                code: "custom",
                path: ["gateway"],
                input: l.gateway,
                message: `the gateway must be inside ${l.ipv4}`,
            });
        }
    });

export const ProxmoxInfraProviderSettingsSchema = z
    .strictObject({
        providerId: InfraProviderIdSchema.default(DEFAULT_INFRA_PROVIDER_ID).describe(
            "The provider's --id, lowercase: listed in the hub's infraProviders and equal to every machine class's providerId",
        ),
        image: z
            .string()
            .default(images.proxmoxProvider)
            .describe("The provider image: a release v0.1.0 or later, a tag in patchedImageTags, or a digest"),
        patchedImageTags: z
            .array(z.string().min(1))
            .default(() => [...defaultProviderImageRules.patchedTags])
            .describe("Tags of a locally patched provider build accepted besides releases"),
        proxmox: z
            .strictObject({
                url: ProxmoxUrl.describe("The Proxmox API URL, e.g. https://192.168.3.5:8006/api2/json"),
                insecureSkipVerify: z
                    .boolean()
                    .default(false)
                    .describe("Skip TLS verification of Proxmox (its self-signed certificate)"),
            })
            .describe(
                "The Proxmox API the provider uses: url (e.g. https://192.168.3.5:8006/api2/json), insecureSkipVerify",
            ),
        lxc: Lxc.describe("The unprivileged LXC that runs Docker, the Tailscale sidecar and the provider"),
        tailscale: z
            .strictObject({
                hostname: dnsLabel().default("omni-provider").describe("The provider's node name in the tailnet"),
                tags: z
                    .array(TailscaleTag)
                    .min(
                        1,
                        "tag the node (e.g. tag:omni-provider): tagged nodes do not expire and ACLs can target them",
                    )
                    .describe("Tags of its auth key: tagged nodes do not expire and ACLs can target them"),
                image: PinnedImageSchema.default(images.tailscale).describe("The Tailscale sidecar image, pinned"),
            })
            .describe("The provider's Tailscale sidecar: hostname, tags (at least one), pinned image"),
        omniInsecureSkipVerify: z
            .boolean()
            .default(false)
            .describe("The provider's --insecure-skip-verify: skips TLS verification of Omni (not Proxmox)"),
        leastPrivilege: z
            .strictObject({
                enabled: z
                    .boolean()
                    .default(true)
                    .describe("Create the provider's own Proxmox user, role, token and ACL"),
                userId: z
                    .string()
                    .regex(/^[^@!\s:]+@[^@!\s:]+$/, "user@realm, e.g. omni-provider@pve")
                    .default("omni-provider@pve")
                    .describe("The Proxmox user (user@realm)"),
                roleId: z
                    .string()
                    .regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, '_', '.', '-'")
                    .default("OmniInfraProvider")
                    .describe("The Proxmox role with privileges"),
                tokenName: z
                    .string()
                    .regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, "starts with a letter; letters, digits, '_', '.', '-'")
                    .default("omni-provider")
                    .describe("The user's API token name"),
                privileges: z
                    .array(z.string().regex(/^[A-Z][A-Za-z]*(\.[A-Za-z]+)+$/, "a Proxmox privilege like VM.Allocate"))
                    .min(1)
                    .default(() => [...defaultProviderPrivileges])
                    .describe(
                        "The role's Proxmox privileges (machine classes with PCI/USB mappings or HA add what they need)",
                    ),
                path: z
                    .string()
                    .startsWith("/", "an ACL path such as / or /pool/omni")
                    .default("/")
                    .describe("The ACL path the role applies to, e.g. / or /pool/omni"),
            })
            .prefault({})
            .describe(
                "A dedicated Proxmox user, role, token and ACL for the provider; with enabled false, set proxmoxTokenId and the secret proxmoxTokenSecret",
            ),
    })
    .superRefine((s, ctx) => {
        singleLineStrings(s, ctx);
        const problem = providerImageProblem(s.image, {
            ...defaultProviderImageRules,
            patchedTags: s.patchedImageTags,
        });
        if (problem) ctx.addIssue({ code: "custom", path: ["image"], message: problem, input: s.image });
    });

export type ProxmoxInfraProviderSettings = z.input<typeof ProxmoxInfraProviderSettingsSchema>;
export type ParsedProviderSettings = z.output<typeof ProxmoxInfraProviderSettingsSchema>;

export interface ProxmoxApiConfig {
    url: string;
    tokenId: string;
    tokenSecret: string;
    insecureSkipVerify: boolean;
}

/** The provider's `--config-file` (its `proxmox:` block, omni-infra-provider-proxmox `internal/pkg/config/config.go`). */
export function renderProviderConfig(c: ProxmoxApiConfig): string {
    return YAML.stringify({
        proxmox: {
            url: c.url,
            tokenID: c.tokenId,
            tokenSecret: c.tokenSecret,
            insecureSkipVerify: c.insecureSkipVerify,
        },
    });
}

/**
 * A Proxmox API token value split into the config file's tokenID and tokenSecret. Accepts the full
 * `user@realm!name=secret` form or a bare secret (then `tokenId` names it).
 */
export function splitTokenValue(value: string, tokenId: string): { tokenId: string; tokenSecret: string } {
    const eq = value.indexOf("=");
    return eq === -1
        ? { tokenId, tokenSecret: value }
        : { tokenId: value.slice(0, eq), tokenSecret: value.slice(eq + 1) };
}

export interface ProviderCommandOptions {
    providerId: string;
    omniApiEndpoint: string;
    omniInsecureSkipVerify: boolean;
}

/** The provider's flags. The key is not here: it goes in OMNI_SERVICE_ACCOUNT_KEY so `docker inspect`'s Cmd shows no secret. */
export function providerCommand(o: ProviderCommandOptions): string[] {
    let url: URL | undefined;
    try {
        url = new URL(o.omniApiEndpoint);
    } catch {
        url = undefined;
    }
    if (!url || !["https:", "http:"].includes(url.protocol)) {
        throw new ConfigError([
            {
                key: "omniApiEndpoint",
                value: o.omniApiEndpoint,
                message: "the Omni API URL, e.g. https://omni.example.com/",
            },
        ]);
    }
    return [
        `--id=${o.providerId}`,
        `--omni-api-endpoint=${o.omniApiEndpoint}`,
        `--config-file=${CONFIG_PATH}`,
        ...(o.omniInsecureSkipVerify ? ["--insecure-skip-verify"] : []),
    ];
}

/** containerboot settings of the sidecar (tailscale `cmd/containerboot/main.go`), besides TS_AUTHKEY, which the component adds as a secret. */
/**
 * Installs Docker in the LXC. Idempotent: a re-run on a ready LXC only re-checks. Run with `sh -s` (as root) or
 * `sudo -n sh -s` (another user, who then joins the docker group so the Docker provider can use the socket).
 */
export const dockerInstallScript = `set -eu
if [ ! -c /dev/net/tun ]; then
  echo "/dev/net/tun is missing: the LXC needs the /dev/net/tun device passthrough for the Tailscale sidecar" >&2
  exit 1
fi
if ! command -v docker >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q docker.io
fi
systemctl enable --now docker
if [ -n "\${SUDO_USER:-}" ]; then usermod -aG docker "$SUDO_USER"; fi
docker info >/dev/null
`;

/** The command that feeds `dockerInstallScript` on stdin. */
export function dockerInstallCommand(sshUser: string): string {
    return sshUser === "root" ? "sh -s" : "sudo -n sh -s";
}

/**
 * Runs on `pulumi destroy` before the provider stops: waits for VMs the provider made (tagged `machine-request.*`)
 * to go, and fails with the list when they stay, so a destroy never leaves Talos VMs running with nothing managing them.
 * Reads PVE_API_URL and PVE_API_TOKEN (`user@realm!name=secret`) from the environment. The token reaches curl on stdin
 * (`-H @-`, a header file), not in its arguments, which `ps` shows to every user of the operator's machine; each request
 * is bounded (`requestSeconds`, connecting within 10 s), so a hung API fails the destroy instead of outliving the wait.
 */
export function vmGuardScript(o: {
    insecureSkipVerify: boolean;
    waitSeconds: number;
    requestSeconds?: number;
}): string {
    const curl = `curl -fsS --connect-timeout 10 --max-time ${o.requestSeconds ?? 30} ${o.insecureSkipVerify ? "-k " : ""}-H @-`;
    return `set -eu
deadline=$(( $(date +%s) + ${o.waitSeconds} ))
while :; do
  body=$(printf 'Authorization: PVEAPIToken=%s\\n' "$PVE_API_TOKEN" | ${curl} "$PVE_API_URL/cluster/resources?type=vm")
  vms=$(printf '%s' "$body" | tr '{' '\\n' | grep '"tags":"[^"]*machine-request\\.' | grep -o '"name":"[^"]*"' | cut -d'"' -f4 | tr '\\n' ' ' || true)
  [ -z "$vms" ] && exit 0
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "Omni-provisioned VMs still exist: $vms" >&2
    echo "Delete their clusters in Omni first (omnictl cluster delete <name>) so the provider removes them, then destroy again." >&2
    exit 1
  fi
  sleep 10
done
`;
}

import * as fs from "node:fs";
import * as path from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { readYaml } from "../components/core/yaml-read";
import { z } from "zod";
import { ClusterSpecSchema, renderClusterTemplate } from "../components/omni/cluster-render";
import { CLOUDFLARE_TOKEN_PERMISSIONS } from "../components/edge/acme-certificate-render";
import { MachineClassSpecSchema } from "../components/omni/machine-class-render";
import { OmniHubSettingsSchema } from "../components/hub/settings";
import { PreflightSettingsSchema } from "../components/proxmox/preflight-render";
import { ProxmoxHostDnsSettingsSchema } from "../components/proxmox/dns-rules";
import { ProxmoxInfraProviderSettingsSchema } from "../components/proxmox/provider-render";
import { ConfigError, ConfigIssue, uniqueBy, zodIssues } from "../components/core/validation";
import { remember, secretLeaves } from "./stack-secrets";

/**
 * The Pulumi SDK, loaded when a program reads its config: `omni-scale import`, `restore` and `certificate-due` read
 * stack files through this module without it (loading it was most of such a command's start: 0.8 s).
 */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const sdk = () => require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");

/** The Pulumi project name: config keys are `omni-scale:<key>`. */
export const PROJECT = "omni-scale";
const key = (k: string) => `${PROJECT}:${k}`;

/** Secret config keys per role; each must be set with `pulumi config set --secret`. */
export const secretKeys = {
    hub: [
        "etcdGpgKey",
        "tlsCertificate",
        "tlsPrivateKey",
        "oidcClientSecret",
        "hubBackupS3AccessKeyId",
        "hubBackupS3SecretAccessKey",
        "cloudflareApiToken",
    ],
    workloads: ["proxmoxTokenSecret"],
} as const;

/** What each secret key holds (the configuration reference and the stack file schema say it). */
export const secretKeyNotes: Record<(typeof secretKeys)[keyof typeof secretKeys][number], string> = {
    etcdGpgKey:
        "An armored OpenPGP secret key without passphrase, with an encryption subkey, for Omni's etcd; generated once when unset.",
    tlsCertificate: "PEM certificate chain for omniDomain, with tls.mode config.",
    tlsPrivateKey: "PEM private key of tlsCertificate, with tls.mode config.",
    oidcClientSecret: "The OIDC client secret, with auth.oidc.",
    hubBackupS3AccessKeyId: "S3 access key id for hub.backup.s3 uploads.",
    hubBackupS3SecretAccessKey: "S3 secret access key for hub.backup.s3 uploads.",
    cloudflareApiToken: `Cloudflare API token with ${CLOUDFLARE_TOKEN_PERMISSIONS}, with hub.dns.cloudflare (and tls.mode acme).`,
    proxmoxTokenSecret:
        "The Proxmox API token secret of proxmoxTokenId, with infraProvider.leastPrivilege.enabled false.",
};

/** The keys of a hub stack (quantum), beside `role`. */
export const HubKeys = z
    .object({
        hub: OmniHubSettingsSchema.describe("The hub: Omni, its Tailscale sidecar and their Docker host"),
    })
    .strict();

/** The fix for a hub stack named without its organization and project: the same stack, fully qualified. */
function fullyQualified(name: unknown): string {
    const parts = String(name).split("/").filter(Boolean);
    const stack = parts.at(-1) ?? "<stack>";
    const org = parts.length === 2 ? parts[0] : "organization";
    return `use the fully qualified name \`${org}/${PROJECT}/${stack}\` (<organization>/<project>/<stack>; a local backend's organization is the literal \`organization\`)`;
}

/** The keys of a workload stack (matrix), beside `role`. */
export const WorkloadKeys = z
    .object({
        hubStack: z
            .string()
            .default("organization/omni-scale/quantum")
            .pipe(z.string().regex(/^[\w.-]+\/[\w.-]+\/[\w.-]+$/, { error: (issue) => fullyQualified(issue.input) }))
            .describe(
                "The fully qualified hub stack whose outputs this stack reads (a local backend's org is `organization`)",
            ),
        hostDns: ProxmoxHostDnsSettingsSchema.describe(
            "The resolvers of the Proxmox nodes: booting Talos VMs must resolve the Omni name to the hub's LAN IP",
        ),
        preflight: PreflightSettingsSchema.optional().describe(
            "Checks from every Proxmox node (over SSH) that booting VMs can reach Omni, before any class or cluster is applied; optional but recommended",
        ),
        infraProvider: ProxmoxInfraProviderSettingsSchema.describe(
            "The Omni Proxmox infra provider, in an LXC with Docker and a Tailscale sidecar",
        ),
        proxmoxTokenId: z
            .string()
            .regex(/^[^@!\s]+@[^!\s]+![\w.-]+$/, "use the form `user@realm!tokenid`")
            .optional()
            .describe(
                "An existing Proxmox token (user@realm!tokenid), only with infraProvider.leastPrivilege.enabled false",
            ),
        // Omni ids are global: a second class or cluster of the same name would overwrite the first.
        machineClasses: z
            .array(MachineClassSpecSchema)
            .default([])
            .superRefine(
                uniqueBy(
                    (c) => c.name,
                    "machine class names must be unique (Omni ids are global: a repeat overwrites the first)",
                    "name",
                ),
            )
            .describe("Omni machine classes that auto-provision VMs through this provider"),
        clusters: z
            .array(ClusterSpecSchema)
            .default([])
            .superRefine(uniqueBy((c) => c.name, "cluster names must be unique (Omni ids are global)", "name"))
            .describe(
                "Omni cluster templates; a patch or manifest `file:` is read relative to the project directory and rendered inline",
            ),
    })
    .strict();

export type Secret = pulumi.Output<string>;

export interface HubStackConfig {
    role: "hub";
    hub: z.output<typeof OmniHubSettingsSchema>;
    secrets: Partial<Record<(typeof secretKeys.hub)[number], Secret>>;
}

export interface WorkloadStackConfig extends z.output<typeof WorkloadKeys> {
    role: "workloads";
    secrets: Partial<Record<(typeof secretKeys.workloads)[number], Secret>>;
}

export type StackConfig = HubStackConfig | WorkloadStackConfig;

/** Config as the Pulumi runtime holds it: `omni-scale:key` → string (objects JSON-encoded). */
export type RawConfig = Record<string, string>;

function decode(raw: string): unknown {
    try {
        return JSON.parse(raw);
    } catch {
        return raw;
    }
}

/**
 * Reads and validates one stack's config. Every problem is collected and thrown at once as a ConfigError
 * naming each key, its value and the fix, before any resource is registered.
 */
export function loadStackConfig(raw: RawConfig, secret: ReadonlySet<string>): StackConfig {
    const issues: ConfigIssue[] = [];
    const role = raw[key("role")];
    if (role !== "hub" && role !== "workloads") {
        throw new ConfigError([
            {
                key: key("role"),
                value: role,
                message: "set `hub` for the management stack (quantum) or `workloads` for a workload stack (matrix)",
            },
        ]);
    }

    const own = Object.keys(raw)
        .filter((k) => k.startsWith(`${PROJECT}:`))
        .map((k) => k.slice(PROJECT.length + 1));
    const secrets: Record<string, Secret> = {};
    for (const k of secretKeys[role]) {
        if (raw[key(k)] === undefined) continue;
        if (!secret.has(key(k))) {
            issues.push({
                key: key(k),
                message: `is stored in plain text; set it with \`pulumi config set --secret ${k} ...\``,
            });
        }
        // An Output when a program first reads it: `omni-scale import` checks stack files without the SDK.
        const value = raw[key(k)];
        let output: Secret | undefined;
        Object.defineProperty(secrets, k, {
            enumerable: true,
            get: () => (output ??= sdk().secret(value)),
        });
    }
    // hubStack has a project-wide default (Pulumi.yaml), so a hub stack sees it too and ignores it.
    const ignored = role === "hub" ? ["role", "hubStack"] : ["role"];
    const plain = Object.fromEntries(
        own
            .filter((k) => !ignored.includes(k) && !(secretKeys[role] as readonly string[]).includes(k))
            .map((k) => [k, decode(raw[key(k)])]),
    );

    const schema = role === "hub" ? HubKeys : WorkloadKeys;
    const parsed = schema.safeParse(plain, { reportInput: true });
    if (!parsed.success) {
        // Issue paths start with the config key itself, so the prefix is just the namespace.
        issues.push(
            ...zodIssues(parsed.error, PROJECT, schema).map((i) => ({
                ...i,
                key: i.key.replace(`${PROJECT}.`, `${PROJECT}:`),
            })),
        );
    }
    if (parsed.success && role === "workloads") {
        issues.push(...crossCheckWorkloads(parsed.data as z.output<typeof WorkloadKeys>, secrets));
    }
    if (parsed.success && role === "hub") {
        issues.push(...crossCheckHub(parsed.data as z.output<typeof HubKeys>, secrets));
    }
    if (issues.length > 0) throw new ConfigError(issues);
    return { role, ...(parsed.data as object), secrets } as StackConfig;
}

/** Settings that need a secret: the Cloudflare token for the public record and ACME challenges. */
function crossCheckHub(cfg: z.output<typeof HubKeys>, secrets: Record<string, Secret>): ConfigIssue[] {
    if (!cfg.hub.dns?.cloudflare || "cloudflareApiToken" in secrets) return [];
    return [
        {
            key: key("cloudflareApiToken"),
            message: `is required with hub.dns.cloudflare: a Cloudflare API token with ${CLOUDFLARE_TOKEN_PERMISSIONS}, set with \`pulumi config set --secret cloudflareApiToken ...\``,
        },
    ];
}

/** Rules that span keys: provider ids must match exactly, clusters must name classes this stack defines. */
function crossCheckWorkloads(cfg: z.output<typeof WorkloadKeys>, secrets: Record<string, Secret>): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    const providerId = cfg.infraProvider.providerId;
    cfg.machineClasses.forEach((mc, i) => {
        if (mc.providerId !== providerId) {
            const hint = mc.providerId.toLowerCase() === providerId.toLowerCase() ? " (ids are case-sensitive)" : "";
            issues.push({
                key: key(`machineClasses[${i}].providerId`),
                value: mc.providerId,
                message: `must equal infraProvider.providerId "${providerId}"${hint}; Omni rejects requests for another provider id`,
            });
        }
    });
    // A class pinned to a node whose DNS this stack does not manage would boot VMs that may resolve Omni wrongly.
    const managed = new Set(cfg.hostDns.nodes);
    cfg.machineClasses.forEach((mc, i) => {
        const pinned = [
            ...(mc.providerData.node ? [["node", mc.providerData.node]] : []),
            ...(mc.providerData.ha?.node_affinity_nodes ?? []).map((n, j) => [
                `ha.node_affinity_nodes[${j}]`,
                n.split(":")[0],
            ]),
        ];
        for (const [at, node] of pinned) {
            if (managed.has(node)) continue;
            issues.push({
                key: key(`machineClasses[${i}].providerData.${at}`),
                value: node,
                message: `Proxmox node ${node} is not in hostDns.nodes (${[...managed].join(", ")}): add it there, so its VMs resolve Omni's name to the LAN IP while booting, or fix the name`,
            });
        }
    });
    // Rendering each template here surfaces unknown machine classes with the other config errors, before any resource.
    const classes = cfg.machineClasses.map((mc) => mc.name);
    cfg.clusters.forEach((cluster, i) => {
        try {
            renderClusterTemplate(cluster, classes, key(`clusters[${i}]`));
        } catch (e) {
            if (!(e instanceof ConfigError)) throw e;
            issues.push(...e.issues);
        }
    });
    if (cfg.preflight) {
        // The preflight runs on the nodes whose resolvers this stack sets, all of them.
        const named = cfg.preflight.nodes.map((n) => n.name);
        const missing = cfg.hostDns.nodes.filter((n) => !named.includes(n));
        if (missing.length) {
            issues.push({
                key: key("preflight.nodes"),
                message: `has no entry for ${missing.join(", ")}: add { name, address } for every node in hostDns.nodes (Talos VMs can land on any of them)`,
            });
        }
        cfg.preflight.nodes.forEach((n, i) => {
            if (!cfg.hostDns.nodes.includes(n.name)) {
                issues.push({
                    key: key(`preflight.nodes[${i}].name`),
                    value: n.name,
                    message: `is not in hostDns.nodes (${cfg.hostDns.nodes.join(", ")}): add it there so its resolver is set before the check, or fix the name`,
                });
            }
        });
    }
    if (!cfg.infraProvider.leastPrivilege.enabled) {
        // Without a dedicated identity the provider needs an existing token.
        if (!cfg.proxmoxTokenId)
            issues.push({
                key: key("proxmoxTokenId"),
                message: "is required when infraProvider.leastPrivilege.enabled is false",
            });
        if (!("proxmoxTokenSecret" in secrets))
            issues.push({
                key: key("proxmoxTokenSecret"),
                message:
                    "is required when infraProvider.leastPrivilege.enabled is false: `pulumi config set --secret proxmoxTokenSecret ...`",
            });
    }
    return issues;
}

/**
 * The config of the running Pulumi stack (what `pulumi up` passes to the program). The secret values inside structured
 * keys (`pulumi config set --secret --path clusters[0]…`) are remembered first, found through `stackFile` (the stack's
 * `Pulumi.<stack>.yaml` in the project directory by default): the CLI passes such a key whole, with no mark on the
 * value that is secret, and programs.ts keeps every resource input and output that shows one secret.
 */
export function currentStackConfig(stackFile = path.resolve(`Pulumi.${sdk().getStack()}.yaml`)): StackConfig {
    const raw = sdk().runtime.allConfig();
    // isConfigSecret is exported at runtime but marked internal in the typings.
    const isSecretKey = (sdk().runtime as unknown as { isConfigSecret(k: string): boolean }).isConfigSecret;
    const secret = new Set(Object.keys(raw).filter((k) => isSecretKey(k)));
    const typed = new Set<string>(Object.values(secretKeys).flatMap((keys) => keys.map(key)));
    const structured = [...secret].filter((k) => !typed.has(k));
    if (structured.length > 0) {
        const fileConfig = stackFileConfig(stackFile);
        for (const k of structured)
            for (const value of secretLeaves(fileConfig[k], decode(raw[k]))) remember(value, true);
    }
    return loadStackConfig(raw, secret);
}

/** The `config:` map of a stack file, or nothing when it cannot be read (config from elsewhere, e.g. ESC). */
function stackFileConfig(file: string): Record<string, unknown> {
    try {
        return (readYaml(fs.readFileSync(file, "utf8")) as any)?.config ?? {};
    } catch {
        return {};
    }
}

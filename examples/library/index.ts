import * as pulumi from "@pulumi/pulumi";
import { OmniCluster, OmniHub, OmniMachineClass, ProxmoxInfraProvider } from "omni-scale";

/**
 * A whole Omni platform from the library: the hub (Omni and its Tailscale sidecar on a Docker host), the Proxmox infra
 * provider registered with it, two machine classes and a cluster, whose kubeconfig a downstream stack reads.
 * The secrets come from this stack's secret config (`pulumi config set --secret …`).
 */
export function platform() {
    const config = new pulumi.Config();

    const hub = new OmniHub("omni", {
        // Settings as written: OmniHub applies the defaults and names a bad value by its path (omni.settings.…).
        settings: {
            omniDomain: "omni.example.com",
            lanIp: "192.168.10.20",
            initialUsers: ["admin@example.com"],
            eula: { name: "Example Admin", email: "admin@example.com" },
            auth: { auth0: { domain: "dev-example.us.auth0.com", clientId: "example-client-id" } },
            tls: { mode: "hostFiles", certPath: "/etc/omni/tls.crt", keyPath: "/etc/omni/tls.key" },
            dockerHost: "ssh://deploy@192.168.10.20",
            infraProviders: ["proxmox"],
        },
        etcdKey: config.getSecret("etcdGpgKey"),
    });

    const provider = new ProxmoxInfraProvider("proxmox", {
        settings: {
            providerId: "proxmox",
            proxmox: { url: "https://192.168.3.5:8006/api2/json" },
            lxc: {
                node: "pve1",
                vmId: 200,
                ipv4: "192.168.3.10/24",
                gateway: "192.168.3.1",
                dns: { domain: "example.lan", servers: ["192.168.3.1"] },
                template: {
                    url: "http://download.proxmox.com/images/system/debian-12-standard_12.7-1_amd64.tar.zst",
                },
                sshPublicKeys: [
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExample operator@laptop",
                ],
            },
            tailscale: { hostname: "proxmox-provider", tags: ["tag:omni-provider"] },
        },
        omniApiEndpoint: hub.apiUrl,
        infraProviderKey: hub.infraProviderKey("proxmox"),
    });

    // The hub's automation key (initialServiceAccount, on by default): what applies classes and clusters.
    const access = { omniEndpoint: hub.apiUrl, serviceAccountKey: hub.automationKey };
    const providerData = { cores: 4, memory: 8192, disk_size: 40, storage_selector: 'name == "local-lvm"' };
    const classes = [
        new OmniMachineClass(
            "control-plane",
            { spec: { name: "control-plane", providerId: "proxmox", providerData }, ...access },
            { dependsOn: [provider] },
        ),
        new OmniMachineClass(
            "worker",
            { spec: { name: "worker", providerId: "proxmox", providerData: { ...providerData, cores: 8 } }, ...access },
            { dependsOn: [provider] },
        ),
    ];
    const cluster = new OmniCluster("prod", {
        spec: {
            name: "prod",
            controlPlane: { machineClass: "control-plane", size: 3 },
            workers: [{ machineClass: "worker", size: 2 }],
        },
        machineClasses: classes,
        // Omni refuses a backupInterval outside the hub's range: the cluster checks against it.
        etcdBackupIntervals: hub.etcdBackupIntervals,
        ...access,
    });

    return {
        omniApiUrl: hub.apiUrl,
        accountId: hub.accountId,
        // For the downstream stack (a StackReference reads it): a secret, like the cluster's own output.
        kubeconfig: pulumi.secret(cluster.kubeconfig),
        clusterStatus: cluster.status,
    };
}

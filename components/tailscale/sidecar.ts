import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as tailscale from "@pulumi/tailscale";
import { adoptedVolume, stateVolumeLabels } from "../core/state-volumes";
import { TAILSCALE_STATE_DIR, tailscaleEnvs, tailscaleHealthcheck } from "./sidecar-render";

export interface TailscaleSidecarArgs {
    /** Docker names: the container is `<containerName>`, its state volume `<stateVolumeName>`. */
    containerName: string;
    stateVolumeName: string;
    hostname: string;
    tags: string[];
    image: string;
    /** Life of the created auth key: it only has to last until the first login. */
    keyExpirySeconds: number;
    /** Shown in the Tailscale admin console. Changing it replaces the key, and so the sidecar. */
    keyDescription?: string;
    /** A given auth key (or OAuth client secret) instead of creating one. */
    authKey?: pulumi.Input<string>;
    /** How long `up` waits for the sidecar to be healthy (on the tailnet, DNS working) before what joins it starts. */
    waitTimeoutSeconds: number;
    /** Ports published for the namespace's other containers (the sidecar owns the namespace). */
    ports?: pulumi.Input<docker.types.input.ContainerPort>[];
    logOpts?: Record<string, string>;
    /** Keep the image on the host when it is replaced or destroyed (going back needs no pull). */
    keepImageLocally?: boolean;
    /** Import this existing volume as the state volume instead of creating one. */
    adoptStateVolume?: string;
}

/**
 * One Tailscale sidecar, as the hub and the provider both run it: a single-use tagged auth key, a protected state
 * volume, and a kernel-mode container whose network namespace the workload joins. Registered under `parent` with
 * names `<name>-tailscale-key`, `<name>-tailscale-image`, `<name>-tailscale-state` and `<name>-tailscale`.
 */
export function tailscaleSidecar(
    name: string,
    a: TailscaleSidecarArgs,
    opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource },
) {
    // Single-use, preauthorized, tagged and short-lived: after the first login the node lives on its persisted state
    // (TS_AUTH_ONCE). Not ephemeral: an ephemeral node is removed while offline and could not come back from its state.
    // "never": a spent or expired key must not be recreated, which would change TS_AUTHKEY and replace the containers.
    const authKey =
        a.authKey ??
        new tailscale.TailnetKey(
            `${name}-tailscale-key`,
            {
                reusable: false,
                ephemeral: false,
                preauthorized: true,
                tags: a.tags,
                expiry: a.keyExpirySeconds,
                recreateIfInvalid: "never",
                description: a.keyDescription,
            },
            { parent: opts.parent },
        ).key;
    const image = new docker.RemoteImage(
        `${name}-tailscale-image`,
        { name: a.image, keepLocally: a.keepImageLocally },
        opts,
    );
    // Losing it re-registers the node as <hostname>-1: never replaced or deleted by a routine `up` or `destroy`.
    const stateVolume = new docker.Volume(
        `${name}-tailscale-state`,
        { name: a.stateVolumeName, labels: stateVolumeLabels("tailscale-state") },
        {
            ...opts,
            protect: true,
            retainOnDelete: true,
            ...adoptedVolume(a.adoptStateVolume),
        },
    );
    const container = new docker.Container(
        `${name}-tailscale`,
        {
            name: a.containerName,
            image: image.imageId,
            hostname: a.hostname,
            envs: [pulumi.secret(pulumi.interpolate`TS_AUTHKEY=${authKey}`), ...tailscaleEnvs(a)],
            volumes: [{ volumeName: stateVolume.name, containerPath: TAILSCALE_STATE_DIR }],
            devices: [{ hostPath: "/dev/net/tun", containerPath: "/dev/net/tun" }],
            // Kernel networking needs NET_ADMIN; the seed's SYS_MODULE is left out (an unprivileged LXC cannot load modules).
            capabilities: { adds: ["NET_ADMIN"] },
            ports: a.ports,
            healthcheck: tailscaleHealthcheck,
            wait: true,
            waitTimeout: a.waitTimeoutSeconds,
            restart: "unless-stopped",
            logOpts: a.logOpts,
        },
        { ...opts, deleteBeforeReplace: true },
    );
    return { container, stateVolume };
}

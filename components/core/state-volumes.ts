/** The Docker label that says what a volume holds, so the policy pack need not guess from names. */
export const STATE_ROLE_LABEL = "omni-scale.role";

/** Roles of volumes whose loss costs days: Tailscale state (the node renames to <host>-1) and Omni data (etcd, SQLite). */
export const STATE_ROLES = ["tailscale-state", "omni-data"] as const;
export type StateRole = (typeof STATE_ROLES)[number];

export const stateVolumeLabels = (role: StateRole) => [{ label: STATE_ROLE_LABEL, value: role }];

/**
 * Resource options that adopt an existing Docker volume by name (its id in the Docker provider) instead of creating
 * one. Docker cannot relabel a volume, so its own labels and driver are kept (else the import fails on the diff).
 */
export const adoptedVolume = (volume: string | undefined) =>
    volume === undefined ? {} : { import: volume, ignoreChanges: ["labels", "driver", "driverOpts"] };

// The Omni hub: Omni and its Tailscale sidecar on a Docker host, the etcd encryption key, and the hub's own backup.
export * from "./omni-hub";
// Not `export *`: the etcd key's dynamic provider stays internal (the plan's closure cache names it by its own module).
export { OmniEtcdKey } from "./etcd-key";
export type { OmniEtcdKeyArgs } from "./etcd-key";
export * from "./backup";
export { etcdKeyProblems, generateEtcdKey, keyFingerprint } from "./etcd-key-rules";
export { OmniHubSettingsSchema, ETCD_BACKUP_DEFAULTS } from "./settings";
export { HubBackupSettingsSchema, hubBackupWarnings } from "./backup-render";
export type { HubBackupSettings, HubBackupSettingsInput } from "./backup-render";
export type { OmniHubSettings, OmniHubSettingsInput } from "./settings";
export { renderOmniFlags, hubEndpoints } from "./omni-flags";

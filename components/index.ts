// The library: `import { OmniHub, ProxmoxInfraProvider, OmniMachineClass, OmniCluster } from "omni-scale"`.
export * from "./omni-hub";
export * from "./etcd-key";
export { etcdKeyProblems, generateEtcdKey, keyFingerprint } from "./etcd-key-rules";
export * from "./proxmox-host-dns";
export { resolverProblem, ProxmoxHostDnsSettingsSchema } from "./proxmox-dns-rules";
export * from "./proxmox-infra-provider";
export * from "./omni-machine-class";
export * from "./omni-cluster";
export * from "./hub-backup";
export * from "./proxmox-preflight";
// These two load their providers (@pulumi/cloudflare, @pulumiverse/acme) only when constructed.
export * from "./cloudflare-record";
export * from "./acme-certificate";
// Pure renderers and checks, for programs that compose their own resources.
export { OmniHubSettingsSchema } from "./hub-settings";
export { renderOmniFlags, hubEndpoints } from "./omni-flags";
export { auth0DomainProblem, wireguardAddrProblem } from "./address-rules";
export type { OmniHubSettings, OmniHubSettingsInput } from "./hub-settings";
export { ProxmoxInfraProviderSettingsSchema, renderProviderConfig, defaultProviderPrivileges } from "./proxmox-provider-render";
export type { ProxmoxInfraProviderSettings } from "./proxmox-provider-render";
export { MachineClassSpecSchema, ProviderDataSchema, renderMachineClass, machineClassDocProblems } from "./machine-class-render";
export type { MachineClassSpec, ProviderData } from "./machine-class-render";
export { ClusterSpecSchema, renderClusterTemplate, clusterTemplateProblems } from "./cluster-render";
export type { ClusterSpec } from "./cluster-render";
export { tlsProblems } from "./tls";
export { imagePinProblem, providerImageProblem } from "./images";
export { omniUpgradeProblem, clusterUpgradeProblem, hubEndpointProblems } from "./upgrades";
export { ConfigError } from "./validation";
export type { ConfigIssue } from "./validation";
export { versions, images } from "./versions";

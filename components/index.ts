// The library: `import { OmniHub, ProxmoxInfraProvider, OmniMachineClass, OmniCluster } from "omni-scale"`.
// Each folder is a domain; its index says what it offers. Pure renderers and checks are exported beside the
// components, for programs that compose their own resources.
export * from "./hub";
export * from "./proxmox";
export * from "./omni";
export * from "./edge";
export * from "./core";

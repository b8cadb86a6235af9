// The Proxmox side: split-horizon DNS on the nodes, the Omni infra provider in an LXC container, and the preflight
// that checks what a booting Talos VM will see.
export * from "./host-dns";
export * from "./infra-provider";
export * from "./preflight";
export { resolverProblem, ProxmoxHostDnsSettingsSchema } from "./dns-rules";
export { renderProviderConfig, defaultProviderPrivileges } from "./provider-render";
export { preflightTarget } from "./preflight-render";

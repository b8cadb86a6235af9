// Omni resources applied with omnictl: machine classes and cluster templates, with their schemas and renderers.
export * from "./machine-class";
export * from "./cluster";
export {
    MachineClassSpecSchema,
    ProviderDataSchema,
    renderMachineClass,
    machineClassDocProblems,
} from "./machine-class-render";
export type { MachineClassSpec, ProviderData } from "./machine-class-render";
export { ClusterSpecSchema, renderClusterTemplate, clusterTemplateProblems } from "./cluster-render";
export type { ClusterSpec } from "./cluster-render";
export { talosPatchProblems, talosSchemaMinors } from "./talos-patches";
export { talosPatchTemplateProblems } from "./cluster-render";

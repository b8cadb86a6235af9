// Omni resources applied with omnictl: machine classes and clusters (resources Pulumi reads), their schemas, renderers
// and how they compare with what Omni holds.
export * from "./machine-class";
export * from "./cluster";
export {
    MachineClassSpecSchema,
    ProviderDataSchema,
    renderMachineClass,
    machineClassDocProblems,
    privilegesForProviderData,
} from "./machine-class-render";
export type { MachineClassSpec, ProviderData } from "./machine-class-render";
export { ClusterSpecSchema, renderClusterTemplate, clusterTemplateProblems } from "./cluster-render";
export type { ClusterSpec } from "./cluster-render";
export { talosPatchProblems, talosSchemaMinors } from "./talos-patches";
export { talosPatchTemplateProblems } from "./cluster-render";
export {
    clusterState,
    machineClassState,
    changedFields,
    parseClusterStatus,
    isClusterReady,
    omniReasons,
    removedClusterProblems,
} from "./omni-state";
export type { ClusterState, MachineClassState, ClusterStatus } from "./omni-state";

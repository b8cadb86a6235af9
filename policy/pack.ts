import { PolicyPackArgs } from "@pulumi/policy";
import { hubPolicies } from "./hub";
import { hubBackupPolicies } from "./hub-backup";
import { imagePolicies } from "./images";
import { omniResourcePolicies } from "./omni-resources";
import { proxmoxPolicies } from "./proxmox";
import { foldByResourceType, shareDeserializedProperties } from "./props";
import { publicEndpointPolicies } from "./public-endpoint";
import { remoteAccessPolicies } from "./remote-access";
import { decodeStructsAsArrays } from "./struct-decode";

// Wherever the policies run (the pack process, the plan's and tests' in-process analyses): each request's properties
// decoded into google-protobuf's array form, and deserialized once, as policies read them.
decodeStructsAsArrays();
shareDeserializedProperties();

/** The pack's policies, without a gRPC server, so tests and the offline plan can import them (index.ts serves them). */
export const packArgs: PolicyPackArgs = {
    description:
        "Omni-Scale: the deployment gotchas of a self-hosted Omni hub and the Omni Proxmox infra provider, as policies.",
    enforcementLevel: "mandatory",
    policies: [
        ...hubPolicies,
        ...hubBackupPolicies,
        ...proxmoxPolicies,
        ...imagePolicies,
        ...omniResourcePolicies,
        ...remoteAccessPolicies,
        ...publicEndpointPolicies,
    ].map(foldByResourceType),
};

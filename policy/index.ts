import { PolicyPack } from "@pulumi/policy";
import { packArgs } from "./pack";

// Constructing the pack starts its gRPC server, so this is the only file that does it.
new PolicyPack("omni-scale", packArgs);

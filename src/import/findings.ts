import { ConfigIssue } from "../../components/core/validation";

/** Which stack file a key or secret belongs to. */
export type StackRole = "hub" | "workloads";

/** Something in the inputs, named with the file it came from. */
export interface Finding {
    source: string;
    message: string;
}

/** A secret found in the inputs. Its value is never copied: the import prints the command that sets `key`. */
export interface FoundSecret {
    source: string;
    /** Where in the source, e.g. `proxmox.tokenSecret` or `AUTH --auth-oidc-client-secret`. */
    what: string;
    stack: StackRole;
    /** The secret config key (`src/config.ts` secretKeys). */
    key: string;
    /** A file whose whole content is the value (the etcd key), fed to the command on stdin. */
    file?: string;
}

/** What the import collects besides the config itself. */
export interface Findings {
    /** Config the project refuses, found while reading (the schemas report the rest), with the loader's key/value/fix. */
    issues: ConfigIssue[];
    /** What the stack config cannot carry: named, never silently dropped. */
    unexpressed: Finding[];
    /** What was left out on purpose or needs a step outside the config, with why. */
    notes: Finding[];
    secrets: FoundSecret[];
}

export const newFindings = (): Findings => ({ issues: [], unexpressed: [], notes: [], secrets: [] });

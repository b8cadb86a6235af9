import * as pulumi from "@pulumi/pulumi";

/**
 * Outputs of this stack's last deployment (empty on the first), read through a StackReference to itself,
 * so upgrade rules can compare what runs with what is asked for before anything is registered.
 */
export async function previousOutputs(names: string[]): Promise<Record<string, unknown>> {
    const self = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
    const ref = new pulumi.StackReference("previous-deployment", { name: self });
    const details = await Promise.all(names.map((n) => ref.getOutputDetails(n)));
    return Object.fromEntries(names.map((n, i) => [n, details[i].value ?? details[i].secretValue]));
}

/** The StackReference name `previousOutputs` reads for a stack of this project. */
export const selfReferenceName = (organization: string, project: string, stack: string) =>
    `${organization}/${project}/${stack}`;

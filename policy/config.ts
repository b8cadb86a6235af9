import { PolicyConfigSchema, ResourceValidationArgs } from "@pulumi/policy";

/** What resource and stack validations both offer for reading config. */
export type ConfigSource = Pick<ResourceValidationArgs, "getConfig">;

/**
 * A policy's config: what the engine sent, over the defaults of its schema. The SDK does not apply schema
 * defaults itself, and in-process analysis (tests) sends no config at all, so every policy reads through here.
 */
export function configOf<T>(args: ConfigSource, schema: PolicyConfigSchema): T {
    const defaults = Object.entries(schema.properties)
        .filter(([, property]) => property.default !== undefined)
        .map(([key, property]) => [key, property.default]);
    return { ...Object.fromEntries(defaults), ...args.getConfig<object>() } as T;
}

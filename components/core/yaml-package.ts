/**
 * The yaml package (72 modules), loaded when something first writes YAML or reads a text only it can read (see
 * talos-yaml.ts): the policy pack does neither for most stacks, and each pack process starts without it.
 */
// eslint-disable-next-line @typescript-eslint/no-var-requires
export const yamlPackage = (): typeof import("yaml") => require("yaml");

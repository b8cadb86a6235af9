import { StackConfig } from "./config";
import { matrixProgram } from "./matrix";
import { quantumProgram } from "./quantum";

/** The stack program for a validated config, chosen by its role. */
export function programFor(config: StackConfig): Promise<Record<string, unknown>> {
    return config.role === "hub" ? quantumProgram(config) : matrixProgram(config);
}

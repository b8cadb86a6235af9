import { StackConfig } from "./config";
import { hubProgram } from "./hub-program";
import { workloadsProgram } from "./workloads-program";

/** The stack program for a validated config, chosen by its role (stack names such as quantum or matrix are the user's). */
export function programFor(config: StackConfig): Promise<Record<string, unknown>> {
    return config.role === "hub" ? hubProgram(config) : workloadsProgram(config);
}

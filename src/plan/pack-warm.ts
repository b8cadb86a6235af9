// Preloaded (`node -r`) into each policy pack process the offline plan starts, after the pack guard. The plan writes
// `talos <version>` on the pack's stdin for each Talos version its stack's clusters use, as soon as it has read the
// stack's config (pack-process.ts, warmTalosSchemas). The pack compiles that version's config schema then, which the
// patch check of the first cluster template would otherwise compile when the cluster registers, last (about 0.2 s in
// which the plan only waited for the pack); the pack is idle while the plan's process loads and runs the program.
import { talosPatchProblems } from "../../components/omni/talos-patches";

const warmed = new Set<string>();
let pending = "";
process.stdin.on("data", (chunk: Buffer) => {
    pending += chunk.toString("utf8");
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
        const version = /^talos (\S+)$/.exec(line)?.[1];
        if (!version || warmed.has(version)) continue;
        warmed.add(version);
        // A v1alpha1 patch document: what compiles the schema (a version without one just says so).
        setImmediate(() => talosPatchProblems("machine: {}\n", version));
    }
});

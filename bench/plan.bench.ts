/**
 * `npm run bench`: times the offline plan and the policy pack for the example stacks and generated fleets.
 * Each scenario runs in its own process (cold start, as `npm run plan`), so peak memory is per scenario.
 */
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { loadStackConfig, RawConfig } from "../src/config";
import { programFor } from "../src/programs";
import { CapturedResource, runProgram } from "../src/plan/capture";
import { analyzeInProcess, analyzeWithPack } from "../src/plan/analyze";
import { planStack, POLICY_DIR, readStackFile, REPO_ROOT } from "../src/plan/plan";
import { packArgs } from "../policy/pack";

interface Measurement {
    scenario: string;
    resources: number;
    programMs: number;
    packMs: number;
    policyUsPerResource: number;
    peakRssMb: number;
    criticalPath: string[];
    clustersWaitOnlyForOwnClasses: boolean;
}

/** A matrix config with `clusters` clusters of 10 machines, each on its own control-plane and worker classes. */
function fleet(clusters: number): RawConfig {
    const { config } = readStackFile(path.join(REPO_ROOT, "Pulumi.matrix.yaml"));
    const base = JSON.parse(config["omni-scale:machineClasses"])[0];
    const classes = [];
    const specs = [];
    for (let i = 0; i < clusters; i++) {
        classes.push({ ...base, name: `fleet-${i}-cp` }, { ...base, name: `fleet-${i}-worker`, providerData: { ...base.providerData, cores: 8, memory: 16384 } });
        specs.push({
            name: `fleet-${i}`,
            controlPlane: { machineClass: `fleet-${i}-cp`, size: 3 },
            workers: [{ name: "workers", machineClass: `fleet-${i}-worker`, size: 7 }],
        });
    }
    return { ...config, "omni-scale:machineClasses": JSON.stringify(classes), "omni-scale:clusters": JSON.stringify(specs) };
}

/** Custom resources a resource really waits for: components stand for every custom resource below them. */
function waitsFor(resources: CapturedResource[]): Map<string, Set<string>> {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const children = new Map<string, CapturedResource[]>();
    for (const r of resources) if (r.parent) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
    const customsUnder = (urn: string): string[] => {
        const r = byUrn.get(urn);
        if (!r) return [];
        if (r.custom) return [urn];
        return (children.get(urn) ?? []).flatMap((c) => customsUnder(c.urn));
    };
    const deps = new Map<string, Set<string>>();
    for (const r of resources.filter((x) => x.custom && !x.read && !x.type.startsWith("pulumi:providers:"))) {
        deps.set(r.urn, new Set(r.dependsOn.flatMap(customsUnder).filter((u) => u !== r.urn && !byUrn.get(u)?.read && !byUrn.get(u)?.type.startsWith("pulumi:providers:"))));
    }
    return deps;
}

/** Longest chain of resources that must be created one after another, as resource names. */
function criticalPath(deps: Map<string, Set<string>>): string[] {
    const memo = new Map<string, string[]>();
    const chain = (urn: string): string[] => {
        if (!memo.has(urn)) {
            const longest = [...(deps.get(urn) ?? [])].map(chain).reduce<string[]>((a, b) => (b.length > a.length ? b : a), []);
            memo.set(urn, [...longest, urn.split("::").pop()!]);
        }
        return memo.get(urn)!;
    };
    return [...deps.keys()].map(chain).reduce<string[]>((a, b) => (b.length > a.length ? b : a), []);
}

/** True when each cluster's sync waits for exactly the apply commands of its own classes. */
function clustersIsolated(resources: CapturedResource[], deps: Map<string, Set<string>>): boolean {
    const syncs = resources.filter((r) => r.type === "command:local:Command" && r.name.endsWith("-sync"));
    const applies = new Map(resources.filter((r) => r.name.endsWith("-apply")).map((r) => [r.urn, r.name.replace(/-apply$/, "")]));
    return syncs.every((s) => {
        const cluster = s.name.replace(/-sync$/, "");
        const own = [...(deps.get(s.urn) ?? [])].filter((u) => applies.has(u)).map((u) => applies.get(u)!);
        return own.length > 0 && own.every((c) => c.startsWith(`${cluster}-`) || !cluster.startsWith("fleet-"));
    });
}

async function measure(scenario: string): Promise<Measurement> {
    const start = process.hrtime.bigint();
    const ms = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e6;
    let raw: RawConfig;
    let stack: string;
    if (scenario === "quantum" || scenario === "matrix") {
        raw = readStackFile(path.join(REPO_ROOT, `Pulumi.${scenario}.yaml`)).config;
        stack = scenario;
    } else {
        raw = fleet(Number(scenario.split("-")[1]));
        stack = "matrix";
    }
    const config = loadStackConfig(raw, new Set());
    const hub = stack === "matrix" ? await planStack({ stack: "quantum", skipPolicies: true }) : undefined;
    const stackReferences = {
        "organization/omni-scale/quantum": { outputs: Object.fromEntries(Object.entries(hub?.outputs ?? {}).map(([k, v]: [string, any]) => [k, v?.value ?? v])), secretOutputNames: ["automationKey", "infraProviderKeys", "etcdKeyArmored"] },
        [`organization/omni-scale/${stack}`]: { outputs: {}, secretOutputNames: [] },
    };
    const { resources } = await runProgram(() => programFor(config), { stack, config: raw, stackReferences });
    const programMs = ms(start);

    const packStart = process.hrtime.bigint();
    await analyzeWithPack(POLICY_DIR, resources);
    const packMs = ms(packStart);

    // Policy cost alone, in process, without the pack's start-up; repeated for a stable figure.
    const policyStart = process.hrtime.bigint();
    const rounds = 5;
    for (let i = 0; i < rounds; i++) await analyzeInProcess("omni-scale", packArgs, resources);
    const analyzed = resources.filter((r) => !r.read).length;
    const policyUsPerResource = (ms(policyStart) * 1000) / rounds / analyzed;

    const deps = waitsFor(resources);
    return {
        scenario, resources: analyzed, programMs, packMs, policyUsPerResource,
        peakRssMb: process.resourceUsage().maxRSS / 1024,
        criticalPath: criticalPath(deps),
        clustersWaitOnlyForOwnClasses: clustersIsolated(resources, deps),
    };
}

const SCENARIOS = ["quantum", "matrix", "fleet-1", "fleet-10", "fleet-20"];

async function main() {
    const only = process.argv.indexOf("--scenario");
    if (only !== -1) {
        process.stdout.write(JSON.stringify(await measure(process.argv[only + 1])));
        return;
    }
    const rows: (Measurement & { wallMs: number })[] = [];
    for (const scenario of SCENARIOS) {
        const t = Date.now();
        const out = execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", __filename, "--scenario", scenario], { cwd: REPO_ROOT, encoding: "utf8" });
        rows.push({ ...JSON.parse(out), wallMs: Date.now() - t });
    }
    const pad = (v: unknown, n: number) => String(v).padStart(n);
    console.log(`${"scenario".padEnd(10)}${pad("resources", 10)}${pad("wall s", 8)}${pad("program s", 10)}${pad("pack s", 8)}${pad("µs/res", 8)}${pad("peak MB", 9)}${pad("crit", 6)}  clusters isolated`);
    for (const r of rows) {
        console.log(`${r.scenario.padEnd(10)}${pad(r.resources, 10)}${pad((r.wallMs / 1000).toFixed(2), 8)}${pad((r.programMs / 1000).toFixed(2), 10)}${pad((r.packMs / 1000).toFixed(2), 8)}${pad(r.policyUsPerResource.toFixed(0), 8)}${pad(r.peakRssMb.toFixed(0), 9)}${pad(r.criticalPath.length, 6)}  ${r.clustersWaitOnlyForOwnClasses}`);
    }
    const matrix = rows.find((r) => r.scenario === "matrix")!;
    const fleet20 = rows.find((r) => r.scenario === "fleet-20")!;
    const quantum = rows.find((r) => r.scenario === "quantum")!;
    console.log("");
    console.log(`targets: example plan ≤ 3 s: quantum ${(quantum.wallMs / 1000).toFixed(2)} s, matrix ${(matrix.wallMs / 1000).toFixed(2)} s`);
    console.log(`         fleet-20 ≤ 3× matrix: ${(fleet20.wallMs / matrix.wallMs).toFixed(2)}×`);
    console.log(`         policies ≤ 1 ms/resource: max ${Math.max(...rows.map((r) => r.policyUsPerResource)).toFixed(0)} µs`);
    console.log(`         hub critical path ≤ 3: ${quantum.criticalPath.length} (${quantum.criticalPath.join(" → ")})`);
    console.log(`         workload critical path: ${matrix.criticalPath.length} (${matrix.criticalPath.join(" → ")})`);
    console.log(`         clusters wait only for their own classes: ${rows.every((r) => r.clustersWaitOnlyForOwnClasses)}`);
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});

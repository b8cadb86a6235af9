/**
 * `npm run bench`: the offline plan as users run it (`npm run plan -- --stack …`), side by side with a floor (bench/floor.js:
 * node loading @pulumi/pulumi and the providers, one resource registered under mocks), and per scenario what the plan
 * costs inside: program and pack time, policy time per resource, peak memory, critical path, cluster isolation.
 * patches-100 is the matrix stack with 100 machine config patches (the Talos patch check's cost in a plan).
 * `--runs N` (default 7): wall times are medians of N rounds, each round running the floor and every scenario in turn.
 * Beside them, the quantum program as `pulumi preview` loads it: @pulumi/pulumi's run entry as Pulumi.yaml's `main` and
 * options make the language host start it, and for reference as the SDK's ts-node would load it (bench/sdk-run.ts).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { loadStackConfig, RawConfig } from "../src/config";
import { programFor } from "../src/programs";
import { CapturedResource, runProgram } from "../src/plan/capture";
import {
    analyzeRequestsInProcess,
    analyzeWithPack,
    PreviewRequests,
    previewRequests,
    sentRequests,
} from "../src/plan/analyze";
import { planStack, POLICY_DIR, readStackFile, REPO_ROOT } from "../src/plan/plan";
import { packArgs } from "../policy/pack";
import { NODE_FLAGS } from "../src/plan/pack-process";
import { cacheProviders } from "../src/plan/closure-cache";
import { forgetTexts } from "../components/core/hot-paths";
import { talosPatchProblems } from "../components/omni/talos-patches";
import { versions } from "../components/core/versions";
import { sdkRunInvocation } from "./sdk-run";
import { BENCH, commandArgs, runCommand, usageError } from "../src/commands";

interface Measurement {
    scenario: string;
    resources: number;
    programMs: number;
    packMs: number;
    policyUsPerResource: number;
    packUsPerResource: number;
    peakRssMb: number;
    criticalPath: string[];
    clustersWaitOnlyForOwnClasses: boolean;
}

/**
 * A workload stack file with `clusters` clusters of 10 machines, each on its own control-plane and worker classes, in
 * `dir` beside a copy of the hub's (which a workload plan reads).
 */
function writeFleet(dir: string, clusters: number): string {
    const doc = YAML.parse(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.matrix.yaml"), "utf8"), { merge: true });
    const base = doc.config["omni-scale:machineClasses"][0];
    const classes = [];
    const specs = [];
    for (let i = 0; i < clusters; i++) {
        classes.push(
            { ...base, name: `fleet-${i}-cp` },
            { ...base, name: `fleet-${i}-worker`, providerData: { ...base.providerData, cores: 8, memory: 16384 } },
        );
        specs.push({
            name: `fleet-${i}`,
            controlPlane: { machineClass: `fleet-${i}-cp`, size: 3 },
            workers: [{ name: "workers", machineClass: `fleet-${i}-worker`, size: 7 }],
        });
    }
    doc.config["omni-scale:machineClasses"] = classes;
    doc.config["omni-scale:clusters"] = specs;
    const scenarioDir = path.join(dir, `fleet-${clusters}`);
    fs.mkdirSync(scenarioDir);
    fs.copyFileSync(path.join(REPO_ROOT, "Pulumi.quantum.yaml"), path.join(scenarioDir, "Pulumi.quantum.yaml"));
    fs.writeFileSync(path.join(scenarioDir, "Pulumi.matrix.yaml"), YAML.stringify(doc));
    return path.join(scenarioDir, "Pulumi.matrix.yaml");
}

/** Patches of every form a template carries: the seed kit's files and a multi-document one. */
function benchPatches(): { name: string; inline: string }[] {
    const kit = path.join(REPO_ROOT, "test", "fixtures", "import", "kit", "clusters", "patches");
    const files = fs.readdirSync(kit).map((f) => fs.readFileSync(path.join(kit, f), "utf8"));
    const multi = [
        "apiVersion: v1alpha1\nkind: NetworkRuleConfig\nname: kubelet\nportSelector:\n  ports: [10250]\n  protocol: tcp\ningress:\n  - subnet: 10.0.0.0/8\n",
        "apiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: example\nenvironment:\n  - EXAMPLE=1\n",
    ].join("---\n");
    return [...files, multi].map((inline, i) => ({ name: `p${i}`, inline }));
}

/** The matrix stack with `count` patches spread over its cluster's sets (the patch check's cost in a plan). */
function writePatched(dir: string, count: number): string {
    const doc = YAML.parse(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.matrix.yaml"), "utf8"), { merge: true });
    const forms = benchPatches();
    const [cluster] = doc.config["omni-scale:clusters"];
    const sets = [cluster, cluster.controlPlane, ...cluster.workers];
    for (let i = 0; i < count; i++) {
        const set = sets[i % sets.length];
        set.patches = [...(set.patches ?? []), { ...forms[i % forms.length], name: `patch-${i}` }];
    }
    const scenarioDir = path.join(dir, `patches-${count}`);
    fs.mkdirSync(scenarioDir);
    fs.copyFileSync(path.join(REPO_ROOT, "Pulumi.quantum.yaml"), path.join(scenarioDir, "Pulumi.quantum.yaml"));
    fs.writeFileSync(path.join(scenarioDir, "Pulumi.matrix.yaml"), YAML.stringify(doc));
    return path.join(scenarioDir, "Pulumi.matrix.yaml");
}

/** The patch check alone: the first patch loads and compiles the minor's schema; later ones reuse it. */
function patchCheckCost(): { firstMs: number; perPatchUs: number } {
    const forms = benchPatches();
    const start = process.hrtime.bigint();
    talosPatchProblems(forms[0].inline, versions.talos);
    const firstMs = Number(process.hrtime.bigint() - start) / 1e6;
    const n = 1000;
    // Each text made unique (a trailing comment): the check keeps verdicts of texts it has seen.
    const texts = Array.from({ length: n }, (_, i) => `${forms[i % forms.length].inline}\n# ${i}\n`);
    const warm = process.hrtime.bigint();
    for (const text of texts) talosPatchProblems(text, versions.talos);
    return { firstMs, perPatchUs: Number(process.hrtime.bigint() - warm) / 1e3 / n };
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
        deps.set(
            r.urn,
            new Set(
                r.dependsOn
                    .flatMap(customsUnder)
                    .filter(
                        (u) =>
                            u !== r.urn && !byUrn.get(u)?.read && !byUrn.get(u)?.type.startsWith("pulumi:providers:"),
                    ),
            ),
        );
    }
    return deps;
}

/** Longest chain of resources that must be created one after another, as resource names. */
function criticalPath(deps: Map<string, Set<string>>): string[] {
    const memo = new Map<string, string[]>();
    const chain = (urn: string): string[] => {
        if (!memo.has(urn)) {
            const longest = [...(deps.get(urn) ?? [])]
                .map(chain)
                .reduce<string[]>((a, b) => (b.length > a.length ? b : a), []);
            memo.set(urn, [...longest, urn.split("::").pop()!]);
        }
        return memo.get(urn)!;
    };
    return [...deps.keys()].map(chain).reduce<string[]>((a, b) => (b.length > a.length ? b : a), []);
}

/** True when each cluster's sync waits for exactly the apply commands of its own classes. */
function clustersIsolated(resources: CapturedResource[], deps: Map<string, Set<string>>): boolean {
    const syncs = resources.filter((r) => r.type === "command:local:Command" && r.name.endsWith("-sync"));
    const applies = new Map(
        resources.filter((r) => r.name.endsWith("-apply")).map((r) => [r.urn, r.name.replace(/-apply$/, "")]),
    );
    return syncs.every((s) => {
        const cluster = s.name.replace(/-sync$/, "");
        const own = [...(deps.get(s.urn) ?? [])].filter((u) => applies.has(u)).map((u) => applies.get(u)!);
        return own.length > 0 && own.every((c) => c.startsWith(`${cluster}-`) || !cluster.startsWith("fleet-"));
    });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The stack and stack file of a scenario; fleets are written into `dir`. */
function scenarioFile(scenario: string, dir: string): { stack: string; file: string } {
    if (scenario === "quantum" || scenario === "matrix")
        return { stack: scenario, file: path.join(REPO_ROOT, `Pulumi.${scenario}.yaml`) };
    const count = Number(scenario.split("-")[1]);
    return {
        stack: "matrix",
        file: scenario.startsWith("patches-") ? writePatched(dir, count) : writeFleet(dir, count),
    };
}

async function measure(scenario: string, file: string, stack: string): Promise<Measurement> {
    const start = process.hrtime.bigint();
    const ms = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e6;
    const raw: RawConfig = readStackFile(file).config;
    const config = loadStackConfig(raw, new Set());
    const hub =
        stack === "matrix"
            ? await planStack({
                  stack: "quantum",
                  configFile: path.join(path.dirname(file), "Pulumi.quantum.yaml"),
                  skipPolicies: true,
                  silent: true,
              })
            : undefined;
    const stackReferences = {
        "organization/omni-scale/quantum": {
            outputs: Object.fromEntries(
                Object.entries(hub?.outputs ?? {}).map(([k, v]: [string, any]) => [k, v?.value ?? v]),
            ),
            secretOutputNames: ["automationKey", "infraProviderKeys", "etcdKeyArmored"],
        },
        [`organization/omni-scale/${stack}`]: { outputs: {}, secretOutputNames: [] },
    };
    const { resources } = await runProgram(() => programFor(config), { stack, config: raw, stackReferences });
    const programMs = ms(start);

    const packStart = process.hrtime.bigint();
    await analyzeWithPack(POLICY_DIR, resources);
    const packMs = ms(packStart);
    // The plan's peak: the policy rounds below load the pack's code into this process too.
    const peakRssMb = process.resourceUsage().maxRSS / 1024;

    // Policy cost alone, in process, without the pack's start-up: the mean CPU time of 30 rounds after 10 that warm the
    // code up. V8 compiles the hot functions on other threads over the first rounds, a cost per pack process, not per
    // resource: at the machine's slow times it went on past round 15. The process's CPU, V8's GC threads included,
    // swings by a factor of three from round to round as a major GC comes about every fourth round, so a few rounds'
    // median said more about where those fell than about the policies; a mean over many rounds counts each GC once.
    // Each round parses every text (e.g. the etcd key) anew, as the one analysis of a pack process does. CPU time, not
    // wall: other processes on a shared machine do not count.
    const analyzed = resources.filter((r) => !r.read).length;
    const perResource = async (requests: () => PreviewRequests<unknown>) => {
        let used = 0;
        for (let i = 0; i < POLICY_WARM_ROUNDS + POLICY_ROUNDS; i++) {
            forgetTexts();
            const made = requests();
            const round = process.cpuUsage();
            await analyzeRequestsInProcess("omni-scale", packArgs, made);
            const { user, system } = process.cpuUsage(round);
            if (i >= POLICY_WARM_ROUNDS) used += user + system;
        }
        return used / POLICY_ROUNDS / analyzed;
    };
    // The policies given each request as the engine builds it (what the issue's target is about; the engine's building
    // of the requests is not timed)…
    const policyUsPerResource = await perResource(() => previewRequests(resources));
    // …and a pack's whole work per request: each decoded from the bytes a preview sends, then the same policies.
    const sent = sentRequests(resources);
    const packUsPerResource = await perResource(() => sent);

    const deps = waitsFor(resources);
    return {
        scenario,
        resources: analyzed,
        programMs,
        packMs,
        policyUsPerResource,
        packUsPerResource,
        peakRssMb,
        criticalPath: criticalPath(deps),
        clustersWaitOnlyForOwnClasses: clustersIsolated(resources, deps),
    };
}

/** Rounds of the policies on a scenario's requests that warm the code up, then the rounds measured (see measure). */
const POLICY_WARM_ROUNDS = 10;
const POLICY_ROUNDS = 30;

const SCENARIOS = ["quantum", "matrix", "fleet-1", "fleet-10", "fleet-20", "patches-100"];

/** Wall milliseconds of a process; it must exit 0. */
function wallMs(command: string, args: string[], env?: NodeJS.ProcessEnv, cwd = REPO_ROOT): number {
    const start = process.hrtime.bigint();
    const run = spawnSync(command, args, { cwd, env, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    if (run.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${run.status}: ${run.stderr}`);
    return Number(process.hrtime.bigint() - start) / 1e6;
}

function machine(): string {
    const cpus = os.cpus();
    return `${cpus[0]?.model.trim() ?? "unknown CPU"}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GB, Node ${process.version}`;
}

const loadAverage = () =>
    os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ");

/** Runs the bench CLI (usage: src/commands.ts); `--scenario`, `--file` and `--stack` are its own per-scenario runs. */
export async function main(argv: string[]): Promise<number> {
    const args = commandArgs(BENCH, argv);
    if (typeof args === "number") return args;
    if (!/^[1-9]\d*$/.test(args.runs!))
        return usageError("bench", `--runs takes a whole number of rounds, got "${args.runs}"`);
    if (args.scenario) {
        // As the plan's process does: a dynamic provider's serialized text from .build/closures (closure-cache.ts).
        cacheProviders();
        process.stdout.write(JSON.stringify(await measure(args.scenario, args.file!, args.stack!)));
        return 0;
    }
    const runs = Number(args.runs);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-scale-bench-"));
    try {
        const files = Object.fromEntries(SCENARIOS.map((s) => [s, scenarioFile(s, dir)]));
        const loadBefore = loadAverage();
        // As users type it; a fleet plans its own stack file (--config), the hub's beside it.
        const planArgs = (s: string) => [
            "run",
            "-s",
            "plan",
            "--",
            "--stack",
            files[s].stack,
            ...(s.startsWith("fleet-") || s.startsWith("patches-") ? ["--config", files[s].file] : []),
        ];
        // The quantum program as `pulumi preview` loads it (the SDK's run entry, offline mocks for the engine), and for
        // reference src/index.ts through the SDK's ts-node (`typescript: true`), transpile-only with tsconfig.json.
        const sdkRuns = {
            "sdk-run": sdkRunInvocation("quantum"),
            "sdk-ts-node": sdkRunInvocation("quantum", {
                project: { main: "src/index.ts", options: { typescript: true, tsconfig: "../tsconfig.json" } },
                env: { PULUMI_NODEJS_TRANSPILE_ONLY: "true" },
            }),
        };
        // The floor as the plan now loads code (register.js: V8's compile cache), for reference: the targets use the floor.
        const cachedFloorEnv = { ...process.env, NODE_COMPILE_CACHE: path.join(REPO_ROOT, ".build", "v8-floor") };
        const walls: Record<string, number[]> = {
            floor: [],
            "floor-cached": [],
            ...Object.fromEntries([...SCENARIOS, ...Object.keys(sdkRuns)].map((s) => [s, []])),
        };
        for (let i = 0; i < runs; i++) {
            walls.floor.push(wallMs(process.execPath, [path.join(__dirname, "floor.js")]));
            walls["floor-cached"].push(wallMs(process.execPath, [path.join(__dirname, "floor.js")], cachedFloorEnv));
            for (const s of SCENARIOS) walls[s].push(wallMs("npm", planArgs(s)));
            for (const [s, run] of Object.entries(sdkRuns))
                walls[s].push(wallMs(process.execPath, run.args, run.env, run.cwd));
        }
        const loadAfter = loadAverage();
        // What each plan costs inside, each scenario in a fresh process.
        const rows: (Measurement & { wallMs: number })[] = SCENARIOS.map((s) => {
            const out = spawnSync(
                process.execPath,
                [
                    ...NODE_FLAGS,
                    "-r",
                    require.resolve("../src/plan/register"),
                    __filename,
                    "--scenario",
                    s,
                    "--file",
                    files[s].file,
                    "--stack",
                    files[s].stack,
                ],
                { cwd: REPO_ROOT, encoding: "utf8" },
            );
            if (out.status !== 0) throw new Error(`scenario ${s}: ${out.stderr}`);
            return { ...JSON.parse(out.stdout), wallMs: median(walls[s]) };
        });
        const floor = median(walls.floor);
        const pad = (v: unknown, n: number) => String(v).padStart(n);
        const ratio = (ms: number) => `${(ms / floor).toFixed(2)}×`;
        console.log(`machine: ${machine()}; load average ${loadBefore} before, ${loadAfter} after`);
        console.log(`wall: median of ${runs} rounds (floor, then each \`npm run plan\` in turn)`);
        console.log("");
        console.log(
            `${"scenario".padEnd(10)}${pad("resources", 10)}${pad("wall s", 8)}${pad("× floor", 9)}${pad("program s", 10)}${pad("pack s", 8)}${pad("µs/res", 8)}${pad("wire µs", 9)}${pad("peak MB", 9)}${pad("crit", 6)}  clusters isolated`,
        );
        console.log(`${"floor".padEnd(10)}${pad(1, 10)}${pad((floor / 1000).toFixed(2), 8)}${pad(ratio(floor), 9)}`);
        const cachedFloor = median(walls["floor-cached"]);
        console.log(
            `${"  cached".padEnd(10)}${pad("", 10)}${pad((cachedFloor / 1000).toFixed(2), 8)}${pad(ratio(cachedFloor), 9)}  (the floor with V8's compile cache, which the plan uses: for reference)`,
        );
        for (const r of rows) {
            console.log(
                `${r.scenario.padEnd(10)}${pad(r.resources, 10)}${pad((r.wallMs / 1000).toFixed(2), 8)}${pad(ratio(r.wallMs), 9)}${pad((r.programMs / 1000).toFixed(2), 10)}${pad((r.packMs / 1000).toFixed(2), 8)}${pad(r.policyUsPerResource.toFixed(0), 8)}${pad(r.packUsPerResource.toFixed(0), 9)}${pad(r.peakRssMb.toFixed(0), 9)}${pad(r.criticalPath.length, 6)}  ${r.clustersWaitOnlyForOwnClasses}`,
            );
        }
        const patchCheck = patchCheckCost();
        console.log("");
        console.log("quantum as `pulumi preview` loads it (the SDK's run entry, mocks for the engine, no CLI):");
        console.log(
            `  Pulumi.yaml (the project's cached transpile-only loader): ${(median(walls["sdk-run"]) / 1000).toFixed(2)} s; the SDK's ts-node, transpile-only (reference): ${(median(walls["sdk-ts-node"]) / 1000).toFixed(2)} s; offline plan: ${(rows[0].wallMs / 1000).toFixed(2)} s`,
        );
        const byName = (n: string) => rows.find((r) => r.scenario === n)!;
        const [quantum, matrix, fleet20] = [byName("quantum"), byName("matrix"), byName("fleet-20")];
        const sdkRun = median(walls["sdk-run"]);
        const met = (ok: boolean) => (ok ? "met" : "MISSED");
        console.log("");
        console.log(
            `targets (issue 31): example plans ≤ 1.6× the floor: quantum ${ratio(quantum.wallMs)}, matrix ${ratio(matrix.wallMs)} (${met(Math.max(quantum.wallMs, matrix.wallMs) <= 1.6 * floor)})`,
        );
        console.log(
            `         fleet-20 ≤ 2× matrix and ≤ 3× the floor: ${(fleet20.wallMs / matrix.wallMs).toFixed(2)}× matrix, ${ratio(fleet20.wallMs)} (${met(fleet20.wallMs <= 2 * matrix.wallMs && fleet20.wallMs <= 3 * floor)})`,
        );
        const policyMax = Math.max(...rows.map((r) => r.policyUsPerResource));
        console.log(
            `         policies ≤ 0.5 ms/resource in every scenario (CPU): max ${policyMax.toFixed(0)} µs (${rows.map((r) => `${r.scenario} ${r.policyUsPerResource.toFixed(0)}`).join(", ")}) (${met(policyMax <= 500)})`,
        );
        console.log(
            `         for reference, a pack's work per resource with each request decoded from its bytes (wire µs): ${rows.map((r) => `${r.scenario} ${r.packUsPerResource.toFixed(0)}`).join(", ")}`,
        );
        const peak = Math.max(...rows.map((r) => r.peakRssMb));
        console.log(`         peak memory < 256 MB: max ${peak.toFixed(0)} MB (${met(peak < 256)})`);
        console.log(
            `         \`pulumi preview\` program load (transpile-only) ≤ 3× the floor: ${ratio(sdkRun)} (${met(sdkRun <= 3 * floor)})`,
        );
        console.log(
            `         Talos patch check ≤ 200 µs a patch after the first: first patch ${patchCheck.firstMs.toFixed(0)} ms (loads the ${versions.talos} schema), then ${patchCheck.perPatchUs.toFixed(0)} µs a patch; patches-100 plans in ${(byName("patches-100").wallMs / matrix.wallMs).toFixed(2)}× matrix's time`,
        );
        console.log(
            `         hub critical path ≤ 3 (issue 2): ${quantum.criticalPath.length} (${quantum.criticalPath.join(" → ")}) (${met(quantum.criticalPath.length <= 3)}; the README's Benchmark section says why)`,
        );
        console.log(
            `         workload critical path: ${matrix.criticalPath.length} (${matrix.criticalPath.join(" → ")})`,
        );
        console.log(
            `         clusters wait only for their own classes: ${rows.every((r) => r.clustersWaitOnlyForOwnClasses)}`,
        );
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
    return 0;
}

if (require.main === module) runCommand(() => main(process.argv.slice(2)));

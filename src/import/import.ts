import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { readYaml } from "../../components/core/yaml-read";
import { ConfigError, ConfigIssue, formatIssues } from "../../components/core/validation";
import { loadStackConfig, PROJECT, RawConfig } from "../config";
import { PACKAGE_ROOT } from "../project";
import { hasSecureValue } from "../stack-secrets";
import { Findings, FoundSecret, newFindings, StackRole } from "./findings";
import { machineClassFrom } from "./machine-classes";
import { hubFromOmniEnv, providerFrom } from "./settings";
import { EnvFile, readEnvFile } from "./env-file";
import { yamlDocuments, yamlFiles } from "./sources";
import { clusterFromTemplate } from "./templates";

/**
 * `omni-scale import` (`npm run import`): what a running Omni's owner has (MachineClass resources, cluster templates,
 * omni.env, the provider's .env and config.yaml) → the stack config they would have written, checked by the same code
 * as a stack file (`loadStackConfig`) against the stack file it is to be merged into.
 */

export interface ImportOptions {
    /** MachineClass YAML files or directories of them. */
    machineClasses?: string[];
    /** Cluster template files or directories of them. */
    clusters?: string[];
    omniEnv?: string;
    providerEnv?: string;
    providerConfig?: string;
    /**
     * The Pulumi project directory: `file:` paths are written relative to it, stack files are read from it. Without
     * one, paths are absolute and each part is checked against this package's example.
     */
    projectDir?: string;
    /** Stack names: `Pulumi.<name>.yaml` is the file each part is checked against and merged into. */
    stack: string;
    hubStack: string;
    /**
     * Where env files' `${VAR}` are looked up first, as Compose looks them up in the environment it runs in (the
     * process environment by default; `${PWD}` is always the env file's directory, where compose is run).
     */
    environment?: NodeJS.ProcessEnv;
}

export interface ImportResult extends Findings {
    /** `omni-scale:<key>` values (keys without the prefix) per stack; a stack with nothing imported is absent. */
    config: Partial<Record<StackRole, Record<string, unknown>>>;
    /** The stack file each part was checked against. */
    checkedAgainst: Partial<Record<StackRole, string>>;
    /** Stack names, for the output and the secret commands. */
    stacks: Record<StackRole, string>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * An imported object setting (hub, infraProvider) replaces the stack file's settings key by key, a whole setting at a
 * time (an imported `auth` or `tls` is the whole method); anything else, lists included, is replaced: imported classes
 * and clusters are the whole set.
 */
const merge = (base: unknown, over: unknown): unknown =>
    isObject(base) && isObject(over) ? { ...base, ...over } : over;

/** The stack file to check against: `Pulumi.<stack>.yaml` in the project, else the example of the same role in this package. */
function baseFile(projectDir: string | undefined, stack: string, role: StackRole): string {
    const own = projectDir && path.join(projectDir, `Pulumi.${stack}.yaml`);
    return own && fs.existsSync(own)
        ? own
        : path.join(PACKAGE_ROOT, role === "hub" ? "Pulumi.quantum.yaml" : "Pulumi.matrix.yaml");
}

/**
 * The loader's verdict on the imported keys merged into a stack file. Secrets are present as placeholders (their
 * values are never read, not even the stack file's own encrypted ones).
 */
function check(file: string, keys: Record<string, unknown>, secrets: FoundSecret[]): ConfigIssue[] {
    const doc = (readYaml(fs.readFileSync(file, "utf8")) as any) ?? {};
    const raw: RawConfig = {};
    const secret = new Set<string>();
    for (const [k, v] of Object.entries<unknown>(doc.config ?? {})) {
        if (hasSecureValue(v)) secret.add(k);
        raw[k] = hasSecureValue(v) ? "[secret]" : typeof v === "string" ? v : JSON.stringify(v);
    }
    for (const [k, v] of Object.entries(keys)) {
        const key = `${PROJECT}:${k}`;
        let base: unknown = raw[key];
        try {
            base = base === undefined ? undefined : JSON.parse(String(base));
        } catch {
            // a plain string value
        }
        raw[key] = JSON.stringify(merge(base, v));
    }
    for (const s of secrets) {
        raw[`${PROJECT}:${s.key}`] = "[imported secret]";
        secret.add(`${PROJECT}:${s.key}`);
    }
    try {
        loadStackConfig(raw, secret);
        return [];
    } catch (e) {
        if (e instanceof ConfigError) return e.issues;
        throw e;
    }
}

/** Runs `read`, turning a ConfigError (a file that is no YAML) into issues. */
function reading<T>(f: Findings, read: () => T): T | undefined {
    try {
        return read();
    } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        f.issues.push(...e.issues);
        return undefined;
    }
}

/** An env file as Compose reads it for `docker compose --env-file`; what it interpolates from nowhere is noted. */
function envFile(f: Findings, file: string, environment: NodeJS.ProcessEnv): EnvFile["vars"] | undefined {
    const lookup = (name: string) => (name === "PWD" ? path.resolve(path.dirname(file)) : environment[name]);
    const read = reading(f, () => readEnvFile(fs.readFileSync(file, "utf8"), file, lookup));
    if (!read) return undefined;
    for (const { variable, in: key } of read.unset) {
        f.notes.push({
            source: file,
            message: `${key} uses \${${variable}}, which neither this file nor the environment sets, so Compose reads it as empty: set ${variable} (in the file, or in the environment of the import as of \`docker compose\`) and import again`,
        });
    }
    for (const { key, variables } of read.uninterpolated) {
        f.notes.push({
            source: file,
            message: `${key} is single-quoted, and Compose does not interpolate single-quoted values: ${variables.map((v) => `\${${v}}`).join(", ")} reach Omni as written. Use double quotes`,
        });
    }
    return read.vars;
}

export function importStack(o: ImportOptions): ImportResult {
    const f = newFindings();
    const environment = o.environment ?? process.env;
    const hub: Record<string, unknown> = {};
    const workloads: Record<string, unknown> = {};
    /** Config key prefix → the file it came from, so every refusal names its source. */
    const origins: [string, string][] = [];

    if (o.machineClasses?.length) {
        const classes = yamlFiles(o.machineClasses).flatMap((file) =>
            (reading(f, () => yamlDocuments(file)) ?? []).map((doc) => machineClassFrom(doc, file, f)),
        );
        const found = classes.filter((c) => c !== undefined);
        found.forEach((c, i) => origins.push([`${PROJECT}:machineClasses[${i}]`, c.source]));
        workloads.machineClasses = found.map((c) => c.spec);
    }
    if (o.clusters?.length) {
        const clusters = yamlFiles(o.clusters)
            .map((file) => {
                const docs = reading(f, () => yamlDocuments(file));
                return docs && { file, spec: clusterFromTemplate(docs, file, o.projectDir, f) };
            })
            .filter((c) => c?.spec !== undefined);
        clusters.forEach((c, i) => origins.push([`${PROJECT}:clusters[${i}]`, c!.file]));
        workloads.clusters = clusters.map((c) => c!.spec);
    }
    let omniDomain: string | undefined;
    if (o.omniEnv) {
        const vars = envFile(f, o.omniEnv, environment);
        if (vars) {
            const imported = hubFromOmniEnv(vars, o.omniEnv, f);
            Object.assign(hub, imported.hub);
            omniDomain = imported.omniDomain;
            origins.push([`${PROJECT}:hub`, o.omniEnv]);
        }
    }
    if (o.providerEnv || o.providerConfig) {
        const vars = o.providerEnv ? envFile(f, o.providerEnv, environment) : undefined;
        const env = vars && { vars, source: o.providerEnv! };
        const config = o.providerConfig
            ? reading(f, () => ({ doc: yamlDocuments(o.providerConfig!)[0], source: o.providerConfig! }))
            : undefined;
        const provider = providerFrom(env, config, f);
        const source = [o.providerEnv, o.providerConfig].filter(Boolean).join(", ");
        if (Object.keys(provider.infraProvider).length > 0) workloads.infraProvider = provider.infraProvider;
        if (provider.proxmoxTokenId !== undefined) workloads.proxmoxTokenId = provider.proxmoxTokenId;
        origins.push([`${PROJECT}:infraProvider`, source], [`${PROJECT}:proxmoxTokenId`, source]);
        const id = provider.infraProvider.providerId;
        // The hub registers the provider and hands the workload stack its key.
        if (typeof id === "string") hub.infraProviders = [id];
        if (provider.omniEndpointHost && omniDomain && provider.omniEndpointHost !== omniDomain) {
            f.notes.push({
                source,
                message: `OMNI_API_ENDPOINT names ${provider.omniEndpointHost}, the hub ${omniDomain}: the workload stack points the provider at the hub stack's omniApiUrl output`,
            });
        }
    }

    const config: ImportResult["config"] = {};
    const checkedAgainst: ImportResult["checkedAgainst"] = {};
    const stacks = { hub: o.hubStack, workloads: o.stack };
    for (const [role, keys] of [
        ["hub", Object.keys(hub).length ? { hub } : {}],
        ["workloads", workloads],
    ] as const) {
        if (Object.keys(keys).length === 0) continue;
        config[role] = keys;
        checkedAgainst[role] = baseFile(o.projectDir, stacks[role], role);
        const issues = check(
            checkedAgainst[role]!,
            keys,
            f.secrets.filter((s) => s.stack === role),
        );
        f.issues.push(
            ...issues.map((i) => {
                const origin = origins.find(
                    ([prefix]) => i.key === prefix || i.key.startsWith(`${prefix}.`) || i.key.startsWith(`${prefix}[`),
                );
                return origin ? { ...i, message: `${i.message} [from ${origin[1]}]` } : i;
            }),
        );
    }
    return { ...f, config, checkedAgainst, stacks };
}

/** The part of `Pulumi.<stack>.yaml` to merge, commented with where it came from. */
export function stackFragment(result: ImportResult, role: StackRole): string | undefined {
    const keys = result.config[role];
    if (!keys) return undefined;
    const doc = new YAML.Document({
        config: Object.fromEntries(Object.entries(keys).map(([k, v]) => [`${PROJECT}:${k}`, v])),
    });
    const replaced = ["machineClasses", "clusters"].filter((k) => k in keys).map((k) => `${PROJECT}:${k}`);
    doc.commentBefore = [
        ` omni-scale import: merge into Pulumi.${result.stacks[role]}.yaml (under config:)${replaced.length ? `; it replaces ${replaced.join(" and ")}` : ""}.`,
        ` Checked together with ${path.relative(process.cwd(), result.checkedAgainst[role]!) || result.checkedAgainst[role]} (keys not imported come from there).`,
        " Secrets are not in here: run the `pulumi config set --secret` commands the import printed.",
    ].join("\n");
    return doc.toString();
}

/** A secret's command: the value is typed or pasted at the prompt, or read from its file, never shown. */
function secretCommand(s: FoundSecret, stacks: Record<StackRole, string>): string {
    const command = `pulumi config set -s ${stacks[s.stack]} --secret ${s.key}`;
    if (s.file)
        return `${command} < ${JSON.stringify(s.file)}   # the file ${s.what} names in ${s.source} (copy it from the Docker host first if it lives there)`;
    return `${command}   # enter ${s.what} from ${s.source} at the prompt`;
}

/** What the import tells the operator besides the YAML: secrets to set, what was not carried over, refusals. */
export function importReport(result: ImportResult): string {
    const classes = (result.config.workloads?.machineClasses as unknown[] | undefined)?.length ?? 0;
    const clusters = (result.config.workloads?.clusters as unknown[] | undefined)?.length ?? 0;
    const lines = [
        `Imported ${classes} machine class(es), ${clusters} cluster(s)${result.config.hub ? ", hub settings" : ""}${result.config.workloads?.infraProvider ? ", provider settings" : ""}.`,
    ];
    if (result.secrets.length) {
        lines.push(
            "",
            "Secrets found (never copied). Set them with:",
            ...result.secrets.map((s) => `  ${secretCommand(s, result.stacks)}`),
        );
    }
    if (result.unexpressed.length)
        lines.push(
            "",
            "Not carried over (the stack config cannot express it):",
            ...result.unexpressed.map((n) => `  - ${n.source}: ${n.message}`),
        );
    if (result.notes.length) lines.push("", "Notes:", ...result.notes.map((n) => `  - ${n.source}: ${n.message}`));
    if (result.issues.length)
        lines.push(
            "",
            "Refused, as `pulumi up` would refuse it:",
            ...formatIssues(result.issues)
                .split("\n")
                .map((l) => `  ${l}`),
        );
    return lines.join("\n");
}

/** 2: something is refused (the config would fail `pulumi up`); 1: something cannot be expressed; 0: all carried over. */
export const importExitCode = (result: ImportResult) => (result.issues.length ? 2 : result.unexpressed.length ? 1 : 0);

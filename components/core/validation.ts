import { z } from "zod";

/** One bad config value: the key (dotted path), the value found, and what to do about it. */
export interface ConfigIssue {
    key: string;
    message: string;
    value?: unknown;
}

/** Bad configuration, with every problem found (not just the first), so one run shows them all. */
export class ConfigError extends Error {
    constructor(public readonly issues: ConfigIssue[]) {
        super(formatIssues(issues));
        this.name = "ConfigError";
    }
}

export function formatIssues(issues: ConfigIssue[]): string {
    const lines = issues.map((i) => {
        const value = i.value === undefined ? "" : ` (got ${JSON.stringify(i.value)})`;
        return `  - ${i.key}${value}: ${i.message}`;
    });
    return `invalid configuration:\n${lines.join("\n")}`;
}

/** Dotted key for a zod path, rooted at `prefix` (e.g. `omni-scale:hub` + ["auth","auth0","domain"]). */
export function keyOf(prefix: string, path: ReadonlyArray<PropertyKey>): string {
    return path.reduce<string>(
        (key, part) => (typeof part === "number" ? `${key}[${part}]` : `${key}.${String(part)}`),
        prefix,
    );
}

/**
 * The keys an object in `schema` at `path` (an issue's path, from zod) accepts, through optional, default, pipe,
 * union and array wrappers; empty when the path leads to no object.
 */
function keysAt(schema: z.core.$ZodType, path: ReadonlyArray<PropertyKey>): string[] {
    const def = schema._zod.def as unknown as Record<string, any>;
    switch (def.type) {
        case "optional":
        case "nullable":
        case "default":
        case "prefault":
        case "readonly":
        case "catch":
        case "nonoptional":
            return keysAt(def.innerType, path);
        case "pipe":
            return keysAt(def.in, path);
        case "lazy":
            return keysAt(def.getter(), path);
        case "union":
            return [...new Set((def.options as z.core.$ZodType[]).flatMap((o) => keysAt(o, path)))];
        case "intersection":
            return [...keysAt(def.left, path), ...keysAt(def.right, path)];
        case "array":
            return typeof path[0] === "number" ? keysAt(def.element, path.slice(1)) : [];
        case "record":
            return path.length > 0 ? keysAt(def.valueType, path.slice(1)) : [];
        case "object": {
            if (path.length === 0) return Object.keys(def.shape);
            const field = def.shape[path[0] as string];
            return field ? keysAt(field, path.slice(1)) : [];
        }
        default:
            return [];
    }
}

/** Edit distance (insertions, deletions, substitutions, and swaps of neighbours: `initalUsers`, `dsik_size`). */
function editDistance(a: string, b: string): number {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            const cost = a[i - 1] === b[j - 1] ? 0 : 1;
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
                d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.length][b.length];
}

/** The known name an unknown one is most likely a typo of (case aside, at most a third of its letters off). */
export function closestKey(unknown: string, known: readonly string[]): string | undefined {
    const scored = known
        .map((k) => ({ k, d: editDistance(unknown.toLowerCase(), k.toLowerCase()) }))
        .filter(({ d }) => d <= Math.max(1, Math.floor(unknown.length / 3)))
        .sort((x, y) => x.d - y.d);
    return scored[0]?.k;
}

/**
 * Zod issues → ConfigIssues, keeping the offending input so the message can show it. With the `schema` that was
 * parsed, an unknown key names the known key it is likely a typo of, and that key's own "required" issue (the value
 * went to the misspelt key) is left out.
 */
export function zodIssues(error: z.ZodError, prefix: string, schema?: z.core.$ZodType): ConfigIssue[] {
    const typos = new Map<string, string>();
    const out = error.issues.flatMap((issue): ConfigIssue[] => {
        const input = (issue as { input?: unknown }).input;
        if (issue.code === "unrecognized_keys") {
            const known = schema ? keysAt(schema, issue.path).filter((k) => !issue.keys.includes(k)) : [];
            // One issue per unknown key, named by its own path: typos are the usual cause.
            return issue.keys.map((k) => {
                const meant = closestKey(k, known);
                if (meant) typos.set(keyOf(prefix, [...issue.path, meant]), k);
                return {
                    key: keyOf(prefix, [...issue.path, k]),
                    message: meant
                        ? `unknown key \`${k}\`: did you mean \`${meant}\`?`
                        : `unknown key \`${k}\`: check its spelling or remove it`,
                    value: (input as Record<string, unknown> | undefined)?.[k],
                };
            });
        }
        // zod's own words for a missing key ("Invalid input: expected array, received undefined"), said plainly.
        const missing =
            issue.code === "invalid_type" && input === undefined && issue.message.startsWith("Invalid input");
        const message = missing ? `is required (${issue.expected})` : issue.message;
        return [{ key: keyOf(prefix, issue.path), message, value: input }];
    });
    // A key reported as missing whose value sits under a misspelt key is said once, by the typo.
    return out.filter((i) => !(typos.has(i.key) && i.value === undefined));
}

/** Parse with a schema or throw a ConfigError naming every bad key under `prefix`. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, prefix: string): z.output<S> {
    const result = schema.safeParse(value, { reportInput: true });
    if (!result.success) throw new ConfigError(zodIssues(result.error, prefix, schema));
    return result.data;
}

/** A DNS label (Omni and Kubernetes resource names, provider ids, hostnames): 1–63 lowercase letters, digits and '-'. */
export const dnsLabel = (hint = "use lowercase letters, digits and '-', starting and ending with a letter or digit") =>
    z
        .string()
        .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, hint)
        .max(63, "at most 63 characters");

const GO_DURATION_UNITS_MS: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
};
const GO_DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;

/** Milliseconds of a Go duration string (`1h30m`, `90s`; Go's time.ParseDuration without a sign), or undefined. */
export function parseGoDuration(value: string): number | undefined {
    if (value === "0") return 0;
    if (!GO_DURATION.test(value)) return undefined;
    return [...value.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g)].reduce(
        (ms, [, n, unit]) => ms + Number(n) * GO_DURATION_UNITS_MS[unit],
        0,
    );
}

/** A Go duration setting (Omni's flags and templates take time.Duration strings). */
export const goDuration = (hint = "must be a Go duration such as 1h or 30m") =>
    z.string().refine((v) => parseGoDuration(v) !== undefined, hint);

/**
 * A zod refinement for arrays whose items must be unique by `by` (names that become Omni ids or Pulumi resource
 * names); each repeat is reported at its own index.
 */
export function uniqueBy<T>(by: (item: T) => unknown, message: string, field?: string) {
    return (items: T[], ctx: z.RefinementCtx) => {
        const seen = new Set<unknown>();
        items.forEach((item, i) => {
            const k = by(item);
            if (seen.has(k)) ctx.addIssue({ code: "custom", path: field ? [i, field] : [i], message, input: k });
            seen.add(k);
        });
    };
}

/**
 * Every component validates its args before registering anything and names bad values by its own args:
 * `<name>.settings.…` (or `<name>.spec.…`) by default, or under `keyPrefix`, which our stacks set to their config key
 * (e.g. `omni-scale:hub`) so an error names what the operator wrote.
 */
export interface KeyedArgs {
    /** Prefix of the keys named in configuration errors; defaults to `<name>.settings` (`<name>.spec` for specs). */
    keyPrefix?: string;
}

export const argsKey = (name: string, args: KeyedArgs, field = "settings"): string =>
    args.keyPrefix ?? `${name}.${field}`;

/** Adds a zod issue for each message a `…Problem` function returns (the one bridge from pure rules to schemas). */
export function refineWith(problem: (value: string) => string | undefined) {
    return (value: string, ctx: z.RefinementCtx) => {
        const message = problem(value);
        if (message) ctx.addIssue({ code: "custom", message, input: value });
    };
}

/**
 * An infra provider id: the provider's `--id`, `omnictl infraprovider create <id>` and every machine class's
 * `providerid` must be equal (Omni ids are case-sensitive).
 */
export const InfraProviderIdSchema = dnsLabel(
    "lowercase letters, digits and '-' (Omni ids are case-sensitive: `Proxmox` and `proxmox` are different providers), e.g. matrix-cluster",
);

/** The provider's own `--id` default (omni-infra-provider-proxmox cmd/omni-infra-provider-proxmox/main.go). */
export const DEFAULT_INFRA_PROVIDER_ID = "proxmox";

/** A Tailscale ACL tag (`tag:` and a name of letters, digits and '-', starting with a letter). */
export const TailscaleTag = z.string().regex(/^tag:[a-zA-Z][a-zA-Z0-9-]*$/, "a Tailscale tag such as tag:omni");

/** An absolute path on the Docker host; `example` shows one in the error. */
export const absoluteHostPath = (example: string) =>
    z
        .string()
        .regex(/^\/[^\0]*$/, `must be an absolute path on the Docker host, e.g. ${example}`)
        // Docker's volume syntax splits host:container[:mode] at colons, and a line break ends a line of a rendered script.
        .regex(/^[^:\n\r]*$/, "must have no colon or line break (Docker splits a bind mount at colons)");

/**
 * Adds an issue for every string anywhere in `value` with a line break or NUL: settings become flags, labels, names and
 * lines of rendered scripts, where a second line is a second flag or command.
 */
export function singleLineStrings(value: unknown, ctx: z.RefinementCtx, at: PropertyKey[] = []): void {
    if (typeof value === "string") {
        if (/[\n\r\0]/.test(value))
            ctx.addIssue({
                code: "custom",
                path: at,
                input: value,
                message: "must be one line: it becomes a flag, a name or a line of a script",
            });
    } else if (Array.isArray(value)) value.forEach((v, i) => singleLineStrings(v, ctx, [...at, i]));
    else if (value !== null && typeof value === "object")
        for (const [k, v] of Object.entries(value)) singleLineStrings(v, ctx, [...at, k]);
}

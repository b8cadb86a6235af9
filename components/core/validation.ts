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

/** Zod issues → ConfigIssues, keeping the offending input so the message can show it. */
export function zodIssues(error: z.ZodError, prefix: string): ConfigIssue[] {
    return error.issues.flatMap((issue): ConfigIssue[] => {
        const input = (issue as { input?: unknown }).input;
        if (issue.code === "unrecognized_keys") {
            // One issue per unknown key, named by its own path: typos are the usual cause.
            return issue.keys.map((k) => ({
                key: keyOf(prefix, [...issue.path, k]),
                message: "unknown key: check its spelling or remove it",
                value: (input as Record<string, unknown> | undefined)?.[k],
            }));
        }
        return [{ key: keyOf(prefix, issue.path), message: issue.message, value: input }];
    });
}

/** Parse with a schema or throw a ConfigError naming every bad key under `prefix`. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, prefix: string): z.output<S> {
    const result = schema.safeParse(value, { reportInput: true });
    if (!result.success) throw new ConfigError(zodIssues(result.error, prefix));
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
    z.string().regex(/^\/[^\0]*$/, `must be an absolute path on the Docker host, e.g. ${example}`);

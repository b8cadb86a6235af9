import * as net from "node:net";

/**
 * What Talos checks beyond the JSON schema, for the fields patches commonly set: the text of Go types with their own
 * unmarshalers (read when Omni loads the patch) and the node's own validation when it applies its config. Each rule
 * names the upstream file (siderolabs/talos at the vendored tags; unchanged v1.9.6–v1.14.0-beta.1 unless said).
 */

/** go-humanize ParseBytes (the size parser of DiskSize, InstallDiskSizeMatcher, block.ByteSize): "100 MB", "1GiB", "1024". */
const HUMAN_BYTES = /^[0-9.,]+\s*(|b|k|kb|ki|kib|m|mb|mi|mib|g|gb|gi|gib|t|tb|ti|tib|p|pb|pi|pib|e|eb|ei|eib)\s*$/i;
const humanBytes = (s: string) => HUMAN_BYTES.test(s) && !Number.isNaN(Number(s.replace(/[^0-9.]/g, "") || "x"));

const decimal = (s: string, max: number) => /^(0|[1-9]\d*)$/.test(s) && Number(s) <= max;
const ipv4 = (s: string) => net.isIPv4(s);
/** netip.ParseAddr: IPv4 without leading zeros, IPv6 in any case, with a zone (fe80::1%eth0). */
const ip = (s: string) => net.isIP(s) !== 0;
const prefix = (s: string) => {
    const [addr, bits, ...rest] = s.split("/");
    if (rest.length > 0 || bits === undefined || addr.includes("%") || !ip(addr)) return false;
    return decimal(bits, ipv4(addr) ? 32 : 128);
};

/** The check of a custom type ("x-talos" in the corrected schema): undefined when Talos takes the text, else what it wants. */
export const CUSTOM_TYPES: Record<string, { want: string; ok: (s: string) => boolean }> = {
    // network/yaml.go Addr, netip.Addr (UnmarshalText: netip.ParseAddr).
    ip: { want: "an IP address (e.g. 10.0.0.1, fd00::1, fe80::1%eth0)", ok: ip },
    // network/yaml.go Prefix, netip.Prefix (netip.ParsePrefix: no zone, bits at most 32 or 128).
    prefix: { want: "an IP prefix (e.g. 10.0.0.0/8, fd00::/64)", ok: prefix },
    // network/yaml.go AddrPort (netip.ParseAddrPort): 1.2.3.4:51820, [fd00::1]:51820.
    addrPort: {
        want: "an address and port (e.g. 10.0.0.1:51820, [fd00::1]:51820)",
        ok: (s) => {
            const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]+)$/.exec(s);
            return !!m && (m[1] ? net.isIPv6(m[1]) : ipv4(m[2])) && /^\d{1,5}$/.test(m[3]) && Number(m[3]) <= 65535;
        },
    },
    // nethelpers/hwaddr.go HardwareAddr.UnmarshalText: colons removed, then hex (either case).
    mac: {
        want: "a hardware address in hex (e.g. 00:1a:2B:3c:4d:5e)",
        ok: (s) => /^([0-9a-fA-F]{2})*$/.test(s.replace(/:/g, "")),
    },
    // v1alpha1_types.go DiskSize.UnmarshalYAML: humanize.ParseBytes.
    humanBytes: { want: "a size in bytes or with a unit (e.g. 100 MB, 1GiB, 1073741824)", ok: humanBytes },
    // block/byte_size.go ByteSize.UnmarshalText: an optional "-", then humanize.ParseBytes.
    byteSize: { want: "a size (e.g. 10GiB, 100 MB)", ok: (s) => s === "" || humanBytes(s.replace(/^-/, "")) },
    // block/size.go Size.UnmarshalText (1.12+): a percentage (0–100 %) or a ByteSize.
    size: {
        want: "a size (e.g. 10GiB) or a percentage (e.g. 50%)",
        ok: (s) =>
            s === "" ||
            (s.endsWith("%")
                ? /^-?\d+(\.\d+)?%$/.test(s) && Number(s.replace(/^-/, "").slice(0, -1)) <= 100
                : humanBytes(s.replace(/^-/, ""))),
    },
    // v1alpha1_types.go InstallDiskSizeMatcher.UnmarshalYAML: an optional operator, then humanize.ParseBytes.
    diskSizeMatcher: {
        want: "a size with an optional comparison (e.g. 4GB, '>= 1TB')",
        ok: (s) =>
            humanBytes(
                s
                    .trim()
                    .replace(/^(>=|<=|==|>|<)/, "")
                    .trim(),
            ),
    },
    // network/port_range.go PortRange.UnmarshalYAML: a port (uint16) or "lo-hi".
    portRange: {
        want: 'a port or a range "lo-hi" (e.g. 443, 8000-8999)',
        ok: (s) => {
            const parts = s.split("-");
            return parts.length <= 2 && parts.every((p) => /^\d+$/.test(p) && Number(p) <= 65535);
        },
    },
    // v1alpha1_marshal.go Base64Bytes.UnmarshalYAML: base64.StdEncoding (line breaks ignored).
    base64: {
        want: "base64 (Talos decodes this field from base64: base64-encode the PEM, e.g. `base64 -w0 ca.pem`)",
        ok: (s) => /^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s.replace(/[\r\n]/g, "")),
    },
    // v1alpha1_types.go Endpoint (url.Parse) and v1alpha1_logging.go LoggingConfig.Validate: scheme tcp or udp, a host.
    loggingEndpoint: {
        want: "a URL tcp://host:port or udp://host:port",
        ok: (s) => /^(tcp|udp):\/\/[^/?#\s]+/i.test(s),
    },
};

// labels/validate.go (ValidateQualifiedName, ValidateLabelValue, ValidateDNS1123Subdomain, ValidateTaints), called
// by v1alpha1_validation.go for machine.nodeLabels, nodeAnnotations and nodeTaints when the node loads its config.
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** constants.ValidEffects (pkg/machinery/constants). */
const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/** Why a label or annotation key is not a Kubernetes qualified name, or undefined. */
export function qualifiedNameProblem(key: string): string | undefined {
    const parts = key.split("/");
    if (parts.length > 2) return "has more than one /";
    const name = parts.at(-1)!;
    if (parts.length === 2) {
        const prefix = parts[0];
        if (prefix === "") return "has an empty prefix before /";
        if (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))
            return `has the prefix "${prefix}", which is not a DNS subdomain (lower case letters, digits, - and .)`;
    }
    if (name === "") return "has an empty name";
    if (name.length > 63) return `has a name of ${name.length} characters (at most 63)`;
    if (!QUALIFIED_NAME.test(name))
        return `has the name "${name}": letters, digits, -, _ and ., starting and ending with a letter or digit`;
    return undefined;
}

/** Why a label value is refused, or undefined. */
export function labelValueProblem(value: string): string | undefined {
    if (value.length > 63) return `is ${value.length} characters long (at most 63)`;
    if (value !== "" && !QUALIFIED_NAME.test(value))
        return "may hold only letters, digits, -, _ and ., starting and ending with a letter or digit";
    return undefined;
}

/** The node's refusals of machine.nodeLabels, nodeAnnotations and nodeTaints, each "<key path>: why". */
export function nodeMetadataProblems(machine: Record<string, unknown>, at: (key: string) => string): string[] {
    const problems: string[] = [];
    const entries = (field: string) =>
        Object.entries((machine[field] ?? {}) as Record<string, unknown>).filter(([, v]) => typeof v === "string") as [
            string,
            string,
        ][];
    for (const [key, value] of entries("nodeLabels")) {
        const k = qualifiedNameProblem(key);
        if (k) problems.push(`${at(`nodeLabels`)}: the label key "${key}" ${k}`);
        const v = labelValueProblem(value);
        if (v) problems.push(`${at(`nodeLabels`)}: the value of ${key} ${v}`);
    }
    for (const [key] of entries("nodeAnnotations")) {
        const k = qualifiedNameProblem(key);
        if (k) problems.push(`${at("nodeAnnotations")}: the annotation key "${key}" ${k}`);
    }
    for (const [key, taint] of entries("nodeTaints")) {
        const k = qualifiedNameProblem(key);
        if (k) {
            problems.push(`${at("nodeTaints")}: the taint key "${key}" ${k}`);
            continue;
        }
        const cut = taint.indexOf(":");
        const effect = cut === -1 ? taint : taint.slice(cut + 1);
        if (!TAINT_EFFECTS.includes(effect))
            problems.push(
                `${at("nodeTaints")}: the taint ${key} has the effect "${effect}": one of ${TAINT_EFFECTS.join(", ")} (value:Effect or Effect)`,
            );
        else if (cut !== -1) {
            const v = labelValueProblem(taint.slice(0, cut));
            if (v) problems.push(`${at("nodeTaints")}: the value of taint ${key} ${v}`);
        }
    }
    return problems;
}

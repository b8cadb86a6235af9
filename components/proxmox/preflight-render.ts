import { isIP } from "node:net";
import { z } from "zod";
import { hostOrIpProblem } from "../core/addresses";
import { shellQuote as quote } from "../core/shell";
import { ProxmoxNodeName } from "./dns-rules";
import { refineWith, uniqueBy } from "../core/validation";

/**
 * Pure parts of the preflight that runs on every Proxmox node before any VM is requested: its settings, the
 * check script, and the report the script prints. The script checks the path a booting Talos VM takes to Omni
 * (docs/TROUBLESHOOTING.md "Talos VMs boot but never appear in Omni"): the Omni name through the node's own resolver, TCP to the hub's LAN IP on the
 * API and machine API ports, and the certificate served there for the Omni name.
 */

/** A login name as Debian's adduser accepts it (NAME_REGEX), at most 32 characters. */
export const LINUX_USER = /^(?=.{1,32}$)[a-z_][a-z0-9_-]*\$?$/;

const PreflightNodeSchema = z.strictObject({
    name: ProxmoxNodeName.describe("The Proxmox node name, as in hostDns.nodes"),
    address: z
        .string()
        .superRefine(
            refineWith((address) => {
                const problem = hostOrIpProblem(address);
                return problem && `${problem} (the node's SSH address)`;
            }),
        )
        .describe("How this workstation reaches the node over SSH: an IP address or a DNS name"),
    user: z
        .string()
        .regex(LINUX_USER, "a Linux user name such as root or ansible (lowercase letters, digits, '_' and '-')")
        .default("root")
        .describe("The checks need no privileges; any user with a login shell will do"),
    port: z.number().int().min(1).max(65535).default(22).describe("The node's SSH port"),
});

export const PreflightSettingsSchema = z.strictObject({
    nodes: z
        .array(PreflightNodeSchema)
        .min(1, "list every Proxmox node with its SSH address, e.g. [{ name: foxtrot, address: 192.168.3.2 }]")
        .superRefine(uniqueBy((n) => n.name, "each node once", "name"))
        .describe("Every hostDns.nodes entry with its SSH address (agent authentication)"),
    rerun: z
        .number()
        .int()
        .min(0)
        .default(0)
        .describe(
            "Increase it to run the checks again with nothing else changed (e.g. after fixing a resolver or renewing a certificate by hand)",
        ),
    timeoutSeconds: z
        .number()
        .int()
        .min(1)
        .max(60)
        .default(5)
        .describe("How long each TCP or TLS check waits for the hub"),
});

export type PreflightSettings = z.input<typeof PreflightSettingsSchema>;
export type ParsedPreflightSettings = z.output<typeof PreflightSettingsSchema>;
export type PreflightNode = ParsedPreflightSettings["nodes"][number];

/** What a node must see: the hub's name, LAN IP and the two TCP ports a booting machine and the provider use. */
export interface PreflightTarget {
    domain: string;
    lanIp: string;
    apiPort: number;
    machineApiPort: number;
}

/** The hub stack outputs the target is read from (the contract workload stacks already use). */
export interface HubEndpointOutputs {
    omniApiUrl: string;
    machineApiUrl: string;
    wireguardEndpoint: string;
}

/** The target from the hub's advertised URLs (name and ports) and its WireGuard endpoint (always `<LAN IP>:<port>`). */
export function preflightTarget(hub: HubEndpointOutputs): PreflightTarget {
    const port = (u: URL) => Number(u.port || 443);
    const api = new URL(hub.omniApiUrl);
    const machine = new URL(hub.machineApiUrl);
    const lanIp = /^\[?(.+?)\]?:\d+$/.exec(hub.wireguardEndpoint)?.[1];
    if (!lanIp || isIP(lanIp) === 0) {
        throw new Error(
            `the hub's wireguardEndpoint "${hub.wireguardEndpoint}" is not <LAN IP>:<port>; redeploy the hub stack`,
        );
    }
    return { domain: api.hostname, lanIp, apiPort: port(api), machineApiPort: port(machine) };
}

/** First line of every preflight script; the offline plan's mocks read the target from it. */
const MARKER = "# omni-scale preflight ";

export interface PreflightScriptOptions {
    timeoutSeconds: number;
    /** The resolver configuration named in messages (tests point it at a fixture). */
    resolvConf?: string;
}

/**
 * The check script for one node, run with `bash -s` over SSH. It prints a `key=value` report on stdout (see
 * parsePreflightReport) and, for each failed check, one line on stderr with what it found, what was expected and
 * the fix; it exits 1 when any check failed, which fails the command and stops `pulumi up` before anything that
 * depends on it. Tools: getent (libc), bash's /dev/tcp, timeout (coreutils), openssl and GNU date, all present on
 * a Proxmox VE node.
 */
export function renderPreflightScript(
    node: Pick<PreflightNode, "name">,
    target: PreflightTarget,
    opts: PreflightScriptOptions,
): string {
    const t = opts.timeoutSeconds;
    const connectHost = target.lanIp.includes(":") ? `[${target.lanIp}]` : target.lanIp;
    return `${MARKER}${JSON.stringify({ node: node.name, ...target })}
set -u
node=${quote(node.name)}
domain=${quote(target.domain)}
lan_ip=${quote(target.lanIp)}
connect_host=${quote(connectHost)}
api_port=${target.apiPort}
machine_port=${target.machineApiPort}
resolv_conf=${quote(opts.resolvConf ?? "/etc/resolv.conf")}
failed=0
fail() { printf '%s: %s\\n' "$node" "$1" >&2; failed=1; }
resolvers=$(awk '/^nameserver/ { printf "%s%s", sep, $2; sep = " " }' "$resolv_conf" 2>/dev/null)

# DNS through the node's resolver only (-s dns skips /etc/hosts): a booting Talos VM has nothing else.
resolved=$(getent -s dns ahosts "$domain" 2>/dev/null | awk '{ print $1 }' | sort -u | tr '\\n' ' ')
resolved=\${resolved% }
echo "resolved=$resolved"
if [ -z "$resolved" ]; then
  fail "DNS: $domain does not resolve through this node's resolver (\${resolvers:-none in $resolv_conf}); expected $lan_ip; fix: add a local DNS record $domain -> $lan_ip on that resolver, or point the node at the resolver that has it (hostDns.servers)"
elif [ "$resolved" != "$lan_ip" ]; then
  case "$resolved" in
    100.*) why=" (a 100.x address is the tailnet one: the answer came from public DNS)" ;;
    *) why="" ;;
  esac
  fail "DNS: $domain resolves to $resolved through this node's resolver (\${resolvers:-none in $resolv_conf})$why; expected only $lan_ip, the hub's LAN IP; fix: make the local record $domain -> $lan_ip win on that resolver (split horizon), or point the node at the resolver that has it (hostDns.servers)"
fi

# TCP from this node to the hub's LAN IP, as the provider (API) and booting machines (machine API) connect.
for port in "$api_port" "$machine_port"; do
  if timeout ${t} bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$lan_ip" "$port" 2>/dev/null; then
    echo "port.$port=open"
  else
    echo "port.$port=closed"
    fail "TCP: $lan_ip:$port does not answer from this node within ${t}s; expected Omni listening there; fix: allow TCP $port from this node to $lan_ip (firewall, VLAN routing) and check the hub publishes it on its LAN IP (docker ps on the Docker host)"
  fi
done

# The certificate Omni serves for its name on the machine API port, where Talos verifies it while joining.
pem=$(timeout ${t} openssl s_client -connect "$connect_host:$machine_port" -servername "$domain" </dev/null 2>/dev/null | openssl x509 2>/dev/null)
if [ -z "$pem" ]; then
  echo "certificate=none"
  fail "TLS: no certificate from $lan_ip:$machine_port for $domain; expected Omni's certificate for $domain; fix: check that Omni runs (docker logs on the Docker host) and the port answers"
else
  names=$(printf '%s\\n' "$pem" | openssl x509 -noout -ext subjectAltName 2>/dev/null | sed 1d | tr -d ' ')
  not_before=$(printf '%s\\n' "$pem" | openssl x509 -noout -startdate | cut -d= -f2)
  not_after=$(printf '%s\\n' "$pem" | openssl x509 -noout -enddate | cut -d= -f2)
  echo "certificate.names=$names"
  echo "certificate.notBefore=$not_before"
  echo "certificate.notAfter=$not_after"
  # Go clients (Talos, omnictl) ignore the subject CN, so a name must be in subjectAltName.
  if [ -z "$names" ] || ! printf '%s\\n' "$pem" | openssl x509 -noout -checkhost "$domain" | grep -q 'does match'; then
    fail "TLS: the certificate on $lan_ip:$machine_port covers \${names:-no subjectAltName}; expected one for $domain (Talos fails with \\"x509: certificate is valid for ...\\"); fix: issue a certificate for $domain (hub tls.mode acme, or certbot DNS-01) and restart Omni"
  fi
  if ! printf '%s\\n' "$pem" | openssl x509 -noout -checkend 0 >/dev/null; then
    fail "TLS: the certificate on $lan_ip:$machine_port expired on $not_after; expected a valid one; fix: renew it (tls.mode acme renews on pulumi up of the hub; with hostFiles run certbot renew) and restart Omni"
  elif [ "$(date -d "$not_before" +%s)" -gt "$(date +%s)" ]; then
    fail "TLS: the certificate on $lan_ip:$machine_port is not valid before $not_before; expected one valid now; fix: check this node's clock (timedatectl) and the certificate"
  fi
fi

exit "$failed"
`;
}

/** What one node saw: the stack output `preflight.<node>`. */
export interface PreflightResult {
    /** Addresses the Omni name resolved to through the node's resolver. */
    resolved: string[];
    /** Port → whether it answered TCP from the node. */
    ports: Record<string, boolean>;
    /** The certificate served for the Omni name, or null when none was. */
    certificate: { names: string[]; notBefore: string; notAfter: string } | null;
}

/** OpenSSL's date (`Jan  1 00:00:00 2027 GMT`) as ISO 8601, or the text itself when it is not a date. */
function isoDate(text: string): string {
    const date = new Date(text);
    return Number.isNaN(date.getTime()) ? text : date.toISOString();
}

/** The report a preflight script printed on stdout. */
export function parsePreflightReport(stdout: string): PreflightResult {
    const lines = new Map<string, string>();
    for (const line of stdout.split("\n")) {
        const eq = line.indexOf("=");
        if (eq > 0) lines.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
    }
    const ports: Record<string, boolean> = {};
    for (const [key, value] of lines) {
        const port = /^port\.(\d+)$/.exec(key)?.[1];
        if (port) ports[port] = value === "open";
    }
    const names = lines.get("certificate.names");
    return {
        resolved: (lines.get("resolved") ?? "").split(/\s+/).filter(Boolean),
        ports,
        certificate:
            names === undefined
                ? null
                : {
                      // subjectAltName entries as OpenSSL prints them: DNS:name, IP Address:addr
                      names: names
                          .split(",")
                          .filter(Boolean)
                          .map((n) => n.replace(/^DNS:/, "")),
                      notBefore: isoDate(lines.get("certificate.notBefore") ?? ""),
                      notAfter: isoDate(lines.get("certificate.notAfter") ?? ""),
                  },
    };
}

/** The validity the offline plan reports for the hub's certificate (a fixed, obviously fake window). */
export const OFFLINE_CERTIFICATE_VALIDITY = {
    notBefore: "Jan  1 00:00:00 2026 GMT",
    notAfter: "Jan  1 00:00:00 2099 GMT",
};

/**
 * What a healthy node prints for a preflight script, or undefined when `script` is not one. The offline plan's
 * mocks answer remote commands with it, so the plan shows the output's shape with the stack's own values.
 */
export function offlinePreflightStdout(script: string): string | undefined {
    if (!script.startsWith(MARKER)) return undefined;
    const t = JSON.parse(script.slice(MARKER.length, script.indexOf("\n"))) as PreflightTarget;
    return [
        `resolved=${t.lanIp}`,
        `port.${t.apiPort}=open`,
        `port.${t.machineApiPort}=open`,
        `certificate.names=DNS:${t.domain}`,
        `certificate.notBefore=${OFFLINE_CERTIFICATE_VALIDITY.notBefore}`,
        `certificate.notAfter=${OFFLINE_CERTIFICATE_VALIDITY.notAfter}`,
        "",
    ].join("\n");
}

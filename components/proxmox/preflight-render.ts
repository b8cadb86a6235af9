import { isIP } from "node:net";
import * as ipaddr from "ipaddr.js";
import { z } from "zod";
import { hostOrIpProblem, TAILNET_CIDRS } from "../core/addresses";
import { sshHostKeyProblem } from "../core/ssh";
import { shellQuote as quote } from "../core/shell";
import { ProxmoxNodeName } from "./dns-rules";
import { refineWith, uniqueBy } from "../core/validation";

/**
 * Pure parts of the preflight that runs on every Proxmox node before any VM is requested: its settings, the check
 * script, and the report the script prints. The script checks the path a booting Talos VM takes to Omni
 * (docs/TROUBLESHOOTING.md "Talos VMs boot but never appear in Omni"): the Omni name through the node's resolver and
 * optionally the VM network's resolvers, TCP to the hub's LAN IP on the API and machine API ports, and the certificate
 * served there, verified as Talos (a Go TLS client with system roots) verifies it. SideroLink's WireGuard port (UDP)
 * is not checked: nothing answers an unauthenticated WireGuard probe (docs/DEPLOYMENT.md "The preflight").
 */

/** A login name as Debian's adduser accepts it (NAME_REGEX), at most 32 characters. */
export const LINUX_USER = /^(?=.{1,32}$)[a-z_][a-z0-9_-]*\$?$/;

/** An IP address in one spelling (ipaddr.js: IPv6 compressed, lowercase, RFC 5952), so equal addresses compare equal. */
export function normalizeIp(ip: string): string {
    return ipaddr.parse(ip).toString();
}

const ipAddress = (what: string) =>
    z
        .string()
        .refine((ip) => isIP(ip) !== 0, `an IP address (${what}), e.g. 192.168.3.1`)
        .transform(normalizeIp);

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
    hostKey: z
        .string()
        .superRefine(refineWith(sshHostKeyProblem))
        .optional()
        .describe(
            "The node's SSH host key (`ssh-ed25519 AAAA…`); without it the command provider accepts any host key",
        ),
});

export const PreflightSettingsSchema = z.strictObject({
    nodes: z
        .array(PreflightNodeSchema)
        .min(1, "list every Proxmox node with its SSH address, e.g. [{ name: foxtrot, address: 192.168.3.2 }]")
        .superRefine(uniqueBy((n) => n.name, "each node once", "name"))
        .describe("Every hostDns.nodes entry with its SSH address (agent authentication)"),
    vmResolvers: z
        .array(ipAddress("the DNS server the VM network's DHCP hands out"))
        .superRefine(uniqueBy((ip) => ip, "each resolver once"))
        .default([])
        .describe(
            "The resolvers the VM network hands out (DHCP on the VM bridge/VLAN), asked directly from every node: booting VMs use these, not the node's own resolver",
        ),
    rerun: z
        .number()
        .int()
        .min(0)
        .default(0)
        .describe(
            "Increase it to run the checks again with nothing else changed (e.g. after fixing a resolver or renewing a certificate by hand)",
        ),
    timeoutSeconds: z.number().int().min(1).max(60).default(5).describe("How long each DNS, TCP or TLS check waits"),
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
    return { domain: api.hostname, lanIp: normalizeIp(lanIp), apiPort: port(api), machineApiPort: port(machine) };
}

/** First line of every preflight script; the offline plan's mocks read the target from it. */
const MARKER = "# omni-scale preflight ";

export interface PreflightScriptOptions {
    timeoutSeconds: number;
    /** The VM network's resolvers to ask directly (settings.vmResolvers). */
    vmResolvers?: string[];
    /** The node's resolver configuration (tests point it at a fixture). */
    resolvConf?: string;
    /** The DNS port the resolvers listen on (tests run a resolver on an unprivileged port). */
    dnsPort?: number;
    /** A PEM file of trusted roots instead of the node's system store (tests trust their own CA). */
    caFile?: string;
}

/**
 * Shell `case` patterns matching the text of every address in a CIDR range, as libc prints addresses (IPv6
 * compressed, lowercase). Covers IPv4 ranges and IPv6 ranges on a 16-bit boundary with no zero group in the prefix,
 * which a compressed address could hide; the tailnet ranges are both.
 */
export function cidrCasePatterns(cidr: string): string[] {
    const [base, bits] = ipaddr.parseCIDR(cidr);
    if (base.kind() === "ipv4") {
        const octets = base.toByteArray();
        const whole = Math.floor(bits / 8);
        const prefix = octets.slice(0, whole).join(".");
        if (whole === 4 || bits % 8 === 0) return [whole === 4 ? prefix : `${prefix}.*`];
        const size = 2 ** (8 - (bits % 8));
        const from = octets[whole] & ~(size - 1) & 0xff;
        return Array.from({ length: size }, (_, i) => [prefix, from + i].filter((p) => p !== "").join(".") + ".*");
    }
    const groups = (base as ipaddr.IPv6).parts.slice(0, bits / 16);
    if (bits % 16 !== 0 || bits === 0 || groups.includes(0)) throw new Error(`cannot render ${cidr} as shell patterns`);
    return [`${groups.map((g) => g.toString(16)).join(":")}:*`];
}

/**
 * The check script for one node, run with `bash -s` over SSH. It prints a `key=value` report on stdout (see
 * parsePreflightReport) and, for each failed check, one line on stderr with what it found, what was expected and
 * the fix (and `note:` lines for what passes but deserves a look); it exits 1 when any check failed, which fails the
 * command and stops `pulumi up` before anything that depends on it. Tools, all on a stock Proxmox VE node: bash
 * (its /dev/tcp), perl with Net::DNS (a pve-manager dependency: asks the given resolvers for A and AAAA, and spells
 * addresses with libc's inet_ntop; PVE does not depend on dig or host), timeout and date (coreutils) and openssl.
 */
export function renderPreflightScript(
    node: Pick<PreflightNode, "name">,
    target: PreflightTarget,
    opts: PreflightScriptOptions,
): string {
    const t = opts.timeoutSeconds;
    const connectHost = target.lanIp.includes(":") ? `[${target.lanIp}]` : target.lanIp;
    const vmResolvers = opts.vmResolvers ?? [];
    const tailnet = TAILNET_CIDRS.flatMap(cidrCasePatterns).join("|");
    return `${MARKER}${JSON.stringify({ node: node.name, ...target, vmResolvers })}
set -u
node=${quote(node.name)}
domain=${quote(target.domain)}
lan_ip=${quote(target.lanIp)}
connect_host=${quote(connectHost)}
api_port=${target.apiPort}
machine_port=${target.machineApiPort}
resolv_conf=${quote(opts.resolvConf ?? "/etc/resolv.conf")}
dns_port=${opts.dnsPort ?? 53}
vm_resolvers=(${vmResolvers.map(quote).join(" ")})
ca_args=(${opts.caFile ? `-CAfile ${quote(opts.caFile)}` : ""})
failed=0
fail() { printf '%s: %s\\n' "$node" "$1" >&2; failed=1; }
note() { printf '%s: note: %s\\n' "$node" "$1" >&2; }

# --- DNS: what a booting VM's resolver answers for the Omni name, judged as Talos's Go dialer would use it.
family() { case "$1" in *:*) echo IPv6 ;; *) echo IPv4 ;; esac; }
is_tailnet() { case "$1" in ${tailnet}) return 0 ;; esac; return 1; }

# lookup: one perl asks every resolver (loading Net::DNS is most of its cost) and prints, a line each: the LAN IP, the
# nameservers in $resolv_conf, then per resolver asked (the node's, i.e. those nameservers, then each VM network
# resolver) "answered" and its A and AAAA answers sorted, or "unanswered" when it did not answer within the timeout
# (one try each). Addresses are spelled by libc's inet_ntop (IPv6 compressed, lowercase), so every spelling compares
# equal; getent would drop IPv6 ones on a node without IPv6 (AI_ADDRCONFIG). Exit 3, printing nothing, when Net::DNS
# does not load. Asked directly, with no /etc/hosts and no search domains, as a VM would.
lookup() {
  perl -e '
    eval { require Net::DNS; 1 } or exit 3;
    use Socket qw(inet_pton inet_ntop AF_INET AF_INET6);
    my ($name, $conf, $port, $timeout, $lan, @servers) = @ARGV;
    # An address inet_pton does not take (a zoned fe80::1%vmbr0) stays as written: no DNS answer carries a zone.
    my $spell = sub { my $af = $_[0] =~ /:/ ? AF_INET6 : AF_INET; my $n = inet_pton($af, $_[0]); defined $n ? inet_ntop($af, $n) : $_[0] };
    print $spell->($lan), "\\n";
    my @nameservers;
    if (open my $fh, "<", $conf) { /^nameserver/ and push @nameservers, (split " ")[1] // "" while <$fh> }
    print "@nameservers\\n";
    for my $server ("", @servers) {
      my %o = (config_file => $conf, port => $port, retrans => $timeout, retry => 1, tcp_timeout => $timeout);
      $o{nameservers} = [$server] if $server ne "";
      my %seen;
      my $answered = eval {
        my $resolver = Net::DNS::Resolver->new(%o);
        for my $type ("A", "AAAA") {
          my $reply = $resolver->send($name, $type) or return 0;
          $seen{$spell->($_->address)} = 1 for grep { $_->type eq $type } $reply->answer;
        }
        1;
      };
      warn $@ if $@;
      print $answered ? join(" ", "answered", sort keys %seen) : "unanswered", "\\n";
    }
  ' "$domain" "$resolv_conf" "$dns_port" ${t} "$lan_ip" "\${vm_resolvers[@]}"
}

# judge WHERE FIX ADDRESS...: fail unless a Go client would reach the LAN IP. Go dials the addresses of the first
# answer's family one after another (each with a share of the timeout), and the other family 300 ms later in
# parallel (net/dial.go, net/ipsock.go partition), keeping the first connection. So: the LAN IP must be there; a
# tailnet address is an answer from public DNS that no VM can reach; another address of the LAN IP's family can be
# dialled first; an address of the other family is raced against the LAN IP, which is fine when it is the hub too.
judge() {
  local where=$1 fix=$2 a found=0 tailnet="" same="" other=""
  shift 2
  if [ $# -eq 0 ]; then
    fail "DNS: $domain does not resolve through $where; expected $lan_ip; fix: $fix"
    return
  fi
  for a in "$@"; do
    if [ "$a" = "$lan" ]; then found=1
    elif is_tailnet "$a"; then tailnet="$tailnet $a"
    elif [ "$(family "$a")" = "$lan_family" ]; then same="$same $a"
    else other="$other $a"; fi
  done
  local answer="$*"
  if [ -n "$tailnet" ]; then
    fail "DNS: $domain resolves to $answer through $where, including the tailnet address$tailnet (${TAILNET_CIDRS.join(", ")}): that answer comes from public DNS and no booting VM can reach it; expected only $lan_ip, the hub's LAN IP; fix: $fix"
  elif [ "$found" = 0 ]; then
    fail "DNS: $domain resolves to $answer through $where; expected $lan_ip, the hub's LAN IP; fix: $fix"
  elif [ -n "$same" ]; then
    fail "DNS: $domain resolves to $answer through $where; besides $lan_ip it answers$same ($lan_family too), which Talos may dial first; expected only $lan_ip; fix: remove the other record(s) on that resolver"
  elif [ -n "$other" ]; then
    note "DNS: $domain also resolves to$other through $where; Talos races that address against $lan_ip and keeps the first that connects, so it must be the hub too (serving Omni on the same ports) or refuse connections"
  fi
}

# answer KEY SILENT WHERE FIX FAILURE: reads the next resolver's line of lookup's output and reports it as KEY: its
# answer, judged (WHERE, FIX), or SILENT and the FAILURE when it did not answer.
answer() {
  local key=$1 silent=$2 where=$3 fix=$4 failure=$5 answered answers
  read -r answered answers
  if [ "$answered" = answered ]; then
    set -- $answers
    echo "$key=$*"
    judge "$where" "$fix" "$@"
  else
    echo "$key=$silent"
    fail "$failure"
  fi
}

# The node's own resolver (the one hostDns sets, and the one VMs use when the VM network hands out the same), then
# the VM network's resolvers (preflight.vmResolvers), asked directly from this node.
dns=$(lookup)
status=$?
if [ "$status" = 3 ] || [ "$status" = 127 ]; then
  fail "DNS: perl's Net::DNS is missing on this node, so no resolver can be asked; expected it (libnet-dns-perl, a dependency of pve-manager); fix: apt-get install libnet-dns-perl"
else
  {
    read -r lan
    lan_family=$(family "$lan")
    IFS= read -r resolvers
    echo "resolver=$resolvers"
    where="this node's resolver (\${resolvers:-none in $resolv_conf})"
    answer resolved "" "$where" "make the local record $domain -> $lan_ip win on that resolver (split horizon), or point the node at the resolver that has it (hostDns.servers)" \
      "DNS: no answer from $where within ${t}s; expected one with $lan_ip; fix: check that resolver is up and reachable from this node (hostDns.servers)"
    for server in "\${vm_resolvers[@]}"; do
      answer "vmResolver.$server" unanswered "the VM network's resolver $server" "add the local record $domain -> $lan_ip on $server and make it win over public DNS (split horizon), or hand out a resolver that has it in the VM network's DHCP" \
        "DNS: the VM network's resolver $server does not answer this node within ${t}s; expected an answer with $lan_ip; fix: check the address in preflight.vmResolvers, that the server runs, and that it answers queries from the Proxmox nodes"
    done
  } <<<"$dns"
fi

# --- TCP from this node to the hub's LAN IP, as the provider (API) and booting machines (machine API) connect.
for port in "$api_port" "$machine_port"; do
  if timeout ${t} bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$lan_ip" "$port" 2>/dev/null; then
    echo "port.$port=open"
  else
    echo "port.$port=closed"
    fail "TCP: $lan_ip:$port does not answer from this node within ${t}s; expected Omni listening there; fix: allow TCP $port from this node to $lan_ip (firewall, VLAN routing) and check the hub publishes it on its LAN IP (docker ps on the Docker host)"
  fi
done

# --- TLS: the certificate Omni serves for its name on the machine API port, verified in the order Go's crypto/x509
# Certificate.Verify checks it (Talos joins over this port): the leaf's validity, then the name against DNS
# subjectAltNames only (no CN, since Go 1.15), then a chain to a trusted root. openssl checks the chain and the name
# against the node's trust store (Mozilla's roots, as Talos ships); it would fall back to the CN, so a DNS name in the
# subjectAltName is required here first.
tls=$(timeout ${t} openssl s_client -connect "$connect_host:$machine_port" -servername "$domain" -showcerts -verify_return_error -verify_hostname "$domain" "\${ca_args[@]}" </dev/null 2>&1)
# The leaf (the first certificate shown), read once: the fields the checks need and openssl's name check, printed the
# same by OpenSSL 3.0 and 3.5 (PVE 8, 9). The output decides, not the exit code: 3.5 exits 1 when the name does not
# match, 3.0 does not. Validity is compared with date, since -checkend would end the run before -checkhost. No trust
# store: it only prints, but OpenSSL 3.0's x509 command loads the default one (most of its run time) unless pointed away.
leaf=$(printf '%s\\n' "$tls" | SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/dev/null openssl x509 -noout -issuer -nameopt RFC2253 -dates -ext subjectAltName -checkhost "$domain" 2>/dev/null)
if [ -z "$leaf" ]; then
  echo "certificate=none"
  fail "TLS: no certificate from $lan_ip:$machine_port for $domain; expected Omni's certificate for $domain; fix: check that Omni runs (docker logs on the Docker host) and the port answers"
else
  names="" issuer="" not_before="" not_after="" host_matches=0
  while IFS= read -r line; do
    case "$line" in
      issuer=*) issuer=\${line#issuer=} ;;
      notBefore=*) not_before=\${line#notBefore=} ;;
      notAfter=*) not_after=\${line#notAfter=} ;;
      # The entries follow on one line: DNS:a, IP Address:b
      "X509v3 Subject Alternative Name:"*) read -r names; names=\${names// /} ;;
      "Hostname $domain does match certificate") host_matches=1 ;;
    esac
  done <<<"$leaf"
  at="the certificate on $lan_ip:$machine_port"
  # The certificates served, and openssl's last verification result (read in bash: no process per field).
  served=0 verify=""
  while IFS= read -r line; do
    case "$line" in
      *"-----BEGIN CERTIFICATE-----"*) served=$((served + 1)) ;;
      *"Verify return code: "*)
        line=\${line#"\${line%%[! ]*}"}
        case "$line" in "Verify return code: "*) verify=\${line#"Verify return code: "} ;; esac ;;
    esac
  done <<<"$tls"
  dns_names=""
  IFS=, read -r -a entries <<<"$names"
  for entry in "\${entries[@]}"; do
    case "$entry" in DNS:*) dns_names=\${dns_names:+$dns_names,}\${entry#DNS:} ;; esac
  done
  echo "certificate.names=$names"
  echo "certificate.issuer=$issuer"
  echo "certificate.notBefore=$not_before"
  echo "certificate.notAfter=$not_after"
  echo "certificate.chain=$served"
  echo "certificate.verify=$verify"
  renew="renew it (tls.mode acme renews on pulumi up of the hub; with hostFiles run certbot renew) and restart Omni"
  issue="issue a certificate with $domain as a DNS subjectAltName (hub tls.mode acme, or certbot DNS-01) and restart Omni"
  # Expired as openssl -checkend 0 has it: notAfter is now or earlier.
  printf -v now '%(%s)T' -1
  if [ "$(date -d "$not_after" +%s)" -le "$now" ]; then
    fail "TLS: $at expired on $not_after (Talos: \\"x509: certificate has expired or is not yet valid\\"); expected a valid one; fix: $renew"
  elif [ "$(date -d "$not_before" +%s)" -gt "$now" ]; then
    fail "TLS: $at is not valid before $not_before; expected one valid now; fix: check this node's clock (timedatectl) and the certificate"
  elif [ -z "$dns_names" ]; then
    fail "TLS: $at has no DNS name in its subjectAltName (\${names:-no subjectAltName at all}; the name only in the subject CN or as an IP address), and Go clients ignore the CN (Talos: \\"x509: certificate relies on legacy Common Name field\\" or \\"is not valid for any names\\"); expected DNS:$domain; fix: $issue"
  elif [ "$host_matches" = 0 ]; then
    # With a DNS subjectAltName present openssl matches those only, as Go does (wildcards: the leftmost label).
    fail "TLS: $at covers $dns_names, not $domain (Talos: \\"x509: certificate is valid for $dns_names, not $domain\\"); expected one for $domain; fix: $issue"
  else
    case "$verify" in
      "0 "*) ;;
      "18 "*) fail "TLS: $at is self-signed (Talos: \\"x509: certificate signed by unknown authority\\"); expected one from a CA the VMs trust; fix: $issue" ;;
      "2 "* | "20 "* | "21 "*)
        if [ "$served" -le 1 ]; then
          fail "TLS: $at comes without its intermediate certificate (issuer $issuer; Talos: \\"x509: certificate signed by unknown authority\\"); expected the full chain; fix: serve the full chain (with hostFiles: certbot's fullchain.pem, not cert.pem) and restart Omni"
        else
          case "$tls" in *"(STAGING)"*) why=" (a Let's Encrypt staging chain)" ;; *) why="" ;; esac
          fail "TLS: $at chains to an issuer this node does not trust$why ($verify; Talos: \\"x509: certificate signed by unknown authority\\"); expected a chain to a public root; fix: issue it from a production CA (Let's Encrypt's production directory, not staging) and restart Omni"
        fi ;;
      "19 "*) fail "TLS: $at chains to a root this node does not trust ($verify; Talos: \\"x509: certificate signed by unknown authority\\"); expected a chain to a public root; fix: issue it from a public CA (hub tls.mode acme) and restart Omni" ;;
      "10 "*) fail "TLS: a certificate in the chain served on $lan_ip:$machine_port has expired ($verify); expected a valid chain; fix: serve the issuer's current intermediate (certbot's fullchain.pem) or $renew" ;;
      *) fail "TLS: $at does not verify against this node's trusted roots (\${verify:-no verification result}); expected Verify return code 0; fix: check the chain with openssl s_client -connect $connect_host:$machine_port -servername $domain -showcerts" ;;
    esac
  fi
fi

exit "$failed"
`;
}
/** What one node saw: the stack output `preflight.<node>`. */
export interface PreflightResult {
    /** The resolvers asked for `resolved`: the node's /etc/resolv.conf nameservers (empty in the offline plan). */
    resolver: string[];
    /** Addresses the Omni name resolved to through the node's resolver. */
    resolved: string[];
    /** Each of settings.vmResolvers → the addresses it answered, or null when it did not answer. */
    vmResolvers: Record<string, string[] | null>;
    /** Port → whether it answered TCP from the node. */
    ports: Record<string, boolean>;
    /** The certificate served for the Omni name, or null when none was. */
    certificate: {
        /** subjectAltName entries: DNS names bare, others as OpenSSL prints them (`IP Address:…`). */
        names: string[];
        issuer: string;
        notBefore: string;
        notAfter: string;
        /** How many certificates the server sent (leaf and intermediates). */
        chain: number;
        /** OpenSSL's verification against the node's trusted roots and the Omni name, `0 (ok)` when it passed. */
        verify: string;
    } | null;
}

/** OpenSSL's date (`Jan  1 00:00:00 2027 GMT`) as ISO 8601, or the text itself when it is not a date. */
function isoDate(text: string): string {
    const date = new Date(text);
    return Number.isNaN(date.getTime()) ? text : date.toISOString();
}

/** Space-separated addresses, normalized; anything that is not an address is kept as printed. */
function addresses(text: string): string[] {
    return text
        .split(/\s+/)
        .filter(Boolean)
        .map((a) => (isIP(a) ? normalizeIp(a) : a));
}

/** The report a preflight script printed on stdout. */
export function parsePreflightReport(stdout: string): PreflightResult {
    const lines = new Map<string, string>();
    for (const line of stdout.split("\n")) {
        const eq = line.indexOf("=");
        if (eq > 0) lines.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
    }
    const ports: Record<string, boolean> = {};
    const vmResolvers: Record<string, string[] | null> = {};
    for (const [key, value] of lines) {
        const port = /^port\.(\d+)$/.exec(key)?.[1];
        if (port) ports[port] = value === "open";
        const server = /^vmResolver\.(.+)$/.exec(key)?.[1];
        if (server) vmResolvers[server] = value === "unanswered" ? null : addresses(value);
    }
    const names = lines.get("certificate.names");
    return {
        resolver: addresses(lines.get("resolver") ?? ""),
        resolved: addresses(lines.get("resolved") ?? ""),
        vmResolvers,
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
                      issuer: lines.get("certificate.issuer") ?? "",
                      notBefore: isoDate(lines.get("certificate.notBefore") ?? ""),
                      notAfter: isoDate(lines.get("certificate.notAfter") ?? ""),
                      chain: Number(lines.get("certificate.chain") ?? 0),
                      verify: lines.get("certificate.verify") ?? "",
                  },
    };
}

/** The issuer and validity the offline plan reports for the hub's certificate (fixed, obviously fake). */
export const OFFLINE_CERTIFICATE_VALIDITY = {
    issuer: "CN=Offline Plan Intermediate,O=omni-scale offline plan",
    notBefore: "Jan  1 00:00:00 2026 GMT",
    notAfter: "Jan  1 00:00:00 2099 GMT",
};

/**
 * What a healthy node prints for a preflight script, or undefined when `script` is not one. The offline plan's
 * mocks answer remote commands with it, so the plan shows the output's shape with the stack's own values.
 */
export function offlinePreflightStdout(script: string): string | undefined {
    if (!script.startsWith(MARKER)) return undefined;
    const t = JSON.parse(script.slice(MARKER.length, script.indexOf("\n"))) as PreflightTarget & {
        vmResolvers: string[];
    };
    return [
        "resolver=",
        `resolved=${t.lanIp}`,
        ...t.vmResolvers.map((server) => `vmResolver.${server}=${t.lanIp}`),
        `port.${t.apiPort}=open`,
        `port.${t.machineApiPort}=open`,
        `certificate.names=DNS:${t.domain}`,
        `certificate.issuer=${OFFLINE_CERTIFICATE_VALIDITY.issuer}`,
        `certificate.notBefore=${OFFLINE_CERTIFICATE_VALIDITY.notBefore}`,
        `certificate.notAfter=${OFFLINE_CERTIFICATE_VALIDITY.notAfter}`,
        "certificate.chain=2",
        "certificate.verify=0 (ok)",
        "",
    ].join("\n");
}

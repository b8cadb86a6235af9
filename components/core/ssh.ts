/**
 * SSH host keys as OpenSSH writes them (`/etc/ssh/ssh_host_*_key.pub`, or `ssh-keyscan` without its host field):
 * `<type> <base64 blob> [comment]`. The Pulumi command provider parses the value with Go's ssh.ParseAuthorizedKey
 * and then accepts only that key from the server (pulumi-command v1.2.1 provider/pkg/provider/remote/connection.go).
 */

/** Host key types OpenSSH servers offer (sshd's HostKey defaults: ed25519, ECDSA, RSA) → SSH strings in the key blob. */
const HOST_KEY_FIELDS: Record<string, number> = {
    "ssh-ed25519": 2, // type, key
    "ecdsa-sha2-nistp256": 3, // type, curve, point
    "ecdsa-sha2-nistp384": 3,
    "ecdsa-sha2-nistp521": 3,
    "ssh-rsa": 3, // type, e, n
};
const HOST_KEY_TYPES = Object.keys(HOST_KEY_FIELDS);

/** The SSH strings (uint32 length, bytes) a key blob consists of, or undefined when it does not split into them. */
function sshStrings(blob: Buffer): Buffer[] | undefined {
    const out: Buffer[] = [];
    for (let at = 0; at < blob.length;) {
        if (at + 4 > blob.length) return undefined;
        const end = at + 4 + blob.readUInt32BE(at);
        if (end > blob.length) return undefined;
        out.push(blob.subarray(at + 4, end));
        at = end;
    }
    return out;
}

const HOW =
    "use one line of the node's /etc/ssh/ssh_host_ed25519_key.pub, e.g. ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… root@pve1";

/** Why a value is not one OpenSSH public host key line, or undefined. */
export function sshHostKeyProblem(value: string): string | undefined {
    if (value.trim().includes("\n"))
        return `is more than one line; give one key (the provider accepts only that one); ${HOW}`;
    const fields = value.trim().split(/\s+/);
    const typeAt = fields.findIndex((f) => HOST_KEY_TYPES.includes(f));
    if (typeAt > 0) {
        // ssh-keyscan and known_hosts put the host name(s) first.
        return `starts with "${fields[0]}" before the key type; drop it and keep "${fields.slice(typeAt).join(" ")}"`;
    }
    if (typeAt < 0) return `"${fields[0]}" is not an SSH host key type (${HOST_KEY_TYPES.join(", ")}); ${HOW}`;
    const [type, blob = ""] = fields;
    const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(blob) ? Buffer.from(blob, "base64") : Buffer.alloc(0);
    // The blob repeats its type, then the key's fields: a cut or edited paste does not split into exactly those.
    const parts = sshStrings(bytes);
    if (parts?.length !== HOST_KEY_FIELDS[type] || parts[0].toString("latin1") !== type) {
        return `the key after "${type}" is not a complete ${type} key (cut or mistyped?); ${HOW}`;
    }
    return undefined;
}

/**
 * ssh client options that bound a connection to a host that does not answer: ConnectTimeout covers the TCP connect and
 * the banner exchange, ServerAlive* end a session whose host stops answering after it connected (60 s). Without them a
 * hung Docker host holds `pulumi up` forever: Docker's ssh connection helper adds only ConnectTimeout=30 and nothing
 * after connecting (docker/cli cli/connhelper/connhelper.go, addSSHTimeout).
 */
export const SSH_BOUND_OPTIONS = [
    "-o",
    "ConnectTimeout=15",
    "-o",
    "ServerAliveInterval=15",
    "-o",
    "ServerAliveCountMax=4",
] as const;

/**
 * ssh client options that accept only `hostKey` (one OpenSSH host key line), whatever known_hosts files say: strict
 * checking against a known-hosts list that only KnownHostsCommand fills (OpenSSH 8.5+; ssh runs it without a shell, and
 * `*` matches the host under any name or port).
 */
export function sshPinnedHostKeyOptions(hostKey: string): string[] {
    const [type, blob] = hostKey.trim().split(/\s+/);
    return [
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        `KnownHostsCommand=/bin/echo * ${type} ${blob}`,
    ];
}

/**
 * The Docker provider's `sshOpts` for an ssh:// host: the pinned host key first (ssh takes the first value of an option,
 * so extra options cannot loosen it), then `extra`, then the bounds (which `extra` may tighten).
 * `unpinned` is what to do without a key (e.g. trust on first use for a host this stack just created).
 */
export function dockerSshOptions(o: {
    hostKey?: string;
    extra?: readonly string[];
    unpinned?: readonly string[];
}): string[] {
    return [
        ...(o.hostKey ? sshPinnedHostKeyOptions(o.hostKey) : (o.unpinned ?? [])),
        ...(o.extra ?? []),
        ...SSH_BOUND_OPTIONS,
    ];
}

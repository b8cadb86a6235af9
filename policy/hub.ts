import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { etcdKeyProblems } from "../components/hub/etcd-key-rules";
import { auth0DomainProblem, wireguardAddrProblem } from "../components/core/addresses";
import { STATE_ROLE_LABEL, STATE_ROLES } from "../components/core/state-volumes";
import { oncePerText } from "../components/core/hot-paths";
import { commandFlags, flag, known } from "./props";
import { docker, tailscale } from "./providers";

/** An OpenPGP parse per distinct key, however many uploads and analyses carry it. */
const etcdKeyProblemsOnce = oncePerText(etcdKeyProblems);

/** The Omni hub: its container's flags and key upload, its stateful volumes, its Tailscale keys. */

export const omniGpgKeyNoPassphrase: ResourceValidationPolicy = {
    name: "omni-gpg-key-no-passphrase",
    description:
        "The etcd encryption key uploaded to Omni is an unlocked OpenPGP secret key with an encryption subkey (Omni cannot prompt for a passphrase).",
    severity: "critical",
    remediationSteps:
        "Leave etcdGpgKey unset to let the hub generate a key, or export one made without a passphrase and with an encryption subkey: " +
        "gpg --quick-generate-key 'Omni (etcd)' rsa4096 cert never; gpg --quick-add-key <fpr> rsa4096 encr never; gpg --export-secret-key --armor <fpr>.",
    validateResource: validateResourceOfType(docker.Container, async (container, _args, report) => {
        // Omni reads the key from --private-key-source; only a file the program uploads can be checked here.
        const source = flag(commandFlags(container), "private-key-source");
        if (!source?.startsWith("file://")) return;
        const path = source.slice("file://".length);
        for (const upload of container.uploads ?? []) {
            if (upload.file !== path) continue;
            const armored =
                upload.content ??
                (upload.contentBase64 && Buffer.from(upload.contentBase64, "base64").toString("utf8"));
            if (!armored) continue;
            for (const problem of await etcdKeyProblemsOnce(armored)) report(`${path}: ${problem}`);
        }
    }),
};

/** A policy that checks every value of one Omni flag with the rule the hub's own config validation uses. */
function omniFlagPolicy(
    p: Omit<ResourceValidationPolicy, "validateResource"> & {
        flag: string;
        problem: (value: string) => string | undefined;
    },
): ResourceValidationPolicy {
    const { flag: name, problem, ...policy } = p;
    return {
        ...policy,
        validateResource: validateResourceOfType(docker.Container, (container, _args, report) => {
            for (const value of commandFlags(container).get(name) ?? []) {
                const message = problem(value);
                if (message) report(`--${name}=${value}: ${message}`);
            }
        }),
    };
}

export const auth0DomainBareHost = omniFlagPolicy({
    name: "auth0-domain-bare-host",
    description:
        "Omni's Auth0 domain is a bare host name: Omni prepends https:// itself, and a scheme or path breaks every login with 'invalid jwt'.",
    severity: "high",
    remediationSteps:
        "Set the Auth0 domain to the tenant host only, e.g. dev-xyz.us.auth0.com (not https://dev-xyz.us.auth0.com/).",
    flag: "auth-auth0-domain",
    problem: auth0DomainProblem,
});

const AUTH_METHODS = ["auth0", "oidc", "saml"];
/** What Go's strconv.ParseBool (and so Omni's flag parsing) reads as true. */
const TRUE = ["1", "t", "T", "true", "TRUE", "True"];

export const omniSingleAuthMethod: ResourceValidationPolicy = {
    name: "omni-single-auth-method",
    description:
        "Omni has exactly one auth method enabled (Auth0, OIDC or SAML): it refuses to start with several, and nobody can log in with none.",
    severity: "high",
    remediationSteps: "Configure exactly one of auth.auth0, auth.oidc or auth.saml in the hub settings.",
    validateResource: validateResourceOfType(docker.Container, (container, _args, report) => {
        const flags = commandFlags(container);
        // --private-key-source is required by Omni and used by nothing else: it marks the Omni container.
        if (!flags.has("private-key-source")) return;
        const enabled = AUTH_METHODS.filter((m) => TRUE.includes(flag(flags, `auth-${m}-enabled`) ?? ""));
        if (enabled.length === 1) return;
        if (enabled.length > 1) {
            report(
                `auth methods ${enabled.join(" and ")} are all enabled; Omni fails with "only one can be enabled": keep exactly one`,
            );
        } else if (!flags.has("config-path")) {
            report(
                "no auth method is enabled, so nobody can log in: enable exactly one of --auth-auth0-enabled, --auth-oidc-enabled or --auth-saml-enabled",
            );
        }
    }),
};

export const omniEulaAccepted: ResourceValidationPolicy = {
    name: "omni-eula-accepted",
    description:
        "An Omni that bootstraps without a browser accepts its EULA by flag: Omni v1.7+ refuses every API call until the EULA is accepted (internal/pkg/auth/interceptor/eula.go), and takes --eula-accept-name and --eula-accept-email together or not at all.",
    severity: "high",
    remediationSteps:
        "Set hub.eula.name and hub.eula.email (the person named accepts the Sidero Labs EULA on behalf of this Omni instance), or disable the initial service account and accept the EULA in the UI.",
    validateResource: validateResourceOfType(docker.Container, (container, _args, report) => {
        const flags = commandFlags(container);
        if (!flags.has("private-key-source")) return;
        const given = ["eula-accept-name", "eula-accept-email"].filter((f) => (flag(flags, f) ?? "") !== "");
        if (given.length === 1)
            report(`only --${given[0]} is set: Omni takes --eula-accept-name and --eula-accept-email together`);
        const bootstrap = TRUE.includes(flag(flags, "create-initial-service-account") ?? "");
        if (bootstrap && given.length === 0 && !flags.has("config-path")) {
            report(
                '--create-initial-service-account is set but the EULA is not accepted: every omnictl call of the bootstrap would fail with "EULA has not been accepted"',
            );
        }
    }),
};

export const wireguardAdvertisedIp = omniFlagPolicy({
    name: "wireguard-advertised-ip",
    description:
        "Omni's SideroLink WireGuard advertised address is IP:port: Talos dials it before it can resolve any name, and changing it later orphans clusters.",
    severity: "high",
    remediationSteps:
        "Advertise the hub's LAN IP and WireGuard port, e.g. --siderolink-wireguard-advertised-addr=192.168.10.20:50180 (hub setting lanIp).",
    flag: "siderolink-wireguard-advertised-addr",
    problem: wireguardAddrProblem,
});

// Unlabelled volumes named like the seed's (tailscale-state, omni-data) count too.
const STATEFUL_NAME = /(tailscale|ts)[-_.]?state|omni[-_.]?data/i;

export const statefulVolumesProtected: ResourceValidationPolicy = {
    name: "stateful-volumes-protected",
    description:
        "Tailscale state and Omni data volumes are protected: deleting Tailscale state renames the node (omni-1), deleting Omni data loses etcd, SQLite and every cluster.",
    severity: "high",
    remediationSteps: `Register the volume with { protect: true, retainOnDelete: true } and label it ${STATE_ROLE_LABEL}=tailscale-state or ${STATE_ROLE_LABEL}=omni-data.`,
    validateResource: validateResourceOfType(docker.Volume, (volume, args, report) => {
        if (args.opts.protect) return;
        // The label decides when present; otherwise the names (Pulumi's and Docker's) do.
        const role = (volume.labels ?? []).find((l) => l.label === STATE_ROLE_LABEL)?.value;
        const stateful =
            role !== undefined
                ? (STATE_ROLES as readonly string[]).includes(role)
                : STATEFUL_NAME.test(args.name) || STATEFUL_NAME.test(known(() => volume.name) ?? "");
        if (!stateful) return;
        const what = role ?? "Tailscale state or Omni data (judging by its name)";
        report(
            `volume ${args.name} holds ${what} but is not protected: set protect: true (and retainOnDelete: true) so no update or destroy can delete it`,
        );
    }),
};

export const tailnetKeyHygiene: ResourceValidationPolicy = {
    name: "tailnet-key-hygiene",
    description:
        "Tailnet auth keys are single-use and short-lived: a sidecar with persistent state needs its key only for the first login.",
    enforcementLevel: "advisory",
    severity: "low",
    remediationSteps: "Create the key with reusable: false and an explicit expiry in seconds, e.g. expiry: 86400.",
    validateResource: validateResourceOfType(tailscale.TailnetKey, (key, args, report) => {
        if (key.reusable)
            report(
                `${args.name} is reusable: whoever reads it can join more devices until it expires; set reusable: false`,
            );
        if (!key.expiry || key.expiry <= 0)
            report(
                `${args.name} has no expiry, so Tailscale keeps it valid for 90 days; set expiry, e.g. 86400 (one day)`,
            );
    }),
};

export const hubPolicies = [
    omniGpgKeyNoPassphrase,
    auth0DomainBareHost,
    omniSingleAuthMethod,
    omniEulaAccepted,
    wireguardAdvertisedIp,
    statefulVolumesProtected,
    tailnetKeyHygiene,
];

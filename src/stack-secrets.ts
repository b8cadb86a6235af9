import { createDecipheriv, pbkdf2Sync } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, ConfigIssue } from "../components/core/validation";

/*
 * `secure:` values of a stack file, read the way the Pulumi CLI reads them (pulumi/pulumi, read for this module):
 * - sdk/go/common/resource/config/crypt.go (symmetricCrypter): a value is `v1:<base64 nonce>:<base64 ciphertext+tag>`,
 *   AES-256-GCM with a 12-byte nonce and no additional data; NewSymmetricCrypterFromPassphrase derives the 32-byte key
 *   with PBKDF2-HMAC-SHA256 over the passphrase and salt, 1,000,000 rounds.
 * - pkg/secrets/passphrase/manager.go: the stack's `encryptionsalt` is `v1:<base64 salt>:<a value encrypting "pulumi">`;
 *   that token tells a wrong passphrase apart before any value is read. The passphrase is PULUMI_CONFIG_PASSPHRASE when
 *   set (even empty), else the contents of the file PULUMI_CONFIG_PASSPHRASE_FILE names, whitespace-trimmed.
 * - pkg/secrets/manager.go (GetConfig): a `secretsprovider` other than `passphrase`/`default` wins over the salt; a stack
 *   with neither uses its Pulumi Cloud key.
 * - sdk/go/common/resource/config/value.go: a one-key map `{secure: "<string>"}` is a secret value, also inside an
 *   object or list; a key holding one anywhere is secret as a whole and reaches the program JSON-encoded, decrypted.
 */

export const PASSPHRASE_VAR = "PULUMI_CONFIG_PASSPHRASE";
export const PASSPHRASE_FILE_VAR = "PULUMI_CONFIG_PASSPHRASE_FILE";
const ROUNDS = 1_000_000;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const CHECK_TOKEN = "pulumi";

/** The stack-file fields that choose the secrets provider. */
export interface SecretsSettings {
    secretsprovider?: string;
    encryptionsalt?: string;
}

export function isSecureValue(value: unknown): value is { secure: string } {
    return (
        typeof value === "object" &&
        value !== null &&
        !Array.isArray(value) &&
        Object.keys(value).length === 1 &&
        typeof (value as { secure?: unknown }).secure === "string"
    );
}

export function hasSecureValue(value: unknown): boolean {
    if (isSecureValue(value)) return true;
    if (Array.isArray(value)) return value.some(hasSecureValue);
    return typeof value === "object" && value !== null && Object.values(value).some(hasSecureValue);
}

/** Deep copy of a config value with each `{secure: …}` replaced by `decrypt(ciphertext)`. */
export function decryptSecureValues(value: unknown, decrypt: (ciphertext: string) => string): unknown {
    if (isSecureValue(value)) return decrypt(value.secure);
    if (Array.isArray(value)) return value.map((v) => decryptSecureValues(v, decrypt));
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decryptSecureValues(v, decrypt)]));
    }
    return value;
}

/** Decrypted values this process holds (and their JSON-escaped forms), longest first, for `redactSecrets`. */
const redacted: string[] = [];

/**
 * `text` with every secret value this process decrypted replaced by "[secret]", as the CLI filters what it prints
 * (pulumi/pulumi sdk/go/common/util/logging/log.go, CreateFilter: values under 3 characters and true/false are left
 * alone, since hiding them would garble everything else; the JSON-escaped form of a value is hidden too).
 */
export function redactSecrets(text: string): string {
    return redacted.reduce((out, secret) => out.split(secret).join("[secret]"), text);
}

/**
 * The secret values of structured keys (found by `secretLeaves`; JSON-escaped forms too): read as plain settings, so
 * the programs keep whatever shows one secret (programs.ts). The typed secret keys are secret Outputs already.
 */
const guarded: string[] = [];

export function guardedSecretValues(): readonly string[] {
    return guarded;
}

/** Whether a value, or any string inside it, shows a guarded secret value. */
export function mentionsSecret(value: unknown): boolean {
    if (guarded.length === 0 || value === undefined) return false;
    const text = typeof value === "string" ? value : JSON.stringify(value);
    return text !== undefined && guarded.some((secret) => text.includes(secret));
}

/**
 * The plaintexts of the secret leaves of one config key that the CLI passes whole (decrypted, JSON-encoded), found by
 * the key's value in the stack file (`fileValue`, with its `{secure: …}` leaves). Without that (config from an ESC
 * environment, or a file that is not there), every string leaf is taken as secret: the CLI says only that the key holds
 * a secret somewhere.
 */
export function secretLeaves(fileValue: unknown, decrypted: unknown): string[] {
    if (!hasSecureValue(fileValue)) return stringLeaves(decrypted);
    const walk = (file: unknown, plain: unknown): string[] => {
        if (isSecureValue(file)) return typeof plain === "string" ? [plain] : stringLeaves(plain);
        if (Array.isArray(file)) return file.flatMap((f, i) => walk(f, Array.isArray(plain) ? plain[i] : undefined));
        if (typeof file === "object" && file !== null && typeof plain === "object" && plain !== null)
            return Object.entries(file).flatMap(([k, f]) => walk(f, (plain as Record<string, unknown>)[k]));
        return [];
    };
    return walk(fileValue, decrypted);
}

function stringLeaves(value: unknown): string[] {
    if (typeof value === "string") return [value];
    if (Array.isArray(value)) return value.flatMap(stringLeaves);
    return typeof value === "object" && value !== null ? Object.values(value).flatMap(stringLeaves) : [];
}

/** Adds a secret value to what `redactSecrets` hides and, with `guard` (a structured key's leaf), `mentionsSecret` finds. */
export function remember(plaintext: string, guard = false): string {
    if (plaintext.length >= 3 && !/^(true|false)$/i.test(plaintext)) {
        const escaped = JSON.stringify(plaintext).slice(1, -1);
        for (const list of guard ? [redacted, guarded] : [redacted]) {
            for (const form of new Set([plaintext, escaped])) if (!list.includes(form)) list.push(form);
            list.sort((a, b) => b.length - a.length);
        }
    }
    return plaintext;
}

interface Passphrase {
    value: string;
    /** The variable it came from, named in errors (never the value). */
    variable: string;
}

/** The passphrase the CLI would use, or undefined when neither variable is set. */
export function passphraseFromEnv(env: NodeJS.ProcessEnv): Passphrase | undefined {
    const direct = env[PASSPHRASE_VAR];
    if (direct !== undefined) return { value: direct, variable: PASSPHRASE_VAR };
    const file = env[PASSPHRASE_FILE_VAR];
    if (!file) return undefined;
    try {
        return { value: fs.readFileSync(path.resolve(file), "utf8").trim(), variable: PASSPHRASE_FILE_VAR };
    } catch (e) {
        throw new ConfigError([
            {
                key: PASSPHRASE_FILE_VAR,
                value: file,
                message: `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): point it at the file that holds the stack's passphrase`,
            },
        ]);
    }
}

/** Opens one `v1:<nonce>:<ciphertext+tag>` value; throws when it is malformed or the key does not authenticate it. */
function openValue(key: Buffer, value: string): string {
    const parts = value.split(":");
    if (parts.length !== 3 || parts[0] !== "v1") throw new Error("not a `v1:<nonce>:<ciphertext>` value");
    const nonce = Buffer.from(parts[1], "base64");
    const sealed = Buffer.from(parts[2], "base64");
    if (nonce.length !== NONCE_BYTES || sealed.length < TAG_BYTES)
        throw new Error("not a `v1:<nonce>:<ciphertext>` value");
    const decipher = createDecipheriv("aes-256-gcm", key, nonce);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]).toString(
        "utf8",
    );
}

// Keys derived in this process, per salt and passphrase: a workload plan reads its hub's file too, and tests plan
// many files that share a salt. PBKDF2 at 1M rounds is the whole cost of reading secrets.
const derived = new Map<string, Buffer>();

function deriveKey(passphrase: string, salt: Buffer): Buffer {
    const id = JSON.stringify([salt.toString("base64"), passphrase]);
    let key = derived.get(id);
    if (!key) {
        key = pbkdf2Sync(passphrase, salt, ROUNDS, KEY_BYTES, "sha256");
        derived.set(id, key);
    }
    return key;
}

const planAnyway =
    "to plan anyway, plan a copy of the stack file without its encrypted keys (--config FILE): optional secrets fall back to generated values or other settings";

/** Why the offline plan cannot decrypt this file, when its provider is not the passphrase provider. */
function unreachableProvider(settings: SecretsSettings, file: string): string | undefined {
    const provider = settings.secretsprovider;
    if (provider && provider !== "passphrase" && provider !== "default") {
        return `is encrypted with the stack's ${provider.split("://")[0]} secrets provider, which the offline plan cannot reach; ${planAnyway}, or move the stack to the passphrase provider (\`pulumi stack change-secrets-provider passphrase\`)`;
    }
    if (!settings.encryptionsalt) {
        return `is encrypted with the stack's Pulumi Cloud key (${path.basename(file)} has no encryptionsalt), which the offline plan cannot reach; ${planAnyway}, or move the stack to the passphrase provider (\`pulumi stack change-secrets-provider passphrase\`)`;
    }
    return undefined;
}

/**
 * A decrypter for the secure values of one stack file (`secureKeys` name them, for errors): checks the provider and
 * the passphrase first, then derives the key once. Throws a ConfigError (exit 2) naming what to set or change.
 */
export function stackDecrypter(
    settings: SecretsSettings,
    file: string,
    secureKeys: string[],
    env: NodeJS.ProcessEnv,
): (ciphertext: string) => string {
    const unreachable = unreachableProvider(settings, file);
    if (unreachable) throw new ConfigError(secureKeys.map((key) => ({ key, message: unreachable })));

    const state = settings.encryptionsalt!;
    const [version, salt, ...token] = state.split(":");
    if (version !== "v1" || !salt || token.length !== 3) {
        throw new ConfigError([
            {
                key: `encryptionsalt (${file})`,
                value: state,
                message:
                    "is not a passphrase provider state `v1:<salt>:v1:<nonce>:<ciphertext>`; restore the line `pulumi stack init` wrote",
            },
        ]);
    }
    const passphrase = passphraseFromEnv(env);
    if (!passphrase) {
        throw new ConfigError([
            {
                key: PASSPHRASE_VAR,
                message: `is not set: ${secureKeys.join(", ")} in ${file} are encrypted with the stack's passphrase; set ${PASSPHRASE_VAR} to it (or ${PASSPHRASE_FILE_VAR} to a file holding it), as for \`pulumi up\``,
            },
        ]);
    }
    const key = deriveKey(passphrase.value, Buffer.from(salt, "base64"));
    let check: string | undefined;
    try {
        check = openValue(key, token.join(":"));
    } catch {
        // An authentication failure: the passphrase is wrong (or the salt line was edited).
    }
    if (check !== CHECK_TOKEN) {
        throw new ConfigError([
            {
                key: passphrase.variable,
                message: `does not unlock the secrets of ${file} (incorrect passphrase, checked against its encryptionsalt); set ${passphrase.variable} to the passphrase this stack was created with`,
            },
        ]);
    }
    return (ciphertext) => remember(openValue(key, ciphertext));
}

/**
 * The decrypted config values of the keys in `secure` (objects JSON-encoded, as the CLI passes them to a program),
 * with one issue per value that does not open with the stack's key.
 */
export function decryptKeys(
    values: Record<string, unknown>,
    decrypt: (ciphertext: string) => string,
): { decrypted: Record<string, string>; issues: ConfigIssue[] } {
    const decrypted: Record<string, string> = {};
    const issues: ConfigIssue[] = [];
    for (const [key, value] of Object.entries(values)) {
        try {
            const plain = decryptSecureValues(value, decrypt);
            decrypted[key] = typeof plain === "string" ? plain : JSON.stringify(plain);
        } catch (e) {
            issues.push({
                key,
                message: `cannot be decrypted with this stack's passphrase (${(e as Error).message}): Pulumi encrypts per stack, so a value copied from another stack or edited by hand does not open; set it again with \`pulumi config set --secret ${key.split(":").pop()} ...\``,
            });
        }
    }
    return { decrypted, issues };
}

import { createCipheriv, createHash, pbkdf2Sync, randomBytes } from "node:crypto";
import { keptFixture } from "./tools";

/** A stack encrypted with Pulumi's passphrase provider: its `encryptionsalt` line and a sealer for `secure:` values. */
export interface PassphraseStack {
    encryptionsalt: string;
    secure(plaintext: string): { secure: string };
}

/**
 * Test-side writer of the passphrase provider's format, written from the format itself (the reader, src/stack-secrets.ts,
 * names the pulumi/pulumi files it follows): values `v1:<base64 12-byte nonce>:<base64 ciphertext+tag>` under
 * AES-256-GCM, the key PBKDF2-HMAC-SHA256(passphrase, 8-byte salt, 1,000,000 rounds, 32 bytes), and the stack's
 * `encryptionsalt` = `v1:<base64 salt>:<the value of "pulumi">`. One stack per passphrase (each derivation is a
 * quarter second of CPU, and src/stack-secrets.ts derives the key of each salt again to read it): test files that
 * need a passphrase stack and nothing particular about its passphrase use TEST_PASSPHRASE.
 */
export function passphraseStack(passphrase: string): PassphraseStack {
    let stack = stacks.get(passphrase);
    if (!stack) {
        stack = newPassphraseStack(passphrase);
        stacks.set(passphrase, stack);
    }
    return stack;
}

/** The passphrase of the test files' passphrase stacks (a test's own, not a secret). */
export const TEST_PASSPHRASE = "correct horse battery staple (test only)";

const stacks = new Map<string, PassphraseStack>();

function newPassphraseStack(passphrase: string): PassphraseStack {
    const { salt, key } = saltAndKey(passphrase);
    const seal = (plaintext: string) => {
        const nonce = randomBytes(12);
        const cipher = createCipheriv("aes-256-gcm", key, nonce);
        const sealed = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
        return `v1:${nonce.toString("base64")}:${sealed.toString("base64")}`;
    };
    return {
        encryptionsalt: `v1:${salt.toString("base64")}:${seal("pulumi")}`,
        secure: (plaintext) => ({ secure: seal(plaintext) }),
    };
}

/**
 * A salt for `passphrase` and the key derived from them, kept in .build/test-keys between runs: the reader
 * (src/stack-secrets.ts) derives the key again from the passphrase and the stack's salt, so a wrong kept key fails the
 * tests that read the stack, and only the reader's derivation is left in a warm run.
 */
function saltAndKey(passphrase: string): { salt: Buffer; key: Buffer } {
    const id = createHash("sha256").update(passphrase).digest("hex").slice(0, 16);
    const { kept, keep } = keptFixture(`passphrase-${id}`, (k: { salt: string; key: string }) => {
        const [salt, key] = [Buffer.from(k.salt, "base64"), Buffer.from(k.key, "base64")];
        return salt.length === 8 && key.length === 32 ? { salt, key } : undefined;
    });
    if (kept) return kept;
    const salt = randomBytes(8);
    const key = pbkdf2Sync(passphrase, salt, 1_000_000, 32, "sha256");
    keep({ salt: salt.toString("base64"), key: key.toString("base64") });
    return { salt, key };
}

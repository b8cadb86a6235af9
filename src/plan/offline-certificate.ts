import { createHash, createPrivateKey, createPublicKey, sign } from "node:crypto";

/**
 * Self-signed Ed25519 X.509 certificates built in-process and deterministically (same inputs, same bytes), for the
 * offline plan's stand-in of an issued ACME certificate and for tests that need a given name or validity window.
 * Node can parse certificates but not make them, and the plan must not depend on an openssl binary.
 */

export interface OfflineCertificateSpec {
    /** DNS names for subjectAltName; the first is also the subject CN. */
    names: string[];
    notBefore: Date;
    notAfter: Date;
    /** Subject CN when it should differ from names[0] (e.g. a CN-only certificate with names: []). */
    commonName?: string;
}

export interface OfflineCertificate {
    certPem: string;
    keyPem: string;
}

function der(tag: number, ...parts: Buffer[]): Buffer {
    const body = Buffer.concat(parts);
    let len: Buffer;
    if (body.length < 0x80) {
        len = Buffer.from([body.length]);
    } else {
        const bytes: number[] = [];
        for (let n = body.length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
        len = Buffer.from([0x80 | bytes.length, ...bytes]);
    }
    return Buffer.concat([Buffer.from([tag]), len, body]);
}

const seq = (...parts: Buffer[]) => der(0x30, ...parts);

function oid(dotted: string): Buffer {
    const [a, b, ...rest] = dotted.split(".").map(Number);
    const bytes = [40 * a + b];
    for (const arc of rest) {
        const chunk = [arc & 0x7f];
        for (let n = arc >> 7; n > 0; n >>= 7) chunk.unshift(0x80 | (n & 0x7f));
        bytes.push(...chunk);
    }
    return der(0x06, Buffer.from(bytes));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
function time(date: Date): Buffer {
    const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
    return date.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(iso.slice(2))) : der(0x18, Buffer.from(iso));
}

const ED25519 = seq(oid("1.3.101.112"));
const name = (cn: string) => seq(der(0x31, seq(oid("2.5.4.3"), der(0x0c, Buffer.from(cn)))));

/** A self-signed certificate and its PKCS#8 key, derived from the spec alone. */
export function offlineCertificate(spec: OfflineCertificateSpec): OfflineCertificate {
    const seed = createHash("sha256").update(JSON.stringify(spec)).digest();
    // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): the key follows from the spec, so the bytes are stable.
    const key = createPrivateKey({
        key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]),
        format: "der",
        type: "pkcs8",
    });
    const spki = createPublicKey(key).export({ type: "spki", format: "der" });
    const subject = name(spec.commonName ?? spec.names[0] ?? "offline");
    const extensions =
        spec.names.length === 0
            ? []
            : [
                  der(
                      0xa3,
                      seq(seq(oid("2.5.29.17"), der(0x04, seq(...spec.names.map((n) => der(0x82, Buffer.from(n))))))),
                  ),
              ];
    const serial = der(0x02, Buffer.concat([Buffer.from([0x01]), seed.subarray(0, 15)]));
    const tbs = seq(
        der(0xa0, der(0x02, Buffer.from([2]))),
        serial,
        ED25519,
        subject,
        seq(time(spec.notBefore), time(spec.notAfter)),
        subject,
        spki,
        ...extensions,
    );
    const cert = seq(tbs, ED25519, der(0x03, Buffer.from([0]), sign(null, tbs, key)));
    const lines = cert
        .toString("base64")
        .match(/.{1,64}/g)!
        .join("\n");
    return {
        certPem: `-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`,
        keyPem: key.export({ type: "pkcs8", format: "pem" }).toString(),
    };
}

import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { tlsProblems } from "../components/edge/tls";
import { Pair, selfSigned as selfSignedIn } from "./keys";
import { requireTools } from "./tools";

describe("tls: tlsProblems", () => {
    let dir: string;
    const selfSigned = (name: string, cn: string, san: string, days?: number) => selfSignedIn(dir, name, cn, san, days);

    let omni: Pair;
    let other: Pair;
    before(function () {
        requireTools(this, ["openssl"], "TLS checks against real certificates");
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "omni-tls-"));
        omni = selfSigned("omni", "omni.example.com", "DNS:omni.example.com");
        other = selfSigned("other", "other.example.com", "DNS:other.example.com");
    });
    after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

    it("accepts a matching certificate and key for the Omni domain", () => {
        assert.deepEqual(tlsProblems(omni.cert, omni.key, "omni.example.com"), []);
    });

    it("accepts a wildcard certificate and a full chain (leaf first)", () => {
        const wildcard = selfSigned("wild", "*.example.com", "DNS:*.example.com");
        assert.deepEqual(tlsProblems(wildcard.cert + other.cert, wildcard.key, "omni.example.com"), []);
    });

    it("rejects a certificate for another domain, naming what it covers and the x509 failure", () => {
        const [problem, ...rest] = tlsProblems(other.cert, other.key, "omni.example.com");
        assert.deepEqual(rest, []);
        assert.match(problem, /covers DNS:other\.example\.com, not omni\.example\.com/);
        assert.match(problem, /x509: certificate is valid for/);
        assert.match(problem, /certbot DNS-01/);
    });

    it("ignores the subject CN, as Go clients do", () => {
        const cnOnly = selfSigned("cn", "omni.example.com", "");
        const [problem] = tlsProblems(cnOnly.cert, cnOnly.key, "omni.example.com");
        assert.match(problem, /covers no subjectAltName, not omni\.example\.com/);
    });

    it("rejects a key that does not belong to the certificate", () => {
        const [problem, ...rest] = tlsProblems(omni.cert, other.key, "omni.example.com");
        assert.deepEqual(rest, []);
        assert.match(problem, /private key does not belong to the certificate/);
    });

    it("rejects an expired or not yet valid certificate", () => {
        const later = new Date(Date.now() + 60 * 86400 * 1000);
        assert.match(tlsProblems(omni.cert, omni.key, "omni.example.com", later).join("\n"), /expired on .*renew it/);
        const earlier = new Date(Date.now() - 86400 * 1000);
        assert.match(tlsProblems(omni.cert, omni.key, "omni.example.com", earlier).join("\n"), /not valid before/);
    });

    it("rejects text that is not PEM, reporting both parts", () => {
        const problems = tlsProblems("nope", "nope", "omni.example.com");
        assert.equal(problems.length, 2);
        assert.match(problems[0], /certificate is not PEM.*fullchain\.pem/);
        assert.match(problems[1], /private key is not an unencrypted PEM key.*privkey\.pem/);
        assert.match(tlsProblems(omni.cert, "nope", "omni.example.com")[0], /private key is not/);
    });
});

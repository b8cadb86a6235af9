import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { renewalDue } from "../components/edge/acme-certificate-render";
import { certificateSummary } from "../components/edge/tls";
import { main } from "../src/certificate-renewal";
import { hubSettings } from "./fixtures/settings";
import facts from "./fixtures/upstream/acme-cloudflare-facts.json";
import { selfSigned } from "./keys";
import { requireTools } from "./tools";

const REPO = path.join(__dirname, "..");
const DAY = 86_400_000;

function quiet(fn: () => number): { code: number; out: string } {
    const write = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    let out = "";
    process.stdout.write = ((c: string) => ((out += c), true)) as typeof process.stdout.write;
    process.stderr.write = ((c: string) => ((out += c), true)) as typeof process.stderr.write;
    try {
        return { code: fn(), out };
    } finally {
        process.stdout.write = write;
        process.stderr.write = err;
    }
}

describe("ACME renewal window and the scheduled check (.github/workflows/certificate.yml)", () => {
    let dir: string;
    const stack = (tls: object) => {
        const file = path.join(dir, `Pulumi.${Math.random().toString(36).slice(2)}.yaml`);
        fs.writeFileSync(
            file,
            YAML.stringify({
                config: {
                    "omni-scale:hub": { ...hubSettings, tls, dns: { cloudflare: { zoneId: "0".repeat(32) } } },
                },
            }),
        );
        return file;
    };
    /** A real certificate of `days` days made by openssl, written to a file; its notBefore. */
    const certificate = (days: number) => {
        const pair = selfSigned(dir, `c${days}`, "omni.example.com", "DNS:omni.example.com", days);
        const file = path.join(dir, `c${days}.pem`);
        fs.writeFileSync(file, pair.cert);
        return { file, pem: pair.cert, notBefore: new Date(certificateSummary(pair.cert).notBefore!) };
    };
    const check = (config: string, cert: string, notBefore: Date, afterDays: number) =>
        quiet(() =>
            main([
                "--config",
                config,
                "--certificate",
                cert,
                "--now",
                new Date(notBefore.getTime() + afterDays * DAY).toISOString(),
            ]),
        );

    before(function () {
        requireTools(this, ["openssl"], "the renewal window test");
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "certificate-renewal-"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("renews at a third of the lifetime remaining, half for 10 days or less, for real certificates of 90, 45 and 6 days", () => {
        const dynamic = stack({ mode: "acme" });
        for (const [days, ok, due] of [
            [90, 58, 61],
            [45, 29, 31],
            [6, 2, 4],
        ]) {
            const c = certificate(days);
            const before = check(dynamic, c.file, c.notBefore, ok);
            assert.equal(before.code, 0, `${days}-day certificate after ${ok} days: ${before.out}`);
            const inside = check(dynamic, c.file, c.notBefore, due);
            assert.equal(inside.code, 1, `${days}-day certificate after ${due} days: ${inside.out}`);
            assert.match(inside.out, new RegExp(`RENEW: .*a (third|half) of its ${days}-day lifetime`));
        }
    });

    it("honours a fixed hub.tls.renewalDays, and reads the hub's certificate output as well as a PEM", () => {
        const fixed = stack({ mode: "acme", renewalDays: 14 });
        const c = certificate(90);
        assert.equal(check(fixed, c.file, c.notBefore, 70).code, 0);
        assert.equal(check(fixed, c.file, c.notBefore, 77).code, 1);
        const output = path.join(dir, "output.json");
        fs.writeFileSync(output, JSON.stringify(certificateSummary(c.pem)));
        assert.equal(check(fixed, output, c.notBefore, 77).code, 1);
        // An output from before notBefore was exported cannot give the lifetime.
        const { notBefore: _, ...old } = certificateSummary(c.pem);
        fs.writeFileSync(output, JSON.stringify(old));
        const stale = check(fixed, output, c.notBefore, 77);
        assert.equal(stale.code, 2);
        assert.match(stale.out, /has no notBefore\/notAfter: it predates them \(run pulumi up once\)/);
        assert.equal(
            check(stack({ mode: "config" }), c.file, c.notBefore, 89).code,
            0,
            "nothing to renew without acme",
        );
    });

    it("mirrors the ACME provider's rule (terraform-provider-acme v2.48.1 resourceACMECertificateHasExpired)", () => {
        const rule = facts.acmeProviderRenewal;
        const cert = (days: number) => ({
            notBefore: "2026-01-01T00:00:00Z",
            notAfter: new Date(Date.parse("2026-01-01T00:00:00Z") + days * DAY).toISOString(),
        });
        const at = (days: number) => new Date(Date.parse("2026-01-01T00:00:00Z") + days * DAY);
        // Exactly a third left counts as due (remaining / lifetime <= threshold); whole days are truncated.
        assert.equal(renewalDue(cert(90), at(60), undefined).due, true);
        assert.equal(renewalDue(cert(90), at(59.5), undefined).due, true, "30.5 days left count as 30");
        assert.equal(renewalDue(cert(90), at(58.9), undefined).due, false);
        assert.equal(renewalDue(cert(10), at(5), undefined).windowDays, 10 * rule.shortLifetimeShare);
        assert.equal(renewalDue(cert(11), at(0), undefined).windowDays, 11 * rule.share);
        assert.equal(renewalDue(cert(90), at(76), 14).due, true, "14 whole days left with renewalDays 14");
    });

    it("the workflow runs every day, and its check step turns the check's exit into due=true/false (real bash, real check)", async function () {
        const workflow = YAML.parse(fs.readFileSync(path.join(REPO, ".github/workflows/certificate.yml"), "utf8"));
        assert.ok(workflow.on.schedule[0].cron, "scheduled");
        const steps = workflow.jobs.check.steps as { id?: string; run?: string; if?: string }[];
        const due = steps.find((s) => s.id === "due")!;
        // The `up` is its own job, when due (test/workflows.test.ts: default branch and environment only).
        assert.ok(workflow.jobs.renew.if.includes("needs.check.outputs.due == 'true'"));
        assert.ok(workflow.jobs.renew.steps.some((s: { run?: string }) => /pulumi up --yes/.test(s.run ?? "")));
        assert.ok(steps.some((s) => s.if?.includes("vars.OMNI_HUB_UP != 'true'") && /exit 1/.test(s.run ?? "")));

        // Stand-ins: pulumi prints the hub's certificate output; npm runs the real check on a stack file here, with
        // the caller's directory in INIT_CWD as npm sets it.
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin, { recursive: true });
        fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\ncat "$CERT_OUTPUT"\n`, { mode: 0o755 });
        fs.writeFileSync(
            path.join(bin, "npm"),
            `#!/bin/sh\nshift 3; [ "$1" = -- ] && shift\nexport INIT_CWD="$PWD"\nexec "${process.execPath}" -r "${require.resolve("../src/plan/register")}" "${path.join(REPO, "src/certificate-renewal.ts")}" "$@" --config "$STACK_FILE"\n`,
            { mode: 0o755 },
        );
        const config = stack({ mode: "acme" });
        const run = (days: number) => {
            const summary = path.join(dir, `summary-${days}.json`);
            fs.writeFileSync(summary, JSON.stringify(certificateSummary(certificate(days).pem)));
            const output = path.join(dir, `github-output-${days}`);
            fs.writeFileSync(output, "");
            // Its own directory: the step writes certificate.json to its working directory.
            const cwd = fs.mkdtempSync(path.join(dir, `step-${days}-`));
            const child = spawn("bash", ["-e", "-c", due.run!], {
                cwd,
                env: {
                    ...process.env,
                    PATH: `${bin}:${process.env.PATH}`,
                    GITHUB_OUTPUT: output,
                    HUB_STACK: "test",
                    CERT_OUTPUT: summary,
                    STACK_FILE: config,
                },
            });
            let stdout = "";
            child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
            child.stderr.setEncoding("utf8").on("data", (d) => (stdout += d));
            return new Promise<{ status: number | null; output: string; stdout: string }>((resolve, reject) => {
                child.once("error", reject);
                child.once("close", (status) => resolve({ status, output: fs.readFileSync(output, "utf8"), stdout }));
            });
        };
        // Both checks side by side, each with its own files. A one-day certificate is due from the start (half its
        // lifetime, in whole days).
        const [fresh, expiring] = await Promise.all([run(90), run(1)]);
        assert.deepEqual([fresh.status, fresh.output], [0, "due=false\n"], fresh.stdout);
        assert.deepEqual([expiring.status, expiring.output], [0, "due=true\n"], expiring.stdout);
    });
});

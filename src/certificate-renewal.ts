import * as fs from "node:fs";
import * as path from "node:path";
import { renewalDue } from "../components/edge/acme-certificate-render";
import { CertificateSummary, certificateSummary } from "../components/edge/tls";
import { ConfigError } from "../components/core/validation";
import { CERTIFICATE_DUE, commandArgs, runCommand, usageError } from "./commands";
import { callerDir, stackFileOf } from "./project";
import { hubSettingsOf } from "./hub-restore";

/**
 * `omni-scale certificate-due` (`npm run certificate:due`; usage: src/commands.ts): exits 1 when the hub's ACME certificate is
 * inside its renewal window, i.e. the next `pulumi up` would renew it (renewalDue, the ACME provider's rule with
 * the stack's hub.tls.renewalDays), 0 when it is not, 2 on bad input. FILE is `pulumi stack output certificate
 * --json` or a PEM certificate (the leaf first). The scheduled workflow (.github/workflows/certificate.yml) runs it,
 * because nothing renews the certificate between two `pulumi up`s.
 */

/** The certificate's validity from `pulumi stack output certificate --json` or a PEM. */
export function readCertificate(text: string): { notBefore: string; notAfter: string } {
    const summary: Partial<CertificateSummary> = text.trimStart().startsWith("-----BEGIN")
        ? certificateSummary(text)
        : JSON.parse(text);
    if (!summary.notBefore || !summary.notAfter)
        throw new Error(
            "the certificate summary has no notBefore/notAfter: it predates them (run pulumi up once) or is not the hub's `certificate` output",
        );
    return { notBefore: summary.notBefore, notAfter: summary.notAfter };
}

/** Runs the check; a relative --config or --certificate is the caller's: INIT_CWD under npm and npx. */
export function main(argv: string[], now = new Date(), env: NodeJS.ProcessEnv = process.env): number {
    const args = commandArgs(CERTIFICATE_DUE, argv);
    if (typeof args === "number") return args;
    if (!args.stack && !args.config) return usageError("certificate-due", "--stack is required");
    if (!args.certificate) return usageError("certificate-due", "--certificate is required");
    const caller = callerDir(env);
    try {
        const hub = hubSettingsOf(args.config ? path.resolve(caller, args.config) : stackFileOf(args.stack!, env));
        if (hub.tls.mode !== "acme") {
            process.stdout.write(`hub.tls.mode is ${hub.tls.mode}: no ACME certificate to renew here\n`);
            return 0;
        }
        const cert = readCertificate(
            fs.readFileSync(args.certificate === "-" ? 0 : path.resolve(caller, args.certificate), "utf8"),
        );
        const at = args.now ? new Date(args.now) : now;
        const r = renewalDue(cert, at, hub.tls.renewalDays);
        const window =
            hub.tls.renewalDays === undefined
                ? `the last ${r.windowDays.toFixed(1)} days (a ${r.lifetimeDays <= 10 ? "half" : "third"} of its ${r.lifetimeDays}-day lifetime)`
                : `the last ${r.windowDays} days (hub.tls.renewalDays)`;
        const facts = `expires ${cert.notAfter}, ${r.daysRemaining} whole days left; renewal window: ${window}`;
        if (r.due) {
            process.stdout.write(
                `RENEW: the hub's certificate is inside its renewal window (${facts}). Run \`pulumi up -s ${args.stack ?? "<hub stack>"}\` to renew it.\n`,
            );
            return 1;
        }
        process.stdout.write(`ok: the hub's certificate ${facts}\n`);
        return 0;
    } catch (e) {
        const err = e as Error;
        process.stderr.write(
            `${err instanceof ConfigError ? err.message : `certificate check failed: ${err.message}`}\n`,
        );
        return 2;
    }
}

if (require.main === module) runCommand(() => main(process.argv.slice(2)));

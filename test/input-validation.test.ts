import { strict as assert } from "node:assert";
import * as path from "node:path";
import { ConfigError } from "../components/core/validation";
import { loadStackConfig } from "../src/config";
import { readStackFile } from "../src/plan/plan";
import { hubConfigIssues } from "./hub-program";

/** Issues of the example workload stack with `edit` applied to its decoded config. */
function workloadIssues(edit: (config: Record<string, any>) => void): string[] {
    const { config } = readStackFile(path.join(__dirname, "..", "Pulumi.matrix.yaml"));
    const decoded: Record<string, any> = Object.fromEntries(
        Object.entries(config).map(([k, v]) => [k, v.startsWith("{") || v.startsWith("[") ? JSON.parse(v) : v]),
    );
    edit(decoded);
    const raw = Object.fromEntries(
        Object.entries(decoded).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
    );
    try {
        loadStackConfig(raw, new Set());
        return [];
    } catch (e) {
        assert.ok(e instanceof ConfigError);
        return e.issues.map((i) => `${i.key}: ${i.message}`);
    }
}

describe("hostile input is refused before anything is rendered (issue 30, item 9)", () => {
    it("accountName: only a Docker container name, never shell syntax (it reaches rendered scripts)", () => {
        assert.deepEqual(
            hubConfigIssues((h) => (h.accountName = "omni-prod_2.a")),
            [],
        );
        for (const bad of ["omni; touch /tmp/pwned", "$(id)", "Omni", "-omni", "omni name", "a".repeat(64)]) {
            const issues = hubConfigIssues((h) => (h.accountName = bad));
            assert.ok(
                issues.some((i) => i.startsWith("omni-scale:hub.accountName") && /Docker container name/.test(i)),
                `${bad}: ${issues.join("; ")}`,
            );
        }
    });

    it("host paths: no colon (Docker splits bind mounts at it) and no line break", () => {
        for (const bad of ["/mnt/nas:/etc", "/mnt/nas\n/etc"]) {
            const issues = hubConfigIssues((h) => (h.backup.targetDir = bad));
            assert.ok(
                issues.some((i) => i.startsWith("omni-scale:hub.backup.targetDir") && /colon or line break/.test(i)),
                issues.join("; "),
            );
        }
    });

    it("s3.endpoint: no user:password@ and no #fragment (it is shown in a Docker label and a stack output)", () => {
        const s3 = (endpoint: string) =>
            hubConfigIssues((h) => (h.backup.s3 = { bucket: "omni", endpoint }), {
                hubBackupS3AccessKeyId: "id",
                hubBackupS3SecretAccessKey: "key",
            }).filter((i) => i.includes("s3.endpoint"));
        assert.deepEqual(s3("https://s3.example.com"), []);
        for (const bad of [
            "https://AKIA:hunter2@s3.example.com",
            "https://s3.example.com/#x",
            "https://s3.example.com#x",
        ])
            assert.match(s3(bad).join("; "), /no user:password@ or #fragment/, bad);
    });

    it("a line break in any hub or provider setting (each becomes a flag, a label or a script line)", () => {
        const hub = hubConfigIssues(
            (h) => (h.eula = { name: "Ops\n--auth-saml-enabled=true", email: "ops@example.com" }),
        );
        assert.ok(
            hub.some((i) => i.startsWith("omni-scale:hub.eula.name") && /must be one line/.test(i)),
            hub.join("; "),
        );
        const users = hubConfigIssues((h) => (h.initialUsers = ["a@example.com\r\nb@example.com"]));
        assert.ok(
            users.some((i) => i.startsWith("omni-scale:hub.initialUsers[0]")),
            users.join("; "),
        );
        const provider = workloadIssues((c) => (c["omni-scale:infraProvider"].lxc.hostname = "lxc\nx"));
        assert.ok(
            provider.some((i) => /must be one line|hostname/.test(i)),
            provider.join("; "),
        );
    });

    it("kubeconfig.groups: no comma (omnictl takes them comma-separated) or space", () => {
        const groups = (list: string[]) =>
            workloadIssues((c) => (c["omni-scale:clusters"][0].kubeconfig.groups = list)).filter((i) =>
                i.includes("kubeconfig.groups"),
            );
        assert.deepEqual(groups(["system:masters", "ops"]), []);
        assert.match(groups(["system:masters,evil"]).join("; "), /without commas or spaces/);
    });

    it("dockerHost: a user or host starting with '-' is refused, as ssh would take it as an option", () => {
        for (const bad of ["ssh://-oProxyCommand=touch%20x@192.168.10.20", "ssh://ops@-oProxyCommand=x"]) {
            const issues = hubConfigIssues((h) => (h.dockerHost = bad));
            assert.ok(
                issues.some((i) => i.startsWith("omni-scale:hub.dockerHost") && /not start with '-'/.test(i)),
                `${bad}: ${issues.join("; ")}`,
            );
        }
    });
});

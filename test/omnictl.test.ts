import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PROVIDER_REGISTRATION_TIMEOUT_SECONDS, waitForInfraProviderScript } from "../components/omni/omnictl";

/**
 * Runs the wait script with a stand-in omnictl that answers "not found" until a marker file exists, as Omni does
 * for `InfraProviderStatuses.omni.sidero.dev/<id>` until the provider registers (omni v1.10.4
 * validations/machine_class.go refuses the class meanwhile with "failed to get provider"). Like omnictl v1.10.4, it
 * exits 1 for the missing resource: get.go returns the NotFound error of `st.Get`, and main.go exits 1 on any error.
 */
function runWait(providerId: string, timeoutSeconds: number, registerAfterCalls?: number) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "omnictl-"));
    try {
        fs.writeFileSync(
            path.join(dir, "omnictl"),
            [
                "#!/bin/sh",
                `echo "$*" >> "${dir}/calls"`,
                `n=$(wc -l < "${dir}/calls")`,
                `if [ -n "${registerAfterCalls ?? ""}" ] && [ "$n" -ge "${registerAfterCalls ?? 0}" ]; then echo "ID ${providerId}"; exit 0; fi`,
                `echo "rpc error: code = NotFound desc = resource InfraProviderStatuses.omni.sidero.dev(infra-provider/$4@undefined) doesn't exist" >&2`,
                "exit 1",
            ].join("\n"),
            { mode: 0o755 },
        );
        const result = spawnSync("sh", ["-c", waitForInfraProviderScript(providerId, timeoutSeconds, 0)], {
            env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
            encoding: "utf8",
        });
        const calls = fs.existsSync(path.join(dir, "calls"))
            ? fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n")
            : [];
        return { status: result.status, stderr: result.stderr, calls };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("waiting for the infra provider to register", () => {
    it("waits 5 minutes by default", () => {
        assert.equal(PROVIDER_REGISTRATION_TIMEOUT_SECONDS, 300);
        assert.match(waitForInfraProviderScript("matrix-cluster"), /deadline=\$\(\( \$\(date \+%s\) \+ 300 \)\)/);
    });

    it("polls the provider's status until Omni has it, then succeeds", () => {
        const run = runWait("matrix-cluster", 30, 3);
        assert.equal(run.status, 0, run.stderr);
        assert.equal(run.calls.length, 3);
        assert.deepEqual(run.calls[0].split(" "), ["get", "infraproviderstatuses", "matrix-cluster"]);
    });

    it("fails after the timeout naming the provider id, what to check and Omni's last answer", () => {
        const run = runWait("matrix-cluster", 1);
        assert.equal(run.status, 1);
        assert.ok(run.calls.length >= 1);
        assert.match(
            run.stderr,
            /infra provider matrix-cluster has not registered with Omni within 1s \(no InfraProviderStatuses\.omni\.sidero\.dev\/matrix-cluster\)/,
        );
        assert.match(run.stderr, /its --id is matrix-cluster/);
        assert.match(run.stderr, /omnictl infraprovider create matrix-cluster/);
        assert.match(run.stderr, /omnictl said: rpc error: code = NotFound/);
    });

    it("quotes the id for the shell", () => {
        assert.match(waitForInfraProviderScript("it's"), /infraproviderstatuses 'it'\\''s'/);
    });
});

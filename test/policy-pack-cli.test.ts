import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as docker from "@pulumi/docker";
import { openPack } from "../src/plan/analyze";
import { runProgram } from "../src/plan/capture";
import { POLICY_DIR } from "../src/plan/pack-process";
import { packArgs } from "../policy/pack";
import { startPackAsCli } from "./pulumi-hosts";

describe("policy pack under the Pulumi CLI's loader (cmd/run-policy-pack, as `pulumi preview --policy-pack policy`)", function () {
    it("runs the compiled pack (no TypeScript compiled or type-checked at preview) and reports violations", async () => {
        // run-policy-pack registers ts-node for .ts files; the pack's entry is JavaScript (npm run build), so nothing
        // is compiled there, whatever tsconfig the pack directory has (none).
        const main = JSON.parse(fs.readFileSync(path.join(POLICY_DIR, "package.json"), "utf8")).main;
        assert.match(main, /\.js$/);
        assert.ok(fs.existsSync(path.resolve(POLICY_DIR, main)), `${main}: run npm run build`);

        const { resources } = await runProgram(
            () => {
                new docker.RemoteImage("unpinned", { name: "nginx:latest" });
            },
            { stack: "pack-cli" },
        );
        const started = startPackAsCli(POLICY_DIR);
        const pack = openPack(POLICY_DIR, started);
        try {
            const result = await pack.analyze(resources);
            assert.deepEqual(result.policies.map((p) => p.name).sort(), packArgs.policies.map((p) => p.name).sort());
            assert.deepEqual(
                result.violations.map((v) => `${v.policy}/${v.resourceName}`),
                ["images-pinned/unpinned"],
            );
        } finally {
            pack.close();
            started.child.kill();
        }
    });
});

import { strict as assert } from "node:assert";
import { HUB_OUTPUTS, StackOutput, WORKLOAD_OUTPUTS } from "../src/outputs";
import { isSecret } from "../src/plan/capture";
import { examplePlan } from "./plan-run";
import { FAKE_TOKEN, runHub, withCloudflare } from "./hub-program";

const names = (outputs: object) => Object.keys(outputs).sort();
/** The outputs whose secrecy differs from what the list says. */
const secrecyMismatches = (outputs: Record<string, unknown>, listed: Record<string, StackOutput>) =>
    Object.keys(outputs).filter((k) => isSecret(outputs[k]) !== (listed[k]?.secret === true));

/** The output tables in docs/DEPLOYMENT.md are rendered from src/outputs.ts; this holds that file to the programs. */
describe("stack outputs: what the programs export is what src/outputs.ts (and so DEPLOYMENT.md) lists", function () {
    this.timeout(120000);

    it("hub: every output, with every optional feature on (ACME certificate, public record, hub backup, bootstrap)", async () => {
        const { outputs } = await runHub(
            (hub) => {
                withCloudflare(hub);
                hub.tls = { mode: "acme", email: "admin@example.com" };
            },
            { cloudflareApiToken: FAKE_TOKEN },
        );
        assert.deepEqual(names(outputs), names(HUB_OUTPUTS));
        assert.deepEqual(secrecyMismatches(outputs, HUB_OUTPUTS), []);
    });

    it("hub: the optional outputs go when their setting does", async () => {
        const { outputs } = await runHub((hub) => {
            delete hub.backup;
            hub.initialServiceAccount = { enabled: false };
            hub.infraProviders = [];
        }, {});
        const optional = Object.entries(HUB_OUTPUTS).filter(([, o]) => "when" in o);
        assert.deepEqual(
            optional.map(([k]) => k).filter((k) => k in outputs),
            [],
        );
        assert.deepEqual(
            names(outputs),
            names(HUB_OUTPUTS).filter((k) => !optional.some(([o]) => o === k)),
        );
    });

    it("workloads: every output of the example matrix stack (with its preflight)", async () => {
        const { outputs } = await examplePlan("matrix");
        assert.deepEqual(names(outputs), names(WORKLOAD_OUTPUTS));
        assert.deepEqual(secrecyMismatches(outputs, WORKLOAD_OUTPUTS), []);
    });
});

import { strict as assert } from "node:assert";
import { clusterUpgradeProblem, hubEndpointProblems, omniUpgradeProblem } from "../components/core/upgrades";
import { planStack } from "../src/plan/plan";

// Omni's self-hosted upgrade guide ("Upgrade Omni", docs.siderolabs.com): sequential minor upgrades only, no downgrades.
describe("upgrade rules", () => {
    it("lets a first deployment, patch releases and one-minor steps through", () => {
        assert.equal(omniUpgradeProblem(undefined, "v1.10.4"), undefined);
        assert.equal(omniUpgradeProblem("v1.9.3", "v1.10.4"), undefined);
        assert.equal(omniUpgradeProblem("v1.10.0", "v1.10.4"), undefined);
        assert.equal(omniUpgradeProblem("v1.3.2", "v1.4.7"), undefined);
        assert.equal(omniUpgradeProblem("v1.10.4", "v2.0.1"), undefined, "into the next major's first minor");
    });

    it("refuses skipping a minor version, naming the next one to deploy, and any downgrade", () => {
        assert.match(omniUpgradeProblem("v1.3.2", "v1.5.0")!, /skips a minor version.*latest v1\.4\.x/);
        assert.match(
            omniUpgradeProblem("v1.4.7", "v1.10.4")!,
            /one minor at a time: set omniVersion to the latest v1\.5\.x/,
        );
        assert.match(omniUpgradeProblem("v1.8.2", "v1.10.4")!, /latest v1\.9\.x/);
        assert.match(omniUpgradeProblem("v1.10.4", "v2.1.0")!, /skips a minor version/);
        assert.match(omniUpgradeProblem("v1.10.4", "v1.9.3")!, /cannot roll back/);
    });

    it("rolls Talos and Kubernetes one at a time", () => {
        const now = { talos: "v1.12.0", kubernetes: "v1.35.0" };
        assert.equal(clusterUpgradeProblem("c", undefined, now), undefined);
        assert.equal(clusterUpgradeProblem("c", now, { ...now, talos: "v1.13.6" }), undefined);
        assert.equal(clusterUpgradeProblem("c", now, { ...now, kubernetes: "v1.36.2" }), undefined);
        assert.match(clusterUpgradeProblem("c", now, { talos: "v1.13.6", kubernetes: "v1.36.2" })!, /separate updates/);
        assert.match(clusterUpgradeProblem("c", now, { ...now, kubernetes: "v1.37.0" })!, /skips a minor version/);
        assert.match(clusterUpgradeProblem("c", now, { ...now, talos: "v1.11.6" })!, /downgrades are not supported/);
    });
});

describe("hub endpoints", () => {
    it("refuses changing what machines keep from their first boot", () => {
        const before = {
            accountId: "a",
            machineApiUrl: "https://omni.example.com:8090",
            wireguardEndpoint: "192.168.10.20:50180",
        };
        assert.deepEqual(hubEndpointProblems({}, before), [], "first deployment");
        assert.deepEqual(hubEndpointProblems(before, { ...before }), []);
        const moved = hubEndpointProblems(before, { ...before, wireguardEndpoint: "192.168.10.21:50180" });
        assert.equal(moved.length, 1);
        assert.match(
            moved[0],
            /^wireguardEndpoint would change from "192\.168\.10\.20:50180" to "192\.168\.10\.21:50180"/,
        );
    });
});

describe("upgrade rules in the stack programs", () => {
    const previous = (outputs: Record<string, unknown>) => ({ outputs, secretOutputNames: [] });

    it("quantum compares the requested Omni version with the one it deployed last", async () => {
        await assert.rejects(
            planStack({ stack: "quantum", skipPolicies: true, previousOutputs: previous({ omniVersion: "v1.3.0" }) }),
            (e: Error) =>
                e.name === "ConfigError" &&
                /omni-scale:hub\.omniVersion.*skips a minor version.*latest v1\.4\.x/s.test(e.message),
        );
        const ok = await planStack({
            stack: "quantum",
            skipPolicies: true,
            previousOutputs: previous({ omniVersion: "v1.9.3" }),
        });
        assert.equal((ok.outputs as any).omniVersion, "v1.10.4");
    });

    it("quantum refuses moving the LAN IP that running machines dial", async () => {
        await assert.rejects(
            planStack({
                stack: "quantum",
                skipPolicies: true,
                previousOutputs: previous({ wireguardEndpoint: "192.168.10.99:50180" }),
            }),
            (e: Error) => e.name === "ConfigError" && /omni-scale:hub: wireguardEndpoint would change/.test(e.message),
        );
    });

    it("matrix refuses changing a cluster's Talos and Kubernetes versions in one update", async () => {
        const before = { "talos-prod-01": { talos: "v1.12.0", kubernetes: "v1.35.0" } };
        await assert.rejects(
            planStack({ stack: "matrix", skipPolicies: true, previousOutputs: previous({ clusterVersions: before }) }),
            (e: Error) => e.name === "ConfigError" && /omni-scale:clusters\[0\].*separate updates/s.test(e.message),
        );
        const ok = await planStack({
            stack: "matrix",
            skipPolicies: true,
            previousOutputs: previous({
                clusterVersions: { "talos-prod-01": { talos: "v1.13.6", kubernetes: "v1.35.0" } },
            }),
        });
        assert.deepEqual((ok.outputs as any).clusterVersions["talos-prod-01"], {
            talos: "v1.13.6",
            kubernetes: "v1.36.2",
        });
    });
});

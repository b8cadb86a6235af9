import { strict as assert } from "node:assert";
import * as docker from "@pulumi/docker";
import { analyze, assertNoViolation, assertViolation } from "./policy-helpers";

describe("policy: images-pinned", () => {
    it("passes version tags, digests, and containers that use a RemoteImage's id", async () => {
        await assertNoViolation("images-pinned", () => {
            const omni = new docker.RemoteImage("omni-image", { name: "ghcr.io/siderolabs/omni:v1.10.4" });
            new docker.RemoteImage("ts-image", { name: `tailscale/tailscale@sha256:${"b".repeat(64)}` });
            new docker.Container("omni", { image: omni.imageId });
            new docker.Container("registry", { image: "registry.lan:5000/tools:1.2" });
        });
    });

    it("rejects latest on a RemoteImage, naming the fix", async () => {
        await assertViolation(
            "images-pinned",
            "ts-image",
            () => {
                new docker.RemoteImage("ts-image", { name: "tailscale/tailscale:latest" });
            },
            /uses "latest"; pin a version tag or a digest/,
        );
    });

    it("rejects an untagged Container image (a registry port is not a tag)", async () => {
        await assertViolation(
            "images-pinned",
            "tools",
            () => {
                new docker.Container("tools", { image: "registry.lan:5000/tools" });
            },
            /has no tag/,
        );
    });

    it("skips image ids and flags that are unknown during preview instead of reporting that it can't run", async () => {
        const program = () => {
            const image = new docker.RemoteImage("omni-image", { name: "ghcr.io/siderolabs/omni:v1.10.4" });
            new docker.Container("app", {
                image: image.imageId,
                command: ["--auth-auth0-domain=dev-xyz.us.auth0.com", image.imageId],
            });
        };
        // The offline mocks resolve every output; return none for the image so its id stays unknown, as in a first preview.
        const found = await analyze(program, {
            preview: true,
            mocks: {
                newResource: (args) => ({ id: args.name, state: args.type.endsWith("RemoteImage") ? {} : args.inputs }),
                call: (args) => args.inputs,
            },
        });
        assert.deepEqual(found, []);
    });
});

import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { imagePinProblem, parseImageRef, providerImageProblem, tagVersion } from "../components/core/images";
import { images, versions } from "../components/core/versions";

describe("image references", () => {
    it("parses registry ports, tags and digests", () => {
        assert.deepEqual(parseImageRef("registry.local:5000/team/app:1.2"), {
            repository: "registry.local:5000/team/app",
            tag: "1.2",
            digest: undefined,
        });
        assert.deepEqual(parseImageRef("registry.local:5000/team/app"), {
            repository: "registry.local:5000/team/app",
            tag: undefined,
            digest: undefined,
        });
        const d = "sha256:" + "a".repeat(64);
        assert.deepEqual(parseImageRef(`tailscale/tailscale:latest@${d}`), {
            repository: "tailscale/tailscale",
            tag: "latest",
            digest: d,
        });
    });

    it("accepts tags and digests, refuses latest and untagged", () => {
        assert.equal(imagePinProblem("ghcr.io/siderolabs/omni:v1.10.4"), undefined);
        assert.equal(
            imagePinProblem(`tailscale/tailscale:latest@sha256:${"b".repeat(64)}`),
            undefined,
            "a digest pins even a latest tag",
        );
        assert.match(imagePinProblem("tailscale/tailscale:latest")!, /latest/);
        assert.match(imagePinProblem("tailscale/tailscale")!, /no tag/);
        assert.match(imagePinProblem("tailscale/tailscale@sha256:xyz")!, /not a sha256 digest/);
    });

    it("reads release tags as versions", () => {
        assert.equal(tagVersion("x/y:v0.3.0"), "0.3.0");
        assert.equal(tagVersion("x/y:local-fix"), undefined);
    });

    it("accepts only provider images without the hostname patch", () => {
        const repo = "ghcr.io/siderolabs/omni-infra-provider-proxmox";
        assert.equal(providerImageProblem(`${repo}:local-fix`), undefined);
        assert.equal(providerImageProblem(`${repo}:v0.1.0`), undefined);
        assert.equal(providerImageProblem(`${repo}:v0.3.0`), undefined);
        assert.match(providerImageProblem(`${repo}:v0.0.9`)!, /predates v0\.1\.0/);
        assert.match(providerImageProblem(`${repo}:latest`)!, /latest/);
        assert.match(providerImageProblem(repo)!, /no tag/);
        assert.match(providerImageProblem(`${repo}:main-0d9fd58`)!, /neither a patched tag/);
        assert.equal(
            providerImageProblem(`${repo}:my-build`, { patchedTags: ["my-build"], minimumVersion: "0.1.0" }),
            undefined,
        );
        assert.match(
            providerImageProblem(`${repo}:v0.2.0`, { patchedTags: [], minimumVersion: "0.3.0" })!,
            /predates v0\.3\.0/,
        );
    });
});

describe("version pins", () => {
    it("pins every default image", () => {
        for (const image of Object.values(images)) assert.equal(imagePinProblem(image), undefined, image);
        assert.equal(providerImageProblem(images.proxmoxProvider), undefined);
    });

    it("keeps omnictl equal to the Omni hub, here and in mise.toml", () => {
        assert.equal(versions.omnictl, versions.omni);
        const mise = fs.readFileSync(path.join(__dirname, "..", "mise.toml"), "utf8");
        const pinned = /^omnictl = "([^"]+)"/m.exec(mise)?.[1];
        assert.equal(`v${pinned}`, versions.omnictl);
    });
});
